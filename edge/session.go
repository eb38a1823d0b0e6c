package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtaci/smux"

	"github.com/tetherhq/tether/internal/relay"
	"github.com/tetherhq/tether/internal/transport"
	"github.com/tetherhq/tether/internal/wire"
)

// wireMux is the edge side's smux config. Agents open only the control
// stream, so a short accept backlog suffices; more streams from an agent
// stall only that agent's own session until its heartbeat times out.
func wireMux(maxStreams int) *smux.Config { return wire.MuxConfig(maxStreams, edgeWindow, 4) }

// session is one agent's connection. close is idempotent and releases
// everything the session holds: its tunnels, their listeners and group
// memberships, the mux and the conn.
type session struct {
	srv       *Server
	id        string
	log       *slog.Logger
	tok       atomic.Pointer[token] // a reload may swap the rules (reload.go)
	lim       *LimitsConfig         // as at connect: heartbeat and stream limit were agreed then
	hello     wire.Hello            // Token cleared
	conn      *transport.Conn
	transport string
	since     time.Time

	mux      *smux.Session
	ctl      *smux.Stream
	ctlMu    sync.Mutex
	active   atomic.Int32 // open data streams
	conns    relay.Set    // public conns being spliced, closed with the session
	lastSeen atomic.Int64 // unix nanos of the last control message
	rtt      atomic.Int64 // µs, as the agent last measured it
	in, out  atomic.Int64 // bytes from public clients to the device, and back

	bindMu sync.Mutex // serialises binds with a reload's re-check of them

	mu      sync.Mutex
	closed  bool
	tunnels map[string]*tunnel

	closeOnce sync.Once
	done      chan struct{}
}

func newSession(srv *Server, h wire.Hello, tok *token, conn *transport.Conn, kind string) *session {
	h.Token = ""
	s := &session{
		srv:       srv,
		id:        h.ID,
		lim:       srv.limits(),
		hello:     h,
		conn:      conn,
		transport: kind,
		since:     time.Now(),
		tunnels:   map[string]*tunnel{},
		done:      make(chan struct{}),
	}
	s.tok.Store(tok)
	s.log = srv.log.With("agent", h.ID, "remote", conn.RemoteAddr().String())
	s.lastSeen.Store(time.Now().UnixNano())
	return s
}

// start runs the control loop on a fresh goroutine (the handshake's deeper
// stack is not kept for the session's life).
func (s *session) start(mux *smux.Session, replaced bool) {
	s.mu.Lock()
	s.mux = mux
	closed := s.closed
	s.mu.Unlock()
	if closed {
		mux.Close()
		return
	}
	s.log.Info("agent connected", "transport", s.transport, "token", s.tok.Load().name, "version", s.hello.Version,
		"os", s.hello.OS, "arch", s.hello.Arch, "labels", wire.FormatLabels(s.hello.Labels), "replaced_previous", replaced)
	go s.controlLoop()
}

func (s *session) timeout() time.Duration { return s.lim.HeartbeatTimeout }

// controlLoop accepts the control stream and serves binds and pings until
// the session fails or the agent falls silent for the heartbeat timeout.
func (s *session) controlLoop() {
	s.mux.SetDeadline(time.Now().Add(s.lim.HandshakeTimeout))
	ctl, err := s.mux.AcceptStream()
	if err != nil {
		s.close(fmt.Errorf("no control stream: %w", err))
		return
	}
	s.mux.SetDeadline(time.Time{})
	s.ctl = ctl
	for {
		ctl.SetReadDeadline(time.Now().Add(s.timeout()))
		t, body, err := wire.ReadFrame(ctl)
		if err != nil {
			if isTimeout(err) {
				err = fmt.Errorf("agent silent for %v: heartbeat lost", s.timeout())
			}
			s.close(err)
			return
		}
		s.lastSeen.Store(time.Now().UnixNano())
		if err := s.handle(t, body); err != nil {
			s.close(err)
			return
		}
	}
}

func (s *session) handle(t wire.Type, body []byte) error {
	switch t {
	case wire.TypePing:
		var p wire.Ping
		if err := wire.Decode(t, body, &p); err != nil {
			return err
		}
		s.rtt.Store(p.RTTMicros)
		return s.send(wire.TypePong, wire.Pong{Seq: p.Seq})
	case wire.TypeBind:
		var b wire.Bind
		if err := wire.Decode(t, body, &b); err != nil {
			return err
		}
		return s.send(wire.TypeBindResult, s.bind(b))
	case wire.TypeUnbind:
		var u wire.Unbind
		if err := wire.Decode(t, body, &u); err != nil {
			return err
		}
		s.unbind(u.Name)
		return nil
	}
	return fmt.Errorf("%w on control stream: %v", wire.ErrUnexpected, t)
}

