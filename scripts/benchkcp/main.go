// Command benchkcp measures tether's KCP transport against TCP and prints
// tables (scripts/bench-kcp.sh runs every part):
//
//	benchkcp loopback   clean loopback: direct, TCP tunnel, KCP tunnel (a real
//	                    edge and agent in this process, a public TCP endpoint)
//	benchkcp mem        edge heap+stack per idle KCP session vs TCP
//	benchkcp serve      TLS echo/sink over TCP and KCP on -listen (for the wire)
//	benchkcp client     bulk + request latency to a `serve` over -transport
//	benchkcp wire       a TUN wire between two network namespaces with loss,
//	                    delay and a rate limit (see scripts/bench-kcp.sh)
//
// Traffic goes to loopback or into namespaces the script creates.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchkcp loopback|mem|serve|client|wire [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "loopback":
		err = loopback(os.Args[2:])
	case "mem":
		err = mem(os.Args[2:])
	case "memclient":
		err = memClient(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	case "client":
		err = client(os.Args[2:])
	case "wire":
		err = wire(os.Args[2:])
	default:
		err = fmt.Errorf("unknown part %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchkcp:", err)
		os.Exit(1)
	}
}
