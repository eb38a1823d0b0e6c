package agent

import (
	"fmt"
	"net"
	"time"

	"github.com/xtaci/smux"

	"github.com/tetherhq/tether/internal/relay"
	"github.com/tetherhq/tether/internal/wire"
)

const (
	headerTimeout = 10 * time.Second
	localDialTime = 5 * time.Second
)

// serveStream reads the stream header, dials the tunnel's local service,
// answers with a status and splices. It owns st.
func (s *session) serveStream(st *smux.Stream) {
	defer s.streams.Done()
	if int(s.active.Add(1)) > s.welcome.MaxStreams {
		s.active.Add(-1)
		wire.WriteStatus(st, wire.StatusBusy, "agent: too many open streams")
		st.Close()
		return
	}
	defer s.active.Add(-1)

	st.SetReadDeadline(time.Now().Add(headerTimeout))
	h, err := wire.ReadStreamHeader(st)
	if err != nil {
		s.a.log.Debug("bad stream header", "err", err)
		st.Close()
		return
	}
	t := s.a.tunnel(h.Tunnel)
	if t == nil {
		wire.WriteStatus(st, wire.StatusUnknownTunnel, fmt.Sprintf("agent %s has no tunnel %q", s.a.id, h.Tunnel))
		st.Close()
		return
	}
	local, err := net.DialTimeout("tcp", t.Addr, localDialTime)
	if err != nil {
		s.a.log.Warn("local service unreachable", "tunnel", t.Name, "addr", t.Addr, "err", err)
		wire.WriteStatus(st, wire.StatusDialFailed, fmt.Sprintf("tunnel %s: local service %s: %v", t.Name, t.Addr, err))
		st.Close()
		return
	}
	st.SetReadDeadline(time.Time{})
	if err := wire.WriteStatus(st, wire.StatusOK, ""); err != nil {
		local.Close()
		st.Close()
		return
	}
	s.a.log.Debug("stream open", "tunnel", t.Name, "client", h.Client)
	defer s.conns.Add(local)()
	if _, _, err := relay.Pipe(st, local); err != nil {
		s.a.log.Debug("stream ended", "tunnel", t.Name, "client", h.Client, "err", err)
	}
}

// tunnel finds a tunnel of the config in force; a reload may replace the
// list, never an entry of it.
func (a *Agent) tunnel(name string) *TunnelConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.tunnels {
		if a.tunnels[i].Name == name {
			return &a.tunnels[i]
		}
	}
	return nil
}
