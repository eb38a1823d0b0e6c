package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/tetherhq/tether/internal/wire"
)

// ClientTLS returns the agent's TLS config: TLS 1.3 only, ALPN tether/1, the
// edge verified against caFile's certificates (system roots when empty) under
// serverName.
func ClientTLS(caFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: serverName,
		NextProtos: []string{wire.ALPN},
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates in it", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// ServerTLS returns the edge's TLS config for agent connections. getCert
// picks the certificate (a fixed pair, or ACME).
func ServerTLS(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		NextProtos:     []string{wire.ALPN},
		GetCertificate: getCert,
	}
}

// Client runs the TLS handshake over raw as the agent, bounded by ctx.
// On error raw is closed.
func Client(ctx context.Context, raw net.Conn, cfg *tls.Config) (*Conn, error) {
	c := newConn(raw)
	c.tls = tls.Client(c.cork, cfg)
	if err := c.tls.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake: %w", explainTLS(err))
	}
	if err := c.checkALPN(); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// Server runs the TLS handshake over raw as the edge, bounded by ctx.
// On error raw is closed.
func Server(ctx context.Context, raw net.Conn, cfg *tls.Config) (*Conn, error) {
	c := newConn(raw)
	c.tls = tls.Server(c.cork, cfg)
	if err := c.tls.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	if err := c.checkALPN(); err != nil {
		raw.Close()
		return nil, err
	}
	if k, ok := raw.(*kcpConn); ok {
		k.handshakeDone()
	}
	return c, nil
}

func (c *Conn) checkALPN() error {
	if p := c.tls.ConnectionState().NegotiatedProtocol; p != wire.ALPN {
		return fmt.Errorf("tls handshake: peer does not speak %s (ALPN %q)", wire.ALPN, p)
	}
	return nil
}

// explainTLS turns certificate errors into advice for the operator.
func explainTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (the edge's certificate is not signed by a trusted CA: set ca_file)", err)
	case errors.As(err, &host):
		return fmt.Errorf("%w (set server_name to a name in the edge's certificate)", err)
	case errors.As(err, &verify):
		return err
	}
	return err
}
