package edge

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/tetherhq/tether/internal/wire"
)

// groupSet holds the endpoints and every bound labeled tunnel. Its lock
// orders membership changes: a bind joins the groups that exist when it
// runs, a reload that adds or changes an endpoint joins the tunnels that
// exist when it runs, so neither misses the other. Lock order: mu, then an
// endpoint's mu.
type groupSet struct {
	srv     *Server
	mu      sync.RWMutex
	eps     []*endpoint // in config order
	labeled map[*tunnel]struct{}
	loops   sync.WaitGroup // accept loops of tcp endpoints
}

func newGroupSet(srv *Server) *groupSet {
	return &groupSet{srv: srv, labeled: map[*tunnel]struct{}{}}
}

func (g *groupSet) newEndpoint(c *EndpointConfig) *endpoint {
	e := newEndpoint(c, g.srv.log)
	e.stats = g.srv.metrics.route(c.Name)
	return e
}

// list returns the endpoints in config order.
func (g *groupSet) list() []*endpoint {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return slices.Clone(g.eps)
}

// byName finds an endpoint, or nil.
func (g *groupSet) byName(name string) *endpoint {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.byNameLocked(name)
}

func (g *groupSet) byNameLocked(name string) *endpoint {
	for _, e := range g.eps {
		if e.cfg.Name == name {
			return e
		}
	}
	return nil
}

// byHost finds the endpoint of proto (http, https, tls) that serves host
// name host, or nil: for routing by Host header or SNI.
func (g *groupSet) byHost(proto, host string) *endpoint {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, e := range g.eps {
		if e.cfg.Proto == proto && e.cfg.Hostname == host {
			return e
		}
	}
	return nil
}

// join adds labeled tunnel t to every group whose selector its labels
// satisfy, and returns what to tell the agent as its public address.
func (g *groupSet) join(t *tunnel) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.labeled[t] = struct{}{}
	for _, e := range g.eps {
		if e.selects(t.labels) {
			e.add(t)
			t.groups = append(t.groups, e)
		}
	}
	return g.describeLocked(t)
}

func (g *groupSet) describeLocked(t *tunnel) string {
	if len(t.groups) == 0 {
		return "no endpoint selects these labels (yet)"
	}
	names := make([]string, len(t.groups))
	for i, e := range t.groups {
		names[i] = e.describe(g.srv)
	}
	return fmt.Sprint(names)
}

// describe is what a labeled tunnel serves now.
func (g *groupSet) describe(t *tunnel) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.describeLocked(t)
}

// leave takes labeled tunnel t out of every group.
func (g *groupSet) leave(t *tunnel) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.labeled, t)
	for _, e := range t.groups {
		e.remove(t)
	}
	t.groups = nil
}

// listen opens a tcp endpoint's public port; other protos are served on
// the edge's shared listeners.
func (g *groupSet) listen(e *endpoint) error {
	if e.cfg.Proto != wire.ProtoTCP {
		return nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(g.srv.cfg.Listen.TCPHost, strconv.Itoa(e.cfg.Port)))
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", e.cfg.Name, err)
	}
	e.ln = l
	return nil
}

// listenAll opens every endpoint's port, or none.
func (g *groupSet) listenAll() error {
	eps := g.list()
	for i, e := range eps {
		if err := g.listen(e); err != nil {
			for _, o := range eps[:i] {
				if o.ln != nil {
					o.ln.Close()
				}
			}
			return err
		}
	}
	return nil
}

// serveLocked starts e's accept loop, if it has a port. The caller holds mu.
func (g *groupSet) serveLocked(e *endpoint) {
	if e.ln == nil {
		return
	}
	g.loops.Add(1)
	serve, name := e.serve(g.srv), e.cfg.Name
	go func() { defer g.loops.Done(); g.srv.acceptPublic(e.ln, name, serve) }()
}

func (g *groupSet) serveAll() {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, e := range g.eps {
		g.serveLocked(e)
	}
}

// closeListeners stops every endpoint's accept loop; wait waits for them.
func (g *groupSet) closeListeners() {
	for _, e := range g.list() {
		if e.ln != nil {
			e.ln.Close()
		}
	}
}

func (g *groupSet) wait() { g.loops.Wait() }

// endpointPlan is what a reload does to the endpoints: computed and
// listeners opened before anything changes, then applied at once.
type endpointPlan struct {
	next    []*endpoint                   // the new list, in config order
	added   []*endpoint                   // new, with their listeners open
	changed map[*endpoint]*EndpointConfig // kept (same listener), new config
	removed []*endpoint
}

