package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
	"github.com/tetherhq/tether/internal/transport"
)

// testLog is a slog logger that writes through t.Logf until the test ends.
func testLog(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(w.stop)
	level := slog.LevelDebug
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelWarn // benchmarks print their figures, not logs
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tWriter) stop() { w.mu.Lock(); w.done = true; w.mu.Unlock() }

// pki is a CA and an edge certificate for 127.0.0.1 and localhost.
type pki struct{ edge.CertFiles }

func newPKI(t testing.TB) pki {
	f, err := edge.GenerateCert(t.TempDir(), []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return pki{f}
}

const testSecret = "test-secret-0123456789"

// edgeConfig is a config for an edge on loopback with short timers and one
// development token.
func (p pki) edgeConfig(t testing.TB) *edge.Config {
	cfg := edge.DefaultConfig()
	cfg.Listen.Agents = "127.0.0.1:0"
	cfg.Listen.TCPHost = "127.0.0.1"
	lo := freePortRange(t)
	cfg.Listen.TCPPorts = fmt.Sprintf("%d-%d", lo, lo+49)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = p.Cert, p.Key
	cfg.StateDir = t.TempDir()
	cfg.Limits.HeartbeatInterval = 200 * time.Millisecond
	cfg.Limits.HeartbeatTimeout = heartbeatTimeout
	cfg.Limits.HandshakeTimeout = 2 * time.Second
	cfg.Limits.StreamTimeout = time.Second
	cfg.Tokens = []edge.TokenConfig{{Name: "test", Secret: testSecret}}
	return cfg
}

// runningEdge is an edge.Server running in this process.
type runningEdge struct {
	*edge.Server
	cfg    *edge.Config
	cancel context.CancelFunc
	done   chan error
}

// startEdge runs an edge on cfg; opts set up the server before it runs.
func startEdge(t testing.TB, cfg *edge.Config, opts ...func(*edge.Server)) *runningEdge {
	t.Helper()
	return startEdgeLog(t, cfg, testLog(t), opts...)
}

// startEdgeLog is startEdge with the edge logging to log.
func startEdgeLog(t testing.TB, cfg *edge.Config, log *slog.Logger, opts ...func(*edge.Server)) *runningEdge {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("edge config: %v", err)
	}
	srv, err := edge.New(cfg, log.With("side", "edge"))
	if err != nil {
		t.Fatal(err)
	}
	srv.DrainTimeout = time.Second
	for _, o := range opts {
		o(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &runningEdge{Server: srv, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { e.done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-e.done:
		t.Fatalf("edge did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("edge not ready after 10s")
	}
	t.Cleanup(e.stop)
	return e
}

// stop shuts the edge down and waits for Run to return.
func (e *runningEdge) stop() {
	e.cancel()
	<-e.done
	e.done <- nil // later stops return at once
}

func (e *runningEdge) addr() string { return e.AgentAddr().String() }

// waitMembers waits until the endpoint's group has n members.
func (e *runningEdge) waitMembers(t testing.TB, endpoint string, n int) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("endpoint %s to have %d members", endpoint, n), func() bool {
		return len(e.Members(endpoint)) == n
	})
}

// runningAgent is an agent.Agent running in this process; its session
// events arrive on events.
type runningAgent struct {
	*agent.Agent
	cancel context.CancelFunc
	done   chan error
	events chan agent.SessionEvent
}

// heartbeatTimeout is the edges' heartbeat timeout in tests. TestOverKCP
// raises it: under -race on two cores KCP carries a few MB/s, and a pong
// queued behind a saturated link's data arrives late (see
// TestStalledServiceIsolated).
var heartbeatTimeout = time.Second

// agentTransport is what agents in tests dial over; TestOverKCP switches
// it (tests here never run in parallel).
var agentTransport = transport.TCP

func (p pki) agentConfig(edgeAddr, id string, tunnels ...agent.TunnelConfig) *agent.Config {
	cfg := agent.DefaultConfig()
	cfg.Transport = agentTransport
	cfg.Edge = edgeAddr
	cfg.Token = testSecret
	cfg.CAFile = p.CACert
	cfg.ServerName = "localhost"
	cfg.ID = id
	cfg.HardwareLabels = false
	cfg.Tunnels = tunnels
	return cfg
}

func startAgent(t testing.TB, cfg *agent.Config) *runningAgent {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("agent config: %v", err)
	}
	if cfg.StateDir == agent.DefaultConfig().StateDir {
		cfg.StateDir = t.TempDir() // its id file and status socket
	}
	a, err := agent.New(cfg, testLog(t).With("side", "agent"))
	if err != nil {
		t.Fatal(err)
	}
	a.DrainTimeout = time.Second
	a.Backoff.Min = 20 * time.Millisecond
	a.Backoff.Max = 200 * time.Millisecond
	a.Dialer.ProbeTimeout = 500 * time.Millisecond
	a.Dialer.ReprobeMin, a.Dialer.ReprobeMax = 100*time.Millisecond, 300*time.Millisecond
	ra := &runningAgent{Agent: a, done: make(chan error, 1), events: make(chan agent.SessionEvent, 64)}
	a.OnSession = func(ev agent.SessionEvent) {
		select {
		case ra.events <- ev:
		default: // a test that does not read events must not block the agent
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra.cancel = cancel
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(ra.stop)
	return ra
}

func (a *runningAgent) stop() {
	a.cancel()
	<-a.done
	a.done <- nil
}

// up waits for the next session that has answered every bind.
func (a *runningAgent) up(t testing.TB) agent.SessionEvent {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-a.events:
			if ev.Up {
				return ev
			}
			t.Logf("agent %s: session event: %v", a.ID(), ev.Err)
		case <-timeout:
			t.Fatalf("agent %s: no session up within 15s", a.ID())
		}
	}
}

// down waits for the session to end and returns why.
func (a *runningAgent) down(t testing.TB, within time.Duration) error {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev := <-a.events:
			if !ev.Up {
				return ev.Err
			}
		case <-timeout:
			t.Fatalf("agent %s: session still up after %v", a.ID(), within)
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// outside the kernel's ephemeral range: a port the kernel hands out would
// often be taken by a client connection before the test listens on it.
func freePort(t testing.TB) int {
	t.Helper()
	return freePortRange(t)
}

// freePortRange returns the first of 50 ports that were all free a moment
// ago, from a range the kernel does not hand out as ephemeral ports.
func freePortRange(t testing.TB) int {
	t.Helper()
	for try := 0; try < 200; try++ {
		lo := 21000 + (int(time.Now().UnixNano()/1000)+try*53)%1100*10
		ok := true
		for p := lo; p < lo+50 && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return lo
		}
	}
	t.Fatal("no free range of 50 ports")
	return 0
}

// dialTunnel connects to a public address.
func dialTunnel(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return c
}

// readLine reads one line with a deadline.
func readLine(c net.Conn, within time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(within))
	defer c.SetReadDeadline(time.Time{})
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return b.String(), err
		}
		if buf[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(buf[0])
	}
}

func sha256sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }
