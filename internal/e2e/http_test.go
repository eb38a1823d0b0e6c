package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// Host routing on the http and https ports: a hostname, a subdomain under
// the edge's domain and a generated name each reach their own device; the
// proxy headers say what the edge saw; an unknown host gets a 404 naming
// it; host_header rewrites Host.
func TestHTTPHostRouting(t *testing.T) {
	p := newWebPKI(t)
	e := startEdge(t, p.webEdgeConfig(t))
	a := startAgent(t, p.agentConfig(e.addr(), "pi-1",
		agent.TunnelConfig{Name: "ui", Proto: "http", Addr: webService(t, whoamiHTTP("ui")), Hostname: "router7.tether.test"},
		agent.TunnelConfig{Name: "api", Proto: "http", Addr: webService(t, whoamiHTTP("api")), Subdomain: "api"},
		agent.TunnelConfig{Name: "gen", Proto: "http", Addr: webService(t, whoamiHTTP("gen"))},
		agent.TunnelConfig{Name: "rw", Proto: "http", Addr: webService(t, whoamiHTTP("rw")), Subdomain: "rw", HostHeader: "localhost:8080"},
	))
	ev := a.up(t)
	if len(ev.Refused) > 0 {
		t.Fatalf("refused: %v", ev.Refused)
	}
	httpsPort := e.HTTPSAddr().String()[strings.LastIndex(e.HTTPSAddr().String(), ":"):]
	if got, want := ev.Tunnels["gen"], "https://gen-pi-1.tether.test"+httpsPort; got != want {
		t.Errorf("generated public address %q, want %q", got, want)
	}
	c := e.webClient(t, p)
	for _, tc := range []struct{ url, id, proto string }{
		{"http://router7.tether.test/a", "ui", "http"},
		{"https://router7.tether.test/a", "ui", "https"},
		{"http://api.tether.test/a", "api", "http"},
		{"https://gen-pi-1.tether.test/a", "gen", "https"},
	} {
		code, body := get(t, c, tc.url)
		host := strings.TrimPrefix(strings.TrimPrefix(tc.url, "http://"), "https://")
		host = host[:strings.Index(host, "/")]
		if code != 200 || field(body, "id") != tc.id || field(body, "host") != host || field(body, "path") != "/a" {
			t.Errorf("GET %s: %d %q, want 200 from %s with Host %s", tc.url, code, body, tc.id, host)
		}
		if field(body, "xff") != "127.0.0.1" || field(body, "xfproto") != tc.proto || field(body, "xfhost") != host {
			t.Errorf("GET %s: forwarded headers %q", tc.url, body)
		}
	}
	code, body := get(t, c, "http://rw.tether.test/")
	if code != 200 || field(body, "host") != "localhost:8080" || field(body, "xfhost") != "rw.tether.test" {
		t.Errorf("host_header: %d %q, want Host localhost:8080 and X-Forwarded-Host rw.tether.test", code, body)
	}
	// A client's own X-Forwarded-For is not trusted.
	req, _ := http.NewRequest("GET", "http://api.tether.test/", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := field(string(b), "xff"); got != "127.0.0.1" {
		t.Errorf("client sent X-Forwarded-For 6.6.6.6; device saw %q, want only the address the edge saw", got)
	}
	for _, url := range []string{"http://nobody.tether.test/x", "https://nobody.tether.test/x"} {
		code, body = get(t, c, url)
		if code != 404 || !strings.Contains(body, "No tunnel serves nobody.tether.test") {
			t.Errorf("GET %s: %d %q, want a 404 naming the host", url, code, body)
		}
	}
	// And the same with curl, a client that is not Go's.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is required (apt-get install curl)")
	}
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "--cacert", p.CACert,
		"--resolve", "router7.tether.test"+httpsPort+":127.0.0.1",
		"https://router7.tether.test"+httpsPort+"/curl").CombinedOutput()
	if err != nil || field(string(out), "id") != "ui" || field(string(out), "path") != "/curl" {
		t.Errorf("curl over https: %v\n%s", err, out)
	}
}

