// Package backoff computes capped, jittered exponential delays for reconnect
// loops, and sleeps on a context.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields delays: the first failure after a good run retries almost
// at once (Min, jittered), each further failure doubles the ceiling up to
// Max. Delays are drawn uniformly from [ceiling/2, ceiling) so a fleet that
// lost its edge at one moment does not return at one moment. Not safe for
// concurrent use.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a float in [0,1); nil uses math/rand/v2.
	Rand func() float64

	attempt int
}

// Next returns the delay before the next attempt and counts the failure.
func (b *Backoff) Next() time.Duration {
	ceil := b.Min << b.attempt
	if ceil > b.Max || ceil <= 0 {
		ceil = b.Max
	} else {
		b.attempt++
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return ceil/2 + time.Duration(r()*float64(ceil/2))
}

// Reset starts over after a good session.
func (b *Backoff) Reset() { b.attempt = 0 }

// Sleep waits for d or until ctx is done, and reports whether it slept the
// whole time.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
