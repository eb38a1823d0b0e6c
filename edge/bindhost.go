package edge

import (
	"errors"
	"fmt"
	"net"

	"github.com/tetherhq/tether/internal/wire"
)

// bindHost serves an http or tls tunnel under its host name, if the token
// allows the name and no other agent holds it.
func (s *session) bindHost(b wire.Bind) (*tunnel, error) {
	srv := s.srv
	if b.Proto == wire.ProtoHTTP && srv.cfg.Listen.HTTP == "" && srv.cfg.Listen.HTTPS == "" {
		return nil, errors.New("this edge serves no http (listen.http and listen.https are not set)")
	}
	if b.Proto == wire.ProtoTLS && srv.cfg.Listen.HTTPS == "" {
		return nil, errors.New("this edge serves no tls passthrough (listen.https is not set)")
	}
	if b.Proto == wire.ProtoTLS && (len(b.BasicAuth) > 0 || b.HostHeader != "") {
		return nil, errors.New("tls tunnels are not terminated by the edge: basic_auth and host_header do not apply")
	}
	host, err := srv.tunnelHost(s.id, b)
	if err != nil {
		return nil, err
	}
	if err := s.tok.Load().checkHost(host); err != nil {
		return nil, err
	}
	acc, aerr := parseGate(b.BasicAuth, b.AllowCIDRs, b.DenyCIDRs)
	if aerr != nil {
		return nil, aerr
	}
	t := &tunnel{sess: s, name: b.Name, proto: b.Proto}
	t.route = &route{
		host:        host,
		passthrough: b.Proto == wire.ProtoTLS,
		what:        fmt.Sprintf("tunnel %s of agent %s", b.Name, s.id),
		tunnel:      t,
		owner:       s.id,
		gate:        acc,
		hostHeader:  b.HostHeader,
	}
	if err := srv.hosts.claim(t.route); err != nil {
		return nil, err
	}
	t.public = srv.publicURL(b.Proto, host)
	return t, nil
}

// publicURL is how clients reach host: https when the edge has an https
// listener, with the port when it is not the scheme's default.
func (s *Server) publicURL(proto, host string) string {
	scheme, addr, def := "https", s.cfg.Listen.HTTPS, "443"
	switch {
	case proto == wire.ProtoTLS:
		scheme = "tls"
	case addr == "":
		scheme, addr, def = "http", s.cfg.Listen.HTTP, "80"
	}
	_, port, _ := net.SplitHostPort(addr)
	if a := s.frontAddr(scheme); a != nil {
		_, port, _ = net.SplitHostPort(a.String())
	}
	if port == def && scheme != "tls" {
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
