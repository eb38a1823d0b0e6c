package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// fleet is an edge with one tcp endpoint selecting app=cam and n agents,
// each behind its own fault proxy, each serving whoami with its id.
type fleet struct {
	pki     pki
	edge    *runningEdge
	public  string
	agents  []*runningAgent
	proxies []*faultProxy
	svcs    []*service
}

func startFleet(t *testing.T, n int, balance string) *fleet {
	t.Helper()
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	port := freePort(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "cams", Proto: "tcp", Port: port, Labels: map[string]string{"app": "cam"}, Balance: balance}}
	f := &fleet{pki: p, edge: startEdge(t, cfg), public: fmt.Sprintf("127.0.0.1:%d", port)}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("cam-%d", i)
		svc := serve(t, whoami(id))
		px := newFaultProxy(t, f.edge.addr())
		ac := p.agentConfig(px.addr(), id, agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: svc.addr(), Labels: map[string]string{"app": "cam"}})
		ac.Labels = map[string]string{"site": "lab"}
		a := startAgent(t, ac)
		ev := a.up(t)
		if len(ev.Refused) > 0 {
			t.Fatalf("agent %s: refused binds %v", id, ev.Refused)
		}
		f.agents, f.proxies, f.svcs = append(f.agents, a), append(f.proxies, px), append(f.svcs, svc)
	}
	f.edge.waitMembers(t, "cams", n)
	return f
}

// who opens a connection to the endpoint and returns the greeting.
func (f *fleet) who(t *testing.T) string {
	t.Helper()
	c := dialTunnel(t, f.public)
	defer c.Close()
	name, err := readLine(c, 10*time.Second)
	if err != nil {
		t.Fatalf("connection to %s: %v (got %q)", f.public, err, name)
	}
	return name
}

func (f *fleet) spread(t *testing.T, conns int) map[string]int {
	seen := map[string]int{}
	for i := 0; i < conns; i++ {
		seen[f.who(t)]++
	}
	return seen
}

func TestGroupRoundRobinSpreadsEvenly(t *testing.T) {
	f := startFleet(t, 3, edge.RoundRobin)
	seen := f.spread(t, 30)
	for _, id := range []string{"cam-0", "cam-1", "cam-2"} {
		if seen[id] != 10 {
			t.Fatalf("round-robin over 3 members, 30 connections: %v, want 10 each", seen)
		}
	}
}

func TestGroupBalancePolicies(t *testing.T) {
	for _, balance := range []string{edge.Random, edge.LeastStreams} {
		t.Run(balance, func(t *testing.T) {
			f := startFleet(t, 3, balance)
			if seen := f.spread(t, 60); len(seen) != 3 {
				t.Fatalf("%s over 3 members, 60 connections reached %v, want all three", balance, seen)
			}
		})
	}
}

// least-streams sends new connections away from a member holding open ones.
func TestGroupLeastStreamsAvoidsBusyMember(t *testing.T) {
	f := startFleet(t, 2, edge.LeastStreams)
	// Hold three connections; they spread 2/1 or so. Then every new one
	// must go to whichever member holds fewer.
	var held []string
	for i := 0; i < 3; i++ {
		c := dialTunnel(t, f.public)
		defer c.Close()
		name, err := readLine(c, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, name)
	}
	count := map[string]int{}
	for _, h := range held {
		count[h]++
	}
	if count["cam-0"] == count["cam-1"] || count["cam-0"]+count["cam-1"] != 3 {
		t.Fatalf("three held connections went %v, want an uneven 3-way split", count)
	}
	lighter := "cam-0"
	if count["cam-1"] < count["cam-0"] {
		lighter = "cam-1"
	}
	if got := f.who(t); got != lighter {
		t.Fatalf("new connection went to %s; %s holds fewer streams (%v)", got, lighter, count)
	}
}

// A member whose link is reset: every new connection still succeeds, even
// those made before the edge has noticed.
func TestGroupMemberKilled(t *testing.T) {
	f := startFleet(t, 3, edge.RoundRobin)
	f.agents[1].cancel() // it must not come back
	f.proxies[1].Kill()
	for i := 0; i < 30; i++ {
		if got := f.who(t); got == "cam-1" {
			t.Fatalf("connection %d reached the killed member", i)
		}
	}
	f.edge.waitMembers(t, "cams", 2)
}

// A member whose link goes silent (no reset): connections fail over to the
// others, and the edge drops it once its heartbeat is overdue.
func TestGroupMemberSilent(t *testing.T) {
	f := startFleet(t, 3, edge.RoundRobin)
	f.proxies[2].Blackhole(true)
	f.agents[2].cancel()
	for i := 0; i < 12; i++ {
		if got := f.who(t); got == "cam-2" {
			t.Fatalf("connection %d reached the silent member", i)
		}
	}
	start := time.Now()
	f.edge.waitMembers(t, "cams", 2)
	if d, tol := time.Since(start), f.edge.cfg.Limits.HeartbeatTimeout+500*time.Millisecond; d > tol {
		t.Fatalf("silent member dropped after %v, tolerance %v", d, tol)
	}
}

// A member whose local service is down: the edge tries another member and
// the client never sees an error.
func TestGroupMemberServiceDown(t *testing.T) {
	f := startFleet(t, 3, edge.RoundRobin)
	f.svcs[0].close()
	seen := f.spread(t, 20)
	if seen["cam-0"] != 0 || seen["cam-1"]+seen["cam-2"] != 20 {
		t.Fatalf("with cam-0's service down: %v", seen)
	}
}

// A group with no live member closes connections at once and stays up.
func TestGroupEmpty(t *testing.T) {
	f := startFleet(t, 1, edge.RoundRobin)
	f.agents[0].stop()
	f.edge.waitMembers(t, "cams", 0)
	c := dialTunnel(t, f.public)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from an empty group succeeded")
	}
	c.Close()
	// The edge is still up: a new member makes the endpoint work again.
	svc := serve(t, whoami("cam-9"))
	a := startAgent(t, f.pki.agentConfig(f.edge.addr(), "cam-9", agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: svc.addr(), Labels: map[string]string{"app": "cam"}}))
	a.up(t)
	if got := f.who(t); got != "cam-9" {
		t.Fatalf("after a member joined the empty group: got %q", got)
	}
}
