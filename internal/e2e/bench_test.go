package e2e

import (
	"io"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
)

// Benchmarks put each tunnel figure beside the same work over direct
// loopback, alternating the two inside one run so machine noise hits both,
// and report the ratio. Run: go test -run '^$' -bench . ./internal/e2e

// benchTunnel starts an edge and an agent with one tcp tunnel to svc and
// returns its public address.
func benchTunnel(b *testing.B, svc string) string {
	b.Helper()
	p := newPKI(b)
	cfg := p.edgeConfig(b)
	cfg.Limits.HeartbeatInterval, cfg.Limits.HeartbeatTimeout = 10*time.Second, 30*time.Second
	e := startEdge(b, cfg)
	ac := p.agentConfig(e.addr(), "bench", agent.TunnelConfig{Name: "t", Proto: "tcp", Addr: svc})
	ac.Log.Level = "warn"
	a := startAgent(b, ac)
	return a.up(b).Tunnels["t"]
}

// sink reads and discards, then reports the count back when the writer
// half-closes, so a transfer is timed end to end.
func sink(c net.Conn) {
	n, _ := io.Copy(io.Discard, c)
	var buf [8]byte
	for i := range buf {
		buf[i] = byte(n >> (8 * i))
	}
	c.Write(buf[:])
	c.Close()
}

// push sends size bytes over a new connection to addr and waits for the
// sink's acknowledgement.
func push(b *testing.B, addr string, buf []byte, size int) time.Duration {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for sent := 0; sent < size; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	var ack [8]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// One stream, client → edge → agent → local sink, 64 MiB per op.
func BenchmarkTunnelThroughput(b *testing.B) {
	svc := serve(b, sink)
	public := benchTunnel(b, svc.addr())
	const size = 64 << 20
	buf := make([]byte, 128<<10)
	push(b, public, buf, size) // warm up
	var direct, tunnel time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct += push(b, svc.addr(), buf, size)
		tunnel += push(b, public, buf, size)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) * 8 / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(direct), "direct-Mbit/s")
	b.ReportMetric(mbps(tunnel), "tunnel-Mbit/s")
	b.ReportMetric(direct.Seconds()/tunnel.Seconds(), "ratio")
}

// A new connection and its first byte: dial, and read the service's
// greeting.
func BenchmarkConnectFirstByte(b *testing.B) {
	svc := serve(b, whoami("x"))
	public := benchTunnel(b, svc.addr())
	first := func(addr string) time.Duration {
		start := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		var g [1]byte
		if _, err := io.ReadFull(c, g[:]); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		c.Close()
		return d
	}
	var direct, tunnel []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct = append(direct, first(svc.addr()))
		tunnel = append(tunnel, first(public))
	}
	b.StopTimer()
	reportLatency(b, direct, tunnel)
}

// Small request/response on one open connection, sequentially: the
// latency the tunnel adds per request.
func BenchmarkRequestLatency(b *testing.B) {
	svc := serve(b, echo)
	public := benchTunnel(b, svc.addr())
	msg := make([]byte, 64)
	dial := func(addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	dc, tc := dial(svc.addr()), dial(public)
	rt := func(c net.Conn) time.Duration {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for i := 0; i < 100; i++ {
		rt(dc)
		rt(tc)
	}
	var direct, tunnel []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct = append(direct, rt(dc))
		tunnel = append(tunnel, rt(tc))
	}
	b.StopTimer()
	reportLatency(b, direct, tunnel)
}

func reportLatency(b *testing.B, direct, tunnel []time.Duration) {
	p := func(ds []time.Duration, q float64) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[int(q*float64(len(s)-1))]
	}
	b.ReportMetric(float64(p(direct, .5).Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(p(tunnel, .5).Microseconds()), "tunnel-p50-µs")
	b.ReportMetric(float64((p(tunnel, .5) - p(direct, .5)).Microseconds()), "added-p50-µs")
	b.ReportMetric(float64(p(tunnel, .99).Microseconds()), "tunnel-p99-µs")
	b.ReportMetric(float64(p(tunnel, .5))/float64(p(direct, .5)), "p50-ratio")
}
