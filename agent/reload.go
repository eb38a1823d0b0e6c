package agent

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/tetherhq/tether/internal/wire"
)

// live is the agent's state that changes while it runs: the tunnels in
// force, the session that serves them, what status reports. mu guards it
// and the dialing fields of Agent; reloadMu orders a reload's binds with a
// new session's.
type live struct {
	mu       sync.Mutex
	reloadMu sync.Mutex
	tunnels  []TunnelConfig
	cur      *session
	next     *pendingConfig // applied by Run before the next dial
	wake     chan struct{}  // cuts a backoff sleep short when next is set

	state     string
	stateErr  error
	stateTime time.Time
	// ConfigPath is the file Reload reads when given none.
	ConfigPath string
}

type pendingConfig struct {
	cfg *Config
	d   dialing
}

func (l *live) init(cfg *Config) {
	l.tunnels = slices.Clone(cfg.Tunnels)
	l.wake = make(chan struct{}, 1)
	l.state, l.stateTime = stateConnecting, time.Now()
}

// Session states, as status shows them.
const (
	stateConnecting = "connecting"
	stateConnected  = "connected"
	stateWaiting    = "waiting to reconnect"
)

// errReconfigured ends a session whose edge, token, transport, CA or
// identity a reload changed; Run redials at once.
var errReconfigured = errors.New("config reloaded: reconnecting")

func (a *Agent) setState(state string, err error) {
	a.mu.Lock()
	a.state, a.stateErr, a.stateTime = state, err, time.Now()
	a.mu.Unlock()
}

func (a *Agent) tunnelList() []TunnelConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tunnels
}

// attach makes s the current session and returns the tunnels to bind; a
// reload waits until release is called, once the binds are sent. A reload
// that asked for a reconnect while s was dialing kicks s at once.
func (a *Agent) attach(s *session) (tunnels []TunnelConfig, release func()) {
	a.reloadMu.Lock()
	a.mu.Lock()
	if a.next != nil {
		s.kick()
	}
	a.cur = s
	a.state, a.stateErr, a.stateTime = stateConnected, nil, time.Now()
	tunnels = a.tunnels
	a.mu.Unlock()
	return tunnels, a.reloadMu.Unlock
}

func (a *Agent) detach(s *session) {
	a.mu.Lock()
	if a.cur == s {
		a.cur = nil
	}
	a.mu.Unlock()
}

