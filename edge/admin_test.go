package edge

import (
	"strings"
	"testing"
)

func TestAdminListenerNeedsTokenOffLoopback(t *testing.T) {
	const token = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	for _, tc := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:7070", "", true},
		{"127.8.9.10:7070", "", true},
		{"[::1]:7070", "", true},
		{"localhost:7070", "", true},
		{":7070", "", false},
		{"0.0.0.0:7070", "", false},
		{"[::]:7070", "", false},
		{"192.0.2.1:7070", "", false},
		{"admin.example.com:7070", "", false},
		{":7070", token, true},
		{"192.0.2.1:7070", token, true},
		{"", "", true},
	} {
		c := &Config{Listen: ListenConfig{Admin: tc.addr}, Admin: AdminConfig{TokenSHA256: tc.token}}
		err := c.validateAdmin()
		if (err == nil) != tc.ok {
			t.Errorf("admin %q token %v: %v, want ok=%v", tc.addr, tc.token != "", err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "listen.admin") {
			t.Errorf("admin %q: error %v does not name listen.admin", tc.addr, err)
		}
	}
}

func TestSelector(t *testing.T) {
	labels := map[string]string{"site": "berlin", "app": "camera", "arch": "arm64"}
	for _, tc := range []struct {
		q     string
		match bool
		bad   bool
	}{
		{"", true, false},
		{"site=berlin", true, false},
		{"site=berlin,app=camera", true, false},
		{"site=b*", true, false},
		{"site=paris", false, false},
		{"site=berlin,app=web", false, false},
		{"board=*", false, false},
		{"site", false, true},
		{"=x", false, true},
	} {
		sel, err := parseSelector(tc.q)
		if (err != nil) != tc.bad {
			t.Errorf("%q: error %v, want bad=%v", tc.q, err, tc.bad)
			continue
		}
		if err == nil && sel.matches(labels) != tc.match {
			t.Errorf("%q: match %v, want %v", tc.q, !tc.match, tc.match)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{200: "2xx", 204: "2xx", 301: "3xx", 404: "4xx", 503: "5xx", 0: "error", 99: "error", 600: "error"} {
		if got := statusClass(code); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestRestartKeysAndTokenDiff(t *testing.T) {
	a, b := DefaultConfig(), DefaultConfig()
	b.Listen.Agents = ":8443"
	b.Limits.MaxHandshakes = 10
	b.Limits.StreamTimeout = 1 // reloadable: not listed
	if got := strings.Join(restartKeys(a, b), " "); got != "[listen] limits.max_handshakes" {
		t.Errorf("restartKeys = %q", got)
	}
	old := []TokenConfig{{Name: "a", Secret: "x"}, {Name: "b", Secret: "y"}}
	next := []TokenConfig{{Name: "a", Secret: "x", AllowPorts: []string{"22"}}, {Name: "c", Secret: "z"}}
	if got := strings.Join(diffTokens(old, next), "; "); got != "token a changed; token c added; token b removed" {
		t.Errorf("diffTokens = %q", got)
	}
}
