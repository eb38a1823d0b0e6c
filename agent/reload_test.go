package agent

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestReconnectKeys(t *testing.T) {
	base := func() *Config {
		c := DefaultConfig()
		c.Edge, c.Token, c.ID = "edge.example.com:7443", "secret", "pi-1"
		c.Labels = map[string]string{"site": "berlin"}
		c.Tunnels = []TunnelConfig{{Name: "ssh", Proto: "tcp", Addr: "127.0.0.1:22"}}
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"nothing", func(*Config) {}, ""},
		{"tunnels only", func(c *Config) {
			c.Tunnels = append(c.Tunnels, TunnelConfig{Name: "web", Proto: "tcp", Addr: "127.0.0.1:80"})
		}, ""},
		{"log only", func(c *Config) { c.Log.Level = "debug" }, ""},
		{"edge", func(c *Config) { c.Edge = "other.example.com:7443" }, "edge"},
		{"token", func(c *Config) { c.Token = "new" }, "token"},
		{"transport", func(c *Config) { c.Transport = "kcp" }, "transport"},
		{"ca and name", func(c *Config) { c.CAFile, c.ServerName = "ca.crt", "edge" }, "ca_file server_name"},
		{"labels", func(c *Config) { c.Labels = map[string]string{"site": "paris"} }, "labels"},
		{"hardware labels", func(c *Config) { c.HardwareLabels = false }, "labels"},
		{"state dir", func(c *Config) { c.StateDir = "/tmp/x" }, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := base()
			tc.change(next)
			if got := strings.Join(reconnectKeys(base(), next), " "); got != tc.want {
				t.Fatalf("reconnectKeys = %q, want %q", got, tc.want)
			}
		})
	}
}

// A tunnel-only reload that comes while a reconnect is pending (the agent
// has not redialed yet) is not lost when the pending config goes in force.
func TestReloadDuringPendingReconnect(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Edge, cfg.Token, cfg.ID, cfg.HardwareLabels = "127.0.0.1:7443", "secret", "pi-1", false
	cfg.Tunnels = []TunnelConfig{{Name: "ssh", Proto: "tcp", Addr: "127.0.0.1:22"}}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	relabel := *cfg
	relabel.Labels = map[string]string{"site": "paris"} // reconnects
	if err := a.Apply(&relabel); err != nil {
		t.Fatal(err)
	}
	more := relabel
	more.Tunnels = append(slices.Clone(relabel.Tunnels), TunnelConfig{Name: "web", Proto: "tcp", Addr: "127.0.0.1:80"})
	if err := a.Apply(&more); err != nil {
		t.Fatal(err)
	}
	a.switchConfig()
	var names []string
	for _, tc := range a.tunnelList() {
		names = append(names, tc.Name)
	}
	if got := strings.Join(names, " "); got != "ssh web" || a.Labels()["site"] != "paris" {
		t.Fatalf("after the pending reconnect: tunnels %q, labels %v", got, a.Labels())
	}
}
