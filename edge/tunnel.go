package edge

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/tetherhq/tether/internal/relay"
	"github.com/tetherhq/tether/internal/wire"
)

// tunnel is one bound tunnel of a session.
type tunnel struct {
	sess   *session
	name   string
	proto  string
	labels map[string]string // labeled: the full label set
	public string
	ln     net.Listener // tcp: the public port
	groups []*endpoint  // labeled: the groups it joined; under srv.eps.mu
	active atomic.Int32 // open streams
	in     atomic.Int64 // bytes from public clients to the device
	out    atomic.Int64 // bytes from the device to public clients
	route  *route       // http, tls: the host name it holds
	pool   httpPool     // http: keep-alive streams (httppool.go)

	unbindOnce sync.Once
}

// bindTCP opens the public port: the requested one if the token allows it,
// else one from the pool, starting at a place derived from the agent id and
// tunnel name so a device gets the same port back after reconnects and
// edge restarts whenever it is free.
func (s *session) bindTCP(b wire.Bind) (*tunnel, error) {
	srv := s.srv
	t := &tunnel{sess: s, name: b.Name, proto: b.Proto}
	host := srv.cfg.Listen.TCPHost
	if b.RemotePort != 0 {
		if err := s.tok.Load().checkPort(b.RemotePort, srv.tcpRange); err != nil {
			return nil, err
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(b.RemotePort)))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("port %d is in use on the edge", b.RemotePort)
			}
			return nil, fmt.Errorf("port %d: %w", b.RemotePort, err)
		}
		t.ln = l
	} else {
		pool := s.tok.Load().ports
		if pool == nil {
			pool = srv.tcpRange
		}
		l, err := listenInPool(host, pool, s.id+"/"+b.Name)
		if err != nil {
			return nil, err
		}
		t.ln = l
	}
	port := t.ln.Addr().(*net.TCPAddr).Port
	t.public = net.JoinHostPort(srv.publicHost(), strconv.Itoa(port))
	go srv.acceptPublic(t.ln, "tunnel "+b.Name, func(c net.Conn) { srv.serveConn(c, nil, "tunnel "+b.Name, only(t)) })
	return t, nil
}

// listenInPool listens on the first free port of pool, probing from an
// offset that hashes key.
func listenInPool(host string, pool []portRange, key string) (net.Listener, error) {
	size := 0
	for _, r := range pool {
		size += r.hi - r.lo + 1
	}
	if size == 0 {
		return nil, errors.New("no ports to choose from")
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	start := int(h.Sum32() % uint32(size))
	const maxTries = 4096
	for i := 0; i < size && i < maxTries; i++ {
		p := portAt(pool, (start+i)%size)
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no free port in the pool (%d ports tried)", min(size, maxTries))
}

func portAt(pool []portRange, i int) int {
	for _, r := range pool {
		n := r.hi - r.lo + 1
		if i < n {
			return r.lo + i
		}
		i -= n
	}
	return 0
}

// bindLabeled checks the labels against the token and joins every group
// whose selector they satisfy.
func (s *session) bindLabeled(b wire.Bind) (*tunnel, error) {
	if err := s.tok.Load().checkLabels(b.Labels); err != nil {
		return nil, err
	}
	t := &tunnel{sess: s, name: b.Name, proto: b.Proto, labels: b.Labels}
	t.public = s.srv.eps.join(t)
	return t, nil
}

// unbind takes the tunnel out of service: no new connections reach it.
// Streams already open run on until they end or the session closes.
func (t *tunnel) unbind() {
	t.unbindOnce.Do(func() {
		if t.ln != nil {
			t.ln.Close()
		}
		if t.proto == wire.ProtoLabeled {
			t.sess.srv.eps.leave(t)
		}
		if t.route != nil {
			t.sess.srv.hosts.release(t.route)
		}
		t.pool.closeIdle()
	})
}

// only is a pick function for a single tunnel.
func only(t *tunnel) func([]*tunnel) *tunnel {
	return func(tried []*tunnel) *tunnel {
		if len(tried) > 0 {
			return nil
		}
		return t
	}
}

// serveConn hands a public connection to the tunnel pick chooses, asking
// for another while one fails, then splices. ep is the endpoint it came
// in on, nil for a tunnel's own port; it gets the connection's metrics and
// access log line.
func (srv *Server) serveConn(c net.Conn, ep *endpoint, what string, pick func(tried []*tunnel) *tunnel) {
	acc := srv.startAccess(ep, c)
	defer acc.finish()
	var lastErr error
	var tried []*tunnel
	for t := pick(nil); t != nil; t = pick(tried) {
		tried = append(tried, t)
		st, err := t.sess.openStream(t, c.RemoteAddr())
		if err != nil {
			lastErr = err
			acc.memberFailed()
			t.sess.log.Warn("stream failed", "to", what, "tunnel", t.name, "err", err)
			continue
		}
		remove := t.sess.conns.Add(c)
		in, out, _ := relay.Pipe(c, st)
		remove()
		acc.served(t, in, out)
		return
	}
	acc.outcome = outcomeNoMember
	if lastErr != nil {
		acc.outcome = outcomeFailed
	}
	if lastErr == nil {
		srv.log.Warn("connection closed: no live member", "to", what, "client", c.RemoteAddr().String())
	} else {
		srv.log.Warn("connection closed: no member could take it", "to", what, "client", c.RemoteAddr().String(), "tried", len(tried), "last_err", lastErr)
	}
	c.Close()
}
