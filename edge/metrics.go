package edge

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/internal/transport"
)

// metrics are the edge's Prometheus metrics, on a registry of the Server's
// own (a test process runs many edges). No label names an agent: the gauges
// that count sessions, tunnels, streams and members are computed from the
// registry when /metrics is scraped, so an idle session costs nothing here,
// and counters are updated once per connection, never per read.
type metrics struct {
	reg *prometheus.Registry

	conns        *prometheus.CounterVec // endpoint, outcome
	bytes        *prometheus.CounterVec // endpoint, direction
	requests     *prometheus.CounterVec // endpoint, class
	memberErrors *prometheus.CounterVec // endpoint
	refusals     *prometheus.CounterVec // reason
	bindRefusals prometheus.Counter
	sessions     prometheus.Counter
	replaced     prometheus.Counter
	reloads      *prometheus.CounterVec // result

	mu     sync.Mutex
	routes map[string]*routeStats // by endpoint name; "" = tunnels' own ports
}

// Outcomes of a public connection.
const (
	outcomeOK       = "ok"        // a member took it
	outcomeNoMember = "no_member" // nobody serves the endpoint
	outcomeFailed   = "failed"    // every member tried failed
)

// routeStats are one endpoint's counters, resolved once so a connection
// only adds to them.
type routeStats struct {
	ok, noMember, failed prometheus.Counter
	in, out              prometheus.Counter
	memberErrors         prometheus.Counter
}

func newMetrics(srv *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), routes: map[string]*routeStats{}}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "tether", Subsystem: "edge", Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.conns = counter("connections_total", "Public TCP connections by endpoint (\"\" for tunnels' own ports) and outcome: ok, no_member, failed.", "endpoint", "outcome")
	m.bytes = counter("bytes_total", "Bytes relayed, counted when a connection ends; direction in is from public clients to devices.", "endpoint", "direction")
	m.requests = counter("requests_total", "HTTP requests by endpoint and status class (2xx, 3xx, 4xx, 5xx).", "endpoint", "class")
	m.memberErrors = counter("member_errors_total", "Attempts to hand a connection to a member that failed (stream refused, local service down, agent busy); the edge then tries another.", "endpoint")
	m.refusals = counter("handshake_refusals_total", "Agent connections refused or dropped during the handshake, by reason.", "reason")
	m.reloads = counter("reloads_total", "Config reloads by result: ok, error.", "result")
	single := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "tether", Subsystem: "edge", Name: name, Help: help})
		m.reg.MustRegister(c)
		return c
	}
	m.bindRefusals = single("bind_refusals_total", "Tunnel binds refused (token rules, port in use, bad request).")
	m.sessions = single("sessions_total", "Agent sessions accepted.")
	m.replaced = single("sessions_replaced_total", "Sessions replaced by a new session with the same agent id (reconnects the edge noticed before the old session timed out).")
	m.reg.MustRegister(stateCollector{srv})
	for _, reason := range []string{"tls", "preamble", "incomplete", "version", "hello", "token", "max_agents", "shutdown"} {
		m.refusals.WithLabelValues(reason)
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	return m
}

// route returns the counters of an endpoint ("" for tunnels' own ports).
func (m *metrics) route(endpoint string) *routeStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.routes[endpoint]; r != nil {
		return r
	}
	r := &routeStats{
		ok:           m.conns.WithLabelValues(endpoint, outcomeOK),
		noMember:     m.conns.WithLabelValues(endpoint, outcomeNoMember),
		failed:       m.conns.WithLabelValues(endpoint, outcomeFailed),
		in:           m.bytes.WithLabelValues(endpoint, "in"),
		out:          m.bytes.WithLabelValues(endpoint, "out"),
		memberErrors: m.memberErrors.WithLabelValues(endpoint),
	}
	m.routes[endpoint] = r
	return r
}

// forget drops a removed endpoint's series.
func (m *metrics) forget(endpoint string) {
	m.mu.Lock()
	delete(m.routes, endpoint)
	m.mu.Unlock()
	for _, v := range []*prometheus.CounterVec{m.conns, m.bytes, m.requests, m.memberErrors} {
		v.DeletePartialMatch(prometheus.Labels{"endpoint": endpoint})
	}
}

func (m *metrics) refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

func (m *metrics) connected(replaced bool) {
	m.sessions.Inc()
	if replaced {
		m.replaced.Inc()
	}
}

// statusClass is "2xx" for 200 and so on; "error" when no response was
// had from the device.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "error"
	}
	return string(rune('0'+code/100)) + "xx"
}

var (
	descAgents  = prometheus.NewDesc("tether_edge_agents", "Agents connected, by transport.", []string{"transport"}, nil)
	descTunnels = prometheus.NewDesc("tether_edge_tunnels", "Tunnels bound, by proto.", []string{"proto"}, nil)
	descStreams = prometheus.NewDesc("tether_edge_streams", "Data streams open to agents.", nil, nil)
	descMembers = prometheus.NewDesc("tether_edge_group_members", "Live members of each endpoint's group.", []string{"endpoint"}, nil)
)

// stateCollector reads the gauges off the registry at scrape time.
type stateCollector struct{ srv *Server }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAgents
	ch <- descTunnels
	ch <- descStreams
	ch <- descMembers
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	agents := map[string]int{transport.TCP: 0}
	tunnels := map[string]int{}
	streams := 0
	for _, s := range c.srv.reg.all() {
		agents[s.transport]++
		streams += int(s.active.Load())
		s.mu.Lock()
		for _, t := range s.tunnels {
			tunnels[t.proto]++
		}
		s.mu.Unlock()
	}
	for k, n := range agents {
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(n), k)
	}
	for k, n := range tunnels {
		ch <- prometheus.MustNewConstMetric(descTunnels, prometheus.GaugeValue, float64(n), k)
	}
	ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(streams))
	for _, e := range c.srv.eps.list() {
		e.mu.RLock()
		name, n := e.cfg.Name, len(e.members)
		e.mu.RUnlock()
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(n), name)
	}
}
