package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// loadLoop opens connections to addr one after another, each reading the
// whoami greeting, until stop; it counts them and the ones that failed.
type loadLoop struct {
	ok, failed atomic.Int64
	lastErr    atomic.Value
	stop       chan struct{}
	done       chan struct{}
}

func startLoad(addr string) *loadLoop {
	l := &loadLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for i := 0; i < 100000; i++ { // bounded, whatever happens
			select {
			case <-l.stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err == nil {
				var line string
				line, err = readLine(c, 5*time.Second)
				if err == nil && !strings.HasPrefix(line, "cam-") {
					err = fmt.Errorf("greeting %q", line)
				}
				c.Close()
			}
			if err != nil {
				l.failed.Add(1)
				l.lastErr.Store(err.Error())
				continue
			}
			l.ok.Add(1)
		}
	}()
	return l
}

func (l *loadLoop) finish(t *testing.T) {
	close(l.stop)
	<-l.done
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d of %d connections failed during the reload; last: %v", n, n+l.ok.Load(), l.lastErr.Load())
	}
	t.Logf("%d connections, none failed", l.ok.Load())
}

// A load loop keeps running on one endpoint while a reload adds a second,
// removes a third and changes the first's balance: no connection is lost.
// A broken config is then rejected and the edge keeps serving.
func TestReloadUnderTraffic(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	pa, pb, pc := freePort(t), freePort(t), freePort(t)
	cam := map[string]string{"app": "cam"}
	cfg.Endpoints = []edge.EndpointConfig{
		{Name: "a", Proto: "tcp", Port: pa, Labels: cam},
		{Name: "c", Proto: "tcp", Port: pc, Labels: cam},
	}
	e := startOpsEdge(t, cfg)
	for i := 0; i < 2; i++ {
		id := fmt.Sprintf("cam-%d", i)
		startAgent(t, p.agentConfig(e.addr(), id, agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: serve(t, whoami(id)).addr(), Labels: cam})).up(t)
	}
	e.waitMembers(t, "a", 2)
	e.waitMembers(t, "c", 2)

	load := startLoad(fmt.Sprintf("127.0.0.1:%d", pa))
	waitFor(t, 5*time.Second, "the load loop to run", func() bool { return load.ok.Load() >= 20 })
	cfg = e.config(t)

	cfg.Endpoints = []edge.EndpointConfig{
		{Name: "a", Proto: "tcp", Port: pa, Labels: cam, Balance: edge.LeastStreams},
		{Name: "b", Proto: "tcp", Port: pb, Labels: cam, AccessLog: true},
	}
	writeTOML(t, e.path, cfg)
	var res struct {
		OK      bool
		Changes []string
	}
	e.get(t, "POST", "/api/reload", &res)
	got := strings.Join(res.Changes, "\n")
	for _, want := range []string{"endpoint c removed", "endpoint a changed", "endpoint b added"} {
		if !strings.Contains(got, want) {
			t.Errorf("reload changes %q: no %q", got, want)
		}
	}
	e.waitMembers(t, "b", 2)
	if ms := e.Members("c"); ms != nil {
		t.Fatalf("removed endpoint c still has members %v", ms)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", pc), time.Second); err == nil {
		c.Close()
		t.Fatal("removed endpoint c still accepts connections")
	}
	if line, err := readLine(dialTunnel(t, fmt.Sprintf("127.0.0.1:%d", pb)), 5*time.Second); err != nil || !strings.HasPrefix(line, "cam-") {
		t.Fatalf("new endpoint b: %q %v", line, err)
	}
	before := load.ok.Load()
	waitFor(t, 5*time.Second, "more connections after the reload", func() bool { return load.ok.Load() >= before+20 })

	// A broken config: rejected with its file and line, nothing changes.
	os.WriteFile(e.path, []byte("[[endpoint]]\nname = \"x\"\nproto = \"tcp\"\nport = \"many\"\n"), 0o600)
	code, body := e.call(t, "POST", "/api/reload", adminSecret)
	if code != 400 || !strings.Contains(string(body), "reload rejected, the running config stays") || !strings.Contains(string(body), "edge.toml:4") {
		t.Fatalf("broken reload: %d %s", code, body)
	}
	// A config whose new port is taken: rejected whole.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg.Endpoints = append(cfg.Endpoints, edge.EndpointConfig{Name: "d", Proto: "tcp", Port: busy.Addr().(*net.TCPAddr).Port, Labels: cam})
	cfg.Endpoints[0].Balance = edge.Random
	writeTOML(t, e.path, cfg)
	if code, body := e.call(t, "POST", "/api/reload", adminSecret); code != 400 || !strings.Contains(string(body), `endpoint \"d\"`) {
		t.Fatalf("reload with a busy port: %d %s", code, body)
	}
	var eps []edge.EndpointInfo
	e.get(t, "GET", "/api/endpoints", &eps)
	if len(eps) != 2 || eps[0].Balance != edge.LeastStreams || len(eps[1].Members) != 2 {
		t.Fatalf("after rejected reloads: %+v", eps)
	}
	before = load.ok.Load()
	waitFor(t, 5*time.Second, "the edge to keep serving", func() bool { return load.ok.Load() >= before+20 })
	load.finish(t)
	mf := e.scrape(t)
	if ok, bad := value(mf, "tether_edge_reloads_total", "result", "ok"), value(mf, "tether_edge_reloads_total", "result", "error"); ok != 1 || bad != 2 {
		t.Fatalf("reloads_total ok=%v error=%v, want 1 and 2", ok, bad)
	}
}

