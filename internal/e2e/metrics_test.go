package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// scrape reads /metrics and parses it with the Prometheus text parser.
func (e *opsEdge) scrape(t testing.TB) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := e.call(t, "GET", "/metrics", adminSecret)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return mf
}

// value is the sample of family name whose labels include labels (k, v
// pairs); -1 if there is none.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
	}
	return -1
}

// Metrics are scraped and parsed as Prometheus would, and the counters
// move as connections flow, fail and are refused.
func TestMetrics(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	camPort, emptyPort := freePort(t), freePort(t)
	cfg.Endpoints = []edge.EndpointConfig{
		{Name: "cams", Proto: "tcp", Port: camPort, Labels: map[string]string{"app": "cam"}},
		{Name: "empty", Proto: "tcp", Port: emptyPort, Labels: map[string]string{"app": "none"}},
	}
	e := startOpsEdge(t, cfg)
	a := startAgent(t, p.agentConfig(e.addr(), "cam-1",
		agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: serve(t, whoami("cam-1")).addr(), Labels: map[string]string{"app": "cam"}},
		agent.TunnelConfig{Name: "down", Proto: "tcp", Addr: "127.0.0.1:1"}))
	ev := a.up(t)
	e.waitMembers(t, "cams", 1)

	mf := e.scrape(t)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tether_edge_agents", []string{"transport", "tcp"}, 1},
		{"tether_edge_tunnels", []string{"proto", "labeled"}, 1},
		{"tether_edge_tunnels", []string{"proto", "tcp"}, 1},
		{"tether_edge_group_members", []string{"endpoint", "cams"}, 1},
		{"tether_edge_group_members", []string{"endpoint", "empty"}, 0},
		{"tether_edge_streams", nil, 0},
		{"tether_edge_sessions_total", nil, 1},
		{"tether_edge_handshake_refusals_total", []string{"reason", "token"}, 0},
		{"tether_edge_connections_total", []string{"endpoint", "cams", "outcome", "ok"}, 0},
	} {
		if got := value(mf, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// Three connections through the group, each greeting and one line.
	for i := 0; i < 3; i++ {
		c := dialTunnel(t, fmt.Sprintf("127.0.0.1:%d", camPort))
		fmt.Fprintf(c, "hello\n")
		readLine(c, 5*time.Second)
		readLine(c, 5*time.Second)
		c.Close()
	}
	// One to the empty group, one to a tunnel whose service is down.
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", emptyPort), ev.Tunnels["down"]} {
		c := dialTunnel(t, addr)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%s: got data, want the connection closed", addr)
		}
		c.Close()
	}
	// A wrong token.
	bad := p.agentConfig(e.addr(), "intruder")
	bad.Token = "wrong-token"
	startAgent(t, bad)

	waitFor(t, 10*time.Second, "the counters to move", func() bool {
		mf = e.scrape(t)
		return value(mf, "tether_edge_connections_total", "endpoint", "cams", "outcome", "ok") == 3 &&
			value(mf, "tether_edge_connections_total", "endpoint", "", "outcome", "failed") == 1 &&
			value(mf, "tether_edge_handshake_refusals_total", "reason", "token") >= 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tether_edge_bytes_total", []string{"endpoint", "cams", "direction", "in"}, 3 * 6},
		{"tether_edge_bytes_total", []string{"endpoint", "cams", "direction", "out"}, 3 * 12},
		{"tether_edge_connections_total", []string{"endpoint", "empty", "outcome", "no_member"}, 1},
		{"tether_edge_member_errors_total", []string{"endpoint", ""}, 1},
		{"tether_edge_member_errors_total", []string{"endpoint", "cams"}, 0},
	} {
		if got := value(mf, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// No series carries an agent id.
	for name, f := range mf {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetValue() == "cam-1" || l.GetName() == "agent" {
					t.Errorf("%s has a per-agent label %s=%s", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}
