package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// fronts are the public http and https listeners and their servers.
type fronts struct {
	httpLn, httpsLn   net.Listener
	httpSrv, httpsSrv *http.Server
	tlsConns          *connQueue
}

// HTTPAddr is the http listener's address, once Ready (nil without one).
func (s *Server) HTTPAddr() net.Addr { return s.frontAddr("http") }

// HTTPSAddr is the https listener's address, once Ready (nil without one).
func (s *Server) HTTPSAddr() net.Addr { return s.frontAddr("https") }

func (s *Server) frontAddr(scheme string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.fronts.httpLn
	if scheme == "https" {
		l = s.fronts.httpsLn
	}
	if l == nil {
		return nil
	}
	return l.Addr()
}

func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.Limits.HTTPHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// startFronts opens listen.http and listen.https and serves them; loops
// tracks the serving goroutines. On error nothing stays open.
func (s *Server) startFronts(loops *sync.WaitGroup) error {
	lc := s.cfg.Listen
	var httpLn, httpsLn net.Listener
	var err error
	if lc.HTTP != "" {
		if httpLn, err = net.Listen("tcp", lc.HTTP); err != nil {
			return fmt.Errorf("listen.http: %w", err)
		}
	}
	if lc.HTTPS != "" {
		if httpsLn, err = net.Listen("tcp", lc.HTTPS); err != nil {
			if httpLn != nil {
				httpLn.Close()
			}
			return fmt.Errorf("listen.https: %w", err)
		}
	}
	f := newFront(s)
	s.mu.Lock()
	s.fronts.httpLn, s.fronts.httpsLn = httpLn, httpsLn
	s.mu.Unlock()
	if httpLn != nil {
		var h http.Handler = f
		if s.acme != nil {
			h = s.acme.HTTPHandler(f) // http-01 challenges, then the proxy
		}
		s.fronts.httpSrv = s.newHTTPServer(h)
		loops.Add(1)
		go func() { defer loops.Done(); serveHTTP(s.fronts.httpSrv, httpLn) }()
	}
	if httpsLn != nil {
		s.httpsTLS = s.httpsTLSConfig()
		s.fronts.tlsConns = newConnQueue(httpsLn.Addr())
		s.fronts.httpsSrv = s.newHTTPServer(f)
		s.fronts.httpsSrv.TLSConfig = s.httpsTLS
		loops.Add(2)
		go func() { defer loops.Done(); serveHTTP(s.fronts.httpsSrv, s.fronts.tlsConns) }()
		go func() { defer loops.Done(); s.acceptPublic(httpsLn, "https", s.serveHTTPS) }()
	}
	return nil
}

func serveHTTP(srv *http.Server, l net.Listener) {
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		srv.ErrorLog.Printf("http server: %v", err)
	}
}

// stopFronts stops accepting, lets requests in flight finish within the
// drain timeout, then closes what is left.
func (s *Server) stopFronts() {
	f := &s.fronts
	if f.httpsLn != nil {
		f.httpsLn.Close()
		f.tlsConns.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.DrainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range []*http.Server{f.httpSrv, f.httpsSrv} {
		if srv == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
		}()
	}
	wg.Wait()
}
