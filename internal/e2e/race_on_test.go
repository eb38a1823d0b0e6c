//go:build race

package e2e

// raceEnabled: the race detector slows copies about tenfold and kcp-go's
// per-datagram work about fivefold, so big transfers shrink under it and
// the bulk bodies over KCP run without it (make test).
const raceEnabled = true
