package edge

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
)

// clientHello is what the https port needs from a TLS ClientHello to route
// the connection before anyone terminates it.
type clientHello struct {
	serverName string
	protos     []string // ALPN
}

var errHelloRead = errors.New("client hello read")

// peekHello reads the ClientHello from c without answering it and returns
// a conn that replays every byte read, then reads on from c. crypto/tls
// parses the hello (its own caps bound what is read: one handshake message
// of at most 64 KiB); the handshake is abandoned in GetConfigForClient and
// whatever it tries to write is dropped. The caller bounds the read with a
// deadline on c.
func peekHello(c net.Conn) (clientHello, net.Conn, error) {
	rc := &recordConn{Conn: c}
	var h clientHello
	got := false
	err := tls.Server(rc, &tls.Config{
		GetConfigForClient: func(info *tls.ClientHelloInfo) (*tls.Config, error) {
			h = clientHello{serverName: info.ServerName, protos: info.SupportedProtos}
			got = true
			return nil, errHelloRead
		},
	}).Handshake()
	if !got {
		return clientHello{}, nil, fmt.Errorf("read tls client hello: %w", err)
	}
	return h, &prefixConn{Conn: c, r: io.MultiReader(&rc.buf, c)}, nil
}

// recordConn keeps every byte read and swallows writes.
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

func (r *recordConn) Write(p []byte) (int, error) { return len(p), nil }

// prefixConn reads what was peeked, then the conn.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// CloseWrite half-closes the underlying conn, so splicing passes EOF on.
func (p *prefixConn) CloseWrite() error {
	if hc, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return p.Conn.Close()
}
