// Package lossy makes bad network paths on one machine, for tests and
// benchmarks: a Shaper drops, rate-limits and delays packets (the kernel
// here has no netem), and UDPRelay puts a Shaper in each direction between
// UDP clients and a target on loopback. Drops are drawn from a seeded
// generator, so a run can be repeated.
package lossy

import (
	"errors"
	"syscall"
)

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
