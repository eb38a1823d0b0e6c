package agent

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtaci/smux"

	"github.com/tetherhq/tether/internal/buildinfo"
	"github.com/tetherhq/tether/internal/relay"
	"github.com/tetherhq/tether/internal/transport"
	"github.com/tetherhq/tether/internal/wire"
)

// agentWindow is the per-stream receive window the agent grants the edge.
// With the edge's stream limit it bounds what a session may buffer here.
const agentWindow = 256 << 10

// acceptBacklog is how many new streams may wait for the accept loop,
// which hands each to a goroutine at once.
const acceptBacklog = 32

// session is one live connection to the edge. Its goroutines end when mux
// closes; run closes it.
type session struct {
	a       *Agent
	conn    *transport.Conn
	mux     *smux.Session
	welcome wire.Welcome
	ctl     *smux.Stream
	ctlMu   sync.Mutex // serialises control writes

	streams sync.WaitGroup
	conns   relay.Set // local conns, closed when the session ends
	active  atomic.Int32
	lastRTT atomic.Int64 // µs

	kicked   chan struct{} // closed to end the session for a reconnect (reload.go)
	kickOnce sync.Once

	mu      sync.Mutex
	pending map[string]bool   // binds not yet answered
	public  map[string]string // tunnel → public address
	refused map[string]string // tunnel → reason
}

// runSession dials, handshakes and serves one session until it fails or
// ctx ends.
func (a *Agent) runSession(ctx context.Context) error {
	conn, welcome, err := a.connect(ctx)
	if err != nil {
		return err
	}
	mux, err := smux.Client(conn, wire.MuxConfig(welcome.MaxStreams, agentWindow, acceptBacklog))
	if err != nil {
		conn.Close()
		return fmt.Errorf("mux: %w", err)
	}
	s := &session{a: a, conn: conn, mux: mux, welcome: welcome, kicked: make(chan struct{}),
		pending: map[string]bool{}, public: map[string]string{}, refused: map[string]string{}}
	return s.run(ctx)
}

