// Package fleet runs many real agents in one process against an edge, for
// scale tests and the fleet benchmark. Each agent has its own id, TLS
// session and labeled tunnel, and its own local service that answers with
// the agent's id, so a test can tell which member served a connection.
package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherhq/tether/agent"
)

// Config describes a fleet.
type Config struct {
	N        int
	Edge     string // the edge's agent listener
	Token    string
	CAFile   string
	Server   string            // server_name
	IDPrefix string            // ids are IDPrefix-0 … IDPrefix-(N-1)
	Labels   map[string]string // the labeled tunnel's labels
	// BackoffMax caps reconnect delays (default: the agent's own).
	BackoffMax time.Duration
	Log        *slog.Logger // nil: discard
}

// Fleet is a running set of agents.
type Fleet struct {
	cfg    Config
	agents []*agent.Agent
	up     []atomic.Bool
	nUp    atomic.Int64
	lns    []net.Listener
	wg     sync.WaitGroup
	cancel context.CancelFunc

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever nUp changes
}

// Start launches the fleet; agents connect in the background. Stop ends it.
func Start(cfg Config) (*Fleet, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "sim"
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fleet{cfg: cfg, up: make([]atomic.Bool, cfg.N), cancel: cancel, changed: make(chan struct{})}
	for i := 0; i < cfg.N; i++ {
		id := fmt.Sprintf("%s-%d", cfg.IDPrefix, i)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Stop()
			return nil, fmt.Errorf("agent %d: local service: %w", i, err)
		}
		f.lns = append(f.lns, ln)
		f.wg.Add(1)
		go func() { defer f.wg.Done(); greet(ln, id) }()

		ac := agent.DefaultConfig()
		ac.Edge, ac.Token, ac.CAFile, ac.ServerName, ac.ID = cfg.Edge, cfg.Token, cfg.CAFile, cfg.Server, id
		ac.HardwareLabels = false
		ac.Tunnels = []agent.TunnelConfig{{Name: "sim", Proto: "labeled", Addr: ln.Addr().String(), Labels: cfg.Labels}}
		if err := ac.Validate(); err != nil {
			f.Stop()
			return nil, err
		}
		a, err := agent.New(ac, cfg.Log)
		if err != nil {
			f.Stop()
			return nil, err
		}
		if cfg.BackoffMax > 0 {
			a.Backoff.Max = cfg.BackoffMax
		}
		i := i
		a.OnSession = func(ev agent.SessionEvent) { f.set(i, ev.Up && len(ev.Refused) == 0) }
		f.agents = append(f.agents, a)
		f.wg.Add(1)
		go func() { defer f.wg.Done(); a.Run(ctx) }()
	}
	return f, nil
}

func (f *Fleet) set(i int, up bool) {
	if f.up[i].Swap(up) == up {
		return
	}
	if up {
		f.nUp.Add(1)
	} else {
		f.nUp.Add(-1)
	}
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Up is how many agents have a session with every bind accepted.
func (f *Fleet) Up() int { return int(f.nUp.Load()) }

// WaitUp waits until Up() == n or ctx ends.
func (f *Fleet) WaitUp(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if f.Up() == n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d agents up: %w", f.Up(), n, ctx.Err())
		}
	}
}

// Stop ends every agent and local service and waits for them.
func (f *Fleet) Stop() {
	f.cancel()
	for _, ln := range f.lns {
		ln.Close()
	}
	f.wg.Wait()
}

// greet answers every connection with id and closes it.
func greet(ln net.Listener, id string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, id+"\n")
		c.Close()
	}
}
