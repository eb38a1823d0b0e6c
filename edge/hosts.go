package edge

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"

	"github.com/tetherhq/tether/internal/tomlfile"
	"github.com/tetherhq/tether/internal/wire"
)

// route is what a host name leads to on the http and https listeners: one
// http/tls tunnel, or an [[endpoint]] group.
type route struct {
	host        string
	passthrough bool // proto tls: SNI passthrough on the https port
	httpsOnly   bool // proto https endpoint: plain http is redirected
	what        string
	tunnel      *tunnel   // a single tunnel, or nil
	ep          *endpoint // a group, or nil
	owner       string    // agent id of tunnel
	gate        *gate
	hostHeader  string
}

// pick chooses the tunnel to try next, skipping those already tried.
func (r *route) pick(tried []*tunnel) *tunnel {
	if r.ep != nil {
		return r.ep.pick(tried)
	}
	return only(r.tunnel)(tried)
}

// hostTable maps host names to routes. Endpoints are set at start and by
// a reload; tunnels claim and release names as they bind.
type hostTable struct {
	mu sync.RWMutex
	m  map[string]*route
}

func newHostTable() *hostTable { return &hostTable{m: map[string]*route{}} }

func (h *hostTable) lookup(host string) *route {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.m[host]
}

// claim takes r.host for a tunnel. A name held by an endpoint, or by
// another agent's tunnel, is refused; a tunnel of the same agent id (an
// older session, not yet reaped) gives it up.
func (h *hostTable) claim(r *route) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.m[r.host]
	switch {
	case old == nil:
	case old.ep != nil:
		return fmt.Errorf("host %s is served by endpoint %q on this edge", r.host, old.ep.name())
	case old.owner != r.owner:
		return fmt.Errorf("host %s is already bound by tunnel %q of another agent", r.host, old.tunnel.name)
	case old.tunnel.sess == r.tunnel.sess:
		return fmt.Errorf("host %s is already bound by tunnel %q of this agent", r.host, old.tunnel.name)
	}
	h.m[r.host] = r
	return nil
}

// release gives up r's name if r still holds it.
func (h *hostTable) release(r *route) {
	h.mu.Lock()
	if h.m[r.host] == r {
		delete(h.m, r.host)
	}
	h.mu.Unlock()
}

// endpointRoutes makes the routes of the http, https and tls endpoints
// among eps, each from its config or, for those in changed, its next one.
func endpointRoutes(eps []*endpoint, changed map[*endpoint]*EndpointConfig) []*route {
	var rs []*route
	for _, e := range eps {
		c := e.cfg
		if n := changed[e]; n != nil {
			c = n
		}
		if c.Proto == wire.ProtoTCP {
			continue
		}
		g, _ := parseGate(c.BasicAuth, c.AllowCIDRs, c.DenyCIDRs) // validated with the config
		rs = append(rs, &route{
			host:        canonicalHost(c.Hostname),
			passthrough: c.Proto == wire.ProtoTLS,
			httpsOnly:   c.Proto == "https",
			what:        "endpoint " + c.Name,
			ep:          e,
			gate:        g,
		})
	}
	return rs
}

// setEndpoints puts routes in place of the endpoint routes the table
// holds, at once; tunnels keep theirs. A host name given twice, or held by
// a tunnel, is refused, and then nothing changes.
func (h *hostTable) setEndpoints(routes []*route) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := map[string]*route{}
	for _, r := range routes {
		if o := next[r.host]; o != nil {
			return fmt.Errorf("%s: hostname %s is also %s's", r.what, r.host, o.what)
		}
		if o := h.m[r.host]; o != nil && o.tunnel != nil {
			return fmt.Errorf("%s: hostname %s is bound by tunnel %q of agent %s; it must unbind first", r.what, r.host, o.tunnel.name, o.owner)
		}
		next[r.host] = r
	}
	for host, r := range h.m {
		if r.ep != nil {
			delete(h.m, host)
		}
	}
	maps.Copy(h.m, next)
	return nil
}

// canonicalHost lowercases a host name and drops a port and a final dot.
func canonicalHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// validHost checks a DNS name: dot-separated labels of a-z 0-9 and '-'.
func validHost(h string) error {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return fmt.Errorf("%q is not a host name", h)
	}
	for _, l := range strings.Split(strings.ToLower(h), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%q is not a host name", h)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not a host name (letters, digits, '-' and '.')", h)
			}
		}
	}
	return nil
}

// dnsLabel turns s into one DNS label: lowercase, runs of other characters
// as '-', at most 63 long.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// tunnelHost is the name an http/tls tunnel serves: its hostname, its
// subdomain under domain, or <tunnel>-<agent id>.<domain>.
func (s *Server) tunnelHost(agentID string, b wire.Bind) (string, error) {
	domain := strings.TrimSuffix(strings.ToLower(s.cfg.Domain), ".")
	var host string
	switch {
	case b.Hostname != "":
		host = canonicalHost(b.Hostname)
	case domain == "":
		return "", errors.New("this edge has no domain: set hostname on the tunnel")
	case b.Subdomain != "":
		host = strings.ToLower(b.Subdomain) + "." + domain
	default:
		host = dnsLabel(b.Name+"-"+agentID) + "." + domain
	}
	if err := validHost(host); err != nil {
		return "", err
	}
	return host, nil
}

// checkEndpointListener says which listener an http/https/tls endpoint
// needs.
func (c *Config) checkEndpointListener(key string, e *EndpointConfig) error {
	switch {
	case e.Proto == wire.ProtoHTTP && c.Listen.HTTP == "" && c.Listen.HTTPS == "":
		return tomlfile.Field(key+".proto", "an http endpoint needs listen.http or listen.https")
	case (e.Proto == "https" || e.Proto == wire.ProtoTLS) && c.Listen.HTTPS == "":
		return tomlfile.Field(key+".proto", "an %s endpoint needs listen.https", e.Proto)
	}
	return nil
}
