package edge

import (
	"sort"
	"time"
)

// AgentInfo describes a live agent session.
type AgentInfo struct {
	ID        string            `json:"id"`
	Labels    map[string]string `json:"labels"`
	Remote    string            `json:"remote"`
	Transport string            `json:"transport"`
	Since     time.Time         `json:"since"`
	RTT       time.Duration     `json:"rtt"`
	Streams   int               `json:"streams"`
	Tunnels   []TunnelInfo      `json:"tunnels"`
}

// TunnelInfo describes a bound tunnel.
type TunnelInfo struct {
	Name   string `json:"name"`
	Proto  string `json:"proto"`
	Public string `json:"public"`
}

// Agents lists the live sessions, sorted by id.
func (s *Server) Agents() []AgentInfo {
	var out []AgentInfo
	for _, sess := range s.reg.all() {
		ai := AgentInfo{
			ID:        sess.id,
			Labels:    sess.hello.Labels,
			Remote:    sess.conn.RemoteAddr().String(),
			Transport: sess.transport,
			Since:     sess.since,
			RTT:       time.Duration(sess.rtt.Load()) * time.Microsecond,
			Streams:   int(sess.active.Load()),
		}
		sess.mu.Lock()
		for _, t := range sess.tunnels {
			ai.Tunnels = append(ai.Tunnels, TunnelInfo{Name: t.name, Proto: t.proto, Public: t.public})
		}
		sess.mu.Unlock()
		sort.Slice(ai.Tunnels, func(i, j int) bool { return ai.Tunnels[i].Name < ai.Tunnels[j].Name })
		out = append(out, ai)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Members lists the agent ids serving an endpoint's group, in order.
func (s *Server) Members(endpoint string) []string {
	for _, e := range s.groups {
		if e.cfg.Name != endpoint {
			continue
		}
		e.mu.RLock()
		defer e.mu.RUnlock()
		ids := make([]string, len(e.members))
		for i, m := range e.members {
			ids[i] = m.sess.id
		}
		return ids
	}
	return nil
}
