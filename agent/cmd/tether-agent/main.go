// Command tether-agent connects a device's local services to a tether edge.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/internal/buildinfo"
)

func main() {
	configPath := flag.String("config", agent.DefaultConfigPath, "config file")
	check := flag.Bool("check", false, "validate the config and exit (0 valid, 2 invalid)")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println(buildinfo.String("tether-agent"))
		return
	}
	cfg, err := agent.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tether-agent:", err)
		os.Exit(2)
	}
	if *check {
		fmt.Printf("%s: ok (edge %s, %d tunnels)\n", *configPath, cfg.Edge, len(cfg.Tunnels))
		return
	}
	log := cfg.Log.New(os.Stderr)
	a, err := agent.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tether-agent:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		log.Error("agent failed", "err", err)
		os.Exit(1)
	}
}
