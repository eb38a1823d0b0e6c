package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// setupCerts loads cert_file/key_file, or prepares ACME. The same source
// serves the agent listener and the https port.
func (s *Server) setupCerts() error {
	a := s.cfg.TLS.ACME
	if a == nil {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("tls.cert_file/key_file: %w", err)
		}
		s.getCert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		return nil
	}
	dir := a.CacheDir
	if dir == "" {
		dir = filepath.Join(s.cfg.StateDir, "acme")
	}
	client := &acme.Client{DirectoryURL: a.Directory}
	if client.DirectoryURL == "" {
		client.DirectoryURL = autocert.DefaultACMEDirectory
	}
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return fmt.Errorf("tls.acme.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls.acme.ca_file %s: no PEM certificates in it", a.CAFile)
		}
		client.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: pool},
		}}
	}
	s.acme = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Email:      a.Email,
		Cache:      autocert.DirCache(dir),
		HostPolicy: s.acmeHostPolicy,
		Client:     client,
	}
	s.getCert = s.acme.GetCertificate
	return nil
}

// acmeHostPolicy lets ACME issue certificates only for names this edge
// serves: its domain and the http/https routes (never tls passthrough
// names: those devices hold their own certificates).
func (s *Server) acmeHostPolicy(_ context.Context, host string) error {
	host = canonicalHost(host)
	if d := canonicalHost(s.cfg.Domain); d != "" && host == d {
		return nil
	}
	if r := s.hosts.lookup(host); r != nil && !r.passthrough {
		return nil
	}
	return fmt.Errorf("acme: %s is not served by this edge", host)
}
