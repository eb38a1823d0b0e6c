package transport

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// Socket buffer sizes. The kernel caps them at net.core.[rw]mem_max; they
// only cost memory while datagrams queue.
const (
	agentSocketBuffer = 1 << 20
	edgeSocketBuffer  = 4 << 20
	// agentReadBatch datagrams are read per system call on the agent; each
	// costs a 1472-byte buffer for the life of the session.
	agentReadBatch = 16
)

// kcpConn is a KCP session as a raw connection: the net.Conn that TLS runs
// on.
//
// KCP has no FIN and kcp-go's Close drops datagrams not yet sent, so Close
// lingers: it fails pending and later reads and writes at once, but keeps
// the session running (sending, retransmitting, taking ACKs) for a few
// retransmission timeouts in the background, so what was written last
// (a refusal, a TLS close_notify) reaches the peer. abort ends a session
// without lingering.
type kcpConn struct {
	*kcp.UDPSession
	closeOnce  sync.Once
	finishOnce sync.Once
	closing    chan struct{} // closed by Close
	aborted    chan struct{} // closed by abort
	abortOnce  sync.Once
	finished   chan struct{} // closed once the session is closed for good
	release    func()        // runs once the session is closed for good; may be nil
	onClose    func()        // runs once on Close unless retired; may be nil
	retired    atomic.Bool   // ended on purpose: onClose does not run

	// edge side: set by the listener
	peer *kcpPeer
}

// Linger bounds.
const (
	minLinger = 100 * time.Millisecond
	maxLinger = 3 * time.Second
)

func newKCPConn(s *kcp.UDPSession, release func()) *kcpConn {
	return &kcpConn{
		UDPSession: s,
		closing:    make(chan struct{}),
		aborted:    make(chan struct{}),
		finished:   make(chan struct{}),
		release:    release,
	}
}

func (c *kcpConn) Read(b []byte) (int, error) {
	n, err := c.UDPSession.Read(b)
	if err != nil && c.isClosing() {
		return n, net.ErrClosed
	}
	return n, err
}

func (c *kcpConn) Write(b []byte) (int, error) {
	if c.isClosing() {
		return 0, net.ErrClosed
	}
	n, err := c.UDPSession.Write(b)
	if err != nil && c.isClosing() {
		return n, net.ErrClosed
	}
	return n, err
}

func (c *kcpConn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// Close fails reads and writes at once and closes the session after a
// linger of four retransmission timeouts (100 ms to 3 s), in the
// background. It never blocks; calling it again does nothing.
func (c *kcpConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		if c.onClose != nil && !c.retired.Load() {
			c.onClose()
		}
		past := time.Unix(1, 0)
		c.UDPSession.SetReadDeadline(past) // wakes blocked readers
		linger := min(max(4*time.Duration(c.GetRTO())*time.Millisecond, minLinger), maxLinger)
		go func() {
			t := time.NewTimer(linger)
			defer t.Stop()
			select {
			case <-t.C:
			case <-c.aborted:
			}
			c.finish()
		}()
	})
	return nil
}

// abort closes the session now, lingering or not, and waits until it is
// closed.
func (c *kcpConn) abort() {
	c.Close()
	c.abortOnce.Do(func() { close(c.aborted) })
	<-c.finished
}

func (c *kcpConn) finish() {
	c.finishOnce.Do(func() {
		c.UDPSession.Close()
		if c.release != nil {
			c.release()
		}
		close(c.finished)
	})
}

// handshakeDone tells the edge's listener that this session finished TLS,
// so it no longer counts against the cap on pending sessions.
func (c *kcpConn) handshakeDone() {
	if c.peer != nil {
		c.peer.l.established(c.peer)
	}
}

// DialKCP starts a KCP session to the UDP port addr (host:port), tuned by
// cfg, and returns it as a raw connection for Client. UDP has no
// handshake: whether the edge answers shows in the TLS handshake, so bound
// that by a short context when probing. The socket is connected, so an ICMP
// "port unreachable" fails the session at once instead of after a timeout.
func DialKCP(ctx context.Context, addr string, cfg KCPConfig) (net.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	udp, err := dialUDP(ctx, addr)
	if err != nil {
		return nil, err
	}
	udp.SetReadBuffer(agentSocketBuffer)
	udp.SetWriteBuffer(agentSocketBuffer)
	ep := &udpEndpoint{UDPConn: udp, connected: true}

	var b [4]byte
	rand.Read(b[:])
	conv := binary.LittleEndian.Uint32(b[:])
	sess, err := kcp.NewConn4(conv, udp.RemoteAddr(), nil, 0, 0, false, ep)
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("kcp session: %w", err)
	}
	cfg.apply(sess)
	done := make(chan struct{})
	c := newKCPConn(sess, func() {
		udp.Close() // ends the read loop
		<-done
	})
	go func() {
		defer close(done)
		err := readLoop(udp, agentReadBatch, func(b []byte, _ netip.AddrPort, from net.Addr) {
			if isReset(b, conv) {
				ep.push(nil, nil, ErrKCPReset) // ends the session's reads: the agent redials
				return
			}
			ep.push(b, from, nil)
		})
		ep.push(nil, nil, err)
	}()
	return c, nil
}

// dialUDP returns a UDP socket connected to addr. Like Go's TCP dialer it
// refuses a socket connected to itself (the kernel may pick addr's own
// port as the local port when nothing listens there) and tries again.
func dialUDP(ctx context.Context, addr string) (*net.UDPConn, error) {
	var d net.Dialer
	for {
		nc, err := d.DialContext(ctx, "udp", addr)
		if err != nil {
			return nil, err
		}
		udp := nc.(*net.UDPConn)
		if udp.LocalAddr().String() != udp.RemoteAddr().String() {
			return udp, nil
		}
		udp.Close()
	}
}
