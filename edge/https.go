package edge

import (
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/tetherhq/tether/internal/wire"
)

// serveHTTPS routes one connection on the https port by its ClientHello,
// before anything is answered: ALPN tether/1 is an agent (a device behind a
// firewall that only lets 443 out); a server name bound by a tls tunnel or
// endpoint is spliced through untouched (the device terminates TLS);
// everything else is TLS-terminated here and served as HTTP/1.1 or HTTP/2.
func (s *Server) serveHTTPS(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(s.limits().HTTPHeaderTimeout))
	hello, pc, err := peekHello(c)
	if err != nil {
		s.log.Debug("https: no client hello", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	switch {
	case slices.Contains(hello.protos, wire.ALPN):
		select {
		case s.handshakes <- struct{}{}:
		default:
			c.Close()
			return
		}
		defer func() { <-s.handshakes }()
		s.handshake(s.runCtx, pc, "tcp/https")
		return
	case slices.Contains(hello.protos, acme.ALPNProto):
		// A tls-alpn-01 challenge: answered by the terminating config.
	default:
		if rt := s.hosts.lookup(canonicalHost(hello.serverName)); rt != nil && rt.passthrough {
			if !rt.gate.allowAddr(c.RemoteAddr().String()) {
				s.log.Info("tls connection refused by allow_cidrs/deny_cidrs", "to", rt.what, "client", c.RemoteAddr().String())
				c.Close()
				return
			}
			s.serveConn(pc, rt.ep, rt.what, rt.pick)
			return
		}
	}
	s.fronts.tlsConns.push(tls.Server(pc, s.httpsTLS))
}

// httpsTLSConfig terminates public HTTPS: HTTP/2 and HTTP/1.1, and ACME's
// tls-alpn-01 when ACME is on.
func (s *Server) httpsTLSConfig() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if s.acme != nil {
		protos = append(protos, acme.ALPNProto)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     protos,
		GetCertificate: s.getCert,
	}
}

// connQueue is a net.Listener fed by serveHTTPS with TLS conns for the
// HTTPS server.
type connQueue struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
