package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// endpoint is one [[endpoint]] of the edge: a tcp port whose group is the
// tunnels labelled arch = Arch.
type endpoint struct {
	Name string
	Arch string
	Port int
}

// edgeProc is a running tether-edge whose JSON log the harness watches.
type edgeProc struct {
	cmd    *exec.Cmd
	log    *logWatch
	Agents string // the agent listener, 127.0.0.1:port
	CA     string // the CA file agents trust
	done   chan struct{}
}

// startEdge writes a certificate for hosts and an edge config with the
// endpoints into dir, starts bin, and returns once the edge logs "edge ready".
func startEdge(ctx context.Context, bin, dir string, hosts []string, eps []endpoint) (*edgeProc, error) {
	certs := filepath.Join(dir, "certs")
	out, err := exec.CommandContext(ctx, bin, "gencert", "-dir", certs, "-hosts", strings.Join(hosts, ",")).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("gencert: %v: %s", err, out)
	}
	agents := fmt.Sprintf("127.0.0.1:%d", freePort())
	var b strings.Builder
	fmt.Fprintf(&b, "domain = %q\nstate_dir = %q\n", "qemu.test", filepath.Join(dir, "edge-state"))
	fmt.Fprintf(&b, "[listen]\nagents = %q\ntcp_ports = \"41000-41099\"\ntcp_host = \"127.0.0.1\"\n", agents)
	fmt.Fprintf(&b, "[tls]\ncert_file = %q\nkey_file = %q\n", filepath.Join(certs, "edge.crt"), filepath.Join(certs, "edge.key"))
	fmt.Fprintf(&b, "[log]\nlevel = \"info\"\nformat = \"json\"\n")
	fmt.Fprintf(&b, "[[token]]\nname = \"qemu\"\nsecret = %q\n", agentToken)
	for _, e := range eps {
		fmt.Fprintf(&b, "[[endpoint]]\nname = %q\nproto = \"tcp\"\nport = %d\nlabels = { arch = %q }\n", e.Name, e.Port, e.Arch)
	}
	cfg := filepath.Join(dir, "edge.toml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "edge.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-config", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start edge: %w", err)
	}
	e := &edgeProc{cmd: cmd, log: newLogWatch(), Agents: agents, CA: filepath.Join(certs, "ca.crt"), done: make(chan struct{})}
	go func() {
		e.log.feed(stderr, logFile)
		cmd.Wait()
		logFile.Close()
		close(e.done)
	}()
	if _, err := e.log.waitFor(ctx, 20*time.Second, func(m map[string]any) bool { return m["msg"] == "edge ready" }); err != nil {
		e.stop()
		return nil, fmt.Errorf("edge did not get ready: %w\n%s", err, e.log.tail(20))
	}
	return e, nil
}

// stop sends SIGTERM and waits (10 s at most) for the edge to exit.
func (e *edgeProc) stop() {
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
	}
}

// waitJoined waits for the edge to log that agent id joined a group, and
// returns the labels the agent announced when it connected.
func (e *edgeProc) waitJoined(ctx context.Context, id string, timeout time.Duration) (string, error) {
	if _, err := e.log.waitFor(ctx, timeout, func(m map[string]any) bool {
		return m["msg"] == "group member joined" && m["agent"] == id
	}); err != nil {
		return "", err
	}
	m, _ := e.log.waitFor(ctx, 0, func(m map[string]any) bool {
		return m["msg"] == "agent connected" && m["agent"] == id
	})
	labels, _ := m["labels"].(string)
	return labels, nil
}

// logWatch keeps the lines of a JSON log and wakes those who wait for one.
type logWatch struct {
	mu      sync.Mutex
	lines   []map[string]any
	raw     []string
	changed chan struct{} // closed and replaced on every new line
	eof     bool
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

// feed reads r to its end, copying every line to copyTo.
func (w *logWatch) feed(r io.Reader, copyTo io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(copyTo, line)
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			m = map[string]any{"msg": line}
		}
		w.mu.Lock()
		w.lines = append(w.lines, m)
		w.raw = append(w.raw, line)
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
	w.mu.Lock()
	w.eof = true
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// waitFor returns the first line, old or new, that match accepts, waiting up
// to timeout for it (0: only look at what is there).
func (w *logWatch) waitFor(ctx context.Context, timeout time.Duration, match func(map[string]any) bool) (map[string]any, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.lines); seen++ {
			if match(w.lines[seen]) {
				m := w.lines[seen]
				w.mu.Unlock()
				return m, nil
			}
		}
		changed, eof := w.changed, w.eof
		w.mu.Unlock()
		if eof {
			return nil, fmt.Errorf("log ended")
		}
		if timeout == 0 {
			return nil, fmt.Errorf("not in the log")
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, fmt.Errorf("not seen within %v", timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// tail is the last n lines, for failure reports.
func (w *logWatch) tail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := max(0, len(w.raw)-n)
	return "    " + strings.Join(w.raw[from:], "\n    ")
}

// freePort returns a loopback TCP port that was free a moment ago and that
// this process has not handed out before (the modes pick ports at once).
func freePort() int {
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)
