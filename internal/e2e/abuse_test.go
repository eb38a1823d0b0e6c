package e2e

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/internal/transport"
	"github.com/tetherhq/tether/internal/wire"
)

// rawTLS opens a TLS connection to the agent port as an agent would (over
// the transport the agents of this test use), for speaking the protocol by
// hand.
func rawTLS(t *testing.T, p pki, addr string) *transport.Conn {
	t.Helper()
	cfg, err := transport.ClientTLS(p.CACert, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := transport.Dial(ctx, agentTransport, addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := transport.Client(ctx, raw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectRefuse reads a Refuse frame with the given code.
func expectRefuse(t *testing.T, c net.Conn, code string) wire.Refuse {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var w wire.Welcome
	err := wire.ReadExpect(c, wire.TypeWelcome, &w)
	var ref *wire.RefusedError
	if !errors.As(err, &ref) {
		t.Fatalf("want a refusal %q, got %v (welcome %+v)", code, err, w)
	}
	if ref.Refuse.Code != code {
		t.Fatalf("refusal code %q (%s), want %q", ref.Refuse.Code, ref.Refuse.Reason, code)
	}
	return ref.Refuse
}

// expectClosed checks the edge hangs up: EOF or reset, within 5s.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if err != nil && (isTimeoutErr(err)) {
		t.Fatalf("edge kept the connection open: %v", err)
	}
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestRefusals(t *testing.T) {
	p := newPKI(t)
	e := startEdge(t, p.edgeConfig(t))
	hello := func(mod func(*wire.Hello)) []byte {
		h := wire.Hello{Token: testSecret, ID: "dev-1", Version: "test", OS: "linux", Arch: "amd64"}
		mod(&h)
		b, err := wire.AppendFrame(append([]byte(wire.Magic), wire.Version), wire.TypeHello, &h)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		send   []byte
		code   string
		reason string
	}{
		{"unknown token", hello(func(h *wire.Hello) { h.Token = "wrong" }), wire.RefuseToken, "unknown token"},
		{"newer protocol", append([]byte(wire.Magic), wire.Version+1), wire.RefuseVersion, "protocol version 2"},
		{"bad id", hello(func(h *wire.Hello) { h.ID = "no spaces allowed" }), wire.RefuseHello, "agent id"},
		{"bad label", hello(func(h *wire.Hello) { h.Labels = map[string]string{"k": "a=b"} }), wire.RefuseHello, "label k"},
		{"empty token", hello(func(h *wire.Hello) { h.Token = "" }), wire.RefuseHello, "empty token"},
		{"not a hello", mustFrame(t, wire.TypePing, wire.Ping{}), wire.RefuseHello, "unexpected message"},
		{"oversized frame", append([]byte(wire.Magic+"\x01\x01"), 0xff, 0xff), wire.RefuseHello, "frame too large"},
		{"junk json", append([]byte(wire.Magic+"\x01\x01\x00\x03"), "{]x"...), wire.RefuseHello, "decode hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawTLS(t, p, e.addr())
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			ref := expectRefuse(t, c, tc.code)
			if !strings.Contains(ref.Reason, tc.reason) {
				t.Fatalf("reason %q does not mention %q", ref.Reason, tc.reason)
			}
			if strings.Contains(ref.Reason, testSecret) {
				t.Fatalf("reason echoes the secret: %q", ref.Reason)
			}
			expectClosed(t, c)
		})
	}
}

func mustFrame(t *testing.T, typ wire.Type, v any) []byte {
	b, err := wire.AppendFrame(append([]byte(wire.Magic), wire.Version), typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An agent with a wrong token is refused with the reason, and keeps
// retrying with backoff rather than giving up.
func TestAgentWrongToken(t *testing.T) {
	p := newPKI(t)
	e := startEdge(t, p.edgeConfig(t))
	cfg := p.agentConfig(e.addr(), "pi")
	cfg.Token = "not-the-secret"
	a := startAgent(t, cfg)
	for i := 0; i < 2; i++ {
		err := a.down(t, 5*time.Second)
		var ref *wire.RefusedError
		if !errors.As(err, &ref) || ref.Refuse.Code != wire.RefuseToken {
			t.Fatalf("attempt %d: %v, want an unknown-token refusal", i, err)
		}
	}
}

// Binds the token does not allow are refused with the rule; the others
// on the same session still work.
func TestBindRules(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	var lo, hi int
	_, _ = lo, hi
	cfg.Tokens[0].AllowLabels = []string{"site=berlin", "app=*"}
	cfg.Tokens[0].AllowPorts = []string{cfg.Listen.TCPPorts[:5] + "-" + cfg.Listen.TCPPorts[:5]} // one port
	e := startEdge(t, cfg)
	svc := serve(t, whoami("x"))
	ac := p.agentConfig(e.addr(), "pi",
		agent.TunnelConfig{Name: "ok", Proto: "labeled", Addr: svc.addr(), Labels: map[string]string{"app": "cam", "site": "berlin", "arch": "arm64"}},
		agent.TunnelConfig{Name: "wrong-site", Proto: "labeled", Addr: svc.addr(), Labels: map[string]string{"site": "munich"}},
		agent.TunnelConfig{Name: "extra-label", Proto: "labeled", Addr: svc.addr(), Labels: map[string]string{"team": "x"}},
		agent.TunnelConfig{Name: "port-ok", Proto: "tcp", Addr: svc.addr()},
		agent.TunnelConfig{Name: "port-bad", Proto: "tcp", Addr: svc.addr(), RemotePort: 22},
		agent.TunnelConfig{Name: "web", Proto: "http", Addr: svc.addr()},
	)
	ev := startAgent(t, ac).up(t)
	for name, want := range map[string]string{
		"wrong-site":  `label site=munich is not allowed by token "test"`,
		"extra-label": `label team=x is not allowed`,
		"port-bad":    `port 22 is not allowed by token "test" (allow_ports)`,
		"web":         `serves no http`,
	} {
		if !strings.Contains(ev.Refused[name], want) {
			t.Errorf("tunnel %s: refusal %q, want it to say %q", name, ev.Refused[name], want)
		}
	}
	if _, ok := ev.Tunnels["ok"]; !ok {
		t.Errorf("tunnel ok was not bound: %v", ev.Refused["ok"])
	}
	if got := ev.Tunnels["port-ok"]; !strings.HasSuffix(got, ":"+cfg.Listen.TCPPorts[:5]) {
		t.Errorf("tunnel port-ok bound at %q, want the one allowed port %s", got, cfg.Listen.TCPPorts[:5])
	}
}

// Garbage, truncated handshakes, oversized frames, idle connections and
// a session that turns to garbage: the edge hangs up on each and keeps
// serving a live agent, whose session never drops.
func TestAgentPortAbuse(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	cfg.Limits.HandshakeTimeout = 500 * time.Millisecond
	cfg.Limits.MaxHandshakes = 16
	e := startEdge(t, cfg)
	svc := serve(t, echo)
	good := startAgent(t, p.agentConfig(e.addr(), "good", agent.TunnelConfig{Name: "echo", Proto: "tcp", Addr: svc.addr()}))
	public := good.up(t).Tunnels["echo"]
	ping := func() {
		t.Helper()
		c := dialTunnel(t, public)
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "still here\n")
		if got, err := readLine(c, 5*time.Second); err != nil || got != "still here" {
			t.Fatalf("live agent's tunnel: %q, %v", got, err)
		}
	}

	plain := func(b []byte) func(t *testing.T) {
		return func(t *testing.T) {
			c, err := net.Dial("tcp", e.addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(b)
			expectClosed(t, c)
		}
	}
	inTLS := func(b []byte) func(t *testing.T) {
		return func(t *testing.T) {
			c := rawTLS(t, p, e.addr())
			c.Write(b)
			expectClosed(t, c)
		}
	}
	hdr := make([]byte, 3)
	hdr[0] = byte(wire.TypeHello)
	binary.BigEndian.PutUint16(hdr[1:], 4000)
	for name, run := range map[string]func(*testing.T){
		"http request":       plain([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
		"binary garbage":     plain([]byte{0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3}),
		"nothing":            plain(nil),
		"bad magic":          inTLS([]byte("SSH-2.0-OpenSSH_9.2\r\n")),
		"truncated hello":    inTLS(append([]byte(wire.Magic+"\x01"), append(hdr, `{"token":"`...)...)),
		"magic then nothing": inTLS([]byte(wire.Magic + "\x01")),
		"tls alpn mismatch": func(t *testing.T) {
			c, err := tls.Dial("tcp", e.addr(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
			if err == nil {
				defer c.Close()
				expectClosed(t, c)
			}
		},
	} {
		t.Run(name, run)
	}
	ping()

	// A flood of idle connections: past max_handshakes they are shed at
	// once, the rest time out; the live agent does not notice.
	var idle []net.Conn
	for i := 0; i < 64; i++ {
		c, err := net.Dial("tcp", e.addr())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	var wg sync.WaitGroup
	for _, c := range idle {
		wg.Add(1)
		go func(c net.Conn) { defer wg.Done(); expectClosed(t, c); c.Close() }(c)
	}
	ping()
	wg.Wait()

	// A session that authenticates, then sends garbage instead of smux
	// frames, is closed at once, not after a heartbeat timeout.
	c := rawTLS(t, p, e.addr())
	c.Write(mustFrame(t, wire.TypeHello, wire.Hello{Token: testSecret, ID: "evil", Version: "x", OS: "linux", Arch: "amd64"}))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var w wire.Welcome
	if err := wire.ReadExpect(c, wire.TypeWelcome, &w); err != nil {
		t.Fatalf("evil agent: %v", err)
	}
	start := time.Now()
	c.Write([]byte("\x09\x09garbage-not-smux-frames-at-all"))
	expectClosed(t, c)
	if d := time.Since(start); d > cfg.Limits.HeartbeatTimeout/2 {
		t.Fatalf("garbage session closed after %v", d)
	}
	waitFor(t, 5*time.Second, "evil agent to be gone", func() bool { return len(e.Agents()) == 1 })
	ping()

	select {
	case ev := <-good.events:
		t.Fatalf("the live agent's session changed during the abuse: %+v", ev)
	default:
	}
}
