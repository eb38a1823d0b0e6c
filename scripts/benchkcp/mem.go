package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/tetherhq/tether/internal/transport"
)

// mem measures the edge side's Go heap+stack per idle session: TLS done
// and one 64-byte echo, over TCP and over KCP. The agents are a child
// process, so only the edge side is counted.
func mem(args []string) error {
	fs := flag.NewFlagSet("mem", flag.ExitOnError)
	n := fs.Int("sessions", 500, "sessions per transport")
	fs.Parse(args)
	dir, err := os.MkdirTemp("", "benchkcp-mem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	serverTLS, cert, err := edgeTLS(dir, "localhost")
	if err != nil {
		return err
	}
	fmt.Printf("Edge Go heap+stack per idle session (TLS done, one 64-byte echo; %d sessions; agents in a child process)\n\n", *n)
	fmt.Println("| transport | KiB per session |\n|-----------|----------------:|")
	for _, kind := range []string{transport.TCP, transport.KCP} {
		var l net.Listener
		if kind == transport.KCP {
			l, err = transport.ListenKCP("127.0.0.1:0", transport.DefaultKCP(), transport.KCPLimits{})
		} else {
			l, err = transport.Listen(kind, "127.0.0.1:0")
		}
		if err != nil {
			return err
		}
		held := make(chan *transport.Conn, *n)
		go func() {
			for {
				raw, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					c, err := transport.Server(context.Background(), raw, serverTLS)
					if err != nil {
						return
					}
					var b [64]byte
					if _, err := io.ReadFull(c, b[:]); err == nil {
						c.Write(b[:])
					}
					held <- c // held idle, with no goroutine of its own
				}()
			}
		}()
		before := heapStack()
		child := exec.Command(os.Args[0], "memclient", kind, l.Addr().String(), cert.CACert, strconv.Itoa(*n))
		child.Stderr = os.Stderr
		out, _ := child.StdoutPipe()
		child.Stdin, _ = os.Open(os.DevNull)
		if err := child.Start(); err != nil {
			return err
		}
		var conns []*transport.Conn
		for range *n {
			select {
			case c := <-held:
				conns = append(conns, c)
			case <-time.After(60 * time.Second):
				child.Process.Kill()
				return fmt.Errorf("%s: only %d sessions after 60 s", kind, len(conns))
			}
		}
		after := heapStack()
		fmt.Printf("| %-9s | %15.1f |\n", kind, float64(after-before)/float64(*n)/1024)
		bufio.NewReader(out).ReadString('\n')
		child.Process.Kill()
		child.Wait()
		for _, c := range conns {
			c.Close()
		}
		if kl, ok := l.(*transport.KCPListener); ok {
			kl.Shutdown()
		} else {
			l.Close()
		}
	}
	fmt.Println()
	return nil
}

func heapStack() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// memClient is the child: it dials n sessions, echoes once on each, says
// "ready" and holds them until killed.
func memClient(args []string) error {
	kind, addr, ca := args[0], args[1], args[2]
	n, _ := strconv.Atoi(args[3])
	pem, err := os.ReadFile(ca)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg, _ := transport.ClientTLS("", "localhost")
	cfg.RootCAs = pool
	d := &transport.Dialer{Kind: kind, Addr: addr, TLS: cfg, KCP: transport.DefaultKCP()}
	var conns []*transport.Conn
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := d.Dial(ctx)
		cancel()
		if err != nil {
			return err
		}
		b := make([]byte, 64)
		c.Write(b)
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	select {}
}
