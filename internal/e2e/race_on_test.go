//go:build race

package e2e

// raceEnabled: the race detector slows kcp-go's per-datagram work about
// fivefold, so the bulk bodies over KCP run without it (make test).
const raceEnabled = true
