package agent

import (
	"maps"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tetherhq/tether/internal/wire"
)

func TestHardwareLabelsFixtures(t *testing.T) {
	tests := []struct {
		name   string
		tree   string // under testdata/hw
		goarch string
		goarm  string
		want   map[string]string
	}{
		{
			name: "raspberry pi 4 raspbian armv7", tree: "rpi4-raspbian", goarch: "arm", goarm: "6",
			want: map[string]string{
				"arch": "armv7", "os": runtime.GOOS, "distro": "raspbian",
				"board": "raspberry-pi-4-model-b-rev-1-4", "hostname": "raspberrypi", "cpus": "4",
			},
		},
		{
			// The ARM1176 reports "CPU architecture: 7"; the ELF platform (v6l) is right.
			name: "raspberry pi zero is armv6 despite CPU architecture 7", tree: "rpizero-raspbian", goarch: "arm", goarm: "7",
			want: map[string]string{
				"arch": "armv6", "os": runtime.GOOS, "distro": "raspbian",
				"board": "raspberry-pi-zero-w-rev-1-1", "hostname": "pizero", "cpus": "1",
			},
		},
		{
			name: "openwrt mipsle router", tree: "openwrt-mipsle", goarch: "mipsle",
			want: map[string]string{
				"arch": "mipsle", "os": runtime.GOOS, "distro": "openwrt",
				"board": "xiaomi-mi-router-4a-gigabit-edition", "hostname": "OpenWrt", "cpus": "4",
			},
		},
		{
			name: "plain debian amd64", tree: "debian-amd64", goarch: "amd64",
			want: map[string]string{
				"arch": "amd64", "os": runtime.GOOS, "distro": "debian",
				"hostname": "build-host", "cpus": "2",
			},
		},
		{
			name: "empty tree keeps arch and os", tree: "empty", goarch: "arm64",
			want: map[string]string{"arch": "arm64", "os": runtime.GOOS},
		},
		{
			name: "empty tree on arm falls back to the build's GOARM", tree: "empty", goarch: "arm", goarm: "6,softfloat",
			want: map[string]string{"arch": "armv6", "os": runtime.GOOS},
		},
		{
			name: "missing tree", tree: "does-not-exist", goarch: "arm", goarm: "",
			want: map[string]string{"arch": "arm", "os": runtime.GOOS},
		},
		{
			name: "unnamed kernel falls back to etc/hostname", tree: "fresh-boot", goarch: "riscv64",
			want: map[string]string{"arch": "riscv64", "os": runtime.GOOS, "hostname": "gateway-3"},
		},
		{
			name: "hostile values are made valid", tree: "hostile", goarch: "mips",
			want: map[string]string{
				"arch": "mips", "os": runtime.GOOS, "distro": "a-b-c-x",
				"hostname": strings.Repeat("x", 255),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hardwareLabels(filepath.Join("..", "testdata", "hw", tt.tree), tt.goarch, tt.goarm)
			if !maps.Equal(got, tt.want) {
				t.Errorf("labels:\n got %v\nwant %v", got, tt.want)
			}
			if err := wire.ValidLabels(got); err != nil {
				t.Errorf("labels break the wire's rules: %v", err)
			}
		})
	}
}

func TestArmLevel(t *testing.T) {
	tests := []struct {
		name    string
		cpuinfo string
		want    int
	}{
		{"elf platform wins", "model name\t: ARMv6-compatible processor rev 7 (v6l)\nCPU architecture: 7\n", 6},
		{"old kernels say Processor", "Processor\t: ARM926EJ-S rev 5 (v5l)\nCPU architecture: 5TEJ\n", 5},
		{"32-bit process on a 64-bit kernel", "model name\t: ARMv8 Processor rev 4 (v8l)\nCPU architecture: 8\n", 8},
		{"architecture line only", "CPU architecture: 5TEJ\n", 5},
		{"x86 host cpuinfo under qemu-user", "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\n", 0},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := armLevel(tt.cpuinfo); got != tt.want {
				t.Errorf("armLevel = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"Raspberry Pi 4 Model B Rev 1.4": "raspberry-pi-4-model-b-rev-1-4",
		"  TP-Link Archer C7 v2  ":       "tp-link-archer-c7-v2",
		"--":                             "",
		"Ünïcode Board":                  "n-code-board",
	}
	for in, want := range tests {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHardwareLabelsOnThisMachine(t *testing.T) {
	got := HardwareLabels("/")
	if err := wire.ValidLabels(got); err != nil {
		t.Fatalf("labels of this machine break the wire's rules: %v (%v)", err, got)
	}
	if got["os"] != runtime.GOOS || got["arch"] == "" || got["cpus"] == "" {
		t.Errorf("labels of this machine lack os, arch or cpus: %v", got)
	}
}
