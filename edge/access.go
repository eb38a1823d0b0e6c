package edge

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// access is one public connection, or one HTTP request, as the metrics and
// the access log see it. serveConn fills the tcp part. An HTTP endpoint
// fills Method, Host, Path and Status as well (Status 503 when no member
// could take the request) and calls finish once per request: requests are
// then counted in tether_edge_requests_total by status class instead of
// tether_edge_connections_total.
type access struct {
	ep    *endpoint // nil: a tunnel's own port
	m     *metrics
	stats *routeStats
	start time.Time

	Client        string
	Agent, Tunnel string // the member that served it; empty if none did
	outcome       string // tcp: outcomeOK, outcomeNoMember, outcomeFailed
	In, Out       int64  // bytes from the client to the device, and back

	Method, Host, Path string
	Status             int     // 0: not an HTTP request
	member             *tunnel // http: the member that answered
}

// startAccess begins the record of a connection (or request) from c on
// ep, nil for a tunnel's own port.
func (srv *Server) startAccess(ep *endpoint, c net.Conn) access {
	a := access{ep: ep, m: srv.metrics, start: time.Now(), Client: c.RemoteAddr().String()}
	if ep != nil {
		a.stats = ep.stats
	} else {
		a.stats = srv.metrics.route("")
	}
	return a
}

// memberFailed counts a member that could not take the connection.
func (a *access) memberFailed() { a.stats.memberErrors.Inc() }

// served records the member that took the connection and what it relayed.
func (a *access) served(t *tunnel, in, out int64) {
	t.count(in, out)
	a.Agent, a.Tunnel, a.In, a.Out, a.outcome = t.sess.id, t.name, in, out, outcomeOK
}

// count adds a finished connection's bytes to the tunnel and its session.
func (t *tunnel) count(in, out int64) {
	t.in.Add(in)
	t.out.Add(out)
	t.sess.in.Add(in)
	t.sess.out.Add(out)
}

// finish updates the metrics and writes the access log line, if the
// endpoint asks for one.
func (a *access) finish() {
	if a.Status != 0 {
		name := ""
		if a.ep != nil {
			name = a.ep.name()
		}
		a.m.requests.WithLabelValues(name, statusClass(a.Status)).Inc()
	} else {
		switch a.outcome {
		case outcomeOK:
			a.stats.ok.Inc()
		case outcomeFailed:
			a.stats.failed.Inc()
		default:
			a.stats.noMember.Inc()
		}
	}
	if a.In > 0 {
		a.stats.in.Add(float64(a.In))
	}
	if a.Out > 0 {
		a.stats.out.Add(float64(a.Out))
	}
	if a.ep == nil || !a.ep.accessLog() {
		return
	}
	attrs := []slog.Attr{slog.String("client", a.Client)}
	if a.Status != 0 {
		attrs = append(attrs, slog.String("method", a.Method), slog.String("host", a.Host), slog.String("path", a.Path), slog.Int("status", a.Status))
	} else {
		attrs = append(attrs, slog.String("outcome", a.outcome))
	}
	attrs = append(attrs, slog.String("agent", a.Agent), slog.String("tunnel", a.Tunnel),
		slog.Int64("bytes_in", a.In), slog.Int64("bytes_out", a.Out), slog.Duration("duration", time.Since(a.start)))
	a.ep.log.LogAttrs(context.Background(), slog.LevelInfo, "access", attrs...)
}

func (e *endpoint) accessLog() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cfg.AccessLog
}

func (e *endpoint) name() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.cfg.Name
}

// startRequest begins the record of one HTTP request on ep (nil for an
// http tunnel's own host name).
func (srv *Server) startRequest(ep *endpoint, r *http.Request, host string) *access {
	a := &access{ep: ep, m: srv.metrics, start: time.Now(), Client: r.RemoteAddr,
		Method: r.Method, Host: host, Path: r.URL.Path}
	if ep != nil {
		a.stats = ep.stats
	} else {
		a.stats = srv.metrics.route("")
	}
	return a
}

// finishRequest completes an HTTP request's record from what w saw.
func (a *access) finishRequest(w *recordingWriter, body *countingBody) {
	a.Status, a.Out = w.status, w.n
	if a.Status == 0 {
		a.Status = http.StatusOK // the handler wrote nothing
	}
	if body != nil {
		a.In = body.n.Load()
	}
	if a.member != nil {
		a.member.count(a.In, a.Out)
	}
	a.finish()
}

type accessKey struct{}

// requestAccess is the record of the request ctx belongs to, or nil.
func requestAccess(ctx context.Context) *access {
	a, _ := ctx.Value(accessKey{}).(*access)
	return a
}

// recordingWriter notes the status and body bytes of a response. Unwrap
// keeps Flush and Hijack (WebSocket) working through
// http.ResponseController.
type recordingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read from the client.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
