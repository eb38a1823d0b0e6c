package e2e

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/tetherhq/tether/internal/lossy"
	"github.com/tetherhq/tether/internal/transport"
)

// service is a local TCP service for an agent's tunnel to reach.
type service struct {
	ln    net.Listener
	quit  chan struct{}
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// serve starts a service on 127.0.0.1 whose connections are handled by h.
func serve(t testing.TB, h func(net.Conn)) *service {
	return serveQuit(t, func(c net.Conn, _ <-chan struct{}) { h(c) })
}

// serveAt is serve on a given address.
func serveAt(t testing.TB, addr string, h func(net.Conn)) *service {
	return serveOn(t, addr, func(c net.Conn, _ <-chan struct{}) { h(c) })
}

// serveQuit is serve for handlers that must be told to stop.
func serveQuit(t testing.TB, h func(c net.Conn, quit <-chan struct{})) *service {
	return serveOn(t, "127.0.0.1:0", h)
}

func serveOn(t testing.TB, addr string, h func(c net.Conn, quit <-chan struct{})) *service {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &service{ln: ln, quit: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() { defer s.wg.Done(); h(c, s.quit) }()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *service) addr() string { return s.ln.Addr().String() }

// close stops listening and closes every connection.
func (s *service) close() {
	s.ln.Close()
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// echo copies everything back and half-closes at EOF.
func echo(c net.Conn) {
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
}

// whoami greets with its name, then echoes lines.
func whoami(name string) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		if _, err := io.WriteString(c, name+"\n"); err != nil {
			return
		}
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	}
}

// stuck accepts and never reads until the service closes: the kernel
// buffers fill and stay full, like a hung local service.
func stuck(c net.Conn, quit <-chan struct{}) { <-quit }

// faultProxy forwards TCP from its own address to target and can break
// the link the way real networks do: a reset (Kill) or silence (Blackhole).
type faultProxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	udp    *lossy.UDPRelay // kcp and auto: the same faults for datagrams, on ln's port number

	mu        sync.Mutex
	pairs     [][2]*net.TCPConn
	blackhole bool
	wg        sync.WaitGroup
}

func newFaultProxy(t testing.TB, target string) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, target: target}
	if agentTransport != transport.TCP {
		p.udp, err = lossy.NewUDPRelay(ln.Addr().String(), target, lossy.Link{}, lossy.Link{}, 1)
		if err != nil {
			ln.Close()
			t.Fatalf("udp fault proxy: %v", err)
		}
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		a, b := c.(*net.TCPConn), up.(*net.TCPConn)
		p.mu.Lock()
		if p.blackhole {
			p.mu.Unlock()
			// New connections vanish into the hole too.
			p.wg.Add(1)
			go func() { defer p.wg.Done(); io.Copy(io.Discard, a); a.Close(); b.Close() }()
			continue
		}
		p.pairs = append(p.pairs, [2]*net.TCPConn{a, b})
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(a, b)
		go p.pipe(b, a)
	}
}

// pipe forwards src to dst; in blackhole mode it reads and drops.
func (p *faultProxy) pipe(dst, src *net.TCPConn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			hole := p.blackhole
			p.mu.Unlock()
			if !hole {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					src.Close()
					return
				}
			}
		}
		if err != nil {
			p.mu.Lock()
			hole := p.blackhole
			p.mu.Unlock()
			if !hole { // a dead link carries no FIN either
				dst.Close()
			}
			return
		}
	}
}

// Kill resets every connection through the proxy, as a dead host's
// kernel or a NAT timeout would.
func (p *faultProxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pairs {
		for _, c := range pr {
			c.SetLinger(0)
			c.Close()
		}
	}
	p.pairs = nil
	if p.udp != nil {
		p.udp.Reset() // UDP has no reset: the NAT mapping is gone
	}
}

// Blackhole makes the link silent: bytes are read and dropped, nothing is
// closed, as when a cellular link or a NAT mapping disappears.
func (p *faultProxy) Blackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	p.mu.Unlock()
	if p.udp != nil {
		l := lossy.Link{}
		if on {
			l.Loss = 1
		}
		p.udp.SetLinks(l, l)
	}
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.Kill()
	p.wg.Wait()
	if p.udp != nil {
		p.udp.Close()
	}
}
