package agent

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tetherhq/tether/internal/wire"
)

// Hardware label keys, added when the config says hardware_labels = true.
const (
	LabelArch     = "arch"
	LabelOS       = "os"
	LabelDistro   = "distro"
	LabelBoard    = "board"
	LabelHostname = "hostname"
	LabelCPUs     = "cpus"
)

// HardwareLabels describes the machine the agent runs on, reading files only
// under root ("/" in production; a fixture tree in tests). It never fails: a
// file that is missing or unreadable leaves its label out. Every value obeys
// the wire's label rules (at most 255 printable characters, no '=' or ',').
//
// Keys: arch, os, distro (ID from os-release), board (the device-tree model,
// slugged), hostname, cpus.
func HardwareLabels(root string) map[string]string {
	return hardwareLabels(root, runtime.GOARCH, buildGOARM())
}

// hardwareLabels is HardwareLabels with the build's GOARCH and GOARM passed
// in, so that tests can describe an ARM board from an amd64 host.
func hardwareLabels(root, goarch, goarm string) map[string]string {
	l := map[string]string{
		LabelArch: archLabel(root, goarch, goarm),
		LabelOS:   runtime.GOOS,
	}
	set := func(k, v string) {
		if v = labelValue(v); v != "" {
			l[k] = v
		}
	}
	set(LabelDistro, osReleaseID(root))
	set(LabelBoard, slug(firstFile(root,
		"proc/device-tree/model",
		"sys/firmware/devicetree/base/model",
		"tmp/sysinfo/model", // OpenWrt writes the board's model here at boot
	)))
	set(LabelHostname, hostname(root))
	set(LabelCPUs, cpuCount(root))
	return l
}

// archLabel names the instruction set a binary needs on this machine.
//
// On 64-bit and MIPS targets GOARCH says it all: a binary of that GOARCH is
// running, so the machine runs that GOARCH (mipsle, mips, mips64le, arm64,
// riscv64, amd64, …). ARM is the exception: one GOARCH covers ARMv5 to ARMv8
// in 32-bit mode, and what matters to an operator is the highest level the
// machine runs. We ask /proc/cpuinfo, in this order:
//
//  1. the ELF platform in "model name" or "Processor", e.g. "(v6l)" or
//     "(v7l)": the kernel's own verdict, right on the ARM1176 of a Pi 1 or
//     Zero, which reports "CPU architecture: 7" despite being ARMv6;
//  2. "CPU architecture: N" (e.g. "7", "8", "5TEJ");
//  3. failing both (no /proc, or qemu-user showing the host's cpuinfo), the
//     GOARM the binary was built for, which the machine must at least run.
//
// Level 7 and up (a 32-bit userland on an ARMv8 core included) is "armv7";
// 6 is "armv6"; 5 and below are "armv5".
func archLabel(root, goarch, goarm string) string {
	if goarch != "arm" {
		return goarch
	}
	level := armLevel(readFile(root, "proc/cpuinfo"))
	if level == 0 {
		level = leadingInt(goarm)
	}
	switch {
	case level >= 7:
		return "armv7"
	case level == 6:
		return "armv6"
	case level > 0:
		return "armv5"
	}
	return "arm"
}

// armLevel reads the ARM architecture level from cpuinfo text, 0 if unknown.
func armLevel(cpuinfo string) int {
	var platform, arch int
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "model name", "Processor":
			// "ARMv6-compatible processor rev 7 (v6l)"
			if i := strings.LastIndex(val, "(v"); i >= 0 && platform == 0 {
				platform = leadingInt(val[i+2:])
			}
		case "CPU architecture":
			if arch == 0 {
				arch = leadingInt(val)
			}
		}
	}
	if platform > 0 {
		return platform
	}
	return arch
}

// buildGOARM is the GOARM setting this binary was built with ("7", "6,softfloat"),
// or "" on other architectures.
func buildGOARM() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "GOARM" {
			return s.Value
		}
	}
	return ""
}

// osReleaseID is the ID field of os-release ("openwrt", "raspbian", "debian").
func osReleaseID(root string) string {
	text := firstFile(root, "etc/os-release", "usr/lib/os-release")
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "ID="); ok {
			return strings.ToLower(strings.Trim(v, `"'`))
		}
	}
	return ""
}

// hostname is the kernel's host name, else etc/hostname. A kernel that was
// never given a name says "(none)"; that is no name.
func hostname(root string) string {
	for _, name := range []string{"proc/sys/kernel/hostname", "etc/hostname"} {
		if h := strings.TrimSpace(readFile(root, name)); h != "" && h != "(none)" {
			return h
		}
	}
	return ""
}

// cpuCount is the number of CPUs: the runtime's count on the real machine,
// otherwise the "processor" entries of the tree's cpuinfo.
func cpuCount(root string) string {
	if filepath.Clean(root) == "/" {
		return strconv.Itoa(runtime.NumCPU())
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(readFile(root, "proc/cpuinfo")))
	for sc.Scan() {
		if key, _, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(key) == "processor" {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// slug lower-cases s and turns every run of other than a-z 0-9 into one '-':
// "Raspberry Pi 4 Model B Rev 1.4\x00" → "raspberry-pi-4-model-b-rev-1-4".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// labelValue makes free text a valid label value: trimmed, control
// characters, '=' and ',' replaced by '-', cut to 255 bytes on a rune boundary.
func labelValue(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '=' || r == ',' {
			return '-'
		}
		return r
	}, s)
	for len(s) > wire.MaxLabelValueLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// firstFile returns the trimmed text of the first of the files under root that
// is readable and not empty once trailing NULs (device-tree strings) are gone.
func firstFile(root string, names ...string) string {
	for _, n := range names {
		if s := strings.TrimSpace(readFile(root, n)); s != "" {
			return s
		}
	}
	return ""
}

// readFile reads root/name, at most 64 KiB, with trailing NULs cut off; ""
// on any error.
func readFile(root, name string) string {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	return string(bytes.TrimRight(b, "\x00"))
}

// leadingInt parses the decimal digits at the start of s; 0 if none.
func leadingInt(s string) int {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
