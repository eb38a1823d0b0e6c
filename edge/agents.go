package edge

import (
	"maps"
	"sort"
	"time"
)

// AgentInfo describes a live agent session.
type AgentInfo struct {
	ID        string            `json:"id"`
	Labels    map[string]string `json:"labels"`
	Remote    string            `json:"remote"`
	Transport string            `json:"transport"`
	Token     string            `json:"token"` // the [[token]] name it authenticated with
	Version   string            `json:"version"`
	OS        string            `json:"os"`
	Arch      string            `json:"arch"`
	Since     time.Time         `json:"since"`
	RTT       time.Duration     `json:"-"`
	RTTMillis float64           `json:"rtt_ms"` // heartbeat round trip, as the agent last measured it
	Streams   int               `json:"streams"`
	BytesIn   int64             `json:"bytes_in"`  // from public clients to the device, counted as connections end
	BytesOut  int64             `json:"bytes_out"` // from the device to public clients
	Tunnels   []TunnelInfo      `json:"tunnels"`
}

// TunnelInfo describes a bound tunnel.
type TunnelInfo struct {
	Agent    string            `json:"agent,omitempty"` // in GET /api/tunnels
	Name     string            `json:"name"`
	Proto    string            `json:"proto"`
	Public   string            `json:"public"`
	Labels   map[string]string `json:"labels,omitempty"` // labeled tunnels: the full label set
	Streams  int               `json:"streams"`
	BytesIn  int64             `json:"bytes_in"`
	BytesOut int64             `json:"bytes_out"`
}

// Agents lists the live sessions, sorted by id.
func (s *Server) Agents() []AgentInfo {
	var out []AgentInfo
	for _, sess := range s.reg.all() {
		out = append(out, s.agentInfo(sess))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Agent describes one live session, or reports false.
func (s *Server) Agent(id string) (AgentInfo, bool) {
	sess := s.reg.get(id)
	if sess == nil {
		return AgentInfo{}, false
	}
	return s.agentInfo(sess), true
}

func (s *Server) agentInfo(sess *session) AgentInfo {
	rtt := time.Duration(sess.rtt.Load()) * time.Microsecond
	ai := AgentInfo{
		ID:        sess.id,
		Labels:    maps.Clone(sess.hello.Labels),
		Remote:    sess.conn.RemoteAddr().String(),
		Transport: sess.transport,
		Token:     sess.tok.Load().name,
		Version:   sess.hello.Version,
		OS:        sess.hello.OS,
		Arch:      sess.hello.Arch,
		Since:     sess.since,
		RTT:       rtt,
		RTTMillis: float64(rtt.Microseconds()) / 1000,
		Streams:   int(sess.active.Load()),
		BytesIn:   sess.in.Load(),
		BytesOut:  sess.out.Load(),
		Tunnels:   []TunnelInfo{},
	}
	if ai.Labels == nil {
		ai.Labels = map[string]string{}
	}
	sess.mu.Lock()
	tunnels := make([]*tunnel, 0, len(sess.tunnels))
	for _, t := range sess.tunnels {
		tunnels = append(tunnels, t)
	}
	sess.mu.Unlock()
	for _, t := range tunnels {
		ti := TunnelInfo{Name: t.name, Proto: t.proto, Public: t.public, Labels: t.labels,
			Streams: int(t.active.Load()), BytesIn: t.in.Load(), BytesOut: t.out.Load()}
		if t.labels != nil {
			ti.Public = s.eps.describe(t) // endpoints may have changed since the bind
		}
		ai.Tunnels = append(ai.Tunnels, ti)
	}
	sort.Slice(ai.Tunnels, func(i, j int) bool { return ai.Tunnels[i].Name < ai.Tunnels[j].Name })
	return ai
}

// Members lists the agent ids serving an endpoint's group, in order.
func (s *Server) Members(endpoint string) []string {
	e := s.eps.byName(endpoint)
	if e == nil {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ids := make([]string, len(e.members))
	for i, m := range e.members {
		ids[i] = m.sess.id
	}
	return ids
}

// EndpointInfo describes an endpoint and its live group.
type EndpointInfo struct {
	Name      string            `json:"name"`
	Proto     string            `json:"proto"`
	Public    string            `json:"public"`
	Port      int               `json:"port,omitempty"`
	Hostname  string            `json:"hostname,omitempty"`
	Selector  map[string]string `json:"selector"`
	Balance   string            `json:"balance"`
	AccessLog bool              `json:"access_log"`
	Members   []MemberInfo      `json:"members"`
}

// MemberInfo is one live member of a group.
type MemberInfo struct {
	Agent   string `json:"agent"`
	Tunnel  string `json:"tunnel"`
	Remote  string `json:"remote"`
	Streams int    `json:"streams"`
	Stale   bool   `json:"stale"` // silent past 1.5 heartbeats: tried last
}

// Endpoints lists the endpoints in config order.
func (s *Server) Endpoints() []EndpointInfo {
	now := time.Now()
	out := []EndpointInfo{}
	s.eps.mu.RLock()
	defer s.eps.mu.RUnlock()
	for _, e := range s.eps.eps {
		e.mu.RLock()
		c := e.cfg
		ei := EndpointInfo{Name: c.Name, Proto: c.Proto, Public: e.describe(s), Port: c.Port, Hostname: c.Hostname,
			Selector: maps.Clone(c.Labels), Balance: c.Balance, AccessLog: c.AccessLog, Members: []MemberInfo{}}
		for _, m := range e.members {
			ei.Members = append(ei.Members, MemberInfo{Agent: m.sess.id, Tunnel: m.name, Remote: m.sess.conn.RemoteAddr().String(),
				Streams: int(m.active.Load()), Stale: m.sess.stale(now)})
		}
		e.mu.RUnlock()
		out = append(out, ei)
	}
	return out
}

// Tunnels lists every bound tunnel, by agent id and name.
func (s *Server) Tunnels() []TunnelInfo {
	out := []TunnelInfo{}
	for _, ai := range s.Agents() {
		for _, t := range ai.Tunnels {
			t.Agent = ai.ID
			out = append(out, t)
		}
	}
	return out
}
