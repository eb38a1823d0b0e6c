// Command tether-fleetbench measures one edge under a fleet: it runs the
// edge (package edge, the code of tether-edge) in this process, so it can
// read the edge's own heap, stacks, goroutines, RSS and CPU, and runs the
// agents in a tether-fleet process beside it. It prints a table and, with
// -json, writes the figures as JSON.
//
//	go build -o bin/ ./scripts/fleet ./scripts/fleetbench
//	bin/tether-fleetbench -n 10000 -fleet bin/tether-fleet
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tetherhq/tether/edge"
)

const token = "fleetbench-token"

var memProfile, cpuProfile *string

type result struct {
	N                     int     `json:"n"`
	ConnectSeconds        float64 `json:"connect_s"`
	HeapStackPerSessionKB float64 `json:"heap_stack_per_session_kib"`
	HeapStackChurnKB      float64 `json:"heap_stack_per_session_after_churn_kib"`
	HeapPerSessionKB      float64 `json:"heap_per_session_kib"`
	StackPerSessionKB     float64 `json:"stack_per_session_kib"`
	RSSPerSessionKB       float64 `json:"rss_per_session_kib"`
	RSSChurnPerSessionKB  float64 `json:"rss_per_session_after_churn_kib"`
	GoroutinesPerSession  float64 `json:"goroutines_per_session"`
	IdleCPUPercent        float64 `json:"idle_cpu_percent"`
	RouteP50us            float64 `json:"route_p50_us"`
	RouteP99us            float64 `json:"route_p99_us"`
	DirectP50us           float64 `json:"direct_p50_us"`
	StormSeconds          float64 `json:"storm_s"`
	StormPeakHeapMB       float64 `json:"storm_peak_heap_mib"`
	StormCPUPercent       float64 `json:"storm_cpu_percent"`
}

func main() {
	n := flag.Int("n", 1000, "agents")
	perProc := flag.Int("per-process", 5000, "agents per tether-fleet process (each needs 2 file descriptors)")
	fleetBin := flag.String("fleet", "bin/tether-fleet", "tether-fleet binary")
	idle := flag.Duration("idle", 20*time.Second, "how long to measure idle CPU")
	jsonOut := flag.String("json", "", "write the figures to this file")
	memProfile = flag.String("memprofile", "", "write a heap profile of the edge with the fleet connected")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the edge while the fleet idles")
	flag.Parse()
	raiseNoFile()
	if err := run(*n, *perProc, *fleetBin, *idle, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	n       int
	dir     string
	cfg     *edge.Config
	srv     *edge.Server
	cancel  context.CancelFunc
	done    chan error
	perProc int
	fleets  []*fleetProc
}

// fleetProc is one tether-fleet process and its count of connected agents.
type fleetProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	up  atomic.Int64
}

