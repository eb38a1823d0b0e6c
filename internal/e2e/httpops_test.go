package e2e

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// logBuffer keeps what a logger wrote, for tests that look for a line.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines(substr ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range strings.Split(l.b.String(), "\n") {
		for _, s := range substr {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// HTTP endpoints under operations: requests are counted by status class
// and logged one line each, and a reload adds and removes http endpoints
// (the host table follows) but never takes a host name a tunnel holds.
func TestHTTPEndpointOperations(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "web", Proto: "http", Hostname: "web." + testDomain,
		Labels: map[string]string{"app": "web"}, AccessLog: true}}
	cfg.Listen.Admin = "127.0.0.1:0"
	sum := sha256sum(adminSecret)
	cfg.Admin.TokenSHA256 = hex.EncodeToString(sum[:])
	path := filepath.Join(t.TempDir(), "edge.toml")
	writeTOML(t, path, cfg)
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	re := startEdgeLog(t, cfg, log, func(s *edge.Server) { s.ConfigPath = path })
	e := &opsEdge{runningEdge: re, path: path, admin: "http://" + re.AdminAddr().String()}

	startAgent(t, p.agentConfig(e.addr(), "pi-7",
		agent.TunnelConfig{Name: "site", Proto: "labeled", Addr: webService(t, whoamiHTTP("pi-7")), Labels: map[string]string{"app": "web"}},
		agent.TunnelConfig{Name: "own", Proto: "http", Addr: webService(t, whoamiHTTP("own")), Hostname: "own." + testDomain})).up(t)
	e.waitMembers(t, "web", 1)
	c := e.webClient(t, p)

	for range 3 {
		if code, body := get(t, c, "http://web."+testDomain+"/hello"); code != 200 || field(body, "id") != "pi-7" {
			t.Fatalf("GET web: %d %q", code, body)
		}
	}
	resp, err := c.Post("http://web."+testDomain+"/up", "text/plain", strings.NewReader("12345"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, _ := get(t, c, "http://own."+testDomain+"/"); code != 200 {
		t.Fatalf("GET own: %d", code)
	}
	waitFor(t, 10*time.Second, "the request counters", func() bool {
		mf := e.scrape(t)
		return value(mf, "tether_edge_requests_total", "endpoint", "web", "class", "2xx") == 4 &&
			value(mf, "tether_edge_requests_total", "endpoint", "", "class", "2xx") == 1
	})
	mf := e.scrape(t)
	if in := value(mf, "tether_edge_bytes_total", "endpoint", "web", "direction", "in"); in != 5 {
		t.Errorf("bytes in on web = %v, want the 5 of the POST body", in)
	}
	if out := value(mf, "tether_edge_bytes_total", "endpoint", "web", "direction", "out"); out <= 0 {
		t.Errorf("bytes out on web = %v, want > 0", out)
	}
	lines := logs.lines("msg=access", "endpoint=web", "method=GET", "host=web."+testDomain, "path=/hello", "status=200", "agent=pi-7", "tunnel=site")
	if len(lines) != 3 {
		t.Errorf("access log: %d GET lines, want 3:\n%s", len(lines), strings.Join(logs.lines("msg=access"), "\n"))
	}
	if l := logs.lines("msg=access", "method=POST", "bytes_in=5"); len(l) != 1 {
		t.Errorf("access log: no POST line with bytes_in=5:\n%s", strings.Join(logs.lines("msg=access"), "\n"))
	}

	// Reload: web goes, shop comes, selecting the same devices.
	next := e.config(t)
	next.Endpoints = []edge.EndpointConfig{{Name: "shop", Proto: "http", Hostname: "shop." + testDomain, Labels: map[string]string{"app": "web"}}}
	writeTOML(t, path, next)
	if code, body := e.call(t, "POST", "/api/reload", adminSecret); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	e.waitMembers(t, "shop", 1)
	if code, body := get(t, c, "http://shop."+testDomain+"/"); code != 200 || field(body, "id") != "pi-7" {
		t.Errorf("GET shop after the reload: %d %q", code, body)
	}
	if code, _ := get(t, c, "http://web."+testDomain+"/"); code != http.StatusNotFound {
		t.Errorf("GET web after it was removed: %d, want 404", code)
	}

	// A new endpoint may not take the name a tunnel holds: the reload is
	// rejected whole and both keep serving.
	next.Endpoints = append(next.Endpoints, edge.EndpointConfig{Name: "thief", Proto: "http", Hostname: "own." + testDomain, Labels: map[string]string{"app": "web"}})
	writeTOML(t, path, next)
	code, body := e.call(t, "POST", "/api/reload", adminSecret)
	if code == 200 || !strings.Contains(string(body), `hostname own.tether.test is bound by tunnel \"own\" of agent pi-7`) {
		t.Errorf("reload taking a tunnel's host name: %d %s", code, body)
	}
	for _, host := range []string{"own", "shop"} {
		if code, _ := get(t, c, "http://"+host+"."+testDomain+"/"); code != 200 {
			t.Errorf("GET %s after the rejected reload: %d", host, code)
		}
	}

	// A token narrowed by a reload withdraws the http tunnel it no longer
	// allows; the host name is free at once.
	next.Endpoints = next.Endpoints[:1]
	for i := range next.Tokens {
		next.Tokens[i].AllowHosts = []string{"*.elsewhere.test"}
	}
	writeTOML(t, path, next)
	if code, body := e.call(t, "POST", "/api/reload", adminSecret); code != 200 || !strings.Contains(string(body), "tunnel own withdrawn") {
		t.Fatalf("reload narrowing allow_hosts: %d %s", code, body)
	}
	if code, _ := get(t, c, "http://own."+testDomain+"/"); code != http.StatusNotFound {
		t.Errorf("GET own after its tunnel was withdrawn: %d, want 404", code)
	}
}
