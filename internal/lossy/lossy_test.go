package lossy

import (
	"sync"
	"testing"
	"time"
)

// collect runs packets through a shaper and returns what arrived, when.
func collect(t *testing.T, l Link, n, size int) (got [][]byte, at []time.Time, dropped uint64) {
	t.Helper()
	var mu sync.Mutex
	done := make(chan struct{})
	s := NewShaper(l, 7, func(b []byte) {
		mu.Lock()
		got = append(got, b)
		at = append(at, time.Now())
		mu.Unlock()
	})
	for i := range n {
		b := make([]byte, size)
		b[0] = byte(i)
		s.Send(b)
	}
	go func() {
		for {
			mu.Lock()
			k := uint64(len(got))
			mu.Unlock()
			if k+s.Dropped() == uint64(n) {
				close(done)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("packets neither delivered nor dropped after 10 s")
	}
	s.Close()
	return got, at, s.Dropped()
}

func TestShaper(t *testing.T) {
	t.Run("delay keeps order", func(t *testing.T) {
		start := time.Now()
		got, at, _ := collect(t, Link{Delay: 30 * time.Millisecond}, 50, 100)
		for i, b := range got {
			if int(b[0]) != i {
				t.Fatalf("packet %d arrived as %d", b[0], i)
			}
		}
		if d := at[0].Sub(start); d < 30*time.Millisecond {
			t.Fatalf("first packet after %v, delay 30ms", d)
		}
	})
	t.Run("loss", func(t *testing.T) {
		got, _, dropped := collect(t, Link{Loss: 0.1}, 2000, 10)
		if dropped < 120 || dropped > 280 || len(got)+int(dropped) != 2000 {
			t.Fatalf("dropped %d of 2000 at 10%%", dropped)
		}
		_, _, dropped = collect(t, Link{Loss: 1}, 100, 10)
		if dropped != 100 {
			t.Fatalf("blocked link dropped %d of 100", dropped)
		}
	})
	t.Run("rate and queue", func(t *testing.T) {
		// 1 Mbit/s, 10 KiB buffer: 1000-byte packets leave 8 ms apart and
		// a burst of 40 overflows the buffer.
		start := time.Now()
		got, at, dropped := collect(t, Link{Rate: 1e6, Queue: 10 << 10}, 40, 1000)
		if dropped == 0 || len(got) > 12 {
			t.Fatalf("%d delivered, %d dropped: the buffer did not overflow", len(got), dropped)
		}
		if d := at[len(at)-1].Sub(start); d < time.Duration(len(got)-1)*8*time.Millisecond {
			t.Fatalf("%d packets at 1 Mbit/s took only %v", len(got), d)
		}
	})
}
