package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// basic_auth (plain, sha256, bcrypt) on an endpoint; allow_cidrs and
// deny_cidrs on endpoints and tunnels.
func TestHTTPAccessRules(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	sum := sha256.Sum256([]byte("bob-pw"))
	bc, err := bcrypt.GenerateFromPassword([]byte("carol-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	sel := map[string]string{"app": "cam"}
	cfg.Endpoints = []edge.EndpointConfig{
		{Name: "auth", Proto: "http", Hostname: "auth.tether.test", Labels: sel,
			BasicAuth: []string{"alice:alice-pw", "bob:sha256:" + hex.EncodeToString(sum[:]), "carol:" + string(bc)}, AllowCIDRs: []string{"127.0.0.0/8"}},
		{Name: "lan-only", Proto: "http", Hostname: "lan.tether.test", Labels: sel, AllowCIDRs: []string{"10.0.0.0/8"}},
	}
	e := startEdge(t, cfg)
	svc := webService(t, whoamiHTTP("cam"))
	ev := startAgent(t, p.agentConfig(e.addr(), "pi",
		agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: svc, Labels: sel},
		agent.TunnelConfig{Name: "denied", Proto: "http", Addr: svc, Subdomain: "denied", DenyCIDRs: []string{"192.0.2.0/24", "127.0.0.1"}},
		agent.TunnelConfig{Name: "open", Proto: "http", Addr: svc, Subdomain: "open", DenyCIDRs: []string{"192.0.2.0/24"}, BasicAuth: []string{"dev:dev-pw"}},
	)).up(t)
	if len(ev.Refused) > 0 {
		t.Fatalf("refused: %v", ev.Refused)
	}
	e.waitMembers(t, "auth", 1)
	c := e.webClient(t, p)
	do := func(url, user, pass string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: 401 without a Basic challenge", url)
		}
		return resp.StatusCode, b.String()
	}
	for _, tc := range []struct {
		name, url, user, pass string
		want                  int
	}{
		{"no credentials", "http://auth.tether.test/", "", "", 401},
		{"wrong password", "http://auth.tether.test/", "alice", "nope", 401},
		{"unknown user", "https://auth.tether.test/", "mallory", "alice-pw", 401},
		{"plain", "http://auth.tether.test/", "alice", "alice-pw", 200},
		{"sha256", "https://auth.tether.test/", "bob", "bob-pw", 200},
		{"bcrypt", "http://auth.tether.test/", "carol", "carol-pw", 200},
		{"bcrypt again (cached)", "http://auth.tether.test/", "carol", "carol-pw", 200},
		{"bcrypt wrong", "http://auth.tether.test/", "carol", "alice-pw", 401},
		{"endpoint allow_cidrs excludes loopback", "http://lan.tether.test/", "", "", 403},
		{"tunnel deny_cidrs", "http://denied.tether.test/", "", "", 403},
		{"tunnel basic_auth", "http://open.tether.test/", "dev", "dev-pw", 200},
		{"tunnel basic_auth missing", "http://open.tether.test/", "", "", 401},
	} {
		code, body := do(tc.url, tc.user, tc.pass)
		if code != tc.want {
			t.Errorf("%s: %s: %d %q, want %d", tc.name, tc.url, code, body, tc.want)
		}
		if code == 200 && field(body, "auth") != "" {
			t.Errorf("%s: the device saw the edge's credentials: %q", tc.name, field(body, "auth"))
		}
	}
}
