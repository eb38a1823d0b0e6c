//go:build race

package e2e

// raceEnabled: the race detector slows copies ~10x; big transfers shrink.
const raceEnabled = true
