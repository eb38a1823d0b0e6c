package transport

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Kinds of transport.
const (
	TCP  = "tcp"
	KCP  = "kcp"
	Auto = "auto"
)

// DialTimeout bounds one attempt to reach the edge.
const DialTimeout = 10 * time.Second

// Dial connects to addr over kind ("tcp", or "kcp" with DefaultKCP; see
// DialKCP) and returns the raw connection, before TLS.
func Dial(ctx context.Context, kind, addr string) (net.Conn, error) {
	switch kind {
	case KCP:
		return DialKCP(ctx, addr, DefaultKCP())
	case TCP:
		d := net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		tuneTCP(c)
		return c, nil
	}
	return nil, fmt.Errorf("transport %q: not supported", kind)
}

// Listen listens for agents over kind on addr ("kcp": UDP with DefaultKCP
// and default limits; see ListenKCP).
func Listen(kind, addr string) (net.Listener, error) {
	switch kind {
	case KCP:
		l, err := ListenKCP(addr, DefaultKCP(), KCPLimits{})
		if err != nil {
			return nil, err
		}
		return l, nil
	case TCP:
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		return tcpListener{l}, nil
	}
	return nil, fmt.Errorf("transport %q: not supported", kind)
}

type tcpListener struct{ net.Listener }

func (l tcpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		tuneTCP(c)
	}
	return c, err
}

func tuneTCP(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}
