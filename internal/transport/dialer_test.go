package transport

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/lossy"
)

// tcpEcho serves a TLS echo over TCP on addr ("127.0.0.1:0" for any port)
// until the test ends.
func tcpEcho(t *testing.T, addr string, serverTLS *tls.Config) net.Listener {
	t.Helper()
	l, err := Listen(TCP, addr)
	if err != nil {
		t.Fatal(err)
	}
	wait := serveTLS(t, l, serverTLS, func(c *Conn) { io.Copy(c, c) })
	t.Cleanup(func() { l.Close(); wait() })
	return l
}

func kcpEchoAt(t *testing.T, addr string, serverTLS *tls.Config) *KCPListener {
	t.Helper()
	l, err := ListenKCP(addr, DefaultKCP(), KCPLimits{})
	if err != nil {
		t.Fatal(err)
	}
	wait := serveTLS(t, l, serverTLS, func(c *Conn) { io.Copy(c, c) })
	t.Cleanup(func() { l.Shutdown(); wait() })
	return l
}

func autoDialer(addr string, clientTLS *tls.Config, t *testing.T) *Dialer {
	d := &Dialer{
		Kind: Auto, Addr: addr, TLS: clientTLS, KCP: DefaultKCP(),
		ProbeTimeout: 300 * time.Millisecond,
		ReprobeMin:   50 * time.Millisecond, ReprobeMax: 100 * time.Millisecond,
	}
	t.Cleanup(d.Close)
	return d
}

// upgrade waits for the dialer to offer a KCP connection.
func upgrade(t *testing.T, d *Dialer) *Conn {
	t.Helper()
	select {
	case c := <-d.Upgrades():
		if c.Transport() != KCP {
			t.Fatalf("upgrade over %s", c.Transport())
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no KCP upgrade within 10 s")
	}
	return nil
}

func dialAs(t *testing.T, d *Dialer, want string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport() != want {
		t.Fatalf("auto dialed %s, want %s", c.Transport(), want)
	}
	echo(t, c, []byte("ping"))
	return c
}

// TestAutoNothingOnUDP: with no KCP listener the agent is on TCP at once
// (ICMP port unreachable); when the edge starts listening on UDP, auto
// offers KCP and dials it first from then on.
func TestAutoNothingOnUDP(t *testing.T) {
	checkGoroutines(t)
	clientTLS, serverTLS := newTestTLS(t)
	tl := tcpEcho(t, "127.0.0.1:0", serverTLS)
	d := autoDialer(tl.Addr().String(), clientTLS, t)

	start := time.Now()
	c := dialAs(t, d, TCP)
	defer c.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("fallback took %v; a refused UDP port should fail fast", took)
	}

	kcpEchoAt(t, tl.Addr().String(), serverTLS)
	k := upgrade(t, d)
	defer k.Close()
	echo(t, k, []byte("over kcp"))
	dialAs(t, d, KCP).Close()
}

// TestAutoUDPDropped: a path that drops every datagram costs one probe
// timeout, then TCP; when datagrams flow again, auto moves back to KCP.
func TestAutoUDPDropped(t *testing.T) {
	clientTLS, serverTLS := newTestTLS(t)
	kl := kcpEchoAt(t, "127.0.0.1:0", serverTLS)
	blocked := lossy.Link{Loss: 1}
	r, err := lossy.NewUDPRelay("", kl.Addr().String(), blocked, blocked, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The edge's TCP port has the relay's port number.
	tl := tcpEcho(t, r.Addr(), serverTLS)
	d := autoDialer(tl.Addr().String(), clientTLS, t)

	c := dialAs(t, d, TCP)
	defer c.Close()
	// While KCP is down, Dial goes straight to TCP.
	start := time.Now()
	dialAs(t, d, TCP).Close()
	if took := time.Since(start); took > d.ProbeTimeout {
		t.Errorf("second dial took %v: it probed KCP again", took)
	}

	r.SetLinks(lossy.Link{}, lossy.Link{})
	k := upgrade(t, d)
	defer k.Close()
	echo(t, k, []byte("over kcp"))
}

// TestAutoKCPFlapping: KCP gets through but every session dies young (a
// middlebox that drops UDP flows after a moment, say): after three in a
// row, auto dials TCP without trying KCP first.
func TestAutoKCPFlapping(t *testing.T) {
	clientTLS, serverTLS := newTestTLS(t)
	tl := tcpEcho(t, "127.0.0.1:0", serverTLS)
	kl, err := ListenKCP(tl.Addr().String(), DefaultKCP(), KCPLimits{})
	if err != nil {
		t.Fatal(err)
	}
	wait := serveTLS(t, kl, serverTLS, func(c *Conn) {
		var b [1]byte
		c.Read(b[:]) // one byte, then the session dies
	})
	t.Cleanup(func() { kl.Shutdown(); wait() })
	d := autoDialer(tl.Addr().String(), clientTLS, t)
	d.FlapAfter = 5 * time.Second
	d.ReprobeMin, d.ReprobeMax = time.Minute, time.Minute // no probe during the test

	for i := 0; i < flapLimit; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := d.Dial(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if c.Transport() != KCP {
			t.Fatalf("session %d went over %s before KCP had failed %d times", i, c.Transport(), flapLimit)
		}
		c.Write([]byte{1})
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("the dying KCP session answered")
		}
		c.Close()
	}
	dialAs(t, d, TCP).Close()
}

// TestAutoRetiredNotFlaps: KCP sessions the agent ends on purpose (reloads,
// shutdowns), however young, do not send auto to TCP.
func TestAutoRetiredNotFlaps(t *testing.T) {
	clientTLS, serverTLS := newTestTLS(t)
	tl := tcpEcho(t, "127.0.0.1:0", serverTLS)
	kcpEchoAt(t, tl.Addr().String(), serverTLS)
	d := autoDialer(tl.Addr().String(), clientTLS, t)
	for i := 0; i < flapLimit+1; i++ {
		c := dialAs(t, d, KCP)
		c.Retire()
		c.Close()
	}
}
