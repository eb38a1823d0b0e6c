package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// newTestTLS returns the agent's and the edge's TLS configs for a fresh
// self-signed certificate for "edge.test".
func newTestTLS(t testing.TB) (client, server *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "edge.test"},
		DNSNames:              []string{"edge.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	client, err = ClientTLS("", "edge.test")
	if err != nil {
		t.Fatal(err)
	}
	client.RootCAs = pool
	server = ServerTLS(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })
	return client, server
}

// serveTLS accepts on l, runs the edge's handshake and hands each conn to
// handle on its own goroutine, until l is closed. The returned func waits
// for every goroutine.
func serveTLS(t testing.TB, l net.Listener, cfg *tls.Config, handle func(*Conn)) (wait func()) {
	t.Helper()
	done := make(chan struct{})
	var n int
	finished := make(chan struct{}, 1024)
	go func() {
		defer close(done)
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			n++
			go func() {
				defer func() { finished <- struct{}{} }()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := Server(ctx, raw, cfg)
				cancel()
				if err != nil {
					return
				}
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return func() {
		<-done
		for range n {
			<-finished
		}
	}
}

// dialTLS dials addr over kind and runs the agent's handshake.
func dialTLS(t testing.TB, ctx context.Context, kind, addr string, cfg *tls.Config) *Conn {
	t.Helper()
	raw, err := Dial(ctx, kind, addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Client(ctx, raw, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: still not %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkGoroutines fails the test if goroutines running tether code that
// started during it are still running at its end (kcp-go's shared workers
// live for the process and are not counted). Tests using it must not run
// in parallel.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := ourGoroutines()
	t.Cleanup(func() {
		var now int
		deadline := time.Now().Add(5 * time.Second)
		for {
			now = ourGoroutines()
			if now <= before || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if now > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines leaked: %d before, %d after\n%s", before, now, buf)
		}
	})
}

// ourGoroutines counts goroutines running tether code, other than test
// functions themselves.
func ourGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "tetherhq/tether") && !strings.Contains(g, "testing.tRunner") {
			n++
		}
	}
	return n
}
