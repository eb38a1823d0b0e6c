package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/edge"
)

// Clients that offer h2 on the https port get HTTP/2; the request still
// reaches the device as HTTP/1.1 over the pooled streams.
func TestHTTPSHTTP2(t *testing.T) {
	e, p := webTunnel(t, "h2", whoamiHTTP("h2"))
	c := e.webClient(t, p)
	resp, err := c.Get("https://h2.tether.test/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || field(string(b), "id") != "h2" || field(string(b), "xfproto") != "https" {
		t.Fatalf("got %s %q, want HTTP/2 from the device", resp.Proto, b)
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is required (apt-get install curl)")
	}
	port := e.HTTPSAddr().(*net.TCPAddr).Port
	out, err := exec.Command(curl, "-sS", "--http2", "--max-time", "10", "--cacert", p.CACert, "-o", "/dev/null", "-w", "%{http_version}",
		"--resolve", fmt.Sprintf("h2.tether.test:%d:127.0.0.1", port), fmt.Sprintf("https://h2.tether.test:%d/", port)).CombinedOutput()
	if err != nil || string(out) != "2" {
		t.Errorf("curl --http2: %v %q", err, out)
	}
}

// deviceTLS runs a TLS service with the device's own certificate (from
// its own CA, unknown to the edge) that greets with name.
func deviceTLS(t *testing.T, host, name string) (addr, caFile string) {
	f, err := edge.GenerateCert(t.TempDir(), []string{host})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "%s\n", name)
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String(), f.CACert
}

// TLS passthrough: the edge routes by SNI without terminating; the client
// verifies the device's own certificate. A tls tunnel, and a tls endpoint
// group, on the same https port as terminated HTTPS.
func TestTLSPassthrough(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Endpoints = []edge.EndpointConfig{{Name: "vault", Proto: "tls", Hostname: "vault.tether.test", Labels: map[string]string{"app": "vault"}, DenyCIDRs: []string{"192.0.2.0/24"}}}
	e := startEdge(t, cfg)
	secure, secureCA := deviceTLS(t, "secure.tether.test", "device-secure")
	vault, vaultCA := deviceTLS(t, "vault.tether.test", "device-vault")
	denied, _ := deviceTLS(t, "denied.tether.test", "device-denied")
	ev := startAgent(t, p.agentConfig(e.addr(), "pi",
		agent.TunnelConfig{Name: "secure", Proto: "tls", Addr: secure, Hostname: "secure.tether.test"},
		agent.TunnelConfig{Name: "vault", Proto: "labeled", Addr: vault, Labels: map[string]string{"app": "vault"}},
		agent.TunnelConfig{Name: "denied", Proto: "tls", Addr: denied, Subdomain: "denied", AllowCIDRs: []string{"10.0.0.0/8"}},
		agent.TunnelConfig{Name: "web", Proto: "http", Addr: webService(t, whoamiHTTP("web")), Subdomain: "web"},
	)).up(t)
	if len(ev.Refused) > 0 {
		t.Fatalf("refused: %v", ev.Refused)
	}
	e.waitMembers(t, "vault", 1)
	for _, tc := range []struct{ host, ca, greeting string }{
		{"secure.tether.test", secureCA, "device-secure"},
		{"vault.tether.test", vaultCA, "device-vault"},
	} {
		p := pki{edge.CertFiles{CACert: tc.ca}}
		c, err := tls.Dial("tcp", e.HTTPSAddr().String(), &tls.Config{ServerName: tc.host, RootCAs: p.caPool(t)})
		if err != nil {
			t.Fatalf("%s: handshake with the device's certificate: %v", tc.host, err)
		}
		line, err := readLine(c, 5*time.Second)
		if err != nil || line != tc.greeting {
			t.Fatalf("%s: %q %v", tc.host, line, err)
		}
		fmt.Fprintf(c, "ping\n")
		if line, err := readLine(c, 5*time.Second); err != nil || line != "ping" {
			t.Fatalf("%s: echo %q %v", tc.host, line, err)
		}
		c.Close()
	}
	// openssl verifies the device's certificate too.
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is required (scripts/install-test-tools.sh, or apt-get install openssl)")
	}
	cmd := exec.Command(openssl, "s_client", "-connect", e.HTTPSAddr().String(), "-servername", "secure.tether.test",
		"-CAfile", secureCA, "-verify_return_error", "-verify_hostname", "secure.tether.test")
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verify return code: 0 (ok)") {
		t.Errorf("openssl s_client: %v\n%s", err, out)
	}
	// allow_cidrs on a tls tunnel: loopback is not in 10/8, the edge hangs up.
	c, err := tls.Dial("tcp", e.HTTPSAddr().String(), &tls.Config{ServerName: "denied.tether.test", InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Errorf("tls tunnel with allow_cidrs 10.0.0.0/8 let a loopback client in")
	}
	// The same port still terminates HTTPS for http routes.
	code, body := get(t, e.webClient(t, p), "https://web.tether.test/")
	if code != 200 || field(body, "id") != "web" {
		t.Errorf("https beside passthrough: %d %q", code, body)
	}
}

// An agent reaches the edge through the https port (ALPN tether/1), so a
// device behind a firewall that lets only 443 out still connects.
func TestAgentThroughHTTPSPort(t *testing.T) {
	p := newWebPKI(t)
	e := startEdge(t, p.webEdgeConfig(t))
	ac := p.agentConfig(e.HTTPSAddr().String(), "pi-443",
		agent.TunnelConfig{Name: "web", Proto: "http", Addr: webService(t, whoamiHTTP("via-443")), Subdomain: "w443"})
	ev := startAgent(t, ac).up(t)
	if len(ev.Refused) > 0 {
		t.Fatalf("refused: %v", ev.Refused)
	}
	code, body := get(t, e.webClient(t, p), "https://w443.tether.test/")
	if code != 200 || field(body, "id") != "via-443" {
		t.Fatalf("%d %q", code, body)
	}
	if a := e.Agents(); len(a) != 1 || a[0].Transport != "tcp/https" {
		t.Errorf("agents: %+v, want one over tcp/https", a)
	}
}

// Slow clients on the http and https ports (headers or a ClientHello that
// never finish) are cut off after http_header_timeout, and meanwhile
// others are served.
func TestHTTPSlowClients(t *testing.T) {
	p := newWebPKI(t)
	cfg := p.webEdgeConfig(t)
	cfg.Limits.HTTPHeaderTimeout = 300 * time.Millisecond
	e := startEdge(t, cfg)
	startAgent(t, p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: "web", Proto: "http", Addr: webService(t, whoamiHTTP("web")), Subdomain: "web"})).up(t)
	var slow []net.Conn
	for i := 0; i < 50; i++ {
		for _, addr := range []net.Addr{e.HTTPAddr(), e.HTTPSAddr()} {
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if addr == e.HTTPAddr() {
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: web.tether.test\r\nX-Slow: ")
			} else {
				c.Write([]byte{0x16, 0x03, 0x01}) // the start of a record, no more
			}
			slow = append(slow, c)
		}
	}
	c := e.webClient(t, p)
	for _, url := range []string{"http://web.tether.test/", "https://web.tether.test/"} {
		if code, body := get(t, c, url); code != 200 {
			t.Fatalf("%s while slow clients hang: %d %q", url, code, body)
		}
	}
	for i, s := range slow {
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := bufio.NewReader(s).ReadString(0)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow client %d still connected after 5s (header timeout 300ms)", i)
		}
	}
}
