package edge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpPool is a tunnel's keep-alive streams: idle HTTP/1.1 connections to
// the device's local service, each a smux stream the agent has already
// connected. A request takes one (or opens a stream), is written and its
// response read on the caller's goroutine, and the stream goes back once
// the response body has been read to its end. One pool per tunnel (a
// stream names its tunnel), so it lives and dies with the agent session.
//
// It does what http.Transport would, minus the two goroutines per
// connection and their hand-offs per request, which cost the edge a third
// of its CPU under load.
type httpPool struct {
	mu     sync.Mutex
	idle   []*poolConn
	closed bool
}

// poolConn is one stream with its buffers.
type poolConn struct {
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	last time.Time // when it went idle
}

const (
	poolIdleTimeout = 90 * time.Second
	poolBufSize     = 16 << 10
)

// streamError is a failure to open a stream or to reach the local service:
// nothing of the request reached the device, so another member may take it.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// errHeaderTimeout: the device did not start its response in time.
type errHeaderTimeout struct{ d time.Duration }

func (e errHeaderTimeout) Error() string {
	return fmt.Sprintf("no response headers from the device within %v", e.d)
}
func (errHeaderTimeout) Timeout() bool { return true }

type clientAddrKey struct{}

// strAddr is a client address known only as text.
type strAddr string

func (a strAddr) Network() string { return "tcp" }
func (a strAddr) String() string  { return string(a) }

// getIdle returns a live idle conn, or nil. A stream the device side has
// closed meanwhile (its service dropped the keep-alive connection) reads
// EOF at once and is discarded; a live one reads nothing.
func (p *httpPool) getIdle() *poolConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		pc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(pc.last) < poolIdleTimeout && pc.alive() {
			return pc
		}
		pc.c.Close()
	}
	return nil
}

func (pc *poolConn) alive() bool {
	if pc.br.Buffered() > 0 {
		return false // bytes nobody asked for: the exchange is out of step
	}
	pc.c.SetReadDeadline(time.Unix(1, 0))
	_, err := pc.br.Peek(1)
	pc.c.SetReadDeadline(time.Time{})
	return isTimeout(err)
}

// put returns pc to the pool, or closes it when the pool is full or
// closed.
func (p *httpPool) put(pc *poolConn, max int) {
	pc.last = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= max {
		p.mu.Unlock()
		pc.c.Close()
		return
	}
	p.idle = append(p.idle, pc)
	p.mu.Unlock()
}

// closeIdle closes the idle streams and keeps no more (the tunnel left
// service).
func (p *httpPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
}

// dial opens a stream to the tunnel's local service; the public client
// that caused it rides in ctx.
func (t *tunnel) dial(ctx context.Context) (*poolConn, error) {
	client, _ := ctx.Value(clientAddrKey{}).(net.Addr)
	if client == nil {
		client = strAddr("edge")
	}
	c, err := t.sess.openStream(t, client)
	if err != nil {
		return nil, &streamError{err}
	}
	return &poolConn{c: c, br: bufio.NewReaderSize(c, poolBufSize), bw: bufio.NewWriterSize(c, poolBufSize)}, nil
}

// roundTrip sends req to the tunnel's device over a pooled stream. A
// stream that turns out dead before any of the response arrived is
// replaced once, when the request can be sent again (no body, or a body
// kept by GetBody) and sending it twice is harmless: it never went out
// whole, or its method is idempotent (net/http's Transport rule).
func (t *tunnel) roundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		pc := t.pool.getIdle()
		reused := pc != nil
		if pc == nil {
			var err error
			if pc, err = t.dial(req.Context()); err != nil {
				return nil, err
			}
		}
		resp, err := t.exchange(pc, req)
		if err == nil {
			return resp, nil
		}
		var fresh *staleConnError
		replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if !reused || attempt > 0 || !errors.As(err, &fresh) || !replayable || (fresh.sent && !idempotent(req)) {
			return nil, err
		}
		if req.GetBody != nil {
			req.Body, _ = req.GetBody()
		}
	}
}

// staleConnError: a reused stream failed before a byte of the response.
// sent: the whole request went out first, so the device may have acted on
// it.
type staleConnError struct {
	err  error
	sent bool
}

func (e *staleConnError) Error() string { return "keep-alive stream closed: " + e.err.Error() }
func (e *staleConnError) Unwrap() error { return e.err }

// exchange writes req on pc and reads the response head. The body is read
// by the caller; pc goes back to the pool at its end. Cancelling req's
// context closes pc, which ends any read or write on it.
func (t *tunnel) exchange(pc *poolConn, req *http.Request) (*http.Response, error) {
	lim := t.sess.srv.limits()
	stop := context.AfterFunc(req.Context(), func() { pc.c.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		pc.c.Close()
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(&staleConnError{err: err})
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(&staleConnError{err: err})
	}
	pc.c.SetReadDeadline(time.Now().Add(lim.HTTPResponseTimeout))
	if _, err := pc.br.Peek(1); err != nil {
		if isTimeout(err) {
			return fail(errHeaderTimeout{lim.HTTPResponseTimeout})
		}
		return fail(&staleConnError{err: err, sent: true})
	}
	var resp *http.Response
	for {
		var err error
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			if isTimeout(err) {
				err = errHeaderTimeout{lim.HTTPResponseTimeout}
			}
			return fail(err)
		}
		// Informational answers (100 Continue, 103 Early Hints) precede the
		// real one; 101 Switching Protocols is the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	pc.c.SetReadDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The stream now belongs to the upgraded protocol: the proxy
		// splices it (bytes already buffered are read first).
		resp.Body = &upgradedConn{Reader: pc.br, Conn: pc.c, stop: stop}
		return resp, nil
	}
	resp.Body = &poolBody{rc: resp.Body, pc: pc, t: t, stop: stop, reuse: !resp.Close && !req.Close}
	return resp, nil
}

// poolBody hands its stream back to the pool when read to the end, or
// closes it when abandoned early.
type poolBody struct {
	rc    io.ReadCloser
	pc    *poolConn
	t     *tunnel
	stop  func() bool
	reuse bool
	once  sync.Once
}

func (b *poolBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.finish(true)
	} else if err != nil {
		b.finish(false)
	}
	return n, err
}

func (b *poolBody) Close() error {
	b.finish(false)
	return nil
}

func (b *poolBody) finish(atEOF bool) {
	b.once.Do(func() {
		live := b.stop() // false: the request was cancelled and pc closed
		if atEOF && live && b.reuse {
			b.t.pool.put(b.pc, b.t.maxIdle())
			return
		}
		b.pc.c.Close()
	})
}

// upgradedConn is the body of a 101 response: reads drain what the
// response parser buffered, then the stream.
type upgradedConn struct {
	io.Reader
	net.Conn
	stop func() bool
	once sync.Once
}

func (u *upgradedConn) Read(p []byte) (int, error) { return u.Reader.Read(p) }

func (u *upgradedConn) Close() error {
	u.once.Do(func() { u.stop() })
	return u.Conn.Close()
}

// maxIdle is how many idle streams a tunnel keeps: half the agent's stream
// budget, so idle HTTP streams never starve its other tunnels.
func (t *tunnel) maxIdle() int {
	return max(t.sess.lim.MaxStreamsPerAgent/2, 1)
}

// idempotent reports whether req may be sent twice: GET, HEAD, OPTIONS,
// TRACE, or a request that carries an Idempotency-Key.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, ok := req.Header["Idempotency-Key"]
	return ok
}
