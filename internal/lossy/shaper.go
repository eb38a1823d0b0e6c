package lossy

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Link is one direction of a bad network path.
type Link struct {
	// Loss is the probability that a packet is dropped, 0..1 (1 blocks
	// the path).
	Loss float64
	// Delay is the one-way propagation delay.
	Delay time.Duration
	// Rate is the bottleneck in bits per second; 0 is unlimited.
	Rate int64
	// Queue is how many bytes may wait for the bottleneck before new
	// packets are dropped (a router's buffer). Default 64 KiB.
	Queue int
}

func (l Link) queue() int {
	if l.Queue <= 0 {
		return 64 << 10
	}
	return l.Queue
}

// maxInFlight bounds packets held by one Shaper (in the queue or on the
// wire); past it packets are dropped.
const maxInFlight = 1 << 14

type packet struct {
	due time.Time
	b   []byte
}

// Shaper carries packets across a Link: it drops some, holds the rest for
// the bottleneck and the delay, and hands each to deliver in order, from
// its own goroutine. Close stops it and waits for that goroutine.
type Shaper struct {
	deliver func([]byte)
	ch      chan packet
	done    chan struct{}
	stop    chan struct{}
	once    sync.Once

	mu        sync.Mutex
	link      Link
	rnd       *rand.Rand
	busyUntil time.Time // when the bottleneck is free again
	lastDue   time.Time
	dropped   uint64
}

// NewShaper starts a shaper for link whose random drops follow seed.
func NewShaper(link Link, seed uint64, deliver func([]byte)) *Shaper {
	s := &Shaper{
		deliver: deliver,
		ch:      make(chan packet, maxInFlight),
		done:    make(chan struct{}),
		stop:    make(chan struct{}),
		link:    link,
		rnd:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	go s.run()
	return s
}

// SetLink changes the path for packets sent from now on.
func (s *Shaper) SetLink(l Link) {
	s.mu.Lock()
	s.link = l
	s.mu.Unlock()
}

// Dropped counts the packets dropped so far.
func (s *Shaper) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Send queues a copy of b. It never blocks.
func (s *Shaper) Send(b []byte) {
	now := time.Now()
	s.mu.Lock()
	l := s.link
	if l.Loss > 0 && s.rnd.Float64() < l.Loss {
		s.dropped++
		s.mu.Unlock()
		return
	}
	depart := now
	if l.Rate > 0 {
		if s.busyUntil.After(now) {
			backlog := int64(s.busyUntil.Sub(now)) * l.Rate / 8 / int64(time.Second)
			if backlog+int64(len(b)) > int64(l.queue()) {
				s.dropped++
				s.mu.Unlock()
				return
			}
			depart = s.busyUntil
		}
		depart = depart.Add(time.Duration(int64(len(b)) * 8 * int64(time.Second) / l.Rate))
		s.busyUntil = depart
	}
	due := depart.Add(l.Delay)
	if due.Before(s.lastDue) {
		due = s.lastDue // a shorter delay must not reorder
	}
	s.lastDue = due
	p := packet{due: due, b: append([]byte(nil), b...)}
	select {
	case s.ch <- p:
	default:
		s.dropped++
	}
	s.mu.Unlock()
}

func (s *Shaper) run() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var p packet
		select {
		case p = <-s.ch:
		case <-s.stop:
			return
		}
		if d := time.Until(p.due); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
		s.deliver(p.b)
	}
}

// Close stops delivery; packets still held are dropped.
func (s *Shaper) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}
