package lossy

import (
	"net"
	"net/netip"
	"sync"
)

// UDPRelay forwards datagrams between clients and one target over two
// Links (up: client to target, down: back). Each client address gets its
// own socket toward the target, so the target sees one peer per client, as
// behind a NAT. It listens on 127.0.0.1.
type UDPRelay struct {
	conn   *net.UDPConn
	target *net.UDPAddr
	seed   uint64
	wg     sync.WaitGroup

	mu     sync.Mutex
	up     Link
	down   Link
	flows  map[netip.AddrPort]*flow
	closed bool
}

type flow struct {
	client   netip.AddrPort
	upstream *net.UDPConn
	up, down *Shaper
}

// NewUDPRelay relays to target (host:port) with the given links, listening
// on listen ("" for any port on 127.0.0.1); seed makes the drops
// repeatable.
func NewUDPRelay(listen, target string, up, down Link, seed uint64) (*UDPRelay, error) {
	ta, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	la, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, err
	}
	c.SetReadBuffer(4 << 20)
	c.SetWriteBuffer(4 << 20)
	r := &UDPRelay{conn: c, target: ta, seed: seed, up: up, down: down, flows: map[netip.AddrPort]*flow{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr is where clients send.
func (r *UDPRelay) Addr() string { return r.conn.LocalAddr().String() }

// SetLinks changes both directions, for every client, from now on.
func (r *UDPRelay) SetLinks(up, down Link) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up, r.down = up, down
	for _, f := range r.flows {
		f.up.SetLink(up)
		f.down.SetLink(down)
	}
}

// Dropped counts the datagrams dropped in both directions.
func (r *UDPRelay) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for _, f := range r.flows {
		n += f.up.Dropped() + f.down.Dropped()
	}
	return n
}

// Reset forgets every client, as a NAT that lost its mappings: a client's
// next datagram reaches the target from a new address.
func (r *UDPRelay) Reset() {
	r.mu.Lock()
	flows := r.flows
	r.flows = map[netip.AddrPort]*flow{}
	r.mu.Unlock()
	for _, f := range flows {
		f.upstream.Close() // ends its reader
		f.up.Close()
		f.down.Close()
	}
}

// Close stops relaying and waits for every goroutine.
func (r *UDPRelay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	flows := r.flows
	r.flows = nil
	r.mu.Unlock()
	err := r.conn.Close()
	for _, f := range flows {
		f.upstream.Close()
	}
	r.wg.Wait()
	for _, f := range flows {
		f.up.Close()
		f.down.Close()
	}
	return err
}

func (r *UDPRelay) serve() {
	defer r.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		f := r.flow(from)
		if f == nil {
			return
		}
		f.up.Send(buf[:n])
	}
}

// flow returns the client's flow, opening it on its first datagram.
func (r *UDPRelay) flow(client netip.AddrPort) *flow {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if f := r.flows[client]; f != nil {
		return f
	}
	up, err := net.DialUDP("udp", nil, r.target)
	if err != nil {
		return nil
	}
	up.SetReadBuffer(4 << 20)
	up.SetWriteBuffer(4 << 20)
	f := &flow{client: client, upstream: up}
	n := uint64(len(r.flows))
	f.up = NewShaper(r.up, r.seed+2*n, func(b []byte) { up.Write(b) })
	f.down = NewShaper(r.down, r.seed+2*n+1, func(b []byte) { r.conn.WriteToUDPAddrPort(b, client) })
	r.flows[client] = f
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := up.Read(buf)
			if err != nil {
				if isRefused(err) {
					continue // the target is not there (yet): like a lost datagram
				}
				return
			}
			f.down.Send(buf[:n])
		}
	}()
	return f
}
