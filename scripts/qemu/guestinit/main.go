//go:build linux

// Command guestinit is /init of the initramfs that scripts/qemu boots under
// qemu-system: it mounts /proc, /sys and /dev, sets the clock from the
// kernel command line (tether.time=UNIX, so the edge's certificate is
// valid), loads the NIC's modules listed in /modules, brings up lo and eth0
// on QEMU's user network (10.0.2.15/24; the host's loopback is 10.0.2.2),
// serves a small line service on 127.0.0.1:8080 and runs /tether-agent with
// /agent.toml. Everything it prints goes to the console.
//
// The line service answers each connection's first line:
//
//	rss       the agent's VmRSS and VmHWM from /proc/PID/status
//	poweroff  stops the agent with SIGTERM, waits for it, powers off
//	anything  "<guest name> <the line>"
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const serviceAddr = "127.0.0.1:8080"

func main() {
	say("guestinit: starting")
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := syscall.Mount(m.src, m.dst, m.fs, 0, ""); err != nil && err != syscall.EBUSY {
			fail("mount %s: %v", m.dst, err)
		}
	}
	setClock()
	loadModules()
	if err := netUp(); err != nil {
		fail("network: %v", err)
	}
	name, _ := os.ReadFile("/guest-name")
	syscall.Sethostname([]byte(strings.TrimSpace(string(name))))
	agent := startAgent()
	go serve(strings.TrimSpace(string(name)), agent)
	err := agent.wait()
	say("guestinit: agent exited: %v", err)
	poweroff()
}

// setClock sets the time from tether.time=UNIX on the command line: the
// emulated boards may have no RTC driver, and TLS needs a sane clock.
func setClock() {
	b, _ := os.ReadFile("/proc/cmdline")
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "tether.time="); ok {
			sec, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return
			}
			tv := syscall.NsecToTimeval(sec * 1e9)
			if err := syscall.Settimeofday(&tv); err != nil {
				say("guestinit: settimeofday: %v", err)
			}
		}
	}
}

// loadModules loads, in order, the modules named in /modules (one file name
// a line, under /lib/modules).
func loadModules() {
	b, err := os.ReadFile("/modules")
	if err != nil {
		return
	}
	for _, m := range strings.Fields(string(b)) {
		img, err := os.ReadFile(filepath.Join("/lib/modules", m))
		if err != nil {
			fail("module %s: %v", m, err)
		}
		params := []byte{0}
		_, _, e := syscall.Syscall(syscall.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&img[0])), uintptr(len(img)), uintptr(unsafe.Pointer(&params[0])))
		if e != 0 && e != syscall.EEXIST {
			fail("load %s: %v", m, e)
		}
	}
}

// Socket ioctls (linux/sockios.h; the same on every architecture).
const (
	siocgifflags   = 0x8913
	siocsifflags   = 0x8914
	siocsifaddr    = 0x8916
	siocsifnetmask = 0x891c
	iffUp          = 0x1
)

// ifreq is struct ifreq with the sockaddr_in member of its union.
type ifreq struct {
	name [16]byte
	data [16]byte // sockaddr_in, or flags in the first two bytes
	_    [8]byte
}

func netUp() error {
	// The NIC appears shortly after its driver loads.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat("/sys/class/net/eth0"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no eth0 after 20 s")
		}
		time.Sleep(50 * time.Millisecond) // no event to wait on without netlink
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := ifUp(fd, "lo", nil, nil); err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := ifUp(fd, "eth0", []byte{10, 0, 2, 15}, []byte{255, 255, 255, 0}); err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	say("guestinit: eth0 up at 10.0.2.15/24")
	return nil
}

func ifUp(fd int, name string, addr, mask []byte) error {
	ioctl := func(req uintptr, r *ifreq) error {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(r))); e != 0 {
			return e
		}
		return nil
	}
	sockaddr := func(r *ifreq, ip []byte) {
		*(*uint16)(unsafe.Pointer(&r.data[0])) = syscall.AF_INET // native byte order
		copy(r.data[4:8], ip)
	}
	var r ifreq
	copy(r.name[:], name)
	if addr != nil {
		sockaddr(&r, addr)
		if err := ioctl(siocsifaddr, &r); err != nil {
			return fmt.Errorf("set address: %w", err)
		}
		r.data = [16]byte{}
		sockaddr(&r, mask)
		if err := ioctl(siocsifnetmask, &r); err != nil {
			return fmt.Errorf("set netmask: %w", err)
		}
	}
	r.data = [16]byte{}
	if err := ioctl(siocgifflags, &r); err != nil {
		return fmt.Errorf("get flags: %w", err)
	}
	*(*uint16)(unsafe.Pointer(&r.data[0])) |= iffUp
	if err := ioctl(siocsifflags, &r); err != nil {
		return fmt.Errorf("set flags: %w", err)
	}
	return nil
}

type agentProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
	err  error
}

func startAgent() *agentProc {
	cmd := exec.Command("/tether-agent", "-config", "/agent.toml")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = []string{"GOGC=50", "GOMEMLIMIT=24MiB"}
	if err := cmd.Start(); err != nil {
		fail("start agent: %v", err)
	}
	say("guestinit: agent started, pid %d", cmd.Process.Pid)
	a := &agentProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		a.err = cmd.Wait()
		close(a.done)
	}()
	return a
}

func (a *agentProc) wait() error {
	<-a.done
	return a.err
}

func serve(name string, agent *agentProc) {
	ln, err := net.Listen("tcp", serviceAddr)
	if err != nil {
		fail("listen %s: %v", serviceAddr, err)
	}
	say("guestinit: service on %s", serviceAddr)
	for {
		c, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		go handle(c, name, agent)
	}
}

func handle(c net.Conn, name string, agent *agentProc) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	line = strings.TrimSpace(line)
	switch line {
	case "rss":
		fmt.Fprintf(c, "%s\n", memory(agent.cmd.Process.Pid))
	case "poweroff":
		fmt.Fprintf(c, "%s powering off\n", name)
		c.Close()
		agent.once.Do(func() { agent.cmd.Process.Signal(syscall.SIGTERM) })
		select {
		case <-agent.done:
		case <-time.After(15 * time.Second):
			say("guestinit: agent did not stop within 15 s of SIGTERM")
			agent.cmd.Process.Kill()
		}
	default:
		fmt.Fprintf(c, "%s %s\n", name, line)
	}
}

// memory is "VmRSS=N VmHWM=N" (KiB) of pid.
func memory(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "error " + err.Error()
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS", "VmHWM"} {
			if v, ok := strings.CutPrefix(l, k+":"); ok {
				out = append(out, k+"="+strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			}
		}
	}
	return strings.Join(out, " ")
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func fail(format string, args ...any) {
	say("guestinit: FAIL: "+format, args...)
	poweroff()
}

func poweroff() {
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}
