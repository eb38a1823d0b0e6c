package edge

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tetherhq/tether/internal/tomlfile"
)

// validateAdmin checks [admin] and listen.admin: without a token the admin
// API may only listen on loopback, where only local users reach it.
func (c *Config) validateAdmin() error {
	if h := c.Admin.TokenSHA256; h != "" && !isSHA256Hex(h) {
		return tomlfile.Field("admin.token_sha256", "want 64 hex digits (sha256sum of the token)")
	}
	if c.Listen.Admin != "" && c.Admin.TokenSHA256 == "" && !loopback(c.Listen.Admin) {
		return tomlfile.Field("listen.admin", "%q is not a loopback address and [admin] token_sha256 is not set: "+
			"anyone who reaches it could control the edge; set token_sha256 (printf %%s TOKEN | sha256sum) or listen on 127.0.0.1", c.Listen.Admin)
	}
	return nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenAdmin opens listen.admin, if set.
func (s *Server) listenAdmin() (net.Listener, error) {
	if s.cfg.Listen.Admin == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", s.cfg.Listen.Admin)
	if err != nil {
		return nil, fmt.Errorf("listen.admin: %w", err)
	}
	return l, nil
}

// serveAdmin serves the admin API on l until closeAdmin.
func (s *Server) serveAdmin(l net.Listener) {
	if l == nil {
		return
	}
	s.admin = &http.Server{
		Handler:           s.adminHandler(),
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	s.mu.Lock()
	s.adminAddr = l.Addr()
	s.mu.Unlock()
	if s.cfg.Admin.TokenSHA256 == "" {
		s.log.Warn("admin API has no token: any local user can use it; set [admin] token_sha256", "admin", l.Addr().String())
	}
	s.adminDone = make(chan struct{})
	go func() {
		defer close(s.adminDone)
		if err := s.admin.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin API stopped", "err", err)
		}
	}()
}

func (s *Server) closeAdmin() {
	if s.admin == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.admin.Shutdown(ctx) != nil {
		s.admin.Close()
	}
	<-s.adminDone
}

// AdminAddr is the admin listener's address once Ready, or nil.
func (s *Server) AdminAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminAddr
}

// adminHandler routes the admin API and /metrics, behind the bearer token.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/agents", s.apiAgents)
	mux.HandleFunc("GET /api/agents/{id}", s.apiAgent)
	mux.HandleFunc("POST /api/agents/{id}/reconnect", s.apiReconnect)
	mux.HandleFunc("GET /api/endpoints", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Endpoints()) })
	mux.HandleFunc("GET /api/tunnels", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Tunnels()) })
	mux.HandleFunc("POST /api/reload", s.apiReload)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such call: %s %s", r.Method, r.URL.Path))
	})
	return s.authorize(mux)
}

// authorize checks "Authorization: Bearer TOKEN" against [admin]
// token_sha256, in constant time. Without a token (loopback only, see
// validateAdmin) every local caller is let in.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := s.cur.Load().Admin.TokenSHA256
		if want != "" {
			wantSum, _ := hex.DecodeString(strings.ToLower(want))
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			gotSum := sha256.Sum256([]byte(strings.TrimSpace(got)))
			if subtle.ConstantTimeCompare(gotSum[:], wantSum) != 1 || !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="tether-edge"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer TOKEN, the token whose sha256 is [admin] token_sha256")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) apiAgents(w http.ResponseWriter, r *http.Request) {
	sel, err := parseSelector(r.URL.Query().Get("labels"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []AgentInfo{}
	for _, a := range s.Agents() {
		if sel.matches(a.Labels) {
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiAgent(w http.ResponseWriter, r *http.Request) {
	a, ok := s.Agent(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no agent %q is connected", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) apiReconnect(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.Reconnect(id) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no agent %q is connected", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "agent": id, "message": "session closed; the agent reconnects at once"})
}

// Reconnect closes an agent's session; the agent redials at once. It
// reports whether the agent was connected.
func (s *Server) Reconnect(id string) bool {
	sess := s.reg.get(id)
	if sess == nil {
		return false
	}
	sess.close(errAdminReconnect)
	return true
}

var errAdminReconnect = errors.New("reconnect asked for by the admin API")

func (s *Server) apiReload(w http.ResponseWriter, r *http.Request) {
	changes, err := s.Reload(s.ConfigPath)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrNotRunning) || errors.Is(err, errNoConfigPath) {
			code = http.StatusConflict
		}
		writeError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "changes": changes})
}

// selector is a ?labels=k=v,k2=v2 filter; values may use * globs.
type selector []labelRule

func parseSelector(s string) (selector, error) {
	var sel selector
	if s == "" {
		return sel, nil
	}
	for _, part := range strings.Split(s, ",") {
		r, err := parseLabelRule(part)
		if err != nil {
			return nil, fmt.Errorf("labels: %v", err)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

func (sel selector) matches(l map[string]string) bool {
	for _, r := range sel {
		v, ok := l[r.key]
		if !ok || !glob(r.value, v) {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