// Names are first come, first served between agents; the token's
// allow_hosts limits them; the same agent id coming back takes its names
// over at once.
func TestHTTPHostClaims(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Tokens = append(cfg.Tokens, edge.TokenConfig{Name: "narrow", Secret: "narrow-secret-0123456789", AllowHosts: []string{"*.lab.tether.test"}})
	cfg.Endpoints = []edge.EndpointConfig{{Name: "site", Proto: "http", Hostname: "www.tether.test", Labels: map[string]string{"app": "www"}}}
	e := startEdge(t, cfg)
	c := e.webClient(t, p)

	first := startAgent(t, p.agentConfig(e.addr(), "pi-1",
		agent.TunnelConfig{Name: "ui", Proto: "http", Addr: webService(t, whoamiHTTP("first")), Subdomain: "shared"}))
	first.up(t)

	ac := p.agentConfig(e.addr(), "pi-2",
		agent.TunnelConfig{Name: "ui", Proto: "http", Addr: webService(t, whoamiHTTP("second")), Subdomain: "shared"},
		agent.TunnelConfig{Name: "www", Proto: "http", Addr: webService(t, whoamiHTTP("second")), Hostname: "www.tether.test"})
	ev := startAgent(t, ac).up(t)
	if r := ev.Refused["ui"]; !strings.Contains(r, "host shared.tether.test is already bound by tunnel \"ui\" of another agent") {
		t.Errorf("second agent's claim on shared.tether.test: refusal %q", r)
	}
	if r := ev.Refused["www"]; !strings.Contains(r, `served by endpoint "site"`) {
		t.Errorf("claim on an endpoint's hostname: refusal %q", r)
	}

	nc := p.agentConfig(e.addr(), "pi-3",
		agent.TunnelConfig{Name: "in", Proto: "http", Addr: webService(t, whoamiHTTP("x")), Hostname: "cam.lab.tether.test"},
		agent.TunnelConfig{Name: "out", Proto: "http", Addr: webService(t, whoamiHTTP("x")), Hostname: "cam.tether.test"})
	nc.Token = "narrow-secret-0123456789"
	ev = startAgent(t, nc).up(t)
	if _, ok := ev.Tunnels["in"]; !ok {
		t.Errorf("allowed host refused: %v", ev.Refused["in"])
	}
	if r := ev.Refused["out"]; !strings.Contains(r, "host cam.tether.test is not allowed by token \"narrow\" (allow_hosts)") {
		t.Errorf("host outside allow_hosts: refusal %q", r)
	}

	// pi-1 again, as a new process (its old session not yet gone): it
	// replaces the old session and serves the name from the new service.
	again := startAgent(t, p.agentConfig(e.addr(), "pi-1",
		agent.TunnelConfig{Name: "ui", Proto: "http", Addr: webService(t, whoamiHTTP("again")), Subdomain: "shared"}))
	if ev := again.up(t); len(ev.Refused) > 0 {
		t.Fatalf("same agent id re-binding its name: refused %v", ev.Refused)
	}
	first.stop()
	if code, body := get(t, c, "http://shared.tether.test/"); code != 200 || field(body, "id") != "again" {
		t.Errorf("after takeover: %d %q, want the new session's service", code, body)
	}
}

// webFleet is an edge with an http endpoint "cams" (cams.tether.test)
// over n agents, each behind a fault proxy, each serving whoamiHTTP.
type webFleet struct {
	fleet
	client *http.Client
}

func startWebFleet(t *testing.T, n int, cfgFn func(*edge.Config)) *webFleet {
	t.Helper()
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "cams", Proto: "http", Hostname: "cams.tether.test", Labels: map[string]string{"app": "cam"}, Balance: edge.RoundRobin}}
	if cfgFn != nil {
		cfgFn(cfg)
	}
	f := &webFleet{fleet: fleet{pki: p, edge: startEdge(t, cfg)}}
	for i := 0; i < n; i++ {
		id := "cam-" + string(rune('0'+i))
		px := newFaultProxy(t, f.edge.addr())
		ac := p.agentConfig(px.addr(), id, agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: webService(t, whoamiHTTP(id)), Labels: map[string]string{"app": "cam"}})
		a := startAgent(t, ac)
		a.up(t)
		f.agents, f.proxies = append(f.agents, a), append(f.proxies, px)
	}
	f.edge.waitMembers(t, "cams", n)
	f.client = f.edge.webClient(t, p)
	return f
}

