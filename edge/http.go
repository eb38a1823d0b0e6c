package edge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
)

// front serves public HTTP (on both the http and https ports): it routes
// by Host, applies the route's access rules and proxies to a tunnel or a
// member of a group, per request, over the tunnel's keep-alive streams.
type front struct {
	srv   *Server
	proxy *httputil.ReverseProxy
}

type routeKey struct{}

func newFront(s *Server) *front {
	f := &front{srv: s}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:      f.rewrite,
		Transport:    groupTransport{},
		BufferPool:   proxyBuffers{},
		ErrorHandler: f.proxyError,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return f
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := canonicalHost(r.Host)
	rt := f.srv.hosts.lookup(host)
	if rt == nil || rt.passthrough {
		page(w, http.StatusNotFound, "No tunnel here", "No tunnel serves "+host+" on this edge.")
		return
	}
	acc := f.srv.startRequest(rt.ep, r, host)
	rw := &recordingWriter{ResponseWriter: w}
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		body = &countingBody{ReadCloser: r.Body}
		r.Body = body
	}
	defer acc.finishRequest(rw, body)
	w = rw
	switch {
	case rt.httpsOnly && r.TLS == nil:
		target := "https://" + host + f.srv.httpsPortSuffix() + r.URL.RequestURI()
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
		return
	case !rt.gate.allowAddr(r.RemoteAddr):
		page(w, http.StatusForbidden, "Forbidden", "Your address may not reach "+host+".")
		return
	case !rt.gate.authorized(r):
		w.Header().Set("WWW-Authenticate", `Basic realm="`+host+`", charset="UTF-8"`)
		page(w, http.StatusUnauthorized, "Authentication required", host+" needs a user name and password.")
		return
	}
	ctx := context.WithValue(r.Context(), routeKey{}, rt)
	ctx = context.WithValue(ctx, accessKey{}, acc)
	ctx = context.WithValue(ctx, clientAddrKey{}, strAddr(r.RemoteAddr))
	f.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite keeps the client's Host (unless the tunnel sets host_header),
// sets X-Forwarded-For/-Host/-Proto from what the edge saw (a client's own
// X-Forwarded-* are dropped), and hides basic auth the edge consumed.
func (f *front) rewrite(pr *httputil.ProxyRequest) {
	rt := pr.In.Context().Value(routeKey{}).(*route)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = rt.host
	pr.SetXForwarded()
	if rt.hostHeader != "" {
		pr.Out.Host = rt.hostHeader
	}
	if rt.gate != nil && rt.gate.users != nil {
		pr.Out.Header.Del("Authorization")
	}
}

// groupTransport picks a member per request and sends the request over the
// member's pooled streams. A request that reached no device (no stream,
// local service down) goes to the next member.
type groupTransport struct{}

func (groupTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := req.Context().Value(routeKey{}).(*route)
	out := new(http.Request)
	*out = *req
	var body *trackedBody
	switch {
	case req.Body == nil || req.Body == http.NoBody:
	case req.ContentLength > 0 && req.ContentLength <= maxReplayBody:
		// A small body is read first, so it can be sent again: to another
		// member, or over a fresh stream when a pooled one turns out closed.
		buf := make([]byte, req.ContentLength)
		if _, err := io.ReadFull(req.Body, buf); err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
		out.Body, _ = out.GetBody()
	default:
		body = &trackedBody{rc: req.Body}
		out.Body = body
	}
	var tried []*tunnel
	var lastErr error
	for t := rt.pick(nil); t != nil; t = rt.pick(tried) {
		tried = append(tried, t)
		if out.GetBody != nil && len(tried) > 1 {
			out.Body, _ = out.GetBody()
		}
		resp, err := t.roundTrip(out)
		acc := requestAccess(req.Context())
		if err == nil {
			if acc != nil {
				acc.member, acc.Agent, acc.Tunnel = t, t.sess.id, t.name
			}
			return resp, nil
		}
		var se *streamError
		if !errors.As(err, &se) || (body != nil && body.started) {
			return nil, err
		}
		if acc != nil {
			acc.memberFailed()
		}
		t.sess.log.Warn("http request could not reach the device", "to", rt.what, "tunnel", t.name, "err", err)
		lastErr = err
	}
	return nil, &noMemberError{rt: rt, tried: len(tried), last: lastErr}
}

// maxReplayBody is the largest request body the edge holds in memory so
// that the request can be sent again; larger bodies stream through once.
const maxReplayBody = 64 << 10

// trackedBody tells whether the transport began reading the request body
// (then it must not be sent again), and leaves closing to the server.
type trackedBody struct {
	rc      io.ReadCloser
	mu      sync.Mutex
	started bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.started = true
	b.mu.Unlock()
	return b.rc.Read(p)
}

func (b *trackedBody) Close() error { return nil }

// noMemberError: no tunnel of the route could take the request.
type noMemberError struct {
	rt    *route
	tried int
	last  error
}

func (e *noMemberError) Error() string {
	if e.tried == 0 {
		return "no live member"
	}
	return fmt.Sprintf("no member could take the request (%d tried, last: %v)", e.tried, e.last)
}

func (f *front) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	rt := r.Context().Value(routeKey{}).(*route)
	var nm *noMemberError
	switch {
	case r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	case errors.As(err, &nm) && rt.ep != nil:
		f.srv.log.Warn("http request failed: no member", "to", rt.what, "host", rt.host, "err", err)
		msg := "No device is serving endpoint " + rt.ep.name() + " (" + rt.host + ") right now."
		if nm.tried > 0 {
			msg = fmt.Sprintf("No device of endpoint %s (%s) could take the request: %d tried.", rt.ep.name(), rt.host, nm.tried)
		}
		page(w, http.StatusServiceUnavailable, "Service unavailable", msg)
	case errors.As(err, &nm):
		f.srv.log.Warn("http request failed", "to", rt.what, "host", rt.host, "err", err)
		page(w, http.StatusBadGateway, "Bad gateway", "The device behind "+rt.host+" could not reach its local service.")
	case isTimeout(err):
		f.srv.log.Warn("http request timed out", "to", rt.what, "host", rt.host, "err", err)
		page(w, http.StatusGatewayTimeout, "Gateway timeout", fmt.Sprintf("The service behind %s did not answer within %v.", rt.host, f.srv.limits().HTTPResponseTimeout))
	default:
		f.srv.log.Warn("http request failed", "to", rt.what, "host", rt.host, "err", err)
		page(w, http.StatusBadGateway, "Bad gateway", "The connection to the device behind "+rt.host+" failed.")
	}
}

// page writes a small HTML error page.
func page(w http.ResponseWriter, code int, title, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<!doctype html><title>%d %s</title><h1>%d %s</h1><p>%s</p><hr><p>tether edge</p>\n",
		code, html.EscapeString(title), code, html.EscapeString(title), html.EscapeString(msg))
}

// proxyBuffers lends the proxy 32 KiB copy buffers.
type proxyBuffers struct{}

var proxyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (proxyBuffers) Get() []byte  { return *proxyBufPool.Get().(*[]byte) }
func (proxyBuffers) Put(b []byte) { proxyBufPool.Put(&b) }

// httpsPortSuffix is ":port" for redirects to a non-default https port.
func (s *Server) httpsPortSuffix() string {
	a := s.frontAddr("https")
	if a == nil {
		return ""
	}
	_, port, _ := net.SplitHostPort(a.String())
	if port == "443" {
		return ""
	}
	return ":" + port
}
