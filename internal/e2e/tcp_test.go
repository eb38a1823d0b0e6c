package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
)

// A device's web server reached with curl through a tcp tunnel whose port
// the edge picked.
func TestTCPTunnelCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is required (apt-get install curl)")
	}
	p := newPKI(t)
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the device, path %s\n", r.URL.Path)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go web.Serve(ln)
	t.Cleanup(func() { web.Close() })

	e := startEdge(t, p.edgeConfig(t))
	a := startAgent(t, p.agentConfig(e.addr(), "pi-1", agent.TunnelConfig{Name: "web", Proto: "tcp", Addr: ln.Addr().String()}))
	ev := a.up(t)
	public := ev.Tunnels["web"]
	if public == "" {
		t.Fatalf("no public address for tunnel web: %+v", ev)
	}
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "http://"+public+"/status").CombinedOutput()
	if err != nil {
		t.Fatalf("curl http://%s/status: %v\n%s", public, err, out)
	}
	if want := "hello from the device, path /status\n"; string(out) != want {
		t.Fatalf("curl got %q, want %q", out, want)
	}
}

// Large transfers in both directions at once arrive intact.
func TestTCPTunnelBulkBothWays(t *testing.T) {
	p := newPKI(t)
	svc := serve(t, echo)
	e := startEdge(t, p.edgeConfig(t))
	a := startAgent(t, p.agentConfig(e.addr(), "pi-1", agent.TunnelConfig{Name: "echo", Proto: "tcp", Addr: svc.addr()}))
	public := a.up(t).Tunnels["echo"]

	const size = 24 << 20
	for i := 0; i < 2; i++ { // twice: the second reuses the session's pooled buffers
		c := dialTunnel(t, public)
		sent, got := sha256.New(), sha256.New()
		var wg sync.WaitGroup
		wg.Add(1)
		var werr error
		go func() {
			defer wg.Done()
			_, werr = io.CopyN(io.MultiWriter(c, sent), rand.Reader, size)
			c.(*net.TCPConn).CloseWrite()
		}()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		n, err := io.Copy(got, c)
		wg.Wait()
		c.Close()
		if werr != nil || err != nil {
			t.Fatalf("transfer %d: write err %v, read err %v", i, werr, err)
		}
		if n != size {
			t.Fatalf("transfer %d: echoed %d bytes, sent %d", i, n, size)
		}
		if string(sent.Sum(nil)) != string(got.Sum(nil)) {
			t.Fatalf("transfer %d: checksum mismatch", i)
		}
	}
}

// A requested remote_port is honoured; the edge reports it.
func TestTCPTunnelRemotePort(t *testing.T) {
	p := newPKI(t)
	cfg := p.edgeConfig(t)
	var lo, hi int
	fmt.Sscanf(cfg.Listen.TCPPorts, "%d-%d", &lo, &hi)
	want := lo + 7
	e := startEdge(t, cfg)
	svc := serve(t, whoami("pi-1"))
	a := startAgent(t, p.agentConfig(e.addr(), "pi-1", agent.TunnelConfig{Name: "ssh", Proto: "tcp", Addr: svc.addr(), RemotePort: want}))
	public := a.up(t).Tunnels["ssh"]
	if !strings.HasSuffix(public, fmt.Sprintf(":%d", want)) {
		t.Fatalf("public address %q, want port %d", public, want)
	}
	c := dialTunnel(t, public)
	defer c.Close()
	if got, err := readLine(c, 5*time.Second); err != nil || got != "pi-1" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// When the local service is down the public connection is closed at once,
// and the agent logs why; when it comes back the tunnel works.
func TestTCPTunnelLocalServiceDown(t *testing.T) {
	p := newPKI(t)
	port := freePort(t)
	e := startEdge(t, p.edgeConfig(t))
	a := startAgent(t, p.agentConfig(e.addr(), "pi-1", agent.TunnelConfig{Name: "svc", Proto: "tcp", Addr: fmt.Sprintf("127.0.0.1:%d", port)}))
	public := a.up(t).Tunnels["svc"]
	c := dialTunnel(t, public)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("read from a tunnel whose service is down: n=%d err=%v, want EOF", n, err)
	}
	c.Close()

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", port, err)
	}
	ln.Close()
	svc := serveAt(t, fmt.Sprintf("127.0.0.1:%d", port), whoami("back"))
	_ = svc
	c = dialTunnel(t, public)
	defer c.Close()
	if got, err := readLine(c, 5*time.Second); err != nil || got != "back" {
		t.Fatalf("got %q, %v", got, err)
	}
}
