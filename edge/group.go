package edge

import (
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// endpoint is an [[endpoint]]: a public address served by the group of
// live labeled tunnels whose labels include its selector.
type endpoint struct {
	cfg   *EndpointConfig // a reload may swap it: read under mu or srv.eps.mu
	log   *slog.Logger
	ln    net.Listener // tcp
	stats *routeStats  // its metrics (metrics.go)

	mu      sync.RWMutex
	members []*tunnel
	next    atomic.Uint64
}

func newEndpoint(c *EndpointConfig, log *slog.Logger) *endpoint {
	return &endpoint{cfg: c, log: log.With("endpoint", c.Name)}
}

// selects reports whether labels include every label of the selector.
// The caller holds srv.eps.mu.
func (e *endpoint) selects(labels map[string]string) bool {
	for k, v := range e.cfg.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (e *endpoint) describe(srv *Server) string {
	if e.cfg.Proto == "tcp" {
		return e.cfg.Name + " " + net.JoinHostPort(srv.publicHost(), strconv.Itoa(e.cfg.Port))
	}
	return e.cfg.Name + " " + srv.publicURL(e.cfg.Proto, e.cfg.Hostname)
}

func (e *endpoint) add(t *tunnel) {
	e.mu.Lock()
	e.members = append(e.members, t)
	n := len(e.members)
	e.mu.Unlock()
	e.log.Info("group member joined", "agent", t.sess.id, "tunnel", t.name, "members", n)
}

func (e *endpoint) remove(t *tunnel) {
	e.mu.Lock()
	for i, m := range e.members {
		if m == t {
			e.members = append(e.members[:i:i], e.members[i+1:]...)
			break
		}
	}
	n := len(e.members)
	e.mu.Unlock()
	e.log.Info("group member left", "agent", t.sess.id, "tunnel", t.name, "members", n)
}

// pick returns the member to try next, skipping those in tried: the
// balancer's choice among members whose agent was heard from recently, else
// among the stale ones (silent past one and a half heartbeats; maybe dead),
// else nil. Only a failover walks the group more than once.
func (e *endpoint) pick(tried []*tunnel) *tunnel {
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := len(e.members)
	if n == 0 {
		return nil
	}
	now := time.Now()
	for _, allowStale := range []bool{false, true} {
		if e.cfg.Balance == LeastStreams {
			// Scan from a rotating start so ties (an idle group) spread
			// round-robin instead of all landing on the first member.
			var best *tunnel
			start := e.turn(n)
			for i := 0; i < n; i++ {
				m := e.members[(start+i)%n]
				if contains(tried, m) || (!allowStale && m.sess.stale(now)) {
					continue
				}
				if best == nil || m.active.Load() < best.active.Load() {
					best = m
				}
			}
			if best != nil {
				return best
			}
			continue
		}
		var start int
		if e.cfg.Balance == Random {
			start = rand.IntN(n)
		} else {
			start = e.turn(n)
		}
		for i := 0; i < n; i++ {
			m := e.members[(start+i)%n]
			if !contains(tried, m) && (allowStale || !m.sess.stale(now)) {
				return m
			}
		}
	}
	return nil
}

// turn is the next round-robin start in [0, n). The counter is reduced
// before the conversion: on 32-bit edges (armv7, mips) int(counter) turns
// negative after 2³¹ picks.
func (e *endpoint) turn(n int) int {
	return int((e.next.Add(1) - 1) % uint64(n))
}

func contains(ts []*tunnel, t *tunnel) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// serve returns the handler for this endpoint's public connections.
func (e *endpoint) serve(srv *Server) func(net.Conn) {
	what := "endpoint " + e.cfg.Name
	return func(c net.Conn) { srv.serveConn(c, e, what, e.pick) }
}