// send writes one control frame under a deadline.
func (s *session) send(t wire.Type, v any) error {
	b, err := wire.AppendFrame(nil, t, v)
	if err != nil {
		return err
	}
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	s.ctl.SetWriteDeadline(time.Now().Add(s.timeout()))
	_, err = s.ctl.Write(b)
	return err
}

// bind serves one tunnel, or says which rule refused it.
func (s *session) bind(b wire.Bind) wire.BindResult {
	fail := func(err error) wire.BindResult {
		s.log.Warn("bind refused", "tunnel", b.Name, "proto", b.Proto, "reason", err)
		s.srv.metrics.bindRefusals.Inc()
		return wire.BindResult{Name: b.Name, Error: err.Error()}
	}
	if err := b.Validate(); err != nil {
		return fail(err)
	}
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	s.mu.Lock()
	_, dup := s.tunnels[b.Name]
	s.mu.Unlock()
	if dup {
		return fail(fmt.Errorf("tunnel %q is already bound on this session", b.Name))
	}
	var t *tunnel
	var err error
	switch b.Proto {
	case wire.ProtoTCP:
		t, err = s.bindTCP(b)
	case wire.ProtoLabeled:
		t, err = s.bindLabeled(b)
	case wire.ProtoHTTP, wire.ProtoTLS:
		t, err = s.bindHost(b) // bindhost.go
	default:
		err = fmt.Errorf("proto %s is not served by this edge", b.Proto)
	}
	if err != nil {
		return fail(err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		t.unbind()
		return fail(errors.New("session closed"))
	}
	s.tunnels[b.Name] = t
	s.mu.Unlock()
	s.log.Info("tunnel bound", "tunnel", t.name, "proto", t.proto, "public", t.public)
	return wire.BindResult{Name: b.Name, OK: true, Public: t.public}
}

func (s *session) unbind(name string) {
	s.mu.Lock()
	t := s.tunnels[name]
	delete(s.tunnels, name)
	s.mu.Unlock()
	if t != nil {
		t.unbind()
		s.log.Info("tunnel unbound", "tunnel", name)
	}
}

// errBusy means the session is at its stream limit; try another member.
var errBusy = errors.New("agent at its stream limit")

// openStream opens a data stream for tunnel t and waits for the agent to
// reach its local service. The returned conn releases the stream slot when
// closed.
func (s *session) openStream(t *tunnel, client net.Addr) (net.Conn, error) {
	if int(s.active.Add(1)) > s.lim.MaxStreamsPerAgent {
		s.active.Add(-1)
		return nil, errBusy
	}
	t.active.Add(1)
	release := func() { s.active.Add(-1); t.active.Add(-1) }
	st, err := s.mux.OpenStream()
	if err != nil {
		release()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	streamTimeout := s.srv.limits().StreamTimeout
	st.SetDeadline(time.Now().Add(streamTimeout))
	hdr, err := wire.AppendStreamHeader(make([]byte, 0, 64), wire.StreamHeader{Tunnel: t.name, Client: client.String()})
	if err == nil {
		_, err = st.Write(hdr)
	}
	if err == nil {
		err = wire.ReadStatus(st)
	}
	if err != nil {
		st.Close()
		release()
		if isTimeout(err) {
			err = fmt.Errorf("agent did not answer within %v", streamTimeout)
		}
		return nil, err
	}
	st.SetDeadline(time.Time{})
	return &streamConn{Stream: st, release: release}, nil
}

// streamConn is a data stream that gives its slot back once on Close.
type streamConn struct {
	*smux.Stream
	once    sync.Once
	release func()
}

func (c *streamConn) Close() error {
	c.once.Do(c.release)
	return c.Stream.Close()
}

// stale reports whether the agent has been silent for longer than one and
// a half heartbeats: it may be dead, so prefer other members.
func (s *session) stale(now time.Time) bool {
	iv := s.lim.HeartbeatInterval
	return now.UnixNano()-s.lastSeen.Load() > int64(iv+iv/2)
}

func (s *session) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tunnels {
		if t.ln != nil {
			t.ln.Close()
		}
	}
}

// close ends the session for err (nil: normal end).
func (s *session) close(err error) {
	s.closeOnce.Do(func() {
		s.srv.reg.remove(s)
		s.mu.Lock()
		s.closed = true
		tunnels := s.tunnels
		s.tunnels = nil
		mux := s.mux
		s.mu.Unlock()
		for _, t := range tunnels {
			t.unbind()
		}
		if mux != nil {
			mux.Close()
		}
		s.conn.Close()
		s.conns.CloseAll()
		close(s.done)
		switch {
		case errors.Is(err, errReplaced), errors.Is(err, errShutdown):
			s.log.Info("agent session closed", "reason", err)
		case err == nil || relay.Normal(err):
			s.log.Info("agent disconnected")
		default:
			s.log.Warn("agent disconnected", "reason", err)
		}
	})
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
