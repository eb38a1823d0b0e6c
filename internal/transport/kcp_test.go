package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/lossy"
)

// kcpEcho runs a KCP listener on 127.0.0.1 whose sessions echo what they
// read, closed at the end of the test, and returns it with the agent's TLS
// config.
func kcpEcho(t *testing.T, lim KCPLimits) (*KCPListener, *tls.Config) {
	t.Helper()
	l, err := ListenKCP("127.0.0.1:0", DefaultKCP(), lim)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, serverTLS := newTestTLS(t)
	wait := serveTLS(t, l, serverTLS, func(c *Conn) { io.Copy(c, c) })
	t.Cleanup(func() {
		l.Shutdown()
		wait()
	})
	return l, clientTLS
}

// echo writes msg on c and checks that it comes back.
func echo(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo: got %x, want %x", got, msg)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestKCPRoundTrip(t *testing.T) {
	checkGoroutines(t)
	l, clientTLS := kcpEcho(t, KCPLimits{})
	c := dialTLS(t, testCtx(t), KCP, l.Addr().String(), clientTLS)
	defer c.Close()
	if got := c.Transport(); got != KCP {
		t.Fatalf("Transport() = %q, want kcp", got)
	}
	for i := range 100 {
		echo(t, c, []byte{byte(i), 1, 2, 3})
	}
	if sessions, pending, _ := l.Stats(); sessions != 1 || pending != 0 {
		t.Fatalf("listener holds %d sessions, %d pending; want 1, 0", sessions, pending)
	}
}

// transfer sends n random bytes over c while the echo comes back, and
// checks the SHA-256 of both.
func transfer(t *testing.T, c net.Conn, n int) {
	t.Helper()
	want := sha256.New()
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		left := n
		for left > 0 {
			b := buf[:min(left, len(buf))]
			rand.Read(b)
			want.Write(b)
			if _, err := c.Write(b); err != nil {
				errc <- err
				return
			}
			left -= len(b)
		}
		errc <- nil
	}()
	got := sha256.New()
	if _, err := io.CopyN(got, c, int64(n)); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("transfer corrupted: checksums differ")
	}
}

func TestKCPBigTransfer(t *testing.T) {
	l, clientTLS := kcpEcho(t, KCPLimits{})
	c := dialTLS(t, testCtx(t), KCP, l.Addr().String(), clientTLS)
	defer c.Close()
	transfer(t, c, 16<<20)
}