// Requests to a group spread over its members; killing one under load
// fails at most the requests in flight on it, and none once the edge has
// noticed.
func TestHTTPGroupBalanceAndKill(t *testing.T) {
	f := startWebFleet(t, 3, nil)
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		code, body := get(t, f.client, "http://cams.tether.test/")
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		seen[field(body, "id")]++
	}
	if seen["cam-0"] != 10 || seen["cam-1"] != 10 || seen["cam-2"] != 10 {
		t.Fatalf("30 requests over 3 members, round-robin: %v", seen)
	}

	const workers = 8
	var ok, failed atomic.Int64
	var failedAfter atomic.Int64
	var noticed atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := noticed.Load()
				resp, err := f.client.Get("http://cams.tether.test/")
				good := err == nil && resp.StatusCode == 200
				if err == nil {
					resp.Body.Close()
				}
				switch {
				case good:
					ok.Add(1)
				case after:
					failedAfter.Add(1)
				default:
					failed.Add(1)
				}
			}
		}()
	}
	waitFor(t, 10*time.Second, "load to start", func() bool { return ok.Load() > 100 })
	f.proxies[1].Kill()
	f.edge.waitMembers(t, "cams", 2)
	noticed.Store(true)
	base := ok.Load()
	waitFor(t, 10*time.Second, "200 more requests", func() bool { return ok.Load() > base+200 })
	close(stop)
	wg.Wait()
	t.Logf("requests: %d ok, %d failed while the edge noticed, %d failed after", ok.Load(), failed.Load(), failedAfter.Load())
	if failed.Load() > workers {
		t.Errorf("%d requests failed when one member died; at most the %d in flight may", failed.Load(), workers)
	}
	if failedAfter.Load() > 0 {
		t.Errorf("%d requests failed after the edge dropped the dead member", failedAfter.Load())
	}
}

// One member whose local service is down never shows a client an error:
// the request goes to another member before anything reached the device.
func TestHTTPRetryOnDialFailure(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "cams", Proto: "http", Hostname: "cams.tether.test", Labels: map[string]string{"app": "cam"}, Balance: edge.RoundRobin}}
	e := startEdge(t, cfg)
	down := freePort(t) // nothing listens there
	for i, addr := range []string{webService(t, whoamiHTTP("up-0")), "127.0.0.1:" + itoa(down), webService(t, whoamiHTTP("up-2"))} {
		startAgent(t, p.agentConfig(e.addr(), "cam-"+itoa(i),
			agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: addr, Labels: map[string]string{"app": "cam"}})).up(t)
	}
	e.waitMembers(t, "cams", 3)
	c := e.webClient(t, p)
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		// A fresh connection each time, so no keep-alive hides a dial.
		c.Transport.(*http.Transport).CloseIdleConnections()
		code, body := get(t, c, "http://cams.tether.test/")
		if code != 200 {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		seen[field(body, "id")]++
	}
	if seen["up-0"] == 0 || seen["up-2"] == 0 {
		t.Errorf("requests served by %v, want both healthy members", seen)
	}
	// POST with a body goes through the retry too.
	resp, err := c.Post("http://cams.tether.test/up", "text/plain", strings.NewReader("hello"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", err, resp)
	}
	resp.Body.Close()
}

// No member: 503 naming the endpoint. A device that is too slow: 504.
func TestHTTPNoMemberAndTimeout(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Limits.HTTPResponseTimeout = 300 * time.Millisecond
	cfg.Endpoints = []edge.EndpointConfig{{Name: "empty", Proto: "http", Hostname: "empty.tether.test", Labels: map[string]string{"app": "none"}}}
	e := startEdge(t, cfg)
	c := e.webClient(t, p)
	code, body := get(t, c, "http://empty.tether.test/")
	if code != 503 || !strings.Contains(body, "endpoint empty") {
		t.Errorf("endpoint without members: %d %q, want 503 naming the endpoint", code, body)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := webService(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	startAgent(t, p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: "slow", Proto: "http", Addr: slow, Subdomain: "slow"})).up(t)
	code, body = get(t, c, "http://slow.tether.test/")
	if code != 504 || !strings.Contains(body, "did not answer within 300ms") {
		t.Errorf("slow service: %d %q, want 504", code, body)
	}
	down := freePort(t)
	startAgent(t, p.agentConfig(e.addr(), "pi-2", agent.TunnelConfig{Name: "down", Proto: "http", Addr: "127.0.0.1:" + itoa(down), Subdomain: "down"})).up(t)
	code, body = get(t, c, "http://down.tether.test/")
	if code != 502 || !strings.Contains(body, "could not reach its local service") {
		t.Errorf("service down: %d %q, want 502", code, body)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A device whose service drops idle keep-alive connections: the edge's
// pooled stream is found closed and the next request, with or without a
// body, goes over a fresh one instead of failing.
func TestHTTPPooledStreamClosedByDevice(t *testing.T) {
	p := newWebPKI(t)
	e := startEdge(t, p.webEdgeConfig(t))
	closed := make(chan struct{}, 16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: whoamiHTTP("dev"), IdleTimeout: 20 * time.Millisecond,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				closed <- struct{}{}
			}
		}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	startAgent(t, p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: "web", Proto: "http", Addr: ln.Addr().String(), Subdomain: "idle"})).up(t)
	c := e.webClient(t, p)
	for i, post := range []bool{false, false, true} {
		if post {
			// Idempotent by its key: the edge may resend it (with its body)
			// even when the dead stream had taken the whole request.
			req, _ := http.NewRequest("POST", "http://idle.tether.test/", strings.NewReader("body"))
			req.Header.Set("Idempotency-Key", "k1")
			resp, err := c.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("POST after the device closed the idle stream: %v %v", err, resp)
			}
			resp.Body.Close()
		} else if code, body := get(t, c, "http://idle.tether.test/"); code != 200 {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		select {
		case <-closed: // the service dropped the keep-alive connection
		case <-time.After(10 * time.Second):
			t.Fatal("the service never closed its idle connection")
		}
	}
}

