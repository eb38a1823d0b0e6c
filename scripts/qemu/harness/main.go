// Command harness proves that the tether agent works on the devices it is
// built for, on emulated CPUs, against a real edge on this machine's
// loopback. scripts/qemu/run.sh builds what it needs and runs it.
//
//	-mode user    every target's agent under qemu-user with the CPU model
//	              pinned; an endpoint per architecture (labels = { arch = … })
//	              must reach exactly that target's agent and service
//	-mode system  Debian's armhf and mipsel kernels under qemu-system, booting
//	              an initramfs whose /init starts the agent; a request through
//	              the edge reaches a service inside the guest
//
// Both modes measure binary size and the agent's RSS after it bound its
// tunnel and after -requests proxied requests, and print a table. The last
// line is "qemu: N passed, N failed". Traffic goes only to loopback and to
// QEMU's user-mode network, whose gateway is this machine's loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// agentToken is the development secret shared by the test edge and agents.
const agentToken = "qemu-harness-secret"

type options struct {
	modes       string
	edge        string
	bins        string
	kernels     string
	work        string
	requests    int
	sysRequests int
	bindTimeout time.Duration
	bootTimeout time.Duration
	transport   string
	targets     []target
	refuse      []string // "target=binary": binary must not run on target's CPU
}

// target is one line of platforms/targets: "name goos goarch variant qemu-cpu".
type target struct {
	Name, GOOS, GOARCH, Variant, CPU string
}

// arch is the hardware label the agent reports for this target under
// qemu-user, where /proc/cpuinfo is the host's and the ARM level comes from
// the build's GOARM (see agent/hwlabels.go).
func (t target) arch() string {
	if t.GOARCH == "arm" {
		return "armv" + t.Variant
	}
	return t.GOARCH
}

// qemu names the qemu-user binary for the target, "" to run it natively.
func (t target) qemu() string {
	if t.GOARCH == hostArch() {
		return ""
	}
	q := map[string]string{
		"amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "mips": "mips",
		"mipsle": "mipsel", "mips64": "mips64", "mips64le": "mips64el", "riscv64": "riscv64",
	}[t.GOARCH]
	if q == "" {
		q = t.GOARCH
	}
	return "qemu-" + q + "-static"
}

// command is the command line that runs bin with args on this target: under
// its qemu-user with the CPU pinned, or natively.
func (t target) command(bin string, args ...string) []string {
	var c []string
	if q := t.qemu(); q != "" {
		c = append(c, q)
		if t.CPU != "-" {
			c = append(c, "-cpu", t.CPU)
		}
	}
	return append(append(c, bin), args...)
}

type targetList struct{ o *options }

func (l targetList) String() string { return "" }
func (l targetList) Set(s string) error {
	f := strings.Fields(s)
	if len(f) != 5 {
		return fmt.Errorf("want \"name goos goarch variant qemu-cpu\", got %q", s)
	}
	l.o.targets = append(l.o.targets, target{f[0], f[1], f[2], f[3], f[4]})
	return nil
}