// bind asks the edge for tunnels, in one write.
func (s *session) bind(tunnels []TunnelConfig) error {
	var msg []byte
	for _, t := range tunnels {
		var err error
		if msg, err = wire.AppendFrame(msg, wire.TypeBind, s.a.bindFor(t)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	for _, t := range tunnels {
		s.pending[t.Name] = true
	}
	s.mu.Unlock()
	return s.writeControl(msg)
}

// unbind tells the edge to stop serving tunnels.
func (s *session) unbind(names []string) error {
	var msg []byte
	s.mu.Lock()
	for _, n := range names {
		msg, _ = wire.AppendFrame(msg, wire.TypeUnbind, wire.Unbind{Name: n})
		delete(s.public, n)
		delete(s.refused, n)
		delete(s.pending, n)
	}
	s.mu.Unlock()
	return s.writeControl(msg)
}

// bindResult records the edge's answer to a bind. An answer nobody asked
// for is the edge withdrawing a tunnel (its token's rules changed) or
// telling where it serves it now.
func (s *session) bindResult(r wire.BindResult) {
	log := s.a.log
	s.mu.Lock()
	asked := s.pending[r.Name]
	delete(s.pending, r.Name)
	if r.OK {
		s.public[r.Name] = r.Public
		delete(s.refused, r.Name)
	} else {
		s.refused[r.Name] = r.Error
		delete(s.public, r.Name)
	}
	done := len(s.pending) == 0
	ev := SessionEvent{Up: true, Tunnels: maps.Clone(s.public), Refused: maps.Clone(s.refused)}
	s.mu.Unlock()
	switch {
	case r.OK && asked:
		log.Info("tunnel bound", "tunnel", r.Name, "public", r.Public)
	case r.OK:
		log.Info("tunnel updated by edge", "tunnel", r.Name, "public", r.Public)
	case asked:
		log.Error("tunnel refused by edge", "tunnel", r.Name, "reason", r.Error)
	default:
		log.Error("tunnel withdrawn by edge", "tunnel", r.Name, "reason", r.Error)
	}
	if done {
		s.a.emit(ev)
	}
}

// kick ends the session for a reconnect.
func (s *session) kick() { s.kickOnce.Do(func() { close(s.kicked) }) }

// Reload re-reads the config file at path (ConfigPath if empty). Added,
// removed and changed tunnels are bound and unbound on the live session;
// a change to the edge, token, transport, CA, server name, id, labels or
// state_dir makes the agent reconnect at once with the new config. A config
// that does not load is rejected and the running one stays. Reload blocks
// until the changes are sent, not until the edge answers.
func (a *Agent) Reload(path string) error {
	if path == "" {
		path = a.ConfigPath
	}
	cfg, err := LoadConfig(path)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		a.log.Error("reload rejected: the running config stays", "err", err)
		return err
	}
	return a.Apply(cfg)
}

// Apply puts a validated config in force, as Reload does.
func (a *Agent) Apply(cfg *Config) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.mu.Lock()
	base := a.cfg
	if a.next != nil {
		base = a.next.cfg
	}
	old := a.tunnels
	a.mu.Unlock()

	if base.Log != cfg.Log {
		a.log.Warn("reload: [log] changed: it takes effect after a restart of the agent")
	}
	if a.ConfigPath != "" && base.StateDir != cfg.StateDir {
		a.log.Warn("reload: state_dir changed: the status socket stays where it is until a restart")
	}
	if keys := reconnectKeys(base, cfg); len(keys) > 0 {
		d, err := prepare(cfg)
		if err != nil {
			a.log.Error("reload rejected: the running config stays", "err", err)
			return err
		}
		a.mu.Lock()
		a.next = &pendingConfig{cfg: cfg, d: d}
		cur := a.cur
		a.mu.Unlock()
		a.log.Info("reload: reconnecting to apply the new config", "changed", keys)
		if cur != nil {
			cur.kick()
		}
		select {
		case a.wake <- struct{}{}:
		default:
		}
		return nil
	}

	var added, removed []TunnelConfig
	var changed []string
	for _, t := range cfg.Tunnels {
		i := slices.IndexFunc(old, func(o TunnelConfig) bool { return o.Name == t.Name })
		switch {
		case i < 0:
			added = append(added, t)
		case reflect.DeepEqual(a.bindFor(old[i]), a.bindFor(t)):
			if old[i].Addr != t.Addr {
				changed = append(changed, t.Name) // only the local address: nothing to tell the edge
			}
		default:
			removed = append(removed, old[i])
			added = append(added, t)
			changed = append(changed, t.Name)
		}
	}
	for _, o := range old {
		if !slices.ContainsFunc(cfg.Tunnels, func(t TunnelConfig) bool { return t.Name == o.Name }) {
			removed = append(removed, o)
		}
	}
	a.mu.Lock()
	a.tunnels = slices.Clone(cfg.Tunnels)
	if a.next != nil {
		// A reconnect is pending: it dials with this config now (the keys
		// it was prepared for are the same), so switchConfig keeps these
		// tunnels instead of the pending config's.
		a.next.cfg = cfg
	}
	cur := a.cur
	a.mu.Unlock()
	for _, t := range removed {
		if !slices.Contains(changed, t.Name) {
			a.log.Info("reload: tunnel removed", "tunnel", t.Name)
		}
	}
	for _, n := range changed {
		a.log.Info("reload: tunnel changed", "tunnel", n)
	}
	for _, t := range added {
		if !slices.Contains(changed, t.Name) {
			a.log.Info("reload: tunnel added", "tunnel", t.Name)
		}
	}
	if len(added)+len(removed)+len(changed) == 0 {
		a.log.Info("reload: no change")
	}
	if cur == nil {
		return nil // the next session binds the new list
	}
	names := make([]string, len(removed))
	for i, t := range removed {
		names[i] = t.Name
	}
	if err := cur.unbind(names); err != nil {
		return err // the session is failing; the next one binds the new list
	}
	if len(added) == 0 {
		cur.mu.Lock()
		ev := SessionEvent{Up: true, Tunnels: maps.Clone(cur.public), Refused: maps.Clone(cur.refused)}
		done := len(cur.pending) == 0
		cur.mu.Unlock()
		if done {
			a.emit(ev)
		}
		return nil
	}
	return cur.bind(added)
}

// reconnectKeys names what changed that the session was dialed with.
func reconnectKeys(a, b *Config) []string {
	var keys []string
	for _, k := range []struct {
		name string
		same bool
	}{
		{"edge", a.Edge == b.Edge},
		{"token", a.Token == b.Token && a.TokenFile == b.TokenFile},
		{"transport", a.Transport == b.Transport},
		{"ca_file", a.CAFile == b.CAFile},
		{"server_name", a.ServerName == b.ServerName},
		{"id", a.ID == b.ID && a.StateDir == b.StateDir},
		{"labels", maps.Equal(a.Labels, b.Labels) && a.HardwareLabels == b.HardwareLabels},
	} {
		if !k.same {
			keys = append(keys, k.name)
		}
	}
	// Keys added later (a [kcp] table, say) reconnect too.
	x, y := *a, *b
	y.Tunnels, y.Log = x.Tunnels, x.Log
	if len(keys) == 0 && !reflect.DeepEqual(x, y) {
		keys = append(keys, "other")
	}
	return keys
}

// switchConfig puts a reloaded config in force between sessions.
func (a *Agent) switchConfig() {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.next
	if n == nil {
		return
	}
	a.next = nil
	a.cfg = n.cfg
	a.id, a.labels, a.tls = n.d.id, n.d.labels, n.d.tls
	// A new dialer for the new edge, transport or [kcp]; a KCP
	// connection the old one found belongs to the old settings.
	old := a.Dialer
	a.Dialer = newDialer(n.cfg, n.d.tls, a.log)
	a.Dialer.ProbeTimeout, a.Dialer.ReprobeMin, a.Dialer.ReprobeMax, a.Dialer.FlapAfter =
		old.ProbeTimeout, old.ReprobeMin, old.ReprobeMax, old.FlapAfter
	old.Close()
	if a.upgrade != nil {
		a.upgrade.Close()
		a.upgrade = nil
	}
	a.tunnels = slices.Clone(n.cfg.Tunnels)
	a.Backoff.Reset()
}

// sleep waits d, or less when a reload asks to reconnect; it reports false
// when ctx ends.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.wake:
		return true
	case <-ctx.Done():
		return false
	}
}
