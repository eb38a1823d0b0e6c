package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tetherhq/tether/edge"
	"github.com/tetherhq/tether/internal/transport"
)

// serve runs the service protocol behind TLS over TCP and KCP on -listen
// (the edge's side of a wire), with a certificate written to -certdir.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "", "host:port for TCP and UDP")
	certdir := fs.String("certdir", "", "where to write ca.crt for clients")
	fs.Parse(args)
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return err
	}
	serverTLS, _, err := edgeTLS(*certdir, host)
	if err != nil {
		return err
	}
	tl, kl, err := transport.ListenAgents(*listen, transport.DefaultKCP(), transport.KCPLimits{})
	if err != nil {
		return err
	}
	for _, l := range []net.Listener{tl, kl} {
		go func(l net.Listener) {
			for {
				raw, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					c, err := transport.Server(ctx, raw, serverTLS)
					cancel()
					if err == nil {
						handle(c)
					}
				}()
			}
		}(l)
	}
	fmt.Fprintln(os.Stderr, "serving on", *listen)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	tl.Close()
	kl.Shutdown()
	return nil
}

// client measures one transport to a serve.
func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	addr := fs.String("addr", "", "serve's host:port")
	kind := fs.String("transport", "tcp", "tcp | kcp")
	ca := fs.String("ca", "", "serve's ca.crt")
	label := fs.String("label", "", "row name")
	size := fs.Int64("bytes", 16<<20, "bulk bytes")
	reqs := fs.Int("requests", 300, "requests")
	fs.Parse(args)
	host, _, _ := net.SplitHostPort(*addr)
	cfg, err := transport.ClientTLS(*ca, host)
	if err != nil {
		return err
	}
	d := &transport.Dialer{Kind: *kind, Addr: *addr, TLS: cfg, KCP: transport.DefaultKCP()}
	dial := func() (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return d.Dial(ctx)
	}
	r, err := measure(*label, dial, *size, *reqs)
	if err != nil {
		return err
	}
	fmt.Println(r)
	return nil
}

// edgeTLS writes a CA and an edge certificate for hosts into dir and
// returns the edge's TLS config.
func edgeTLS(dir string, hosts ...string) (*tls.Config, edge.CertFiles, error) {
	cert, err := edge.GenerateCert(dir, hosts)
	if err != nil {
		return nil, cert, err
	}
	pair, err := tls.LoadX509KeyPair(cert.Cert, cert.Key)
	if err != nil {
		return nil, cert, err
	}
	return transport.ServerTLS(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil }), cert, nil
}