func main() {
	o := &options{}
	flag.StringVar(&o.modes, "mode", "user,system", "what to run: user, system, or both")
	flag.StringVar(&o.edge, "edge", "bin/tether-edge", "the tether-edge binary for this machine")
	flag.StringVar(&o.bins, "bins", "", "directory with <target>/tether-agent (and <target>/guestinit)")
	flag.StringVar(&o.kernels, "kernels", "", "kernel cache of scripts/qemu/fetch-kernels.sh (system mode)")
	flag.StringVar(&o.work, "work", "", "scratch directory (default: a new temporary one, removed on success)")
	flag.IntVar(&o.requests, "requests", 200, "proxied requests per qemu-user target")
	flag.IntVar(&o.sysRequests, "system-requests", 100, "proxied requests per full-system guest")
	flag.DurationVar(&o.bindTimeout, "bind-timeout", 90*time.Second, "how long an agent under qemu-user may take to join its group")
	flag.DurationVar(&o.bootTimeout, "boot-timeout", 150*time.Second, "how long a guest may take to boot and join its group")
	flag.StringVar(&o.transport, "transport", "tcp", "the agents' transport: tcp, kcp or auto")
	flag.Func("refuse", "\"target=binary\": a binary that must die on the target's pinned CPU (repeatable)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want target=binary, got %q", s)
		}
		o.refuse = append(o.refuse, s)
		return nil
	})
	flag.Var(targetList{o}, "target", "a target line \"name goos goarch variant qemu-cpu\" (repeatable)")
	flag.Parse()
	if o.bins == "" {
		fmt.Fprintln(os.Stderr, "harness: -bins is required")
		os.Exit(2)
	}
	keep := o.work != ""
	if !keep {
		d, err := os.MkdirTemp("", "tether-qemu-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			os.Exit(1)
		}
		o.work = d
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r := &report{}
	var wg sync.WaitGroup
	for _, m := range strings.Split(o.modes, ",") {
		switch m {
		case "user":
			wg.Go(func() { runUser(ctx, o, r) })
		case "system":
			wg.Go(func() { runSystem(ctx, o, r) })
		default:
			fmt.Fprintf(os.Stderr, "harness: unknown mode %q\n", m)
			os.Exit(2)
		}
	}
	wg.Wait()
	r.print(o)
	if r.failed > 0 {
		fmt.Printf("logs kept in %s\n", o.work)
		os.Exit(1)
	}
	if !keep {
		os.RemoveAll(o.work)
	}
}

// row is one line of the results table.
type row struct {
	Target, Mode, CPU string
	Size              int64         // agent binary, bytes
	Bound             time.Duration // start to group joined
	Base              int64         // KiB, an idle Go program under the same emulator (user mode)
	RSSStart          int64         // KiB, after the tunnel is bound
	RSSAfter, HWM     int64         // KiB, after the requests
	Requests          int
	ReqTime           time.Duration
}

type report struct {
	mu             sync.Mutex
	rows           []row
	passed, failed int
}

func (r *report) pass(name string, x row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passed++
	if x.Target == "" { // a check without measurements
		fmt.Printf("ok   %s\n", name)
		return
	}
	r.rows = append(r.rows, x)
	fmt.Printf("ok   %s (joined in %v, %d requests in %v)\n", name, x.Bound.Round(time.Millisecond), x.Requests, x.ReqTime.Round(time.Millisecond))
}

func (r *report) fail(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed++
	fmt.Printf("FAIL %s: %v\n", name, err)
}

func (r *report) print(o *options) {
	sort.Slice(r.rows, func(i, j int) bool {
		if r.rows[i].Mode != r.rows[j].Mode {
			return r.rows[i].Mode > r.rows[j].Mode
		}
		return r.rows[i].Target < r.rows[j].Target
	})
	fmt.Println()
	fmt.Println("RSS in KiB. user: VmRSS of the qemu-user process, emulator and agent together (the native row is")
	fmt.Println("the agent alone); base: an idle Go program under the same emulator. rss minus base still holds")
	fmt.Println("qemu's translation of the agent's code, so it overstates; the system rows are the agent's own")
	fmt.Println("RSS on the emulated board, read from the guest's /proc.")
	fmt.Printf("%-7s %-24s %-17s %10s %8s %8s %10s %10s %10s %6s %9s\n",
		"mode", "target", "cpu", "size", "joined", "base", "rss-start", "rss-after", "rss-peak", "reqs", "req/s")
	for _, x := range r.rows {
		rate := 0.0
		if x.ReqTime > 0 {
			rate = float64(x.Requests) / x.ReqTime.Seconds()
		}
		base := "-"
		if x.Base > 0 {
			base = fmt.Sprint(x.Base)
		}
		fmt.Printf("%-7s %-24s %-17s %10d %7.1fs %8s %10d %10d %10d %6d %9.0f\n",
			x.Mode, x.Target, x.CPU, x.Size, x.Bound.Seconds(), base, x.RSSStart, x.RSSAfter, x.HWM, x.Requests, rate)
	}
	fmt.Printf("\nqemu: %d passed, %d failed\n", r.passed, r.failed)
}

func hostArch() string { return runtime.GOARCH }
