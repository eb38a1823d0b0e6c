package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

const adminSecret = "admin-secret-0123456789"

// opsEdge is an edge whose config lives in a file, so that reloads can
// change it, with the admin API on loopback behind adminSecret.
type opsEdge struct {
	*runningEdge
	path  string
	admin string // http://host:port
}

func startOpsEdge(t *testing.T, cfg *edge.Config) *opsEdge {
	t.Helper()
	cfg.Listen.Admin = "127.0.0.1:0"
	sum := sha256sum(adminSecret)
	cfg.Admin.TokenSHA256 = hex.EncodeToString(sum[:])
	path := filepath.Join(t.TempDir(), "edge.toml")
	writeTOML(t, path, cfg)
	e := startEdge(t, cfg, func(s *edge.Server) { s.ConfigPath = path })
	return &opsEdge{runningEdge: e, path: path, admin: "http://" + e.AdminAddr().String()}
}

// config reads the edge's config file again: a copy to change and write
// back, never the config the edge runs with.
func (e *opsEdge) config(t testing.TB) *edge.Config {
	t.Helper()
	cfg, err := edge.LoadConfig(e.path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writeTOML writes a config struct as a TOML file.
func writeTOML(t testing.TB, path string, cfg any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := toml.NewEncoder(f).Encode(cfg); err != nil {
		t.Fatal(err)
	}
}

// call makes an admin API call with token (none if empty) and returns the
// status and body.
func (e *opsEdge) call(t testing.TB, method, path, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// get decodes a successful admin call into v.
func (e *opsEdge) get(t testing.TB, method, path string, v any) {
	t.Helper()
	code, body := e.call(t, method, path, adminSecret)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, body)
	}
}

// Every admin call: refused without the token and with a wrong one,
// answered with it; label filters; errors as JSON; reconnect.
func TestAdminAPI(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	camPort := freePort(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "cams", Proto: "tcp", Port: camPort, Labels: map[string]string{"app": "cam"}}}
	e := startOpsEdge(t, cfg)

	cam := p.agentConfig(e.addr(), "cam-1", agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: serve(t, whoami("cam-1")).addr(), Labels: map[string]string{"app": "cam"}})
	cam.Labels = map[string]string{"site": "berlin"}
	camAgent := startAgent(t, cam)
	camAgent.up(t)
	pi := p.agentConfig(e.addr(), "pi-2", agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: serve(t, echo).addr()})
	pi.Labels = map[string]string{"site": "paris"}
	startAgent(t, pi).up(t)
	e.waitMembers(t, "cams", 1)

	c := dialTunnel(t, fmt.Sprintf("127.0.0.1:%d", camPort))
	fmt.Fprintf(c, "ping\n")
	readLine(c, 5*time.Second)
	readLine(c, 5*time.Second)
	c.Close()
	waitFor(t, 5*time.Second, "cam-1's bytes to be counted", func() bool {
		a, _ := e.Agent("cam-1")
		return a.BytesIn == 5 && a.BytesOut == int64(len("cam-1\nping\n"))
	})

	ids := func(body []byte) string {
		var as []edge.AgentInfo
		if err := json.Unmarshal(body, &as); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
		var s []string
		for _, a := range as {
			s = append(s, a.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		method, path string
		code         int
		check        func(body []byte) string // "" = fine, else what is wrong
	}{
		{"GET", "/api/agents", 200, func(b []byte) string { return want(ids(b), "cam-1,pi-2") }},
		{"GET", "/api/agents?labels=site=berlin", 200, func(b []byte) string { return want(ids(b), "cam-1") }},
		{"GET", "/api/agents?labels=site=*", 200, func(b []byte) string { return want(ids(b), "cam-1,pi-2") }},
		{"GET", "/api/agents?labels=site=paris,app=cam", 200, func(b []byte) string { return want(ids(b), "") }},
		{"GET", "/api/agents?labels=site", 400, contains(`"error"`, "key=value")},
		{"GET", "/api/agents/cam-1", 200, contains(`"id": "cam-1"`, `"transport": "tcp"`, `"rtt_ms"`, `"bytes_in": 5`, `"token": "test"`, `cams 127.0.0.1:`)},
		{"GET", "/api/agents/nobody", 404, contains(`"error": "no agent \"nobody\" is connected"`)},
		{"GET", "/api/endpoints", 200, contains(`"name": "cams"`, `"selector": {`, `"balance": "round-robin"`, `"agent": "cam-1"`)},
		{"GET", "/api/tunnels", 200, contains(`"agent": "cam-1"`, `"agent": "pi-2"`, `"name": "ssh"`)},
		{"POST", "/api/agents/nobody/reconnect", 404, contains(`"error"`)},
		{"POST", "/api/reload", 200, contains(`"ok": true`, `"changes": []`)},
		{"GET", "/metrics", 200, contains("tether_edge_agents{transport=\"tcp\"} 2")},
		{"GET", "/api/nothing", 404, contains(`"error": "no such call: GET /api/nothing"`)},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			for _, tok := range []string{"", "wrong-token"} {
				code, body := e.call(t, tc.method, tc.path, tok)
				if code != http.StatusUnauthorized || !strings.Contains(string(body), `"error": "missing or wrong token`) {
					t.Fatalf("token %q: %d %s, want 401 with a JSON error", tok, code, body)
				}
			}
			code, body := e.call(t, tc.method, tc.path, adminSecret)
			if code != tc.code {
				t.Fatalf("%d %s, want %d", code, body, tc.code)
			}
			if msg := tc.check(body); msg != "" {
				t.Fatalf("%s in:\n%s", msg, body)
			}
		})
	}

	before, _ := e.Agent("cam-1")
	var res map[string]any
	e.get(t, "POST", "/api/agents/cam-1/reconnect", &res)
	if err := camAgent.down(t, 5*time.Second); err == nil {
		t.Fatal("reconnect: the session ended without a reason")
	}
	camAgent.up(t)
	after, ok := e.Agent("cam-1")
	if !ok || !after.Since.After(before.Since) {
		t.Fatalf("after reconnect: %+v, before %+v", after, before)
	}
	e.waitMembers(t, "cams", 1)
}

