package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// guest is an emulated board booting a Debian kernel.
type guest struct {
	Name    string // kernel cache directory (scripts/qemu/fetch-kernels.sh)
	Target  string // the agent build it runs (platforms/targets)
	Arch    string // the arch label the agent must detect from the guest's /proc/cpuinfo
	CPU     string
	Console string
	QEMU    []string // the machine, without kernel, network backend and console
}

// guests are the boards the full-system test boots. QEMU's user network
// gives the guest 10.0.2.15 and maps 10.0.2.2 to this machine's loopback.
var guests = []guest{
	{
		Name: "armhf", Target: "linux-armv7", Arch: "armv7", CPU: "cortex-a15", Console: "ttyAMA0",
		QEMU: []string{"qemu-system-arm", "-M", "virt", "-m", "256", "-device", "virtio-net-device,netdev=n0"},
	},
	{
		Name: "mipsel", Target: "linux-mipsle-softfloat", Arch: "mipsle", CPU: "24Kc", Console: "ttyS0",
		QEMU: []string{"qemu-system-mipsel", "-M", "malta", "-m", "256", "-vga", "none", "-device", "pcnet,netdev=n0,romfile="},
	},
}

// runSystem boots every guest at once, each against one edge on loopback
// whose endpoint selects the guest's arch.
func runSystem(ctx context.Context, o *options, r *report) {
	dir := filepath.Join(o.work, "system")
	os.MkdirAll(dir, 0o755)
	var eps []endpoint
	for _, g := range guests {
		eps = append(eps, endpoint{Name: "guest-" + g.Arch, Arch: g.Arch, Port: freePort()})
	}
	// The guest reaches the edge as 10.0.2.2: the certificate must name it.
	edge, err := startEdge(ctx, o.edge, dir, []string{"127.0.0.1", "10.0.2.2"}, eps)
	if err != nil {
		r.fail("qemu-system: edge", err)
		return
	}
	defer edge.stop()
	var wg sync.WaitGroup
	for i, g := range guests {
		wg.Go(func() { runGuest(ctx, o, r, edge, g, eps[i].Port, dir) })
	}
	wg.Wait()
}

func runGuest(ctx context.Context, o *options, r *report, edge *edgeProc, g guest, port int, dir string) {
	name := "qemu-system " + g.Name
	kdir := filepath.Join(o.kernels, g.Name)
	agentBin := filepath.Join(o.bins, g.Target, "tether-agent")
	fi, err := os.Stat(agentBin)
	if err != nil {
		r.fail(name, err)
		return
	}
	id := "guest-" + g.Name
	cfg := filepath.Join(dir, g.Name+".toml")
	_, edgePort, _ := strings.Cut(edge.Agents, ":")
	if err := writeAgentConfig(cfg, "10.0.2.2:"+edgePort, "/ca.crt", id, "/tmp/state", "127.0.0.1:8080", o.transport); err != nil {
		r.fail(name, err)
		return
	}
	initrd := filepath.Join(dir, g.Name+".cpio")
	if err := buildInitramfs(initrd, kdir, map[string]string{
		"/init":         filepath.Join(o.bins, g.Target, "guestinit"),
		"/tether-agent": agentBin,
		"/agent.toml":   cfg,
		"/ca.crt":       edge.CA,
	}, id); err != nil {
		r.fail(name, fmt.Errorf("initramfs: %w", err))
		return
	}

	args := append(append([]string{}, g.QEMU...), "-cpu", g.CPU,
		"-kernel", filepath.Join(kdir, "vmlinuz"), "-initrd", initrd,
		"-append", fmt.Sprintf("console=%s rdinit=/init panic=-1 quiet tether.time=%d", g.Console, time.Now().Unix()),
		"-netdev", "user,id=n0", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot")
	consolePath := filepath.Join(dir, g.Name+".console")
	vm, err := startProc(args, consolePath)
	if err != nil {
		r.fail(name, err)
		return
	}
	defer vm.kill()

	labels, err := edge.waitJoined(ctx, id, o.bootTimeout)
	if err != nil {
		r.fail(name, fmt.Errorf("guest agent never joined its group: %w\nconsole:\n%s", err, fileTail(consolePath, 25)))
		return
	}
	row := row{Target: g.Target, Mode: "system", CPU: g.CPU, Size: fi.Size(), Bound: time.Since(vm.started)}
	// Detected on a real kernel: arch from its /proc/cpuinfo, hostname from
	// the name guestinit gave the kernel.
	for _, want := range []string{"arch=" + g.Arch, "hostname=" + id} {
		if !strings.Contains(","+labels+",", ","+want+",") {
			r.fail(name, fmt.Errorf("guest agent announced labels %q, want %s", labels, want))
			return
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if row.RSSStart, _, err = guestRSS(ctx, addr); err != nil {
		r.fail(name, err)
		return
	}
	if err := exchange(ctx, addr, id, o.sysRequests, &row); err != nil {
		r.fail(name, err)
		return
	}
	if row.RSSAfter, row.HWM, err = guestRSS(ctx, addr); err != nil {
		r.fail(name, err)
		return
	}

	// Power off through the guest: its init stops the agent with SIGTERM,
	// waits for it and powers the board off; QEMU exits.
	if _, err := request(ctx, addr, "poweroff"); err != nil {
		r.fail(name, fmt.Errorf("poweroff: %w", err))
		return
	}
	if err := vm.waitExit(60 * time.Second); err != nil {
		r.fail(name, fmt.Errorf("guest power-off: %w", err))
		return
	}
	if b, _ := os.ReadFile(consolePath); !strings.Contains(string(b), "guestinit: agent exited: <nil>") {
		r.fail(name, fmt.Errorf("agent did not exit cleanly on SIGTERM in the guest\nconsole:\n%s", fileTail(consolePath, 15)))
		return
	}
	r.pass(name, row)
}

// guestRSS asks the guest's service, through the tunnel, for the agent's
// VmRSS and VmHWM (KiB).
func guestRSS(ctx context.Context, addr string) (rss, hwm int64, err error) {
	got, err := request(ctx, addr, "rss")
	if err != nil {
		return 0, 0, fmt.Errorf("rss: %w", err)
	}
	for _, f := range strings.Fields(got) {
		k, v, _ := strings.Cut(f, "=")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("rss: unexpected answer %q", got)
	}
	return rss, hwm, nil
}