// A reload that removes a token closes its sessions; one that narrows a
// token's rules withdraws the tunnels that break them and keeps the rest.
func TestReloadTokens(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	camPort := freePort(t)
	cfg.Tokens = []edge.TokenConfig{
		{Name: "fleet", Secret: testSecret, AllowLabels: []string{"app=*"}},
		{Name: "other", Secret: "other-secret-0123456789"},
	}
	cfg.Endpoints = []edge.EndpointConfig{{Name: "cams", Proto: "tcp", Port: camPort, Labels: map[string]string{"app": "cam"}}}
	e := startOpsEdge(t, cfg)
	a := startAgent(t, p.agentConfig(e.addr(), "cam-1",
		agent.TunnelConfig{Name: "cam", Proto: "labeled", Addr: serve(t, whoami("cam-1")).addr(), Labels: map[string]string{"app": "cam"}},
		agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: serve(t, whoami("ssh")).addr()}))
	ssh := a.up(t).Tunnels["ssh"]
	oc := p.agentConfig(e.addr(), "other-1")
	oc.Token = "other-secret-0123456789"
	other := startAgent(t, oc)
	other.up(t)
	e.waitMembers(t, "cams", 1)

	cfg = e.config(t)
	cfg.Tokens = []edge.TokenConfig{{Name: "fleet", Secret: testSecret, AllowLabels: []string{"app=web"}}}
	writeTOML(t, e.path, cfg)
	var res struct{ Changes []string }
	e.get(t, "POST", "/api/reload", &res)
	got := strings.Join(res.Changes, "\n")
	for _, want := range []string{"token fleet changed", "token other removed", "agent other-1 disconnected: its token was removed", "agent cam-1: tunnel cam withdrawn: label app=cam is not allowed"} {
		if !strings.Contains(got, want) {
			t.Errorf("reload changes %q: no %q", got, want)
		}
	}
	if err := other.down(t, 5*time.Second); err == nil {
		t.Fatal("the removed token's session ended without a reason")
	}
	ev := a.up(t) // the withdrawal, on the same session
	if !strings.Contains(ev.Refused["cam"], "withdrawn by the edge after a config reload") || ev.Tunnels["ssh"] != ssh {
		t.Fatalf("after the reload the agent has %+v", ev)
	}
	e.waitMembers(t, "cams", 0)
	if line, err := readLine(dialTunnel(t, ssh), 5*time.Second); line != "ssh" {
		t.Fatalf("tunnel ssh after the reload: %q %v", line, err)
	}
	if _, ok := e.Agent("other-1"); ok {
		t.Fatal("agent other-1 is connected with a removed token")
	}
}

