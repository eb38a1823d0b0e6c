// Command tether-edge serves public endpoints for tether agents.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tetherhq/tether/edge"
	"github.com/tetherhq/tether/internal/buildinfo"
	"github.com/tetherhq/tether/internal/hangup"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gencert" {
		os.Exit(gencert(os.Args[2:]))
	}
	configPath := flag.String("config", edge.DefaultConfigPath, "config file")
	check := flag.Bool("check", false, "validate the config and exit (0 valid, 2 invalid)")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: tether-edge [-config FILE] [-check] [-version]\n       tether-edge gencert -dir DIR -hosts NAME[,IP...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version {
		fmt.Println(buildinfo.String("tether-edge"))
		return
	}
	cfg, err := edge.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tether-edge:", err)
		os.Exit(2)
	}
	if *check {
		for _, w := range cfg.Warnings() {
			fmt.Println("warning:", w)
		}
		fmt.Printf("%s: ok (%d tokens, %d endpoints)\n", *configPath, len(cfg.Tokens), len(cfg.Endpoints))
		return
	}
	log := cfg.Log.New(os.Stderr)
	srv, err := edge.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tether-edge:", err)
		os.Exit(2)
	}
	srv.ConfigPath = *configPath
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go hangup.Serve(ctx, func() { srv.Reload("") })
	if err := srv.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("edge failed", "err", err)
		os.Exit(1)
	}
}

func gencert(args []string) int {
	fs := flag.NewFlagSet("gencert", flag.ExitOnError)
	dir := fs.String("dir", ".", "directory for ca.crt, ca.key, edge.crt, edge.key")
	hosts := fs.String("hosts", "", "comma-separated DNS names and IPs of the edge")
	fs.Parse(args)
	f, err := edge.GenerateCert(*dir, strings.Split(*hosts, ","))
	if *hosts == "" {
		err = errors.New("gencert: -hosts is required, e.g. -hosts edge.example.com,203.0.113.7")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tether-edge:", err)
		return 2
	}
	fmt.Printf("wrote %s and %s (edge: cert_file, key_file)\nwrote %s (agents: ca_file) and %s (keep it offline)\n", f.Cert, f.Key, f.CACert, f.CAKey)
	return 0
}
