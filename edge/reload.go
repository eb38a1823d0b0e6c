package edge

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"

	"github.com/tetherhq/tether/internal/wire"
)

// What a reload changes at once: [[token]] (sessions whose token is gone
// are closed, tunnels that now break their token's rules are withdrawn),
// [[endpoint]] (added, changed, removed), [limits] (heartbeat_interval,
// heartbeat_timeout and max_streams_per_agent for sessions that connect
// from then on, since they were agreed in the handshake; the others at
// once), [admin] token_sha256. What needs a restart, and is only logged:
// [listen], [tls], domain, state_dir, [log], limits.max_handshakes.

var (
	// ErrNotRunning is returned by Reload before the edge is Ready or
	// once it is shutting down.
	ErrNotRunning   = errors.New("edge is not running")
	errNoConfigPath = errors.New("the edge was started without a config file to re-read")
	errTokenRemoved = errors.New("its token was removed from the edge config by a reload")
)

// install puts cfg in force at New.
func (s *Server) install(cfg *Config) {
	s.cur.Store(cfg)
	ts := newTokenSet(cfg.Tokens)
	s.tokens.Store(&ts)
	for i := range cfg.Endpoints {
		s.eps.eps = append(s.eps.eps, s.eps.newEndpoint(&cfg.Endpoints[i]))
	}
}

// limits are the [limits] in force.
func (s *Server) limits() *LimitsConfig { return &s.cur.Load().Limits }

// Reload re-reads the config file at path (ConfigPath if empty) and puts
// it in force without dropping sessions that are still allowed. A config
// that does not load, or whose new endpoint ports cannot be opened, is
// rejected whole and the running one stays. It returns what changed, one
// line each; every line is logged too. Reload blocks until done; reloads
// run one at a time.
func (s *Server) Reload(path string) ([]string, error) {
	if path == "" {
		path = s.ConfigPath
	}
	if path == "" {
		return nil, errNoConfigPath
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if !s.running {
		s.log.Warn("reload ignored: the edge is starting or stopping")
		return nil, ErrNotRunning
	}
	changes, err := s.reloadLocked(path)
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		s.log.Error("reload rejected: the running config stays", "err", err)
		return nil, fmt.Errorf("reload rejected, the running config stays: %w", err)
	}
	s.metrics.reloads.WithLabelValues("ok").Inc()
	if len(changes) == 0 {
		changes = []string{}
	}
	s.log.Info("config reloaded", "file", path, "changes", len(changes))
	return changes, nil
}

func (s *Server) reloadLocked(path string) ([]string, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	// The admin API listens where it did at start until a restart: the new
	// [admin] must be safe there, not only at the new listen.admin.
	running := *cfg
	running.Listen.Admin = s.cfg.Listen.Admin
	if err := running.validateAdmin(); err != nil {
		return nil, fmt.Errorf("%w (the admin API listens on %s until the edge restarts)", err, s.cfg.Listen.Admin)
	}
	old := s.cur.Load()
	var changes []string
	note := func(warn bool, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		changes = append(changes, msg)
		if warn {
			s.log.Warn("reload: " + msg)
		} else {
			s.log.Info("reload: " + msg)
		}
	}
	for _, w := range cfg.Warnings() {
		s.log.Warn("reload: " + w)
	}
	for _, key := range restartKeys(old, cfg) {
		note(true, "%s changed: it takes effect after a restart of the edge", key)
	}
	plan, err := s.eps.plan(cfg.Endpoints)
	if err != nil {
		return nil, err
	}
	if err := s.hosts.setEndpoints(endpointRoutes(plan.next, plan.changed)); err != nil {
		plan.abort()
		return nil, err
	}

	// From here on the new config is in force.
	s.cur.Store(cfg)
	tokens := newTokenSet(cfg.Tokens)
	s.tokens.Store(&tokens)
	for _, c := range diffTokens(old.Tokens, cfg.Tokens) {
		note(false, "%s", c)
	}
	if old.Limits != cfg.Limits {
		note(false, "limits changed (heartbeat_interval, heartbeat_timeout and max_streams_per_agent apply to sessions that connect from now on)")
	}
	if old.Admin != cfg.Admin {
		note(false, "admin token changed")
	}
	s.eps.apply(plan)
	for _, e := range plan.removed {
		note(false, "endpoint %s removed", e.cfg.Name)
	}
	for e := range plan.changed {
		note(false, "endpoint %s changed", e.cfg.Name)
	}
	for _, e := range plan.added {
		note(false, "endpoint %s added (%s)", e.cfg.Name, e.describe(s))
	}

	for _, sess := range s.reg.all() {
		tok := tokens[sess.tok.Load().hash]
		if tok == nil {
			sess.close(errTokenRemoved)
			note(true, "agent %s disconnected: its token was removed", sess.id)
			continue
		}
		for _, w := range sess.retoken(tok) {
			note(true, "agent %s: tunnel %s withdrawn: %v", sess.id, w.name, w.err)
		}
	}
	return changes, nil
}

