package e2e

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// Every goroutine the operations code starts has an end: after an edge
// with its admin API, an agent with its status socket, API calls, scrapes,
// reloads and a reconnect have all stopped, none of the project's
// goroutines is left.
func TestOpsLifecycleNoLeaks(t *testing.T) {
	t.Run("run", func(t *testing.T) {
		p := newPKI(t)
		cfg := p.edgeConfig(t)
		port := freePort(t)
		cfg.Endpoints = []edge.EndpointConfig{{Name: "cams", Proto: "tcp", Port: port, Labels: map[string]string{"app": "cam"}, AccessLog: true}}
		e := startOpsEdge(t, cfg)
		ac := p.agentConfig(e.addr(), "cam-1", agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: serve(t, whoami("cam-1")).addr(), Labels: map[string]string{"app": "cam"}})
		a := startAgent(t, ac)
		a.up(t)
		e.waitMembers(t, "cams", 1)
		readLine(dialTunnel(t, fmt.Sprintf("127.0.0.1:%d", port)), 5*time.Second)
		e.scrape(t)
		var v any
		e.get(t, "GET", "/api/agents", &v)
		next := e.config(t)
		next.Endpoints[0].Balance = edge.Random
		next.Endpoints = append(next.Endpoints, edge.EndpointConfig{Name: "more", Proto: "tcp", Port: freePort(t), Labels: map[string]string{"app": "cam"}})
		writeTOML(t, e.path, next)
		e.get(t, "POST", "/api/reload", &v)
		e.get(t, "POST", "/api/agents/cam-1/reconnect", &v)
		a.down(t, 5*time.Second)
		a.up(t)
		var st strings.Builder
		if err := agent.QueryStatus(&st, filepath.Join(ac.StateDir, agent.SocketName)); err != nil || !strings.Contains(st.String(), "session   connected") {
			t.Fatalf("status: %v\n%s", err, st.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for left := leftover(); left != ""; left = leftover() {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left running after everything stopped:\n%s", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leftover returns the stacks of goroutines running project code.
func leftover() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, module+"/edge.") || strings.Contains(g, module+"/agent.") || strings.Contains(g, module+"/internal/relay.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