// An agent reload binds a new tunnel and unbinds a removed one on the live
// session while another tunnel carries a long transfer; a broken config
// is rejected; a label change reconnects.
func TestAgentReload(t *testing.T) {
	p := newPKI(t)
	ecfg := p.edgeConfig(t)
	// 8 MiB under -race on a busy 2-core machine can starve heartbeats for
	// longer than the harness's 1s; this test is not about heartbeats.
	ecfg.Limits.HeartbeatTimeout = 10 * time.Second
	e := startEdge(t, ecfg)
	dir := t.TempDir()
	cfg := p.agentConfig(e.addr(), "pi-1",
		agent.TunnelConfig{Name: "bulk", Proto: "tcp", Addr: serve(t, echo).addr()},
		agent.TunnelConfig{Name: "old", Proto: "tcp", Addr: serve(t, whoami("old")).addr()})
	cfg.StateDir = dir
	path := filepath.Join(dir, "agent.toml")
	writeTOML(t, path, cfg)
	a := startAgent(t, cfg)
	a.ConfigPath = path
	ev := a.up(t)
	oldPublic := ev.Tunnels["old"]

	// The long transfer: 8 MiB through the echo, half before the reload
	// and half after, on one connection.
	c := dialTunnel(t, ev.Tunnels["bulk"])
	payload := make([]byte, 8<<20)
	rand.Read(payload)
	var echoed bytes.Buffer
	var rd sync.WaitGroup
	rd.Add(1)
	go func() { defer rd.Done(); io.Copy(&echoed, c) }()
	if _, err := c.Write(payload[:4<<20]); err != nil {
		t.Fatal(err)
	}

	cfg, err := agent.LoadConfig(path) // a copy: the agent runs on cfg
	if err != nil {
		t.Fatal(err)
	}
	cfg.Tunnels = []agent.TunnelConfig{cfg.Tunnels[0], {Name: "web", Proto: "tcp", Addr: serve(t, whoami("web")).addr()}}
	writeTOML(t, path, cfg)
	if err := a.Reload(""); err != nil {
		t.Fatal(err)
	}
	ev = a.up(t)
	if ev.Tunnels["web"] == "" || ev.Tunnels["old"] != "" {
		t.Fatalf("after the reload: %+v", ev)
	}
	if line, err := readLine(dialTunnel(t, ev.Tunnels["web"]), 5*time.Second); line != "web" {
		t.Fatalf("new tunnel web: %q %v", line, err)
	}
	waitFor(t, 5*time.Second, "the old tunnel's port to close", func() bool {
		c, err := net.DialTimeout("tcp", oldPublic, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})

	// Broken: rejected, nothing changes.
	os.WriteFile(path, []byte("edge = 7\n"), 0o600)
	if err := a.Reload(""); err == nil || !strings.Contains(err.Error(), "agent.toml:1") {
		t.Fatalf("broken reload: %v", err)
	}
	if _, err := c.Write(payload[4<<20:]); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	rd.Wait()
	c.Close()
	if !bytes.Equal(echoed.Bytes(), payload) {
		t.Fatalf("the transfer across the reload came back %d of %d bytes, or changed", echoed.Len(), len(payload))
	}
	select {
	case ev := <-a.events:
		if !ev.Up {
			t.Fatalf("the session went down during the tunnel reload: %v", ev.Err)
		}
	default:
	}

	// A label change needs a new Hello: the agent reconnects at once.
	cfg.Labels = map[string]string{"site": "lab"}
	writeTOML(t, path, cfg)
	if err := a.Reload(""); err != nil {
		t.Fatal(err)
	}
	if err := a.down(t, 5*time.Second); err == nil || !strings.Contains(err.Error(), "reconnecting") {
		t.Fatalf("label change: session ended with %v", err)
	}
	a.up(t)
	if ai, _ := e.Agent("pi-1"); ai.Labels["site"] != "lab" {
		t.Fatalf("after the label change the edge sees %v", ai.Labels)
	}
}
