package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runUser runs every target's agent under qemu-user with its CPU pinned (the
// host's own architecture natively), each with a local service of its own,
// against one edge on loopback whose endpoint per architecture selects
// arch = <that arch>. A request through each endpoint must reach exactly
// that target's service.
func runUser(ctx context.Context, o *options, r *report) {
	dir := filepath.Join(o.work, "user")
	os.MkdirAll(dir, 0o755)
	var eps []endpoint
	for _, t := range o.targets {
		eps = append(eps, endpoint{Name: "arch-" + t.arch(), Arch: t.arch(), Port: freePort()})
	}
	edge, err := startEdge(ctx, o.edge, dir, []string{"127.0.0.1"}, eps)
	if err != nil {
		r.fail("qemu-user: edge", err)
		return
	}
	defer edge.stop()

	checkPinning(o, r)
	var wg sync.WaitGroup
	for i, t := range o.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runUserTarget(ctx, o, r, edge, t, eps[i].Port, dir)
		}()
	}
	wg.Wait()
}

func runUserTarget(ctx context.Context, o *options, r *report, edge *edgeProc, t target, port int, dir string) {
	name := "qemu-user " + t.Name
	svc, err := startLineService("127.0.0.1:0", t.Name)
	if err != nil {
		r.fail(name, err)
		return
	}
	defer svc.Close()
	bin := filepath.Join(o.bins, t.Name, "tether-agent")
	fi, err := os.Stat(bin)
	if err != nil {
		r.fail(name, err)
		return
	}
	id := "qemu-" + t.Name
	cfg := filepath.Join(dir, t.Name+".toml")
	if err := writeAgentConfig(cfg, edge.Agents, edge.CA, id, filepath.Join(dir, t.Name+"-state"), svc.Addr().String(), o.transport); err != nil {
		r.fail(name, err)
		return
	}
	base, err := baselineRSS(ctx, t, filepath.Join(o.bins, t.Name, "idle"))
	if err != nil {
		r.fail(name, fmt.Errorf("baseline: %w", err))
		return
	}
	agent, err := startProc(t.command(bin, "-config", cfg), filepath.Join(dir, t.Name+".log"), "GOGC=50", "GOMEMLIMIT=24MiB")
	if err != nil {
		r.fail(name, err)
		return
	}
	defer agent.kill()

	labels, err := edge.waitJoined(ctx, id, o.bindTimeout)
	if err != nil {
		r.fail(name, fmt.Errorf("agent never joined its group: %w\nagent log:\n%s", err, fileTail(agent.log, 15)))
		return
	}
	row := row{Target: t.Name, Mode: "user", CPU: t.CPU, Size: fi.Size(), Bound: time.Since(agent.started), Base: base}
	if !strings.Contains(","+labels+",", ",arch="+t.arch()+",") {
		r.fail(name, fmt.Errorf("agent announced labels %q, want arch=%s", labels, t.arch()))
		return
	}
	row.RSSStart = procRSS(agent.pid())
	if err := exchange(ctx, fmt.Sprintf("127.0.0.1:%d", port), t.Name, o.requests, &row); err != nil {
		r.fail(name, err)
		return
	}
	row.RSSAfter, row.HWM = procRSS(agent.pid()), procHWM(agent.pid())

	// SIGTERM drains and exits 0, under emulation too.
	if err := agent.terminate(20 * time.Second); err != nil {
		r.fail(name, fmt.Errorf("agent after SIGTERM: %w", err))
		return
	}
	r.pass(name, row)
}

