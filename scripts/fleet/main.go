// Command tether-fleet runs N real agents in one process against an edge:
// each with its own id, TLS session, labeled tunnel (fleet=sim) and local
// service that answers with the agent's id. It prints "up COUNT" whenever
// the number of connected agents changes (at most every 100ms) and runs
// until stdin closes or it is signalled. scripts/fleetbench drives it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tetherhq/tether/internal/fleet"
)

func main() {
	n := flag.Int("n", 1000, "agents")
	edge := flag.String("edge", "127.0.0.1:7443", "edge agent listener")
	ca := flag.String("ca", "", "CA file")
	token := flag.String("token", "", "token")
	prefix := flag.String("prefix", "sim", "id prefix")
	flag.Parse()
	raiseNoFile()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { io.Copy(io.Discard, os.Stdin); stop() }()

	f, err := fleet.Start(fleet.Config{N: *n, Edge: *edge, Token: *token, CAFile: *ca, Server: "localhost",
		IDPrefix: *prefix, Labels: map[string]string{"fleet": "sim"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
	t := time.NewTicker(100 * time.Millisecond)
	last := -1
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			if up := f.Up(); up != last {
				fmt.Printf("up %d\n", up)
				last = up
			}
		}
	}
	f.Stop()
}

// raiseNoFile lifts the open-file limit: each agent holds a session and
// a listener. Root may go past the hard limit, up to fs.nr_open.
func raiseNoFile() {
	want := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
		return
	}
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
