package transport

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	kcp "github.com/xtaci/kcp-go/v5"
)

// KCPLimits bound what strangers can make the edge hold. Zero fields take
// their defaults.
type KCPLimits struct {
	// MaxPending caps sessions that have not finished TLS. A datagram that
	// would open one more is dropped. Default 1024 (≈ 30 MiB at worst).
	MaxPending int
	// HandshakeTimeout closes sessions that have not finished TLS by then.
	// Default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes sessions that received nothing for that long: a
	// backstop behind the heartbeat, which should close them first.
	// Default 2 min.
	IdleTimeout time.Duration
}

func (o KCPLimits) withDefaults() KCPLimits {
	if o.MaxPending <= 0 {
		o.MaxPending = 1024
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	return o
}

// edgeReadBatch datagrams are read per system call on the edge.
const edgeReadBatch = 64

// KCPListener accepts KCP sessions on one UDP socket. It owns the socket's
// read loop: kcp-go's own listener would open a session (and queue it) for
// any 24-byte datagram from a new address, and close a live session when a
// datagram from its address names another conversation. Here a new address
// opens a session only with the first segment of a conversation (PUSH,
// sn 0, una 0), datagrams naming a different conversation than their
// address's session are dropped, sessions that have not finished TLS are
// capped and timed out, and quiet sessions are closed.
type KCPListener struct {
	cfg    KCPConfig
	lim    KCPLimits
	udp    *net.UDPConn
	start  time.Time
	accept chan *kcpConn
	die    chan struct{}
	wg     sync.WaitGroup // read loop and janitor

	readErr     error // set before readFailed closes
	readFailed  chan struct{}
	stopped     chan struct{} // the read loop has ended
	dropped     atomic.Uint64
	closeSocket sync.Once

	// resets sent in the current window, and a buffer: read loop only
	resetStart time.Time
	resetsSent int
	resetBuf   [resetLen]byte

	mu      sync.Mutex
	peers   map[netip.AddrPort]*kcpPeer
	pending int
	closed  bool
}

// kcpPeer is one remote address's session.
type kcpPeer struct {
	l           *KCPListener
	addr        netip.AddrPort
	conv        uint32
	ep          *udpEndpoint
	conn        *kcpConn
	created     int64 // nanoseconds since the listener started
	lastSeen    atomic.Int64
	established atomic.Bool // TLS finished; guarded by KCPListener.mu for writes
}

// ListenKCP listens for KCP sessions on the UDP address addr (the same
// port number as the TCP listener), tuned by cfg, within lim. Close it to
// close every session accepted from it.
func ListenKCP(addr string, cfg KCPConfig, lim KCPLimits) (*KCPListener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	udp.SetReadBuffer(edgeSocketBuffer)
	udp.SetWriteBuffer(edgeSocketBuffer)
	lim = lim.withDefaults()
	l := &KCPListener{
		cfg:        cfg,
		lim:        lim,
		udp:        udp,
		start:      time.Now(),
		accept:     make(chan *kcpConn, lim.MaxPending),
		die:        make(chan struct{}),
		readFailed: make(chan struct{}),
		stopped:    make(chan struct{}),
		peers:      make(map[netip.AddrPort]*kcpPeer),
	}
	l.wg.Add(2)
	go l.readLoop()
	go l.janitor()
	return l, nil
}

// Addr is the UDP address the listener is bound to.
func (l *KCPListener) Addr() net.Addr { return l.udp.LocalAddr() }

// Accept waits for the next session. It returns net.ErrClosed once the
// listener is closed.
func (l *KCPListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.die:
		return nil, net.ErrClosed
	case <-l.readFailed:
		return nil, fmt.Errorf("kcp listener: %w", l.readErr)
	}
}

// Close stops accepting and closes the sessions not yet accepted. Sessions
// already accepted go on, as over TCP; the socket is closed, and the
// listener's goroutines end, when the last of them closes (at once if there
// is none: then Close waits for the goroutines).
func (l *KCPListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.die)
	var unaccepted []*kcpConn
	for {
		select {
		case c := <-l.accept:
			unaccepted = append(unaccepted, c)
			continue
		default:
		}
		break
	}
	l.mu.Unlock()
	for _, c := range unaccepted {
		c.abort()
	}
	l.mu.Lock()
	last := len(l.peers) == 0
	l.mu.Unlock()
	if last {
		l.closeSocket.Do(func() { l.udp.Close() })
		l.wg.Wait()
	}
	return nil
}

// Shutdown closes the listener and every session from it, and waits for
// its goroutines.
func (l *KCPListener) Shutdown() {
	l.Close()
	l.mu.Lock()
	conns := make([]*kcpConn, 0, len(l.peers))
	for _, p := range l.peers {
		conns = append(conns, p.conn)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
	l.closeSocket.Do(func() { l.udp.Close() })
	l.wg.Wait()
}

// Stats reports the sessions held and the datagrams dropped as strangers'.
func (l *KCPListener) Stats() (sessions, pending int, dropped uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers), l.pending, l.dropped.Load()
}

func (l *KCPListener) now() int64 { return int64(time.Since(l.start)) }

func (l *KCPListener) readLoop() {
	defer l.wg.Done()
	err := readLoop(l.udp, edgeReadBatch, l.input)
	defer close(l.stopped)
	l.mu.Lock()
	closed := l.closed && len(l.peers) == 0
	l.mu.Unlock()
	if closed {
		return
	}
	l.readErr = err
	close(l.readFailed)
	l.mu.Lock()
	peers := make([]*kcpPeer, 0, len(l.peers))
	for _, p := range l.peers {
		peers = append(peers, p)
	}
	l.mu.Unlock()
	for _, p := range peers {
		p.ep.push(nil, nil, err)
	}
}

