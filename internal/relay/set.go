package relay

import (
	"io"
	"sync"
)

// Set holds the connections a session is splicing, so that ending the
// session can close them all: a relay blocked writing to a peer that does
// not read never notices the other side is gone. The zero Set is ready.
type Set struct {
	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	closed bool
}

// Add tracks c until the returned func is called. If the set is already
// closed, c is closed at once.
func (s *Set) Add(c io.Closer) (remove func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return func() {}
	}
	if s.conns == nil {
		s.conns = map[io.Closer]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// CloseAll closes every tracked connection, and every one added later.
func (s *Set) CloseAll() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Len is the number of tracked connections.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
