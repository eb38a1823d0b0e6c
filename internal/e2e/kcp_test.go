package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
	"github.com/tetherhq/tether/internal/lossy"
	"github.com/tetherhq/tether/internal/transport"
)

// transportOf waits until the edge holds exactly one agent and returns its
// transport.
func transportOf(t *testing.T, e *runningEdge, want string, within time.Duration) {
	t.Helper()
	var got string
	waitFor(t, within, "the agent over "+want, func() bool {
		a := e.Agents()
		if len(a) != 1 {
			return false
		}
		got = a[0].Transport
		return got == want
	})
}

// kcpAgentBehindRelay starts an edge on cfg and a KCP agent (id pi, a tcp
// tunnel ssh, and the extra ones) that reaches it through a UDP relay,
// whose links a test can cut or spoil.
func kcpAgentBehindRelay(t *testing.T, p pki, cfg *edge.Config, extra ...agent.TunnelConfig) (*runningEdge, *lossy.UDPRelay, *runningAgent) {
	t.Helper()
	e := startEdge(t, cfg)
	r, err := lossy.NewUDPRelay("", e.addr(), lossy.Link{}, lossy.Link{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	svc := serve(t, whoami("pi"))
	ac := p.agentConfig(r.Addr(), "pi", append([]agent.TunnelConfig{{Name: "ssh", Proto: "tcp", Addr: svc.addr()}}, extra...)...)
	ac.Transport = transport.KCP
	a := startAgent(t, ac)
	return e, r, a
}

// TestKCPTunnelLossyLink: a tcp tunnel over KCP on a bad link (2% loss
// each way, 40 ms round trip, 20 Mbit/s): a transfer both ways arrives
// intact, checksummed.
func TestKCPTunnelLossyLink(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	cfg.Limits.HeartbeatInterval, cfg.Limits.HeartbeatTimeout = time.Second, 10*time.Second
	echoSvc := serve(t, echo)
	_, r, a := kcpAgentBehindRelay(t, p, cfg, agent.TunnelConfig{Name: "echo", Proto: "tcp", Addr: echoSvc.addr()})
	public := a.up(t).Tunnels["echo"]
	bad := lossy.Link{Loss: 0.02, Delay: 20 * time.Millisecond, Rate: 20e6, Queue: 256 << 10}
	r.SetLinks(bad, bad)

	size := int64(2 << 20)
	if raceEnabled {
		size = 512 << 10
	}
	c := dialTunnel(t, public)
	defer c.Close()
	sent, got := sha256.New(), sha256.New()
	errc := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.MultiWriter(c, sent), rand.Reader, size)
		c.(*net.TCPConn).CloseWrite()
		errc <- err
	}()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	n, err := io.Copy(got, c)
	if werr := <-errc; werr != nil || err != nil || n != size {
		t.Fatalf("over the lossy link: echoed %d of %d bytes, write err %v, read err %v", n, size, werr, err)
	}
	if string(sent.Sum(nil)) != string(got.Sum(nil)) {
		t.Fatal("over the lossy link: checksum mismatch")
	}
	t.Logf("%d KiB each way intact over 2%% loss, 40 ms RTT; %d datagrams dropped", size>>10, r.Dropped())
}

// TestKCPEdgeKilled: the edge dies without a word (its last datagrams are
// lost, as when a host loses power). The KCP agent notices within the
// heartbeat tolerance, and is back over KCP soon after the edge returns.
func TestKCPEdgeKilled(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	// The restarted edge takes the same port: one outside the ephemeral
	// range, so no client's socket can take it while the edge is down.
	cfg.Listen.Agents = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e, r, a := kcpAgentBehindRelay(t, p, cfg)
	a.up(t)
	transportOf(t, e, transport.KCP, 5*time.Second)

	dead := lossy.Link{Loss: 1}
	r.SetLinks(dead, dead)
	start := time.Now()
	e.stop()
	tol := cfg.Limits.HeartbeatTimeout + 500*time.Millisecond
	err := a.down(t, 2*tol)
	if d := time.Since(start); d > tol {
		t.Fatalf("KCP agent noticed the dead edge after %v, tolerance %v", d, tol)
	}
	if !strings.Contains(fmt.Sprint(err), "heartbeat") {
		t.Fatalf("agent's reason: %v, want heartbeat loss", err)
	}
	t.Logf("KCP agent noticed the dead edge after %v (tolerance %v)", time.Since(start).Round(time.Millisecond), tol)

	e2 := startEdge(t, cfg)
	r.Reset()
	r.SetLinks(lossy.Link{}, lossy.Link{})
	back := time.Now()
	a.up(t)
	transportOf(t, e2, transport.KCP, 5*time.Second)
	t.Logf("back over KCP %v after the edge returned", time.Since(back).Round(time.Millisecond))
	if d := time.Since(back); d > 5*time.Second {
		t.Fatalf("back after %v", d)
	}
}

// TestKCPEdgeRestartedReset: the edge dies without a word and is back on
// its port before the agent's heartbeat timeout: the new edge answers the
// agent's next datagram with a reset, so the agent redials at once rather
// than after the 20 s the heartbeat allows.
func TestKCPEdgeRestartedReset(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	cfg.Listen.Agents = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.Limits.HeartbeatInterval, cfg.Limits.HeartbeatTimeout = time.Second, 20*time.Second
	e, r, a := kcpAgentBehindRelay(t, p, cfg)
	a.up(t)

	dead := lossy.Link{Loss: 1}
	r.SetLinks(dead, dead) // the old edge's goodbye never arrives
	e.stop()
	e2 := startEdge(t, cfg)
	r.SetLinks(lossy.Link{}, lossy.Link{})
	start := time.Now()
	// Down well inside the heartbeat timeout: only the reset can do that,
	// since nothing of the old edge's goodbye got through. The reason the
	// agent logs is the reset, or the control stream's end that it causes.
	err := a.down(t, 10*time.Second)
	t.Logf("agent's reason: %v", err)
	a.up(t)
	transportOf(t, e2, transport.KCP, 5*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("back over KCP %v after the edge returned; the heartbeat timeout is %v", d, cfg.Limits.HeartbeatTimeout)
	}
	t.Logf("back over KCP %v after the edge returned", time.Since(start).Round(time.Millisecond))
}

// TestAutoFallbackAndBack: with UDP to the edge dropped, an auto agent is
// up over TCP within seconds; when UDP flows again it moves to KCP and its
// tunnel keeps working.
func TestAutoFallbackAndBack(t *testing.T) {
	agentTransport = transport.Auto // the fault proxy relays UDP too
	defer func() { agentTransport = transport.TCP }()
	p := newPKI(t)
	e := startEdge(t, p.edgeConfig(t))
	px := newFaultProxy(t, e.addr())
	dead := lossy.Link{Loss: 1}
	px.udp.SetLinks(dead, dead)
	svc := serve(t, whoami("pi"))
	start := time.Now()
	a := startAgent(t, p.agentConfig(px.addr(), "pi", agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: svc.addr()}))
	pub := a.up(t).Tunnels["ssh"]
	transportOf(t, e, transport.TCP, 5*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("up over TCP after %v", d)
	}

	px.udp.SetLinks(lossy.Link{}, lossy.Link{})
	transportOf(t, e, transport.KCP, 10*time.Second)
	// The new session binds the tunnel again just after it registers: the
	// port may refuse for a moment.
	waitFor(t, 5*time.Second, "tunnel over KCP", func() bool {
		c, err := net.DialTimeout("tcp", pub, 2*time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		got, err := readLine(c, 2*time.Second)
		return err == nil && got == "pi"
	})
}
