package transport

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"

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
// on. Close is idempotent; on the agent it also closes the socket and
// returns once the read loop has ended.
type kcpConn struct {
	*kcp.UDPSession
	closeOnce sync.Once
	closed    func() // runs after the session closed; may be nil

	// edge side: set by the listener
	peer *kcpPeer
}

// Close closes the session. Unsent data is flushed once; nothing waits for
// the peer's ACK (KCP has no FIN).
func (c *kcpConn) Close() error {
	c.closeOnce.Do(func() {
		c.UDPSession.Close()
		if c.closed != nil {
			c.closed()
		}
	})
	return nil
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
	var d net.Dialer
	nc, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	udp := nc.(*net.UDPConn)
	udp.SetReadBuffer(agentSocketBuffer)
	udp.SetWriteBuffer(agentSocketBuffer)
	ep := &udpEndpoint{UDPConn: udp, connected: true}

	var b [4]byte
	rand.Read(b[:])
	conv := binary.LittleEndian.Uint32(b[:])
	sess, err := kcp.NewConn4(conv, udp.RemoteAddr(), nil, cfg.DataShards, cfg.ParityShards, false, ep)
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("kcp session: %w", err)
	}
	cfg.apply(sess)
	done := make(chan struct{})
	c := &kcpConn{UDPSession: sess, closed: func() {
		udp.Close() // ends the read loop
		<-done
	}}
	go func() {
		defer close(done)
		err := readLoop(udp, agentReadBatch, func(b []byte, _ netip.AddrPort, from net.Addr) {
			ep.push(b, from, nil)
		})
		ep.push(nil, nil, err)
	}()
	return c, nil
}
