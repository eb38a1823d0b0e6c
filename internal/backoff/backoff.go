// Package backoff computes capped, jittered exponential delays for reconnect
// loops, and sleeps on a context.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields delays: the first retry after a good run comes almost at
// once, anywhere in [0, Min); after that each failure doubles a ceiling
// from 2·Min up to Max and the delay is drawn from [ceiling/2, ceiling).
// The jitter spreads a fleet that lost its edge at one moment. Not safe
// for concurrent use.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a float in [0,1); nil uses math/rand/v2.
	Rand func() float64

	attempt int
}

// Next returns the delay before the next attempt and counts the failure.
func (b *Backoff) Next() time.Duration {
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	if b.attempt == 0 {
		b.attempt++
		return time.Duration(r() * float64(min(b.Min, b.Max)))
	}
	ceil := b.Min << b.attempt
	if ceil > b.Max || ceil <= 0 {
		ceil = b.Max
	} else {
		b.attempt++
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
