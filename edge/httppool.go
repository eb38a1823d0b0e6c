package edge

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpPool is a tunnel's keep-alive streams: an http.Transport whose
// connections are smux streams to the tunnel's agent, each already
// connected to the device's local service. One pool per tunnel (a stream
// names its tunnel), so it lives and dies with the agent session.
type httpPool struct {
	mu sync.Mutex
	tr *http.Transport
}

// get returns the pool's transport, creating it on first use.
func (p *httpPool) get(t *tunnel) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tr == nil {
		lim := t.sess.srv.cfg.Limits
		idle := max(lim.MaxStreamsPerAgent/2, 1)
		p.tr = &http.Transport{
			DialContext:           t.dialStream,
			MaxIdleConns:          idle,
			MaxIdleConnsPerHost:   idle,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: lim.HTTPResponseTimeout,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true,
			WriteBufferSize:       32 << 10,
			ReadBufferSize:        32 << 10,
		}
	}
	return p.tr
}

// closeIdle closes the idle streams (the tunnel left service).
func (p *httpPool) closeIdle() {
	p.mu.Lock()
	tr := p.tr
	p.mu.Unlock()
	if tr != nil {
		tr.CloseIdleConnections()
	}
}

// streamError is a failure to open a stream or to reach the local service:
// nothing of the request reached the device, so another member may take it.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

type clientAddrKey struct{}

// dialStream opens a stream to the tunnel's local service; the public
// client that caused the dial rides in ctx.
func (t *tunnel) dialStream(ctx context.Context, _, _ string) (net.Conn, error) {
	client, _ := ctx.Value(clientAddrKey{}).(net.Addr)
	if client == nil {
		client = strAddr("edge")
	}
	c, err := t.sess.openStream(t, client)
	if err != nil {
		return nil, &streamError{err}
	}
	return c, nil
}

// strAddr is a client address known only as text.
type strAddr string

func (a strAddr) Network() string { return "tcp" }
func (a strAddr) String() string  { return string(a) }