// input routes one datagram: to its address's session, to a new session
// if it opens a conversation, or nowhere.
func (l *KCPListener) input(b []byte, from netip.AddrPort, addr net.Addr) {
	l.mu.Lock()
	p := l.peers[from]
	if p != nil {
		l.mu.Unlock()
		if conv, ok := datagramConv(b); !ok || (conv != p.conv) {
			l.dropped.Add(1)
			return
		}
		p.lastSeen.Store(l.now())
		p.ep.push(b, addr, nil)
		return
	}
	conv, ok := openingConv(b)
	if !ok || l.closed || l.pending >= l.lim.MaxPending {
		closed := l.closed
		l.mu.Unlock()
		l.dropped.Add(1)
		if !ok && !closed {
			l.reset(b, addr)
		}
		return
	}
	p, err := l.newPeerLocked(from, addr, conv)
	l.mu.Unlock()
	if err != nil {
		l.dropped.Add(1)
		return
	}
	p.ep.push(b, addr, nil)
	select {
	case l.accept <- p.conn:
	default:
		// Only if sessions the janitor already aborted still wait in the
		// queue (an accept loop stalled past the handshake timeout): the
		// read loop must never block, so this one goes.
		go p.conn.abort()
	}
}

// reset answers a KCP segment from an address that has no session (the
// agent's session belongs to an edge that restarted, or its address
// changed) so the agent redials now rather than at its heartbeat timeout.
// Resets are capped per window. Read loop only.
func (l *KCPListener) reset(b []byte, addr net.Addr) {
	conv, ok := strayConv(b)
	if !ok {
		return
	}
	if now := time.Now(); now.Sub(l.resetStart) > resetWindow {
		l.resetStart, l.resetsSent = now, 0
	}
	if l.resetsSent >= resetBurst {
		return
	}
	l.resetsSent++
	l.udp.WriteTo(appendReset(l.resetBuf[:0], conv), addr)
}

func (l *KCPListener) newPeerLocked(from netip.AddrPort, addr net.Addr, conv uint32) (*kcpPeer, error) {
	p := &kcpPeer{l: l, addr: from, conv: conv, created: l.now()}
	p.lastSeen.Store(p.created)
	p.ep = &udpEndpoint{UDPConn: l.udp, onRelease: func() { l.remove(p) }}
	sess, err := kcp.NewConn4(conv, addr, nil, 0, 0, false, p.ep)
	if err != nil {
		return nil, err
	}
	l.cfg.apply(sess)
	p.conn = newKCPConn(sess, nil)
	p.conn.peer = p
	l.peers[from] = p
	l.pending++
	return p, nil
}

// remove forgets a closed session. kcp-go calls it (through onRelease)
// from Close, which never holds l.mu.
func (l *KCPListener) remove(p *kcpPeer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peers[p.addr] != p {
		return
	}
	delete(l.peers, p.addr)
	if !p.established.Load() {
		l.pending--
	}
	if l.closed && len(l.peers) == 0 {
		l.closeSocket.Do(func() { l.udp.Close() }) // ends the read loop
	}
}

// established moves p out of the pending count.
func (l *KCPListener) established(p *kcpPeer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.established.Load() {
		return
	}
	p.established.Store(true)
	if l.peers[p.addr] == p {
		l.pending--
	}
}

// janitor closes sessions that did not finish TLS in time or went quiet.
func (l *KCPListener) janitor() {
	defer l.wg.Done()
	tick := min(l.lim.HandshakeTimeout, l.lim.IdleTimeout) / 4
	tick = max(min(tick, 5*time.Second), 20*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var stale []*kcpConn
	for {
		select {
		case <-l.stopped:
			return
		case <-t.C:
		}
		now := l.now()
		hs, idle := int64(l.lim.HandshakeTimeout), int64(l.lim.IdleTimeout)
		stale = stale[:0]
		l.mu.Lock()
		for _, p := range l.peers {
			if (!p.established.Load() && now-p.created > hs) || now-p.lastSeen.Load() > idle {
				stale = append(stale, p.conn)
			}
		}
		l.mu.Unlock()
		for _, c := range stale {
			c.abort()
		}
		clear(stale)
	}
}

// KCP segment layout (kcp-go, little-endian): conv 4, cmd 1, frg 1, wnd 2,
// ts 4, sn 4, una 4, len 4, then len bytes of data. tether runs KCP without
// FEC (third_party/kcp-go), so a datagram is one or more bare segments.
const (
	segHeader = 24
	cmdPush   = 81
)

// datagramConv returns the conversation a datagram belongs to.
func datagramConv(b []byte) (uint32, bool) {
	if len(b) < 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// openingConv returns the conversation a datagram opens: its first segment
// must be the first data of a fresh session (PUSH, sn 0, una 0) and fit.
func openingConv(b []byte) (uint32, bool) {
	if len(b) < segHeader || b[4] != cmdPush {
		return 0, false
	}
	sn := binary.LittleEndian.Uint32(b[12:])
	una := binary.LittleEndian.Uint32(b[16:])
	n := binary.LittleEndian.Uint32(b[20:])
	if sn != 0 || una != 0 || uint64(n) > uint64(len(b)-segHeader) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}
