package edge

import (
	"errors"
	"sync"
)

// registry holds the live sessions by agent id. A new session with a known
// id replaces the old one at once.
type registry struct {
	mu       sync.Mutex
	sessions map[string]*session
}

func newRegistry() *registry { return &registry{sessions: map[string]*session{}} }

// put registers s and closes any older session with its id, before
// returning, so the old tunnels' ports are free for the new binds. It
// reports whether one was replaced.
func (r *registry) put(s *session) bool {
	r.mu.Lock()
	old := r.sessions[s.id]
	r.sessions[s.id] = s
	r.mu.Unlock()
	if old != nil {
		old.close(errReplaced)
		return true
	}
	return false
}

var errReplaced = errors.New("replaced by a new session with the same agent id")

// remove drops s if it is still the current session for its id.
func (r *registry) remove(s *session) {
	r.mu.Lock()
	if r.sessions[s.id] == s {
		delete(r.sessions, s.id)
	}
	r.mu.Unlock()
}

func (r *registry) get(id string) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[id]
}

func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

func (r *registry) all() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		out = append(out, s)
	}
	return out
}

// closeListeners stops every tunnel's public listener (shutdown, first
// step: no new public connections).
func (r *registry) closeListeners() {
	for _, s := range r.all() {
		s.closeListeners()
	}
}

// closeAll closes every session.
func (r *registry) closeAll(reason string) {
	err := errors.New(reason)
	for _, s := range r.all() {
		s.close(err)
	}
}