// Keep-alive streams are pooled per tunnel: sequential requests through an
// endpoint reuse one stream, so the device's service sees one connection,
// not one per request.
func TestHTTPPoolReusesStreams(t *testing.T) {
	p := newWebPKI(t)
	e := startEdge(t, p.webEdgeConfig(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	srv := &http.Server{Handler: whoamiHTTP("dev"), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	startAgent(t, p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: "web", Proto: "http", Addr: ln.Addr().String(), Subdomain: "pool"})).up(t)
	c := e.webClient(t, p)
	for i := 0; i < 20; i++ {
		if code, body := get(t, c, "http://pool.tether.test/"); code != 200 {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 sequential requests opened %d connections to the device's service, want 1 (a pooled stream)", n)
	}
}

// A pooled stream that dies after the whole request went out (the device
// read it, then closed without an answer): a GET is sent again over a fresh
// stream, a POST is not, so the device never acts on it twice. The rule of
// net/http's Transport and nginx's proxy_next_upstream.
func TestHTTPPostNotReplayed(t *testing.T) {
	p := newWebPKI(t)
	e := startEdge(t, p.webEdgeConfig(t))
	var mu sync.Mutex
	seen := map[string]int{} // method → requests the device read
	// The device answers the first request of a connection and drops the
	// second unanswered.
	svc := serve(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			mu.Lock()
			seen[req.Method]++
			mu.Unlock()
			if n == 2 {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	startAgent(t, p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: "web", Proto: "http", Addr: svc.addr(), Subdomain: "once"})).up(t)
	c := e.webClient(t, p)
	const url = "http://once.tether.test/"
	for i := 0; i < 2; i++ { // the second GET meets the dropped connection and is resent
		if code, body := get(t, c, url); code != 200 {
			t.Fatalf("GET %d: %d %q", i, code, body)
		}
	}
	resp, err := c.Post(url, "text/plain", strings.NewReader("pay once"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != http.StatusBadGateway || seen["POST"] != 1 || seen["GET"] != 3 {
		t.Fatalf("POST on a stream that died after the request: %d; the device read %v (want 502, POST 1, GET 3)", resp.StatusCode, seen)
	}
}

// An https endpoint answers plain http with a permanent redirect to the
// same path on https.
func TestHTTPSOnlyEndpointRedirects(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "secure", Proto: "https", Hostname: "secure.tether.test", Labels: map[string]string{"app": "s"}}}
	e := startEdge(t, cfg)
	startAgent(t, p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: "s", Proto: "labeled", Addr: webService(t, whoamiHTTP("s")), Labels: map[string]string{"app": "s"}})).up(t)
	e.waitMembers(t, "secure", 1)
	c := e.webClient(t, p)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get("http://secure.tether.test/a?b=c")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	port := e.HTTPSAddr().(*net.TCPAddr).Port
	if want := "https://secure.tether.test:" + strconv.Itoa(port) + "/a?b=c"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("http to an https endpoint: %d Location %q, want 308 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if code, body := get(t, c, "https://secure.tether.test/a"); code != 200 || field(body, "id") != "s" {
		t.Fatalf("https: %d %q", code, body)
	}
}
