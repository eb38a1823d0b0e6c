package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/edge"
)

// testDomain is the edge's domain in HTTP tests; the test certificate
// covers it and every name one level under it.
const testDomain = "tether.test"

// newWebPKI is newPKI with a wildcard certificate for *.tether.test.
func newWebPKI(t testing.TB) pki {
	f, err := edge.GenerateCert(t.TempDir(), []string{"localhost", "127.0.0.1", testDomain, "*." + testDomain})
	if err != nil {
		t.Fatal(err)
	}
	return pki{f}
}

// webEdgeConfig is edgeConfig with http and https listeners on loopback.
func (p pki) webEdgeConfig(t testing.TB) *edge.Config {
	cfg := p.edgeConfig(t)
	cfg.Domain = testDomain
	cfg.Listen.HTTP = "127.0.0.1:0"
	cfg.Listen.HTTPS = "127.0.0.1:0"
	cfg.Limits.HTTPResponseTimeout = 5 * time.Second
	return cfg
}

func (p pki) caPool(t testing.TB) *x509.CertPool {
	pem, err := os.ReadFile(p.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

// webClient sends every request to the edge, whatever host the URL names:
// http:// to its http port, https:// to its https port, trusting the test
// CA. Like a browser with DNS pointing at the edge.
func (e *runningEdge) webClient(t testing.TB, p pki) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			to := e.HTTPAddr().String()
			if port == "443" {
				to = e.HTTPSAddr().String()
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", to)
		},
		TLSClientConfig:     &tls.Config{RootCAs: p.caPool(t)},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 200,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get fetches url and returns the status and body.
func get(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// webService runs an HTTP server on 127.0.0.1 for an agent's tunnel.
func webService(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// whoamiHTTP answers with its name and what the request looked like on
// arrival, one "key=value" a line.
func whoamiHTTP(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "id=%s\nhost=%s\npath=%s\nxff=%s\nxfproto=%s\nxfhost=%s\nauth=%s\n",
			name, r.Host, r.URL.Path, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Forwarded-Host"), r.Header.Get("Authorization"))
	})
}

// field picks key's value out of a whoamiHTTP body.
func field(body, key string) string {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	return ""
}
