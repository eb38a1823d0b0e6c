package transport

import (
	"io"
	"net"
	"testing"
)

// benchConn returns an agent-side TLS conn over kind to an echo server.
func benchConn(b *testing.B, kind string) *Conn {
	var l net.Listener
	var err error
	switch kind {
	case KCP:
		l, err = ListenKCP("127.0.0.1:0", DefaultKCP(), KCPLimits{})
	default:
		l, err = Listen(kind, "127.0.0.1:0")
	}
	if err != nil {
		b.Fatal(err)
	}
	clientTLS, serverTLS := newTestTLS(b)
	wait := serveTLS(b, l, serverTLS, func(c *Conn) { io.Copy(c, c) })
	c := dialTLS(b, b.Context(), kind, l.Addr().String(), clientTLS)
	b.Cleanup(func() {
		c.Close()
		l.Close()
		if kind != KCP {
			return // the TCP echo ends when the agent's close arrives
		}
		wait()
	})
	return c
}

// BenchmarkRequest is one 64-byte request and its echo over TLS.
func BenchmarkRequest(b *testing.B) {
	for _, kind := range []string{TCP, KCP} {
		b.Run(kind, func(b *testing.B) {
			c := benchConn(b, kind)
			msg := make([]byte, 64)
			got := make([]byte, 64)
			b.ResetTimer()
			for b.Loop() {
				c.Write(msg)
				if _, err := io.ReadFull(c, got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBulk streams 64 KiB writes to an echo and reads them back.
func BenchmarkBulk(b *testing.B) {
	for _, kind := range []string{TCP, KCP} {
		b.Run(kind, func(b *testing.B) {
			c := benchConn(b, kind)
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			done := make(chan error, 1)
			n := b.N
			go func() {
				_, err := io.CopyN(io.Discard, c, int64(n*len(buf)))
				done <- err
			}()
			b.ResetTimer()
			for range n {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
