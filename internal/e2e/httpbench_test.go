package e2e

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// HTTP benchmarks put the edge's http endpoint beside the same load
// straight at the local service, alternating inside one run, and report
// the ratio. Run:
//   go test -run '^$' -bench HTTP -benchtime 20x ./internal/e2e

// benchHTTP starts an edge with an http endpoint (a group of one device)
// over a tiny local web service; it returns clients and URLs for both
// ways.
func benchHTTP(b *testing.B) (direct, tunnel *http.Client, directURL, tunnelURL string) {
	b.Helper()
	p := newWebPKI(b)
	cfg := p.webEdgeConfig(b)
	cfg.Limits.HeartbeatInterval, cfg.Limits.HeartbeatTimeout = 10*time.Second, 30*time.Second
	cfg.Endpoints = []edge.EndpointConfig{{Name: "bench", Proto: "http", Hostname: "bench.tether.test", Labels: map[string]string{"app": "bench"}}}
	e := startEdge(b, cfg)
	svc := webService(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	ac := p.agentConfig(e.addr(), "bench", agent.TunnelConfig{Name: "t", Proto: "labeled", Addr: svc, Labels: map[string]string{"app": "bench"}})
	ac.Log.Level = "warn"
	startAgent(b, ac).up(b)
	e.waitMembers(b, "bench", 1)
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, e.webClient(b, p), "http://" + svc + "/", "http://bench.tether.test/"
}

// load sends n requests from conc workers over keep-alive connections and
// returns the wall time and each request's latency.
func load(b *testing.B, c *http.Client, url string, conc, n int) (time.Duration, []time.Duration) {
	lat := make([]time.Duration, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				t0 := time.Now()
				resp, err := c.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[k] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat
}

func pct(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

// 50 concurrent keep-alive clients, 2,000 requests per op each way.
func BenchmarkHTTPEndpoint50Clients(b *testing.B) {
	direct, tunnel, durl, turl := benchHTTP(b)
	const conc, n = 50, 2000
	load(b, direct, durl, conc, n) // warm up: connections and pools
	load(b, tunnel, turl, conc, n)
	var dt, tt time.Duration
	var dl, tl []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, l := load(b, direct, durl, conc, n)
		dt, dl = dt+d, append(dl, l...)
		d, l = load(b, tunnel, turl, conc, n)
		tt, tl = tt+d, append(tl, l...)
	}
	b.StopTimer()
	total := float64(n * b.N)
	b.ReportMetric(total/dt.Seconds(), "direct-req/s")
	b.ReportMetric(total/tt.Seconds(), "tunnel-req/s")
	b.ReportMetric(dt.Seconds()/tt.Seconds(), "ratio")
	b.ReportMetric(float64(pct(dl, .5).Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(pct(dl, .99).Microseconds()), "direct-p99-µs")
	b.ReportMetric(float64(pct(tl, .5).Microseconds()), "tunnel-p50-µs")
	b.ReportMetric(float64(pct(tl, .99).Microseconds()), "tunnel-p99-µs")
}

// One client, one request at a time over keep-alive: the latency the edge
// adds per HTTP request.
func BenchmarkHTTPRequestLatency(b *testing.B) {
	direct, tunnel, durl, turl := benchHTTP(b)
	load(b, direct, durl, 1, 200)
	load(b, tunnel, turl, 1, 200)
	var dl, tl []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, l := load(b, direct, durl, 1, 1)
		dl = append(dl, l...)
		_, l = load(b, tunnel, turl, 1, 1)
		tl = append(tl, l...)
	}
	b.StopTimer()
	reportLatency(b, dl, tl)
}
