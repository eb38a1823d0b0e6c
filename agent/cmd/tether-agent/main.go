// Command tether-agent connects a device's local services to a tether edge.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/tetherhq/tether/agent"
	"github.com/tetherhq/tether/internal/buildinfo"
	"github.com/tetherhq/tether/internal/hangup"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "status" {
		os.Exit(status(os.Args[2:]))
	}
	configPath := flag.String("config", agent.DefaultConfigPath, "config file")
	check := flag.Bool("check", false, "validate the config and exit (0 valid, 2 invalid)")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: tether-agent [-config FILE] [-check] [-version]\n       tether-agent status [-config FILE | -socket PATH]\nSIGHUP reloads the config.\n")
		flag.PrintDefaults()
	}
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
	a.ConfigPath = *configPath
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go hangup.Serve(ctx, func() { a.Reload("") })
	if err := a.Run(ctx); err != nil {
		log.Error("agent failed", "err", err)
		os.Exit(1)
	}
}

// status prints the running agent's state, read from its status socket.
func status(args []string) int {
	fs := flag.NewFlagSet("status", flag.ExitOnError)
	configPath := fs.String("config", agent.DefaultConfigPath, "config file (for its state_dir)")
	socket := fs.String("socket", "", "the agent's status socket (default: state_dir/"+agent.SocketName+" of -config)")
	fs.Parse(args)
	if *socket == "" {
		cfg, err := agent.LoadConfig(*configPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tether-agent:", err)
			return 2
		}
		*socket = filepath.Join(cfg.StateDir, agent.SocketName)
	}
	if err := agent.QueryStatus(os.Stdout, *socket); err != nil {
		fmt.Fprintln(os.Stderr, "tether-agent status:", err)
		return 1
	}
	return 0
}
