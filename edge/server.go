package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme/autocert"

	"github.com/tetherhq/tether/internal/transport"
)

// Server is a running edge. Create it with New, start it with Run.
type Server struct {
	cfg      *Config // as started: listeners, TLS, domain (a reload does not change these)
	log      *slog.Logger
	tls      *tls.Config
	tcpRange []portRange
	reg      *registry
	eps      *groupSet  // the endpoints; a reload adds, changes and removes them
	hosts    *hostTable // http/https/tls routes by host name (hosts.go)

	cur       atomic.Pointer[Config]   // the config in force (reload.go)
	tokens    atomic.Pointer[tokenSet] // built from cur
	metrics   *metrics
	admin     *http.Server
	adminDone chan struct{}
	reloadMu  sync.Mutex // serialises reloads, and them with starting and stopping
	running   bool       // under reloadMu: between Ready and shutdown
	// ConfigPath is the file Reload and POST /api/reload read by default.
	ConfigPath string

	getCert  func(*tls.ClientHelloInfo) (*tls.Certificate, error) // acme.go
	acme     *autocert.Manager                                    // nil: cert_file
	httpsTLS *tls.Config
	fronts   fronts          // listen.http, listen.https (fronts.go)
	runCtx   context.Context // Run's, for agents arriving on the https port

	handshakes chan struct{} // semaphore: handshakes in flight
	conns      sync.WaitGroup
	// DrainTimeout bounds how long Run waits for public connections after
	// its context ends.
	DrainTimeout time.Duration

	mu        sync.Mutex
	agentAddr net.Addr
	adminAddr net.Addr
	ready     chan struct{}
}

// New checks cfg and loads the certificate; it opens no sockets.
func New(cfg *Config, log *slog.Logger) (*Server, error) {
	s := &Server{
		cfg:          cfg,
		log:          log,
		reg:          newRegistry(),
		hosts:        newHostTable(),
		handshakes:   make(chan struct{}, cfg.Limits.MaxHandshakes),
		DrainTimeout: 5 * time.Second,
		ready:        make(chan struct{}),
	}
	s.tcpRange, _ = parsePortRanges([]string{cfg.Listen.TCPPorts})
	if err := s.setupCerts(); err != nil {
		return nil, err
	}
	s.tls = transport.ServerTLS(s.getCert)
	s.metrics = newMetrics(s)
	s.eps = newGroupSet(s)
	s.install(cfg)
	if err := s.hosts.setEndpoints(endpointRoutes(s.eps.list(), nil)); err != nil {
		return nil, err
	}
	return s, nil
}

// Ready is closed once every listener is open.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// AgentAddr is the agent listener's address, once Ready.
func (s *Server) AgentAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agentAddr
}

// Run opens the listeners and serves until ctx ends, then stops accepting,
// lets public connections finish (up to DrainTimeout), closes every
// session and returns. It returns an error at once if a listener cannot
// be opened.
func (s *Server) Run(ctx context.Context) error {
	s.runCtx = ctx
	for _, w := range s.cfg.Warnings() {
		s.log.Warn(w)
	}
	var listeners []net.Listener
	closeAll := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	agents, agentsKCP, err := transport.ListenAgents(s.cfg.Listen.Agents, transport.DefaultKCP(),
		transport.KCPLimits{HandshakeTimeout: s.cfg.Limits.HandshakeTimeout})
	if err != nil {
		return fmt.Errorf("listen.agents: %w", err)
	}
	listeners = append(listeners, agents, agentsKCP)
	if err := s.eps.listenAll(); err != nil {
		closeAll()
		return err
	}
	admin, err := s.listenAdmin()
	if err != nil {
		closeAll()
		s.eps.closeListeners()
		return err
	}
	s.mu.Lock()
	s.agentAddr = agents.Addr()
	s.mu.Unlock()

	var loops sync.WaitGroup
	if err := s.startFronts(&loops); err != nil {
		closeAll()
		return err
	}
	loops.Add(1)
	go func() { defer loops.Done(); s.acceptAgents(ctx, agents, transport.TCP) }()
	loops.Add(1)
	go func() { defer loops.Done(); s.acceptAgents(ctx, agentsKCP, transport.KCP) }()
	s.eps.serveAll()
	s.serveAdmin(admin)
	s.reloadMu.Lock()
	s.running = true
	s.reloadMu.Unlock()
	s.log.Info("edge ready", "agents", agents.Addr().String(), "endpoints", len(s.eps.list()), "tokens", len(*s.tokens.Load()))
	close(s.ready)

	<-ctx.Done()
	s.log.Info("edge stopping: draining connections", "timeout", s.DrainTimeout)
	s.reloadMu.Lock()
	s.running = false
	s.reloadMu.Unlock()
	closeAll()
	s.eps.closeListeners()
	s.closeAdmin()
	s.stopFronts()
	loops.Wait()
	s.eps.wait()
	s.reg.closeListeners()
	waitTimeout(&s.conns, s.DrainTimeout)
	s.reg.closeAll()
	s.conns.Wait()
	agentsKCP.Shutdown() // its socket outlives Close while KCP sessions linger
	s.log.Info("edge stopped")
	return nil
}

// acceptPublic accepts public connections on l and hands each to serve on
// its own goroutine, which s.conns tracks.
func (s *Server) acceptPublic(l net.Listener, name string, serve func(net.Conn)) {
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: slow down rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "listener", name, "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.conns.Add(1)
		go func() { defer s.conns.Done(); serve(c) }()
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// publicHost is the host part of the public addresses the edge reports.
func (s *Server) publicHost() string {
	if s.cfg.Domain != "" {
		return s.cfg.Domain
	}
	if h := s.cfg.Listen.TCPHost; h != "" && !net.ParseIP(h).IsUnspecified() {
		return h
	}
	if h, _, err := net.SplitHostPort(s.cfg.Listen.Agents); err == nil && h != "" && !net.ParseIP(h).IsUnspecified() {
		return h
	}
	return "localhost"
}