// checkPinning proves that the pinned CPU models matter: on each ARM
// target's CPU the binary for the next ARM level up must die (the Go runtime
// checks for the VFP it needs) while the target's own binary runs; and every
// -refuse binary (e.g. a hardfloat MIPS build) must die on its target's CPU.
func checkPinning(o *options, r *report) {
	byName := map[string]target{}
	for _, t := range o.targets {
		byName[t.Name] = t
	}
	refuse := map[string][]string{} // target → binaries that must die on its CPU
	for _, t := range o.targets {
		for _, u := range o.targets {
			if t.GOARCH == "arm" && u.GOARCH == "arm" && t.CPU != "-" && u.Variant == fmt.Sprint(leadingDigits(t.Variant)+1) {
				refuse[t.Name] = append(refuse[t.Name], filepath.Join(o.bins, u.Name, "tether-agent"))
			}
		}
	}
	for _, s := range o.refuse {
		name, bin, _ := strings.Cut(s, "=")
		refuse[name] = append(refuse[name], bin)
	}
	for _, name := range slices.Sorted(maps.Keys(refuse)) {
		bins := refuse[name]
		t, ok := byName[name]
		if !ok || t.qemu() == "" {
			continue
		}
		run := func(bin string) ([]byte, error) {
			args := t.command(bin, "-version")
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir = o.work // where qemu may drop the core of a binary that dies
			return cmd.CombinedOutput()
		}
		if out, err := run(filepath.Join(o.bins, t.Name, "tether-agent")); err != nil {
			r.fail("qemu-user pinning: "+t.Name+" on "+t.CPU, fmt.Errorf("its own binary: %v: %s", err, out))
			continue
		}
		for _, bin := range bins {
			check := fmt.Sprintf("qemu-user pinning: %s runs on %s, %s does not", t.Name, t.CPU, filepath.Base(filepath.Dir(bin)))
			if out, err := run(bin); err == nil {
				r.fail(check, fmt.Errorf("%s ran: %s", bin, out))
				continue
			}
			r.pass(check, row{})
		}
	}
}

func leadingDigits(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}

// baselineRSS runs the idle Go program under the same emulator and CPU and
// returns its RSS (KiB) once it has started: what the emulator and a bare Go
// runtime take before the agent adds anything.
func baselineRSS(ctx context.Context, t target, bin string) (int64, error) {
	args := t.command(bin)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return 0, fmt.Errorf("%s: no \"ready\" (%q, %v)", bin, line, err)
	}
	return procRSS(cmd.Process.Pid), nil
}

// exchange makes n requests, each on a new connection to addr (so each is a
// new stream through the edge and the agent), and checks that every answer
// comes from want's service.
func exchange(ctx context.Context, addr, want string, n int, row *row) error {
	const workers = 4
	start := time.Now()
	errs := make(chan error, workers)
	var next atomic.Int64
	for range workers {
		go func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					errs <- nil
					return
				}
				got, err := request(ctx, addr, fmt.Sprintf("req %d", k))
				if err != nil {
					errs <- fmt.Errorf("request %d through %s: %w", k, addr, err)
					return
				}
				if w := fmt.Sprintf("%s req %d", want, k); got != w {
					errs <- fmt.Errorf("request %d through %s reached %q, want %q", k, addr, got, w)
					return
				}
			}
		}()
	}
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	row.Requests, row.ReqTime = n, time.Since(start)
	return first
}

// request sends one line on a new connection and returns the answer line.
func request(ctx context.Context, addr, line string) (string, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read answer: %w", err)
	}
	return strings.TrimSpace(got), nil
}

// startLineService answers each connection's first line with "<name> <line>".
func startLineService(addr, name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s %s\n", name, strings.TrimSpace(line))
			}()
		}
	}()
	return ln, nil
}

// writeAgentConfig writes an agent.toml with one labeled tunnel to service.
func writeAgentConfig(path, edgeAddr, ca, id, state, service, transport string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "edge = %q\ntoken = %q\ntransport = %q\nca_file = %q\n", edgeAddr, agentToken, transport, ca)
	fmt.Fprintf(&b, "id = %q\nstate_dir = %q\nhardware_labels = true\n", id, state)
	fmt.Fprintf(&b, "[log]\nlevel = \"info\"\nformat = \"json\"\n")
	fmt.Fprintf(&b, "[[tunnel]]\nname = \"svc\"\nproto = \"labeled\"\naddr = %q\nlabels = { app = \"qemu\" }\n", service)
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// procRSS and procHWM read VmRSS and VmHWM (KiB) of pid; under qemu-user
// that is the emulator and the agent together.
func procRSS(pid int) int64 { return procStatus(pid, "VmRSS") }
func procHWM(pid int) int64 { return procStatus(pid, "VmHWM") }

func procStatus(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	return statusField(string(b), key)
}

// statusField parses "Key:   1234 kB" out of a /proc/PID/status text.
func statusField(status, key string) int64 {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			var n int64
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return -1
}

// fileTail is the last n lines of a file, indented.
func fileTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	from := max(0, len(lines)-n)
	return "    " + strings.Join(lines[from:], "\n    ")
}
