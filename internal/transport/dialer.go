package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tetherhq/tether/internal/backoff"
)

// Defaults for the auto transport.
const (
	DefaultProbeTimeout = 3 * time.Second
	DefaultReprobeMin   = 30 * time.Second
	DefaultReprobeMax   = 10 * time.Minute
	// A KCP session shorter than DefaultFlapAfter counts as a KCP failure;
	// flapLimit of them in a row and auto moves to TCP.
	DefaultFlapAfter = 30 * time.Second
	flapLimit        = 3
	// offerTimeout is how long a probed KCP connection waits for the
	// agent to take it (the edge wants a Hello soon after TLS).
	offerTimeout = time.Second
)

// Dialer reaches the edge over Kind ("tcp", "kcp" or "auto") and runs the
// agent's TLS handshake. Set the fields before the first Dial; Close stops
// its background work.
//
// Auto tries KCP first and gives it ProbeTimeout to finish TLS. If KCP
// fails where TCP works (UDP blocked), or KCP sessions keep dying young, it
// uses TCP and probes KCP in the background with capped, jittered backoff
// (ReprobeMin to ReprobeMax); when a probe gets through, the ready KCP
// connection is offered on Upgrades and later Dials try KCP first again.
type Dialer struct {
	Kind string
	Addr string
	TLS  *tls.Config
	KCP  KCPConfig
	Log  *slog.Logger // nil: discard

	ProbeTimeout           time.Duration
	ReprobeMin, ReprobeMax time.Duration
	FlapAfter              time.Duration

	once     sync.Once
	upgrades chan *Conn
	stop     chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex
	kcpDown bool // auto: on TCP, probing KCP
	flaps   int  // KCP sessions in a row that died young
	closed  bool
}

func (d *Dialer) init() {
	d.once.Do(func() {
		d.upgrades = make(chan *Conn)
		d.stop = make(chan struct{})
		if d.Log == nil {
			d.Log = slog.New(slog.DiscardHandler)
		}
		if d.ProbeTimeout <= 0 {
			d.ProbeTimeout = DefaultProbeTimeout
		}
		if d.ReprobeMin <= 0 {
			d.ReprobeMin = DefaultReprobeMin
		}
		if d.ReprobeMax < d.ReprobeMin {
			d.ReprobeMax = max(DefaultReprobeMax, d.ReprobeMin)
		}
		if d.FlapAfter <= 0 {
			d.FlapAfter = DefaultFlapAfter
		}
	})
}

// Upgrades delivers KCP connections (TLS done) that a background probe
// found while auto is on TCP: run a new session on one and close the TCP
// one. Nil for other kinds, so a select on it never fires.
func (d *Dialer) Upgrades() <-chan *Conn {
	d.init()
	if d.Kind != Auto {
		return nil
	}
	return d.upgrades
}

// Close stops background probing and waits for it. Connections already
// returned are the caller's.
func (d *Dialer) Close() {
	d.init()
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.stop)
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// Dial connects and runs TLS, bounded by ctx.
func (d *Dialer) Dial(ctx context.Context) (*Conn, error) {
	d.init()
	switch d.Kind {
	case TCP, KCP:
		return d.dial(ctx, d.Kind)
	case Auto:
	default:
		return nil, fmt.Errorf("transport %q: not supported", d.Kind)
	}
	d.mu.Lock()
	down := d.kcpDown
	d.mu.Unlock()
	if !down {
		pctx, cancel := context.WithTimeout(ctx, d.ProbeTimeout)
		c, kerr := d.dial(pctx, KCP)
		cancel()
		if kerr == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c, err := d.dial(ctx, TCP)
		if err != nil {
			return nil, fmt.Errorf("kcp: %v; tcp: %w", kerr, err)
		}
		d.Log.Warn("KCP (UDP) gets no answer where TCP does: using TCP, probing KCP in the background",
			"edge", d.Addr, "kcp_err", kerr)
		d.fallBack()
		return c, nil
	}
	return d.dial(ctx, TCP)
}

func (d *Dialer) dial(ctx context.Context, kind string) (*Conn, error) {
	raw, err := dialRaw(ctx, kind, d.Addr, d.KCP)
	if err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", kind, d.Addr, err)
	}
	c, err := Client(ctx, raw, d.TLS)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, d.Addr, err)
	}
	if k, ok := raw.(*kcpConn); ok && d.Kind == Auto {
		start := time.Now()
		k.onClose = func() { d.kcpEnded(time.Since(start)) }
	}
	return c, nil
}

func dialRaw(ctx context.Context, kind, addr string, cfg KCPConfig) (net.Conn, error) {
	if kind == KCP {
		return DialKCP(ctx, addr, cfg)
	}
	return Dial(ctx, kind, addr)
}

// kcpEnded counts KCP sessions that died young; too many in a row and auto
// moves to TCP.
func (d *Dialer) kcpEnded(lived time.Duration) {
	d.mu.Lock()
	if lived >= d.FlapAfter {
		d.flaps = 0
		d.mu.Unlock()
		return
	}
	d.flaps++
	flapping := d.flaps >= flapLimit && !d.kcpDown
	d.mu.Unlock()
	if flapping {
		d.Log.Warn("KCP sessions keep failing: using TCP, probing KCP in the background",
			"edge", d.Addr, "sessions", flapLimit, "shorter_than", d.FlapAfter)
		d.fallBack()
	}
}

// fallBack marks KCP down and starts the background probe.
func (d *Dialer) fallBack() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kcpDown || d.closed {
		return
	}
	d.kcpDown = true
	d.wg.Add(1)
	go d.probe()
}

// probe retries KCP until it gets through, then offers the connection.
func (d *Dialer) probe() {
	defer d.wg.Done()
	b := backoff.Backoff{Min: d.ReprobeMin, Max: d.ReprobeMax}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		if !backoff.Sleep(ctx, b.Next()) {
			return
		}
		pctx, pcancel := context.WithTimeout(ctx, d.ProbeTimeout)
		c, err := d.dial(pctx, KCP)
		pcancel()
		if err != nil {
			d.Log.Debug("KCP probe failed", "edge", d.Addr, "err", err)
			continue
		}
		d.mu.Lock()
		d.kcpDown, d.flaps = false, 0
		d.mu.Unlock()
		d.Log.Info("KCP works again: offering it to replace TCP", "edge", d.Addr)
		t := time.NewTimer(offerTimeout)
		select {
		case d.upgrades <- c:
		case <-t.C:
			c.Retire() // nobody took it; the next Dial tries KCP first
			c.Close()
		case <-ctx.Done():
			c.Retire()
			c.Close()
		}
		t.Stop()
		return
	}
}
