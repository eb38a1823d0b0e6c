package e2e

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
)

// The edge restarts: agents come back by themselves, on the same ports.
func TestEdgeRestart(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	cfg.Listen.Agents = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e := startEdge(t, cfg)
	svc := serve(t, whoami("pi"))
	a := startAgent(t, p.agentConfig(cfg.Listen.Agents, "pi", agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: svc.addr()}))
	before := a.up(t).Tunnels["ssh"]

	e.stop()
	if err := a.down(t, 5*time.Second); err == nil {
		t.Fatal("session ended without a reason")
	}
	start := time.Now()
	startEdge(t, cfg)
	after := a.up(t).Tunnels["ssh"]
	t.Logf("agent back %v after the edge restarted", time.Since(start).Round(time.Millisecond))
	if after != before {
		t.Fatalf("public address changed across the restart: %s → %s", before, after)
	}
	c := dialTunnel(t, after)
	defer c.Close()
	if got, err := readLine(c, 5*time.Second); err != nil || got != "pi" {
		t.Fatalf("after restart: got %q, %v", got, err)
	}
}

// An agent that reconnects with the same id while its old session still
// looks alive replaces it at once and gets its fixed port back.
func TestSessionTakeover(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	cfg.Limits.HeartbeatInterval = 10 * time.Second // far longer than the test: no timeout helps
	cfg.Limits.HeartbeatTimeout = 30 * time.Second
	var lo, hi int
	fmt.Sscanf(cfg.Listen.TCPPorts, "%d-%d", &lo, &hi)
	e := startEdge(t, cfg)

	oldSvc := serve(t, whoami("old"))
	px := newFaultProxy(t, e.addr())
	old := startAgent(t, p.agentConfig(px.addr(), "router-7", agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: oldSvc.addr(), RemotePort: lo + 3}))
	public := old.up(t).Tunnels["ssh"]
	px.Blackhole(true) // the old link dies silently; the edge cannot tell yet
	old.cancel()

	newSvc := serve(t, whoami("new"))
	start := time.Now()
	nw := startAgent(t, p.agentConfig(e.addr(), "router-7", agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: newSvc.addr(), RemotePort: lo + 3}))
	ev := nw.up(t)
	if ev.Tunnels["ssh"] != public || len(ev.Refused) > 0 {
		t.Fatalf("after takeover: tunnels %v refused %v, want ssh at %s", ev.Tunnels, ev.Refused, public)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("takeover took %v", d)
	}
	c := dialTunnel(t, public)
	defer c.Close()
	if got, err := readLine(c, 5*time.Second); err != nil || got != "new" {
		t.Fatalf("after takeover: got %q, %v, want the new session", got, err)
	}
	if n := len(e.Agents()); n != 1 {
		t.Fatalf("edge lists %d agents, want 1", n)
	}
}

// A link that goes silent is noticed by both sides within the heartbeat
// timeout, and the agent reconnects when the link returns.
func TestHeartbeatLoss(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	e := startEdge(t, cfg)
	svc := serve(t, whoami("pi"))
	px := newFaultProxy(t, e.addr())
	a := startAgent(t, p.agentConfig(px.addr(), "pi", agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: svc.addr()}))
	a.up(t)

	start := time.Now()
	px.Blackhole(true)
	tol := cfg.Limits.HeartbeatTimeout + 500*time.Millisecond
	err := a.down(t, 2*tol)
	if d := time.Since(start); d > tol {
		t.Fatalf("agent noticed the dead link after %v, tolerance %v", d, tol)
	}
	if !strings.Contains(fmt.Sprint(err), "heartbeat") {
		t.Fatalf("agent's reason: %v, want heartbeat loss", err)
	}
	waitFor(t, tol, "edge to drop the silent agent", func() bool { return len(e.Agents()) == 0 })

	px.Blackhole(false)
	a.up(t)
}

// One tunnel's local service accepts and never reads, while dozens of
// public clients push data into it: the same agent's other tunnel and its
// heartbeat carry on unharmed.
func TestStalledServiceIsolated(t *testing.T) {
	p := newPKI(t)
	e := startEdge(t, p.edgeConfig(t))
	stuckSvc := serveQuit(t, stuck)
	echoSvc := serve(t, echo)
	a := startAgent(t, p.agentConfig(e.addr(), "pi",
		agent.TunnelConfig{Name: "stuck", Proto: "tcp", Addr: stuckSvc.addr()},
		agent.TunnelConfig{Name: "echo", Proto: "tcp", Addr: echoSvc.addr()}))
	ev := a.up(t)

	const pushers = 40
	var wg sync.WaitGroup
	var pushed sync.Map
	for i := 0; i < pushers; i++ {
		c := dialTunnel(t, ev.Tunnels["stuck"])
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetWriteDeadline(time.Now().Add(3 * time.Second))
			n, _ := io.Copy(c, io.LimitReader(zeros{}, 64<<20))
			pushed.Store(c, n)
		}()
	}
	wg.Wait() // every pusher is now blocked by flow control, or done

	var total int64
	pushed.Range(func(_, v any) bool { total += v.(int64); return true })
	t.Logf("%d clients pushed %d MiB into the stuck service before flow control held them", pushers, total>>20)

	c := dialTunnel(t, ev.Tunnels["echo"])
	defer c.Close()
	for i := 0; i < 50; i++ {
		msg := fmt.Sprintf("ping %d\n", i)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo %d: got %q, %v", i, got, err)
		}
	}
	// The session survived: no reconnect happened.
	select {
	case ev := <-a.events:
		t.Fatalf("session changed while the service was stuck: %+v", ev)
	default:
	}
	// A new connection to the echo tunnel works too (the stream limit and
	// the session's receive budget were not exhausted).
	c2 := dialTunnel(t, ev.Tunnels["echo"])
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c2, "new\n")
	if got, err := readLine(c2, 5*time.Second); err != nil || got != "new" {
		t.Fatalf("new echo connection: %q, %v", got, err)
	}
	_ = net.IPv4len
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
