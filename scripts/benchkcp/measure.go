package main

import (
	"fmt"
	"io"
	"net"
	"sort"
	"time"
)

// result is one row of a table.
type result struct {
	name     string
	mbps     float64 // bulk, one stream, Mbit/s
	p50, p99 time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("| %-28s | %10.1f | %9.3f | %9.3f |", r.name, r.mbps, ms(r.p50), ms(r.p99))
}

const tableHead = "| path                         | bulk Mbit/s | p50 ms    | p99 ms    |\n|------------------------------|------------:|----------:|----------:|"

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// requests times n 64-byte request/response round trips to an echo.
func requests(c net.Conn, n int) (p50, p99 time.Duration, err error) {
	msg := make([]byte, 64)
	got := make([]byte, 64)
	lat := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			return 0, 0, err
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100], nil
}

// bulk writes n bytes to a sink that answers one byte when it has them
// all, and returns Mbit/s.
func bulk(c net.Conn, n int64) (float64, error) {
	buf := make([]byte, 64<<10)
	start := time.Now()
	for left := n; left > 0; {
		b := buf[:min(left, int64(len(buf)))]
		if _, err := c.Write(b); err != nil {
			return 0, err
		}
		left -= int64(len(b))
	}
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		return 0, err
	}
	return float64(n*8) / time.Since(start).Seconds() / 1e6, nil
}

// The service protocol: the first byte says what the connection is for.
const (
	modeEcho = 'e'
	modeSink = 's' // then 8 bytes of length; answers one byte at the end
)

// handle serves one connection of the service protocol.
func handle(c net.Conn) {
	defer c.Close()
	var mode [1]byte
	if _, err := io.ReadFull(c, mode[:]); err != nil {
		return
	}
	switch mode[0] {
	case modeEcho:
		io.Copy(c, c)
	case modeSink:
		var l [8]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		n := int64(0)
		for i := range 8 {
			n = n<<8 | int64(l[i])
		}
		if _, err := io.CopyN(io.Discard, c, n); err != nil {
			return
		}
		c.Write([]byte{1})
	}
}

func serveService(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go handle(c)
	}
}

// measure runs the bulk and request measurements against the service
// behind dial.
func measure(name string, dial func() (net.Conn, error), size int64, reqs int) (result, error) {
	r := result{name: name}
	c, err := dial()
	if err != nil {
		return r, err
	}
	hdr := []byte{modeSink, 0, 0, 0, 0, 0, 0, 0, 0}
	for i := range 8 {
		hdr[1+i] = byte(size >> (56 - 8*i))
	}
	if _, err := c.Write(hdr); err != nil {
		return r, err
	}
	if r.mbps, err = bulk(c, size); err != nil {
		return r, fmt.Errorf("%s bulk: %w", name, err)
	}
	c.Close()
	if c, err = dial(); err != nil {
		return r, err
	}
	defer c.Close()
	c.Write([]byte{modeEcho})
	requests(c, min(reqs/10, 100)) // warm up
	if r.p50, r.p99, err = requests(c, reqs); err != nil {
		return r, fmt.Errorf("%s requests: %w", name, err)
	}
	return r, nil
}
