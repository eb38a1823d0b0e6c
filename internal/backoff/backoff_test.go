package backoff

import (
	"context"
	"testing"
	"time"
)

func TestBackoffDoublesCapsAndResets(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    float64
		want []time.Duration
	}{
		{"low jitter", 0, []time.Duration{0, 100, 200, 400, 500, 500}},
		{"high jitter", 0.999999, []time.Duration{99, 199, 399, 799, 999, 999}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := Backoff{Min: 100 * time.Millisecond, Max: time.Second, Rand: func() float64 { return tc.r }}
			for i, w := range tc.want {
				if got := b.Next().Milliseconds(); got != int64(w) {
					t.Fatalf("delay %d = %dms, want %dms", i, got, w)
				}
			}
			b.Reset()
			if got := b.Next().Milliseconds(); got != int64(tc.want[0]) {
				t.Fatalf("after reset = %dms, want %dms", got, tc.want[0])
			}
		})
	}
}

func TestBackoffNeverOverflows(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Hour}
	for i := 0; i < 200; i++ {
		if d := b.Next(); d <= 0 || d > time.Hour {
			t.Fatalf("attempt %d: delay %v out of range", i, d)
		}
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on a cancelled context reported a full sleep")
	}
}