// connect dials the edge and runs TLS, Hello and Welcome under one deadline.
func (a *Agent) connect(ctx context.Context) (*transport.Conn, wire.Welcome, error) {
	var w wire.Welcome
	hctx, cancel := context.WithTimeout(ctx, wire.HandshakeTimeout)
	defer cancel()
	conn := a.upgrade
	a.upgrade = nil
	if conn == nil {
		var err error
		if conn, err = a.Dialer.Dial(hctx); err != nil {
			return nil, w, fmt.Errorf("edge %s: %w", a.cfg.Edge, err)
		}
	}
	stop := context.AfterFunc(hctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	deadline, _ := hctx.Deadline()
	conn.SetDeadline(deadline)

	hello := wire.Hello{
		Token:   a.cfg.Token,
		ID:      a.id,
		Labels:  a.labels,
		Version: buildinfo.Version,
		OS:      runtime.GOOS,
		Arch:    runtime.GOARCH,
	}
	msg := append([]byte(wire.Magic), wire.Version)
	var err error
	if msg, err = wire.AppendFrame(msg, wire.TypeHello, &hello); err == nil {
		_, err = conn.Write(msg)
	}
	if err == nil {
		err = wire.ReadExpect(conn, wire.TypeWelcome, &w)
	}
	if err != nil {
		conn.Close()
		var ref *wire.RefusedError
		if errors.As(err, &ref) {
			return nil, w, err
		}
		return nil, w, fmt.Errorf("handshake with %s: %w", a.cfg.Edge, err)
	}
	if !stop() {
		conn.Close()
		return nil, w, ctx.Err()
	}
	conn.SetDeadline(time.Time{})
	if w.HeartbeatMillis <= 0 || w.TimeoutMillis <= w.HeartbeatMillis || w.MaxStreams <= 0 {
		conn.Close()
		return nil, w, fmt.Errorf("handshake with %s: bad welcome %+v", a.cfg.Edge, w)
	}
	return conn, w, nil
}

func (s *session) heartbeat() time.Duration {
	return time.Duration(s.welcome.HeartbeatMillis) * time.Millisecond
}

func (s *session) timeout() time.Duration {
	return time.Duration(s.welcome.TimeoutMillis) * time.Millisecond
}

func (s *session) run(ctx context.Context) error {
	defer s.mux.Close()
	log := s.a.log
	ctl, err := s.mux.OpenStream()
	if err != nil {
		return fmt.Errorf("open control stream: %w", err)
	}
	s.ctl = ctl

	// All binds go out in one write; a reload waits until they have.
	tunnels, release := s.a.attach(s)
	defer s.a.detach(s)
	err = s.bind(tunnels)
	release()
	if err != nil {
		return fmt.Errorf("send binds: %w", err)
	}
	log.Info("connected to edge", "edge", s.a.cfg.Edge, "transport", s.conn.Transport(),
		"heartbeat", s.heartbeat(), "replaced_previous", s.welcome.ReplacedPrevious)
	if len(tunnels) == 0 {
		s.a.emit(SessionEvent{Up: true, Tunnels: map[string]string{}, Refused: map[string]string{}})
	}

	errc := make(chan error, 3)
	var loops sync.WaitGroup
	loops.Add(3)
	go func() { defer loops.Done(); errc <- s.controlLoop() }()
	go func() { defer loops.Done(); errc <- s.pingLoop() }()
	go func() { defer loops.Done(); errc <- s.acceptLoop() }()

	err = s.wait(ctx, errc)
	if err == nil || errors.Is(err, errReconfigured) {
		s.conn.Retire() // ended on purpose: not a KCP failure for auto
	}
	s.mux.Close()
	s.conns.CloseAll()
	loops.Wait()
	s.streams.Wait()
	return err
}

// wait returns why the session ends: a loop's error, the agent stopping
// (after a drain: nil), or errUpgrade when auto offers a KCP connection
// while this session runs over TCP. The edge replaces this session when
// the new one says Hello.
func (s *session) wait(ctx context.Context, errc <-chan error) error {
	upgrades := s.a.Dialer.Upgrades()
	for {
		select {
		case err := <-errc:
			return err
		case <-s.kicked:
			return errReconfigured
		case <-ctx.Done():
			s.drain()
			return nil
		case c := <-upgrades:
			if c.Transport() == s.conn.Transport() {
				c.Close()
				continue
			}
			s.a.upgrade = c
			return errUpgrade
		}
	}
}

// drain unbinds every tunnel so the edge sends nothing new, and waits for
// open streams up to DrainTimeout.
func (s *session) drain() {
	var msg []byte
	for _, t := range s.a.tunnelList() {
		msg, _ = wire.AppendFrame(msg, wire.TypeUnbind, wire.Unbind{Name: t.Name})
	}
	s.writeControl(msg)
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	t := time.NewTimer(s.a.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.a.log.Warn("drain timeout: closing open streams", "open", s.active.Load())
	}
}

func (a *Agent) bindFor(t TunnelConfig) wire.Bind {
	b := wire.Bind{Name: t.Name, Proto: t.Proto, RemotePort: t.RemotePort, Hostname: t.Hostname, Subdomain: t.Subdomain,
		HostHeader: t.HostHeader, BasicAuth: t.BasicAuth, AllowCIDRs: t.AllowCIDRs, DenyCIDRs: t.DenyCIDRs}
	if t.Proto == wire.ProtoLabeled {
		b.Labels = a.tunnelLabels(t)
	}
	return b
}

// tunnelLabels is the agent's labels with the tunnel's merged over them.
func (a *Agent) tunnelLabels(t TunnelConfig) map[string]string {
	l := make(map[string]string, len(a.labels)+len(t.Labels))
	for k, v := range a.labels {
		l[k] = v
	}
	for k, v := range t.Labels {
		l[k] = v
	}
	return l
}

// writeControl writes to the control stream under a deadline, so a stalled
// session is noticed rather than waited on.
func (s *session) writeControl(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	s.ctl.SetWriteDeadline(time.Now().Add(s.timeout()))
	_, err := s.ctl.Write(b)
	return err
}

// controlLoop reads the edge's messages. Silence longer than the heartbeat
// timeout ends the session: pongs answer every ping.
func (s *session) controlLoop() error {
	log := s.a.log
	for {
		s.ctl.SetReadDeadline(time.Now().Add(s.timeout()))
		t, body, err := wire.ReadFrame(s.ctl)
		if err != nil {
			if errors.Is(err, errTimeout) || isTimeout(err) {
				return fmt.Errorf("edge silent for %v: heartbeat lost", s.timeout())
			}
			return fmt.Errorf("control stream: %w", err)
		}
		switch t {
		case wire.TypeBindResult:
			var r wire.BindResult
			if err := wire.Decode(t, body, &r); err != nil {
				return err
			}
			s.bindResult(r)
		case wire.TypePong:
			var p wire.Pong
			if err := wire.Decode(t, body, &p); err != nil {
				return err
			}
			if sent := int64(p.Seq); sent > 0 {
				s.lastRTT.Store(time.Now().UnixMicro() - sent)
			}
		default:
			log.Debug("ignoring control message", "type", t)
		}
	}
}

var errTimeout = errors.New("timeout")

// errUpgrade ends a TCP session when auto has a KCP connection ready.
var errUpgrade = errors.New("moving to KCP")

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// pingLoop sends a Ping every heartbeat interval; its Seq is the send time
// in µs so the Pong gives the round trip without any state.
func (s *session) pingLoop() error {
	t := time.NewTicker(s.heartbeat())
	defer t.Stop()
	for {
		select {
		case <-s.mux.CloseChan():
			return nil
		case <-t.C:
		}
		b, _ := wire.AppendFrame(nil, wire.TypePing, wire.Ping{Seq: uint64(time.Now().UnixMicro()), RTTMicros: s.lastRTT.Load()})
		if err := s.writeControl(b); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
	}
}

func (s *session) acceptLoop() error {
	for {
		st, err := s.mux.AcceptStream()
		if err != nil {
			if relay.Normal(err) {
				return fmt.Errorf("session closed by edge")
			}
			return fmt.Errorf("accept stream: %w", err)
		}
		s.streams.Add(1)
		go s.serveStream(st)
	}
}
