package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/tetherhq/tether/internal/backoff"
	"github.com/tetherhq/tether/internal/transport"
	"github.com/tetherhq/tether/internal/wire"
)

// Agent keeps a session to the edge for as long as Run runs.
type Agent struct {
	// cfg, id, labels and tls are what a session dials with; Run swaps
	// them between sessions only (reload.go), under mu.
	cfg    *Config
	log    *slog.Logger
	id     string
	labels map[string]string // hardware labels under the operator's
	tls    *tls.Config
	// upgrade is a KCP connection that auto found while on TCP: the next
	// session runs on it. Only Run's goroutine touches it.
	upgrade *transport.Conn

	live // tunnels, the current session and its state, under mu (reload.go)

	// DrainTimeout bounds how long Run waits for open streams after its
	// context ends.
	DrainTimeout time.Duration
	// Backoff paces reconnects; tests may shorten it.
	Backoff backoff.Backoff
	// Dialer reaches the edge over the configured transport; tests may
	// shorten its auto timings before Run.
	Dialer *transport.Dialer
	// goodSession is how long a session must last for the backoff to reset.
	goodSession time.Duration

	// OnSession, when set, is called with every change of the session's
	// state, from the session's goroutine; it must not block.
	OnSession func(SessionEvent)
}

// SessionEvent reports a change of the agent's session.
type SessionEvent struct {
	Up      bool              // every bind has been answered
	Err     error             // why the session ended or failed, when !Up
	Tunnels map[string]string // bound tunnels: name → public address
	Refused map[string]string // refused tunnels: name → the edge's reason
}

// New prepares an agent: it resolves the device id and labels and loads the
// CA. It does not touch the network.
func New(cfg *Config, log *slog.Logger) (*Agent, error) {
	a := &Agent{
		cfg:          cfg,
		DrainTimeout: 5 * time.Second,
		Backoff:      backoff.Backoff{Min: 250 * time.Millisecond, Max: 30 * time.Second},
		goodSession:  30 * time.Second,
	}
	d, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	a.id, a.labels, a.tls = d.id, d.labels, d.tls
	a.log = log.With("agent", a.id)
	a.Dialer = newDialer(cfg, d.tls, a.log)
	a.live.init(cfg)
	return a, nil
}

// newDialer reaches the edge as cfg says.
func newDialer(cfg *Config, tc *tls.Config, log *slog.Logger) *transport.Dialer {
	return &transport.Dialer{Kind: cfg.Transport, Addr: cfg.Edge, TLS: tc, KCP: cfg.KCP, Log: log}
}

// dialing is what a config gives a session to dial with.
type dialing struct {
	id     string
	labels map[string]string
	tls    *tls.Config
}

// prepare resolves the device id and labels and loads the CA.
func prepare(cfg *Config) (dialing, error) {
	var d dialing
	d.id = cfg.ID
	if d.id == "" {
		id, err := StableID("/", cfg.StateDir)
		if err != nil {
			return d, fmt.Errorf("device id: %w (set id or a writable state_dir)", err)
		}
		d.id = id
	}
	d.labels = map[string]string{}
	if cfg.HardwareLabels {
		maps.Copy(d.labels, HardwareLabels("/"))
	}
	maps.Copy(d.labels, cfg.Labels)
	if err := wire.ValidLabels(d.labels); err != nil {
		return d, fmt.Errorf("labels: %w", err)
	}
	tc, err := transport.ClientTLS(cfg.CAFile, cfg.serverName())
	if err != nil {
		return d, err
	}
	d.tls = tc
	return d, nil
}

// ID is the agent's device id.
func (a *Agent) ID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id
}

// Labels returns the agent's labels (hardware, then operator).
func (a *Agent) Labels() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.labels)
}

// Run connects, serves, and reconnects forever with backoff until ctx ends;
// then it unbinds its tunnels, lets open streams finish (up to
// DrainTimeout) and returns nil.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("agent starting", "edge", a.cfg.Edge, "transport", a.cfg.Transport,
		"labels", wire.FormatLabels(a.labels), "tunnels", len(a.cfg.Tunnels))
	defer a.serveStatus(ctx)()
	defer func() {
		a.Dialer.Close()
		if a.upgrade != nil {
			a.upgrade.Close()
		}
	}()
	for {
		a.switchConfig()
		start := time.Now()
		a.setState(stateConnecting, nil)
		err := a.runSession(ctx)
		if ctx.Err() != nil {
			a.log.Info("agent stopped")
			return nil
		}
		if errors.Is(err, errUpgrade) || errors.Is(err, errReconfigured) {
			if errors.Is(err, errUpgrade) {
				a.log.Info("moving the session to KCP")
			} else {
				a.log.Info("reconnecting with the reloaded config")
			}
			a.emit(SessionEvent{Err: err})
			continue
		}
		if time.Since(start) >= a.goodSession {
			a.Backoff.Reset()
		}
		delay := a.Backoff.Next()
		var ref *wire.RefusedError
		switch {
		case errors.As(err, &ref):
			a.log.Error("edge refused the session", "code", ref.Refuse.Code, "reason", ref.Refuse.Reason, "retry_in", delay.Round(time.Millisecond))
		default:
			a.log.Warn("session ended", "err", err, "retry_in", delay.Round(time.Millisecond))
		}
		a.emit(SessionEvent{Err: err})
		a.setState(stateWaiting, err)
		if !a.sleep(ctx, delay) {
			a.log.Info("agent stopped")
			return nil
		}
	}
}

func (a *Agent) emit(ev SessionEvent) {
	if a.OnSession != nil {
		a.OnSession(ev)
	}
}
