package edge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/xtaci/smux"

	"github.com/tetherhq/tether/internal/buildinfo"
	"github.com/tetherhq/tether/internal/transport"
	"github.com/tetherhq/tether/internal/wire"
)

// edgeWindow is the per-stream receive window the edge grants agents: what
// one slow public client can make the edge buffer for one stream.
const edgeWindow = 256 << 10

func (s *Server) acceptAgents(ctx context.Context, l net.Listener, kind string) {
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept agents failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		select {
		case s.handshakes <- struct{}{}:
		default:
			// Full: shed load rather than queue; the agent backs off.
			s.log.Debug("too many handshakes in flight, dropping connection", "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		go func() {
			defer func() { <-s.handshakes }()
			s.handshake(ctx, c, kind)
		}()
	}
}

// handshake runs TLS, reads the Hello, authenticates and starts the
// session. Everything before the Welcome runs under one deadline.
func (s *Server) handshake(ctx context.Context, raw net.Conn, kind string) {
	remote := raw.RemoteAddr().String()
	log := s.log.With("remote", remote)
	lim := s.limits()
	hctx, cancel := context.WithTimeout(ctx, lim.HandshakeTimeout)
	defer cancel()
	conn, err := transport.Server(hctx, raw, s.tls)
	if err != nil {
		s.metrics.refused("tls")
		log.Debug("agent handshake failed", "err", err)
		return
	}
	deadline, _ := hctx.Deadline()
	conn.SetDeadline(deadline)

	refuse := func(why, code, reason string) {
		s.metrics.refused(why)
		wire.WriteFrame(conn, wire.TypeRefuse, wire.Refuse{Code: code, Reason: reason})
		conn.Close()
	}
	ver, err := wire.ReadPreamble(conn)
	if err != nil {
		s.metrics.refused("preamble")
		log.Debug("agent handshake failed", "err", err)
		conn.Close()
		return
	}
	if ver != wire.Version {
		log.Warn("agent refused: protocol version", "agent_version", ver)
		refuse("version", wire.RefuseVersion, fmt.Sprintf("agent speaks protocol version %d, this edge speaks %d: upgrade the older side", ver, wire.Version))
		return
	}
	var h wire.Hello
	if err := wire.ReadExpect(conn, wire.TypeHello, &h); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err) {
			s.metrics.refused("incomplete")
			log.Debug("agent handshake incomplete", "err", err)
			conn.Close()
			return
		}
		log.Warn("agent refused: bad hello", "err", err)
		refuse("hello", wire.RefuseHello, err.Error())
		return
	}
	if err := h.Validate(); err != nil {
		log.Warn("agent refused: bad hello", "err", err)
		refuse("hello", wire.RefuseHello, err.Error())
		return
	}
	tok := s.tokens.Load().lookup(h.Token)
	if tok == nil {
		// The token is never logged; its hash prefix lets the operator
		// compare with `printf %s TOKEN | sha256sum`.
		sum := sha256.Sum256([]byte(h.Token))
		log.Warn("agent refused: unknown token", "id", h.ID, "token_sha256_prefix", hex.EncodeToString(sum[:4]))
		refuse("token", wire.RefuseToken, "unknown token: no [[token]] on this edge has its sha256")
		return
	}
	if ctx.Err() != nil {
		refuse("shutdown", wire.RefuseShutdown, "edge is shutting down")
		return
	}
	if s.reg.count() >= lim.MaxAgents && s.reg.get(h.ID) == nil {
		log.Warn("agent refused: max_agents reached", "id", h.ID, "max_agents", lim.MaxAgents)
		refuse("max_agents", wire.RefuseShutdown, "edge is full (limits.max_agents)")
		return
	}

	sess := newSession(s, h, tok, conn, kind)
	replaced := s.reg.put(sess)
	s.metrics.connected(replaced)
	s.recheckToken(sess) // a reload may have changed the tokens since the lookup
	lim = sess.lim
	err = wire.WriteFrame(conn, wire.TypeWelcome, wire.Welcome{
		Edge:             buildinfo.Version,
		HeartbeatMillis:  lim.HeartbeatInterval.Milliseconds(),
		TimeoutMillis:    lim.HeartbeatTimeout.Milliseconds(),
		MaxStreams:       lim.MaxStreamsPerAgent,
		ReplacedPrevious: replaced,
	})
	if err != nil {
		sess.close(fmt.Errorf("write welcome: %w", err))
		return
	}
	conn.SetDeadline(time.Time{})
	mux, err := smux.Server(conn, wireMux(lim.MaxStreamsPerAgent))
	if err != nil {
		sess.close(err)
		return
	}
	sess.start(mux, replaced)
}
