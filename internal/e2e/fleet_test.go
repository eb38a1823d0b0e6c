package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tetherhq/tether/edge"
	sim "github.com/tetherhq/tether/internal/fleet"
)

// A fleet of agents (200, or TETHER_FLEET_N) in one process against one
// edge: every agent connects, every one is reachable through its group,
// and every one comes back after the edge restarts.
func TestFleet(t *testing.T) {
	n := 200
	if s := os.Getenv("TETHER_FLEET_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	cfg.Listen.Agents = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.Limits.HeartbeatInterval, cfg.Limits.HeartbeatTimeout = 5*time.Second, 15*time.Second
	port := freePort(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "fleet", Proto: "tcp", Port: port, Labels: map[string]string{"fleet": "sim"}, Balance: edge.RoundRobin}}
	e := startEdge(t, cfg)

	f, err := sim.Start(sim.Config{N: n, Edge: cfg.Listen.Agents, Token: testSecret, CAFile: p.CACert, Server: "localhost",
		Labels: map[string]string{"fleet": "sim"}, BackoffMax: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	if err := f.WaitUp(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d agents connected in %v", n, time.Since(start).Round(time.Millisecond))
	e.waitMembers(t, "fleet", n)

	reachAll := func() {
		t.Helper()
		fl := &fleet{public: fmt.Sprintf("127.0.0.1:%d", port)}
		seen := map[string]bool{}
		for i := 0; i < n; i++ {
			seen[fl.who(t)] = true
		}
		if len(seen) != n {
			t.Fatalf("%d connections through the group reached %d distinct agents, want %d", n, len(seen), n)
		}
	}
	reachAll()

	e.stop()
	if err := f.WaitUp(ctx, 0); err != nil {
		t.Fatalf("after the edge stopped: %v", err)
	}
	start = time.Now()
	e = startEdge(t, cfg)
	if err := f.WaitUp(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d agents back %v after the edge restarted", n, time.Since(start).Round(time.Millisecond))
	e.waitMembers(t, "fleet", n)
	reachAll()
}