// plan matches the new endpoint configs to the running endpoints by name
// and opens the ports of new ones. An endpoint whose proto, port or host
// name changed is replaced. On error nothing has changed.
func (g *groupSet) plan(cfgs []EndpointConfig) (*endpointPlan, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	p := &endpointPlan{changed: map[*endpoint]*EndpointConfig{}}
	kept := map[*endpoint]bool{}
	for i := range cfgs {
		c := &cfgs[i]
		old := g.byNameLocked(c.Name)
		if old != nil && old.cfg.Proto == c.Proto && old.cfg.Port == c.Port && old.cfg.Hostname == c.Hostname {
			kept[old] = true
			if !sameEndpoint(old.cfg, c) {
				p.changed[old] = c
			}
			p.next = append(p.next, old)
			continue
		}
		// With its stats from the start: setEndpoints routes its host name
		// before apply runs.
		e := g.newEndpoint(c)
		if err := g.listen(e); err != nil {
			p.abort()
			return nil, err
		}
		p.added = append(p.added, e)
		p.next = append(p.next, e)
	}
	for _, e := range g.eps {
		if !kept[e] {
			p.removed = append(p.removed, e)
		}
	}
	return p, nil
}

func sameEndpoint(a, b *EndpointConfig) bool {
	return a.Name == b.Name && a.Proto == b.Proto && a.Port == b.Port && a.Hostname == b.Hostname &&
		a.Balance == b.Balance && a.AccessLog == b.AccessLog && maps.Equal(a.Labels, b.Labels) &&
		slices.Equal(a.BasicAuth, b.BasicAuth) && slices.Equal(a.AllowCIDRs, b.AllowCIDRs) && slices.Equal(a.DenyCIDRs, b.DenyCIDRs)
}

// abort closes the listeners a plan opened.
func (p *endpointPlan) abort() {
	for _, e := range p.added {
		if e.ln != nil {
			e.ln.Close()
		}
	}
}

// apply switches to the planned endpoints: removed ones stop accepting and
// lose their members (connections in flight run on), changed ones take
// their new config and re-select members, new ones start serving with
// every live labeled tunnel they select. Agents whose tunnels joined or
// left a group are told where they are served now.
func (g *groupSet) apply(p *endpointPlan) {
	g.mu.Lock()
	defer g.mu.Unlock()
	before := map[*tunnel]string{}
	for t := range g.labeled {
		before[t] = g.describeLocked(t)
	}
	defer func() {
		for t, was := range before {
			if now := g.describeLocked(t); now != was {
				go t.sess.send(wire.TypeBindResult, wire.BindResult{Name: t.name, OK: true, Public: now})
			}
		}
	}()
	kept := map[string]bool{}
	for _, e := range p.next {
		kept[e.cfg.Name] = true
	}
	for _, e := range p.removed {
		if e.ln != nil {
			e.ln.Close()
		}
		e.mu.Lock()
		members := e.members
		e.members = nil
		e.mu.Unlock()
		for _, t := range members {
			t.groups = slices.DeleteFunc(t.groups, func(x *endpoint) bool { return x == e })
		}
		if !kept[e.cfg.Name] { // a replaced endpoint keeps its series
			g.srv.metrics.forget(e.cfg.Name)
		}
		e.log.Info("endpoint removed", "members_dropped", len(members))
	}
	for e, c := range p.changed {
		e.mu.Lock()
		e.cfg = c
		e.mu.Unlock()
		for t := range g.labeled {
			in, want := slices.Contains(t.groups, e), e.selects(t.labels)
			switch {
			case in && !want:
				e.remove(t)
				t.groups = slices.DeleteFunc(t.groups, func(x *endpoint) bool { return x == e })
			case !in && want:
				e.add(t)
				t.groups = append(t.groups, e)
			}
		}
		e.log.Info("endpoint changed", "labels", wire.FormatLabels(c.Labels), "balance", c.Balance, "access_log", c.AccessLog)
	}
	for _, e := range p.added {
		for t := range g.labeled {
			if e.selects(t.labels) {
				e.add(t)
				t.groups = append(t.groups, e)
			}
		}
		g.serveLocked(e)
		e.log.Info("endpoint added", "proto", e.cfg.Proto, "public", e.describe(g.srv), "members", len(e.members))
	}
	g.eps = p.next
}