// TestKCPLossy runs TLS over KCP through a relay that drops 2% of the
// datagrams each way with 40 ms round trip and 20 Mbit/s.
func TestKCPLossy(t *testing.T) {
	l, clientTLS := kcpEcho(t, KCPLimits{})
	link := lossy.Link{Loss: 0.02, Delay: 20 * time.Millisecond, Rate: 20e6, Queue: 256 << 10}
	r, err := lossy.NewUDPRelay("", l.Addr().String(), link, link, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := dialTLS(t, testCtx(t), KCP, r.Addr(), clientTLS)
	defer c.Close()
	transfer(t, c, 2<<20)
	if r.Dropped() == 0 {
		t.Fatal("the relay dropped nothing: the test tested no loss")
	}
}

// TestKCPRefused: with nothing on the UDP port the handshake fails at once
// (ICMP port unreachable reaches the connected socket), not at its timeout.
func TestKCPRefused(t *testing.T) {
	checkGoroutines(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	clientTLS, _ := newTestTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := Dial(ctx, KCP, addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Client(ctx, raw, clientTLS)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("handshake error = %v, want connection refused", err)
	}
}

// TestKCPJunk sends garbage and fake conversation openings to the edge's
// port while a session is live: the session keeps working, the fakes are
// capped and forgotten.
func TestKCPJunk(t *testing.T) {
	lim := KCPLimits{MaxPending: 8, HandshakeTimeout: 300 * time.Millisecond}
	l, clientTLS := kcpEcho(t, lim)
	c := dialTLS(t, testCtx(t), KCP, l.Addr().String(), clientTLS)
	defer c.Close()
	echo(t, c, []byte("before"))

	var junk []net.Conn
	defer func() {
		for _, j := range junk {
			j.Close()
		}
	}()
	for i := range 64 {
		j, err := net.Dial("udp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		junk = append(junk, j)
		random := make([]byte, 1+i*20)
		rand.Read(random)
		j.Write(random)
		j.Write(opening(uint32(i)))     // a fake first segment
		j.Write(opening(uint32(i + 1))) // another conversation from the same address
	}
	// The live session's own address cannot be spoofed from here, so its
	// conv check is covered by TestDatagramFilters.
	// 64 garbage datagrams, 56 openings over the cap, 64 second openings.
	const wantDropped = 64 + 64 - 8 + 64
	waitFor(t, 5*time.Second, "junk seen", func() bool { _, _, d := l.Stats(); return d >= wantDropped })
	sessions, pending, dropped := l.Stats()
	echo(t, c, []byte("during"))
	if pending != lim.MaxPending || sessions != 1+lim.MaxPending || dropped != wantDropped {
		t.Fatalf("after junk: %d sessions, %d pending, %d dropped; want %d, %d, %d",
			sessions, pending, dropped, 1+lim.MaxPending, lim.MaxPending, wantDropped)
	}
	waitFor(t, 5*time.Second, "fake sessions forgotten", func() bool {
		s, p, _ := l.Stats()
		return s == 1 && p == 0
	})
	echo(t, c, []byte("after"))
}

// opening is the first datagram of a fresh conversation; its data is the
// header of a TLS record that never comes, so the edge's handshake waits.
func opening(conv uint32) []byte {
	data := []byte{0x16, 3, 1, 2, 0, 0, 0, 0}
	b := make([]byte, segHeader, segHeader+len(data))
	binary.LittleEndian.PutUint32(b, conv)
	b[4] = cmdPush
	binary.LittleEndian.PutUint16(b[6:], 128)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(data)))
	return append(b, data...)
}

func TestDatagramFilters(t *testing.T) {
	open := opening(7)
	mid := opening(7)
	binary.LittleEndian.PutUint32(mid[12:], 5) // sn 5
	short := opening(7)[:segHeader+4]          // claims 8 bytes, has 4
	ack := opening(7)
	ack[4] = 82
	// An FEC-framed opening (seqid 4, flag 0xf1, size 2, segment) from a
	// peer that has FEC on: no FEC here, so it opens nothing.
	fecOpen := append([]byte{0, 0, 0, 0, 0xf1, 0, 0, 0}, open...)
	cases := []struct {
		name   string
		b      []byte
		opens  bool
		conv   uint32
		convOK bool
	}{
		{"opening", open, true, 7, true},
		{"mid-stream", mid, false, 7, true},
		{"truncated", short, false, 7, true},
		{"ack", ack, false, 7, true},
		{"tiny", []byte{1, 2}, false, 0, false},
		{"fec opening", fecOpen, false, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conv, ok := openingConv(tc.b)
			if ok != tc.opens || (ok && conv != tc.conv) {
				t.Errorf("openingConv = %d, %v; want opens=%v conv %d", conv, ok, tc.opens, tc.conv)
			}
			conv, ok = datagramConv(tc.b)
			if ok != tc.convOK || (ok && conv != tc.conv) {
				t.Errorf("datagramConv = %d, %v; want %d, %v", conv, ok, tc.conv, tc.convOK)
			}
		})
	}
}

// TestKCPIdle: a session whose agent vanished (no more datagrams) is
// closed by the listener after IdleTimeout.
func TestKCPIdle(t *testing.T) {
	checkGoroutines(t)
	l, err := ListenKCP("127.0.0.1:0", DefaultKCP(), KCPLimits{IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	clientTLS, serverTLS := newTestTLS(t)
	ended := make(chan error, 1)
	wait := serveTLS(t, l, serverTLS, func(c *Conn) {
		_, err := io.Copy(c, c)
		ended <- err
	})
	defer func() { l.Shutdown(); wait() }()
	c := dialTLS(t, testCtx(t), KCP, l.Addr().String(), clientTLS)
	echo(t, c, []byte("hello"))
	// Vanish without a word: close only the socket under the session.
	c.raw.(*kcpConn).UDPSession.Close()
	defer c.Close()
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("edge session ended cleanly; want closed by idle timeout")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("edge kept a quiet session for 5 s")
	}
	waitFor(t, 2*time.Second, "session forgotten", func() bool { s, _, _ := l.Stats(); return s == 0 })
}

// TestKCPListenerClose: closing the listener stops accepting but, as over
// TCP, accepted sessions go on; once they close, nothing is left running.
// Shutdown ends them all.
func TestKCPListenerClose(t *testing.T) {
	checkGoroutines(t)
	clientTLS, serverTLS := newTestTLS(t)
	for _, shutdown := range []bool{false, true} {
		l, err := ListenKCP("127.0.0.1:0", DefaultKCP(), KCPLimits{})
		if err != nil {
			t.Fatal(err)
		}
		wait := serveTLS(t, l, serverTLS, func(c *Conn) { io.Copy(c, c) })
		var conns []*Conn
		for range 3 {
			c := dialTLS(t, testCtx(t), KCP, l.Addr().String(), clientTLS)
			echo(t, c, []byte("x"))
			conns = append(conns, c)
		}
		if shutdown {
			l.Shutdown() // ends every edge-side session: wait returns
		} else {
			l.Close()
			if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
			}
			for _, c := range conns {
				echo(t, c, []byte("still there"))
			}
		}
		for _, c := range conns {
			c.Close()
		}
		wait()
	}
}