func run(n, perProc int, fleetBin string, idle time.Duration, jsonOut string) error {
	dir, err := os.MkdirTemp("", "fleetbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certs, err := edge.GenerateCert(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		return err
	}
	agentPort, err := freePort()
	if err != nil {
		return err
	}
	groupPort, err := freePort()
	if err != nil {
		return err
	}
	cfg := edge.DefaultConfig()
	cfg.Listen.Agents = fmt.Sprintf("127.0.0.1:%d", agentPort)
	cfg.Listen.TCPHost = "127.0.0.1"
	cfg.TLS.CertFile, cfg.TLS.KeyFile = certs.Cert, certs.Key
	cfg.Log.Level = "warn"
	cfg.Limits.MaxHandshakes = 4096
	cfg.Tokens = []edge.TokenConfig{{Name: "fleet", Secret: token}}
	cfg.Endpoints = []edge.EndpointConfig{{Name: "fleet", Proto: "tcp", Port: groupPort, Labels: map[string]string{"fleet": "sim"}, Balance: edge.RoundRobin}}
	if err := cfg.Validate(); err != nil {
		return err
	}
	b := &bench{n: n, perProc: max(perProc, 1), dir: dir, cfg: cfg}
	r := result{N: n}

	base := memNow()
	baseRSS := rssKB()
	if err := b.startEdge(); err != nil {
		return err
	}
	defer b.stopEdge()

	t0 := time.Now()
	if err := b.startFleet(fleetBin, certs.CACert); err != nil {
		return err
	}
	if err := b.waitUp(n, 10*time.Minute); err != nil {
		return err
	}
	r.ConnectSeconds = time.Since(t0).Seconds()
	fmt.Printf("%d agents connected in %.1fs\n", n, r.ConnectSeconds)

	m := memNow()
	if *memProfile != "" {
		if f, err := os.Create(*memProfile); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	r.HeapStackPerSessionKB = float64(m.heapStack-base.heapStack) / 1024 / float64(n)
	r.HeapPerSessionKB = float64(m.heap-base.heap) / 1024 / float64(n)
	r.StackPerSessionKB = float64(m.stack-base.stack) / 1024 / float64(n)
	r.GoroutinesPerSession = float64(m.goroutines-base.goroutines) / float64(n)
	r.RSSPerSessionKB = float64(rssKB()-baseRSS) / float64(n)

	if *cpuProfile != "" {
		if f, err := os.Create(*cpuProfile); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	cpu0, w0 := cpuTicks(), time.Now()
	time.Sleep(idle)
	r.IdleCPUPercent = cpuPercent(cpu0, w0)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	public := fmt.Sprintf("127.0.0.1:%d", groupPort)
	r.RouteP50us, r.RouteP99us, err = routeLatency(public, 1000)
	if err != nil {
		return err
	}
	// Direct: the same greet service, without the edge.
	direct, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := direct.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "x\n")
			c.Close()
		}
	}()
	r.DirectP50us, _, _ = routeLatency(direct.Addr().String(), 1000)
	direct.Close()

	// Churn: every session drops and a new fleet connects.
	b.stopFleet()
	if err := b.waitSessions(0, time.Minute); err != nil {
		return err
	}
	if err := b.startFleet(fleetBin, certs.CACert); err != nil {
		return err
	}
	if err := b.waitUp(n, 10*time.Minute); err != nil {
		return err
	}
	m = memNow()
	r.HeapStackChurnKB = float64(m.heapStack-base.heapStack) / 1024 / float64(n)
	r.RSSChurnPerSessionKB = float64(rssKB()-baseRSS) / float64(n)

	// Reconnect storm: the edge restarts under a connected fleet.
	b.stopEdge()
	if err := b.waitUp(0, time.Minute); err != nil {
		return err
	}
	var peak atomic.Uint64
	stopSample := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSample:
				return
			case <-t.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	cpu0, w0 = cpuTicks(), time.Now()
	t0 = time.Now()
	if err := b.startEdge(); err != nil {
		return err
	}
	if err := b.waitUp(n, 5*time.Minute); err != nil {
		return err
	}
	r.StormSeconds = time.Since(t0).Seconds()
	r.StormCPUPercent = cpuPercent(cpu0, w0)
	close(stopSample)
	r.StormPeakHeapMB = float64(peak.Load()) / (1 << 20)
	b.stopFleet()

	print(r)
	if jsonOut != "" {
		data, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(jsonOut, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func print(r result) {
	pf := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	fmt.Printf("\n%-44s %12s  %s\n", "edge under a fleet of "+strconv.Itoa(r.N)+" agents", "figure", "budget")
	fmt.Printf("%-44s %10.1f s  %s\n", "all agents connected", r.ConnectSeconds, "")
	fmt.Printf("%-44s %8.1f KiB  ≤ 100 KiB %s\n", "heap+stack per idle session", r.HeapStackPerSessionKB, pf(r.HeapStackPerSessionKB <= 100))
	fmt.Printf("%-44s %8.1f KiB + %.1f KiB\n", "  of which heap + stacks", r.HeapPerSessionKB, r.StackPerSessionKB)
	fmt.Printf("%-44s %8.1f KiB  ≤ 100 KiB %s\n", "heap+stack per idle session, after churn", r.HeapStackChurnKB, pf(r.HeapStackChurnKB <= 100))
	fmt.Printf("%-44s %8.1f KiB  ≤ 56 KiB %s\n", "RSS per idle session, fresh edge", r.RSSPerSessionKB, pf(r.RSSPerSessionKB <= 56))
	fmt.Printf("%-44s %8.1f KiB\n", "RSS per idle session, after churn", r.RSSChurnPerSessionKB)
	fmt.Printf("%-44s %12.2f\n", "goroutines per session", r.GoroutinesPerSession)
	fmt.Printf("%-44s %10.1f %%\n", "edge CPU while idle (heartbeats only)", r.IdleCPUPercent)
	fmt.Printf("%-44s %9.0f µs  (direct %0.f µs, p99 %.0f µs)\n", "connect+first byte via a group, p50", r.RouteP50us, r.DirectP50us, r.RouteP99us)
	fmt.Printf("%-44s %10.1f s  ≤ 60 s %s\n", "reconnect storm: all back after restart", r.StormSeconds, pf(r.StormSeconds <= 60))
	fmt.Printf("%-44s %8.1f MiB\n", "  peak edge heap during the storm", r.StormPeakHeapMB)
	fmt.Printf("%-44s %10.1f %%\n", "  edge CPU during the storm", r.StormCPUPercent)
}

func (b *bench) startEdge() error {
	srv, err := edge.New(b.cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.srv, b.cancel, b.done = srv, cancel, make(chan error, 1)
	go func() { b.done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
		return nil
	case err := <-b.done:
		return err
	}
}

func (b *bench) stopEdge() {
	if b.cancel != nil {
		b.cancel()
		<-b.done
		b.cancel = nil
	}
}

// startFleet runs the agents in tether-fleet processes of at most
// perProc agents each: an agent holds two descriptors (its session and
// its local service's listener), and a process may have only so many.
func (b *bench) startFleet(bin, ca string) error {
	b.fleets = nil
	for i, left := 0, b.n; left > 0; i++ {
		n := min(left, b.perProc)
		left -= n
		cmd := exec.Command(bin, "-n", strconv.Itoa(n), "-edge", b.cfg.Listen.Agents, "-ca", ca, "-token", token,
			"-prefix", fmt.Sprintf("sim%d", i))
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w (go build -o bin/ ./scripts/fleet)", bin, err)
		}
		f := &fleetProc{cmd: cmd, in: in}
		b.fleets = append(b.fleets, f)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "up "); ok {
					n, _ := strconv.Atoi(v)
					f.up.Store(int64(n))
				}
			}
		}()
	}
	return nil
}