func want(got, want string) string {
	if got != want {
		return fmt.Sprintf("got %q, want %q", got, want)
	}
	return ""
}

func contains(subs ...string) func([]byte) string {
	return func(b []byte) string {
		for _, s := range subs {
			if !strings.Contains(string(b), s) {
				return fmt.Sprintf("no %q", s)
			}
		}
		return ""
	}
}

// A reload cannot take the token off an admin API that listens beyond
// loopback: the listener keeps its start-up address until a restart, so
// the new config is judged there, even if it moves listen.admin to
// loopback. The old token keeps working; no caller gets in without it.
func TestAdminReloadKeepsTokenOffLoopback(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	cfg.Listen.Admin = "0.0.0.0:0" // every address; the test calls it on 127.0.0.1 only
	sum := sha256sum(adminSecret)
	cfg.Admin.TokenSHA256 = hex.EncodeToString(sum[:])
	path := filepath.Join(t.TempDir(), "edge.toml")
	writeTOML(t, path, cfg)
	re := startEdge(t, cfg, func(s *edge.Server) { s.ConfigPath = path })
	_, port, _ := strings.Cut(re.AdminAddr().String(), "]:")
	e := &opsEdge{runningEdge: re, path: path, admin: "http://127.0.0.1:" + port}

	next := e.config(t)
	next.Listen.Admin = "127.0.0.1:0"
	next.Admin.TokenSHA256 = ""
	writeTOML(t, path, next)
	code, body := e.call(t, "POST", "/api/reload", adminSecret)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "listens on 0.0.0.0:0 until the edge restarts") {
		t.Fatalf("reload that drops the token: %d %s", code, body)
	}
	if code, body := e.call(t, "GET", "/api/agents", ""); code != http.StatusUnauthorized {
		t.Fatalf("after the rejected reload, no token: %d %s", code, body)
	}
	if code, _ := e.call(t, "GET", "/api/agents", adminSecret); code != http.StatusOK {
		t.Fatalf("after the rejected reload, the token: %d", code)
	}
}