// TestKCPNoTickWait: with a one-second tick, the handshake and 50
// requests finish far inside one tick each: nothing waits for the timer.
func TestKCPNoTickWait(t *testing.T) {
	cfg := DefaultKCP()
	cfg.Interval = 1000
	l, err := ListenKCP("127.0.0.1:0", cfg, KCPLimits{})
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, serverTLS := newTestTLS(t)
	wait := serveTLS(t, l, serverTLS, func(c *Conn) { io.Copy(c, c) })
	defer func() { l.Shutdown(); wait() }()

	start := time.Now()
	ctx := testCtx(t)
	raw, err := DialKCP(ctx, l.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Client(ctx, raw, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 50 {
		echo(t, c, []byte{byte(i)})
	}
	// Waiting for ticks would take 25 s or more.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("handshake and 50 requests took %v: something waits for the 1 s tick", d)
	}
}

// TestKCPResetAfterEdgeRestart: the edge's process dies without a word
// (KCP has no FIN) and a new one listens on the same port. The agent's
// next datagram draws a reset from the new edge, and its session fails at
// once with ErrKCPReset instead of at the heartbeat timeout.
func TestKCPResetAfterEdgeRestart(t *testing.T) {
	clientTLS, serverTLS := newTestTLS(t)
	l1, err := ListenKCP("127.0.0.1:0", DefaultKCP(), KCPLimits{})
	if err != nil {
		t.Fatal(err)
	}
	addr := l1.Addr().String()
	wait1 := serveTLS(t, l1, serverTLS, func(c *Conn) { io.Copy(c, c) })
	c := dialTLS(t, testCtx(t), KCP, addr, clientTLS)
	defer c.Close()
	echo(t, c, []byte("before"))

	l1.Shutdown() // sessions aborted: nothing reaches the agent
	wait1()
	l2, err := ListenKCP(addr, DefaultKCP(), KCPLimits{})
	if err != nil {
		t.Fatal(err)
	}
	wait2 := serveTLS(t, l2, serverTLS, func(c *Conn) { io.Copy(c, c) })
	defer func() { l2.Shutdown(); wait2() }()

	start := time.Now()
	c.Write([]byte("anyone there?"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 16))
	if !errors.Is(err, ErrKCPReset) {
		t.Fatalf("read after the edge restarted: %v, want ErrKCPReset", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("reset took %v", d)
	}
	// A fresh session to the new edge works.
	c2 := dialTLS(t, testCtx(t), KCP, addr, clientTLS)
	defer c2.Close()
	echo(t, c2, []byte("after"))
}

func TestResetDatagrams(t *testing.T) {
	r := appendReset(nil, 7)
	for _, tc := range []struct {
		name string
		b    []byte
		conv uint32
		want bool
	}{
		{"ours", r, 7, true},
		{"another conversation", r, 8, false},
		{"truncated", r[:resetLen-1], 7, false},
		{"a KCP segment", opening(7), 7, false},
	} {
		if got := isReset(tc.b, tc.conv); got != tc.want {
			t.Errorf("%s: isReset = %v", tc.name, got)
		}
	}
	ack := opening(9)
	ack[4] = cmdPush + 1
	if conv, ok := strayConv(ack); !ok || conv != 9 {
		t.Errorf("an ACK segment draws no reset: %d %v", conv, ok)
	}
	if _, ok := strayConv(append([]byte{0, 0, 0, 0, 0xf1, 0, 0, 0}, opening(9)...)); ok {
		t.Error("an FEC-framed datagram draws a reset")
	}
	if _, ok := strayConv(r); ok {
		t.Error("a reset draws a reset")
	}
}