// restartKeys names the keys that changed but only take effect at start.
func restartKeys(a, b *Config) []string {
	var keys []string
	if a.Listen != b.Listen {
		keys = append(keys, "[listen]")
	}
	if a.TLS.CertFile != b.TLS.CertFile || a.TLS.KeyFile != b.TLS.KeyFile || !reflect.DeepEqual(a.TLS.ACME, b.TLS.ACME) {
		keys = append(keys, "[tls]")
	}
	if a.Domain != b.Domain {
		keys = append(keys, "domain")
	}
	if a.StateDir != b.StateDir {
		keys = append(keys, "state_dir")
	}
	if a.Log != b.Log {
		keys = append(keys, "[log]")
	}
	if a.Limits.MaxHandshakes != b.Limits.MaxHandshakes {
		keys = append(keys, "limits.max_handshakes")
	}
	if a.Limits.HTTPHeaderTimeout != b.Limits.HTTPHeaderTimeout {
		keys = append(keys, "limits.http_header_timeout") // the http servers' ReadHeaderTimeout
	}
	return keys
}

// diffTokens describes the tokens added, changed and removed, by name.
func diffTokens(a, b []TokenConfig) []string {
	var out []string
	find := func(ts []TokenConfig, name string) *TokenConfig {
		i := slices.IndexFunc(ts, func(t TokenConfig) bool { return t.Name == name })
		if i < 0 {
			return nil
		}
		return &ts[i]
	}
	for i := range b {
		switch o := find(a, b[i].Name); {
		case o == nil:
			out = append(out, fmt.Sprintf("token %s added", b[i].Name))
		case !reflect.DeepEqual(*o, b[i]):
			out = append(out, fmt.Sprintf("token %s changed", b[i].Name))
		}
	}
	for i := range a {
		if find(b, a[i].Name) == nil {
			out = append(out, fmt.Sprintf("token %s removed", a[i].Name))
		}
	}
	return out
}

// recheckToken runs after a new session is registered: a reload between
// the token lookup and the registration would otherwise miss it.
func (s *Server) recheckToken(sess *session) {
	tok := (*s.tokens.Load())[sess.tok.Load().hash]
	if tok == nil {
		sess.close(errTokenRemoved)
		return
	}
	sess.retoken(tok)
}

type withdrawal struct {
	name string
	err  error
}

// retoken puts tok's rules in force for the session and withdraws the
// tunnels that break them: the edge stops serving them and tells the agent
// with an unasked BindResult. It runs between binds, never during one.
func (s *session) retoken(tok *token) []withdrawal {
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	s.tok.Store(tok)
	var out []withdrawal
	var broken []*tunnel
	s.mu.Lock()
	for name, t := range s.tunnels {
		if err := t.allowedBy(tok, s.srv.tcpRange); err != nil {
			delete(s.tunnels, name)
			broken = append(broken, t)
			out = append(out, withdrawal{name, err})
		}
	}
	s.mu.Unlock()
	for i, t := range broken {
		t.unbind()
		s.log.Warn("tunnel withdrawn: it breaks its token's rules after a reload", "tunnel", t.name, "reason", out[i].err)
		s.send(wire.TypeBindResult, wire.BindResult{Name: t.name, Error: "withdrawn by the edge after a config reload: " + out[i].err.Error()})
	}
	return out
}

// allowedBy checks a bound tunnel against a token's rules again.
func (t *tunnel) allowedBy(tok *token, edgeRange []portRange) error {
	switch t.proto {
	case wire.ProtoTCP:
		return tok.checkPort(t.ln.Addr().(*net.TCPAddr).Port, edgeRange)
	case wire.ProtoLabeled:
		return tok.checkLabels(t.labels)
	case wire.ProtoHTTP, wire.ProtoTLS:
		return tok.checkHost(t.route.host)
	}
	return nil
}
