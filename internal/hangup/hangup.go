// Package hangup runs a reload on SIGHUP, for both binaries' thin mains.
package hangup

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Serve calls reload on every SIGHUP until ctx ends. It blocks; run it on a
// goroutine that the caller's context owns.
func Serve(ctx context.Context, reload func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload()
		}
	}
}
