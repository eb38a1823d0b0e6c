package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// lookTool finds a test tool in PATH or in $(go env GOPATH)/bin, where
// scripts/install-test-tools.sh puts it. Without it the test fails under CI
// and is skipped elsewhere, saying how to install it.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = string(out[:len(out)-1])
		}
	}
	if p := filepath.Join(gopath, "bin", name); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := name + " is not installed: run scripts/install-test-tools.sh"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startPebble runs pebble-challtestsrv (DNS: every name is 127.0.0.1) and
// pebble (a real ACME server) on loopback. Pebble validates challenges
// for real, against the edge's http and https ports. It returns the
// directory URL, the CA file for pebble's own HTTPS, and the PEM of the
// root that signs what pebble issues.
func startPebble(t *testing.T, httpPort, httpsPort int) (dir, apiCA string, root []byte) {
	pebble, chall := lookTool(t, "pebble"), lookTool(t, "pebble-challtestsrv")
	work := t.TempDir()
	api, err := edge.GenerateCert(work, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	dnsPort, mgmtPort, listenPort, pebbleMgmt := freePort(t), freePort(t), freePort(t), freePort(t)
	run := func(name string, args []string, env ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), env...)
		out := &tWriter{t: t}
		t.Cleanup(out.stop)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	run(chall, []string{"-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort), "-management", fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""})
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", listenPort),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", pebbleMgmt),
		"certificate":                    api.Cert,
		"privateKey":                     api.Key,
		"httpPort":                       httpPort,
		"tlsPort":                        httpsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(work, "pebble.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", mgmtPort))
	run(pebble, []string{"-config", "pebble.json", "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort)},
		"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", pebbleMgmt))

	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(api.CACert)
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", pebbleMgmt))
	if err != nil {
		t.Fatalf("pebble root: %v", err)
	}
	root, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return fmt.Sprintf("https://127.0.0.1:%d/dir", listenPort), api.CACert, root
}

// waitTCP waits until something listens on addr.
func waitTCP(t *testing.T, addr string) {
	t.Helper()
	waitFor(t, 15*time.Second, addr+" to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// ACME from pebble: the edge gets certificates for its domain (the agent
// listener; the agent verifies it against pebble's root) and for an http
// tunnel's name (the https port), with pebble validating the challenges
// against the edge itself.
func TestACMEFromPebble(t *testing.T) {
	httpPort, httpsPort := freePort(t), freePort(t)
	dir, apiCA, root := startPebble(t, httpPort, httpsPort)
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Listen.HTTP = fmt.Sprintf("127.0.0.1:%d", httpPort)
	cfg.Listen.HTTPS = fmt.Sprintf("127.0.0.1:%d", httpsPort)
	cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
	cache := t.TempDir()
	cfg.TLS.ACME = &edge.ACMEConfig{Email: "ops@tether.test", Directory: dir, CacheDir: cache, CAFile: apiCA}
	cfg.Limits.HandshakeTimeout = 20 * time.Second
	e := startEdge(t, cfg)

	rootFile := filepath.Join(t.TempDir(), "pebble-root.pem")
	if err := os.WriteFile(rootFile, root, 0o600); err != nil {
		t.Fatal(err)
	}
	ac := p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: "web", Proto: "http", Addr: webService(t, whoamiHTTP("acme")), Subdomain: "acme"})
	ac.CAFile, ac.ServerName = rootFile, testDomain
	ev := startAgent(t, ac).up(t)
	if len(ev.Refused) > 0 {
		t.Fatalf("refused: %v", ev.Refused)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext:     (&net.Dialer{}).DialContext,
	}}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/", httpsPort))
	if err == nil {
		resp.Body.Close()
		t.Errorf("a name the edge does not serve (an IP) got a certificate")
	}
	tr := c.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", httpsPort))
	}
	resp, err = c.Get("https://acme.tether.test/")
	if err != nil {
		t.Fatalf("https with the ACME certificate: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if field(string(b), "id") != "acme" {
		t.Fatalf("got %q", b)
	}
	if names := resp.TLS.PeerCertificates[0].DNSNames; len(names) != 1 || names[0] != "acme.tether.test" {
		t.Errorf("certificate names %v, want [acme.tether.test]", names)
	}
	files, _ := os.ReadDir(cache)
	t.Logf("acme cache: %d files", len(files))
	if len(files) < 3 { // account key + two certificates
		t.Errorf("acme cache_dir has %d files, want the account key and both certificates", len(files))
	}
}
