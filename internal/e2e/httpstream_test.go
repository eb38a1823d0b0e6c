package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/tetherhq/tether/agent"
)

// webTunnel starts a web edge and one agent with an http tunnel to h,
// served as <sub>.tether.test.
func webTunnel(t *testing.T, sub string, h http.Handler) (*runningEdge, pki) {
	t.Helper()
	p := newWebPKI(t)
	e := startEdge(t, p.webEdgeConfig(t))
	ev := startAgent(t, p.agentConfig(e.addr(), "pi", agent.TunnelConfig{Name: sub, Proto: "http", Addr: webService(t, h), Subdomain: sub})).up(t)
	if len(ev.Refused) > 0 {
		t.Fatalf("refused: %v", ev.Refused)
	}
	return e, p
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho is a minimal RFC 6455 server: it echoes every frame.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "websocket only", http.StatusBadRequest)
		return
	}
	c, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	brw.Flush()
	for {
		op, msg, err := wsRead(brw.Reader)
		if err != nil {
			return
		}
		if wsWrite(c, op, msg, false) != nil || op == 8 {
			return
		}
	}
}

func wsRead(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	var mask [4]byte
	if h[1]&0x80 != 0 {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		for i := range msg {
			msg[i] ^= mask[i%4]
		}
	}
	return h[0] & 0x0f, msg, nil
}

func wsWrite(w io.Writer, op byte, msg []byte, masked bool) error {
	b := []byte{0x80 | op}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch n := len(msg); {
	case n < 126:
		b = append(b, mbit|byte(n))
	case n < 1<<16:
		b = append(b, mbit|126, byte(n>>8), byte(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	payload := msg
	if masked {
		var mask [4]byte
		rand.Read(mask[:])
		b = append(b, mask[:]...)
		payload = make([]byte, len(msg))
		for i := range msg {
			payload[i] = msg[i] ^ mask[i%4]
		}
	}
	_, err := w.Write(append(b, payload...))
	return err
}

// WebSocket echo through the tunnel, over plain http and over https.
func TestWebSocketEcho(t *testing.T) {
	e, p := webTunnel(t, "ws", http.HandlerFunc(wsEcho))
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[secure], func(t *testing.T) {
			var c net.Conn
			var err error
			if secure {
				c, err = tls.Dial("tcp", e.HTTPSAddr().String(), &tls.Config{ServerName: "ws.tether.test", RootCAs: p.caPool(t), NextProtos: []string{"http/1.1"}})
			} else {
				c, err = net.Dial("tcp", e.HTTPAddr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
			fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: ws.tether.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
				t.Fatalf("upgrade answered %s %v", resp.Status, resp.Header)
			}
			for i, msg := range [][]byte{[]byte("hello"), make([]byte, 300), make([]byte, 70000)} {
				rand.Read(msg[min(len(msg), 5):])
				if err := wsWrite(c, 2, msg, true); err != nil {
					t.Fatal(err)
				}
				op, got, err := wsRead(br)
				if err != nil || op != 2 || string(got) != string(msg) {
					t.Fatalf("message %d (%d bytes): echo op %d, %d bytes, err %v", i, len(msg), op, len(got), err)
				}
			}
			wsWrite(c, 8, nil, true)
			if op, _, err := wsRead(br); err != nil || op != 8 {
				t.Fatalf("close: op %d err %v", op, err)
			}
		})
	}
}

// Server-sent events and a chunked stream arrive piece by piece: the
// device sends the next piece only after the client has the previous one,
// so any buffering at the edge would stall the test.
func TestStreamingFlushed(t *testing.T) {
	next := make(chan struct{})
	e, p := webTunnel(t, "events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sse" {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				return
			}
		}
	}))
	c := e.webClient(t, p)
	for _, url := range []string{"http://events.tether.test/sse", "http://events.tether.test/chunked", "https://events.tether.test/sse"} {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 3; i++ {
			line, err := br.ReadString('\n')
			if err != nil || line != fmt.Sprintf("data: %d\n", i) {
				t.Fatalf("%s (%s): event %d: %q %v", url, resp.Proto, i, line, err)
			}
			br.ReadString('\n')
			next <- struct{}{}
		}
		resp.Body.Close()
	}
}

// heapWatch samples the process's heap until stopped and reports the peak
// above where it started.
func heapWatch() (stop func() uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
					peak.Store(ms.HeapInuse - base)
				}
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// A big download and a big upload stream through with bounded memory.
// The whole test process (edge, agent, device and client) must stay
// within a few MiB of heap while 1 GiB passes (128 MiB under -race).
func TestHTTPBigBodiesBoundedMemory(t *testing.T) {
	size := int64(1 << 30)
	if raceEnabled {
		size = 128 << 20
	}
	e, p := webTunnel(t, "bulk", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			n, err := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d %v", n, err)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		io.CopyN(w, zeros{}, size)
	}))
	c := e.webClient(t, p)
	c.Timeout = 5 * time.Minute
	stop := heapWatch()
	start := time.Now()
	resp, err := c.Get("http://bulk.tether.test/big")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d of %d bytes, %v", n, size, err)
	}
	down := time.Since(start)
	start = time.Now()
	resp, err = c.Post("http://bulk.tether.test/up", "application/octet-stream", io.LimitReader(zeros{}, size))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != fmt.Sprintf("%d <nil>", size) {
		t.Fatalf("upload: device got %q, want %d bytes", body, size)
	}
	peak := stop()
	t.Logf("%d MiB down in %v, up in %v; heap peak +%d KiB", size>>20, down.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), peak>>10)
	if peak > 48<<20 {
		t.Errorf("heap grew by %d MiB while %d MiB streamed; bodies must not be held in memory", peak>>20, size>>20)
	}
}

// The same echo with a WebSocket library's client (golang.org/x/net's),
// not the byte-level one above: text and binary messages, over http and
// https, through an http tunnel.
func TestWebSocketLibraryClient(t *testing.T) {
	e, p := webTunnel(t, "ws", http.HandlerFunc(wsEcho))
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[secure], func(t *testing.T) {
			scheme, origin := "ws", "http://ws.tether.test/"
			addr := e.HTTPAddr().String()
			if secure {
				scheme, origin, addr = "wss", "https://ws.tether.test/", e.HTTPSAddr().String()
			}
			cfg, err := websocket.NewConfig(scheme+"://ws.tether.test/chat", origin)
			if err != nil {
				t.Fatal(err)
			}
			cfg.TlsConfig = &tls.Config{ServerName: "ws.tether.test", RootCAs: p.caPool(t), NextProtos: []string{"http/1.1"}}
			raw, err := net.Dial("tcp", addr) // the name resolves to the edge, as DNS would
			if err != nil {
				t.Fatal(err)
			}
			if secure {
				raw = tls.Client(raw, cfg.TlsConfig)
			}
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			ws, err := websocket.NewClient(cfg, raw)
			if err != nil {
				t.Fatalf("websocket handshake through the tunnel: %v", err)
			}
			defer ws.Close()
			if err := websocket.Message.Send(ws, "hello over "+scheme); err != nil {
				t.Fatal(err)
			}
			var text string
			if err := websocket.Message.Receive(ws, &text); err != nil || text != "hello over "+scheme {
				t.Fatalf("text echo %q %v", text, err)
			}
			msg := make([]byte, 70000)
			rand.Read(msg)
			if err := websocket.Message.Send(ws, msg); err != nil {
				t.Fatal(err)
			}
			var got []byte
			if err := websocket.Message.Receive(ws, &got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("binary echo: %d of %d bytes, %v", len(got), len(msg), err)
			}
		})
	}
}
