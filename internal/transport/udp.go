package transport

import (
	"net"
	"net/netip"
	"sync/atomic"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// receiver is kcp-go's PacketPusher callback: one datagram, or a read
// error that ends the session.
type receiver func(b []byte, addr net.Addr, err error)

// udpEndpoint is the net.PacketConn one kcp-go session runs on. It shares
// a UDP socket (a connected one on the agent, the listener's on the edge)
// and implements kcp.PacketPusher, so kcp-go starts no read goroutine of
// its own: our read loop hands it datagrams. It embeds *net.UDPConn so that
// kcp-go still sends with sendmmsg.
//
// onRelease runs once when kcp-go drops the receiver (the session closed).
type udpEndpoint struct {
	*net.UDPConn
	connected bool // the socket is connected: WriteTo ignores addr
	recv      atomic.Pointer[receiver]
	onRelease func()
	released  atomic.Bool
}

// SetPacketReceiver implements kcp.PacketPusher.
func (e *udpEndpoint) SetPacketReceiver(fn func(b []byte, addr net.Addr, err error)) {
	if fn == nil {
		e.recv.Store(nil)
		if e.released.CompareAndSwap(false, true) && e.onRelease != nil {
			e.onRelease()
		}
		return
	}
	r := receiver(fn)
	e.recv.Store(&r)
}

// push hands one datagram (or a read error) to the session, if it is
// still there.
func (e *udpEndpoint) push(b []byte, addr net.Addr, err error) {
	if r := e.recv.Load(); r != nil {
		(*r)(b, addr, err)
	}
}

// WriteTo sends b; a connected socket refuses addresses, so it writes.
func (e *udpEndpoint) WriteTo(b []byte, addr net.Addr) (int, error) {
	if e.connected {
		return e.UDPConn.Write(b)
	}
	return e.UDPConn.WriteTo(b, addr)
}

// Close does nothing: the socket's owner closes it.
func (e *udpEndpoint) Close() error { return nil }

// batchReader reads many datagrams per system call (recvmmsg on Linux).
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchReader(c *net.UDPConn) batchReader {
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		return ipv4.NewPacketConn(c)
	}
	return ipv6.NewPacketConn(c)
}

// readLoop reads datagrams from c in batches of n and hands each to
// handle until the socket fails or is closed; it returns that error. The
// buffers are reused: handle must not keep b.
func readLoop(c *net.UDPConn, n int, handle func(b []byte, from netip.AddrPort, addr net.Addr)) error {
	br := newBatchReader(c)
	msgs := make([]ipv4.Message, n)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, maxDatagram)}
	}
	for {
		k, err := br.ReadBatch(msgs, 0)
		if err != nil {
			return err
		}
		for i := range msgs[:k] {
			m := &msgs[i]
			ua, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			handle(m.Buffers[0][:m.N], unmap(ua.AddrPort()), ua)
		}
	}
}

// maxDatagram is the largest datagram kcp-go sends (its maxPacketSize);
// longer ones are not KCP and get truncated, then dropped as malformed.
const maxDatagram = 1472

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