func (b *bench) stopFleet() {
	for _, f := range b.fleets {
		f.in.Close()
	}
	for _, f := range b.fleets {
		f.cmd.Wait()
	}
}

// up is how many agents the fleet processes report connected.
func (b *bench) up() int64 {
	var n int64
	for _, f := range b.fleets {
		n += f.up.Load()
	}
	return n
}

func (b *bench) waitUp(n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for b.up() != int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d agents up after %v", b.up(), n, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b.waitSessions(n, within)
}

func (b *bench) waitSessions(n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for len(b.srv.Agents()) != n {
		if time.Now().After(deadline) {
			return fmt.Errorf("edge holds %d sessions, want %d", len(b.srv.Agents()), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

type mem struct {
	heapStack, heap, stack uint64
	goroutines             int
}

func memNow() mem {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return mem{heapStack: ms.HeapInuse + ms.StackInuse, heap: ms.HeapInuse, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

func rssKB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// cpuTicks is this process's user+system time in clock ticks (1/100 s).
// cpuTicks is the CPU this process (the edge) has used, in µs: getrusage,
// not /proc's 10 ms ticks, so a short idle window still measures.
func cpuTicks() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}

// cpuPercent is the CPU used since (ticks, wall), as % of one core.
func cpuPercent(ticks int64, wall time.Time) float64 {
	return float64(cpuTicks()-ticks) / 1e6 / time.Since(wall).Seconds() * 100
}

func routeLatency(addr string, count int) (p50, p99 float64, err error) {
	var ds []time.Duration
	for i := 0; i < count; i++ {
		start := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, 0, err
		}
		var buf [1]byte
		_, err = c.Read(buf[:])
		c.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("via %s: %w", addr, err)
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[len(ds)/2].Microseconds()), float64(ds[len(ds)*99/100].Microseconds()), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func raiseNoFile() {
	want := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		var l syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
			l.Cur = l.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		}
	}
}
