package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tetherhq/tether/internal/wire"
)

// The status socket: a unix socket in state_dir, mode 0600, so only the
// agent's user (and root) may ask. No TCP port is opened on the device. A
// client writes one line, "status", and reads WriteStatus's text until EOF.
// The agent renders it, so the client side is a copy; no HTTP, no JSON, no
// parser: the agent goes onto 8 MB of router flash.

// SocketName is the status socket's file name in state_dir.
const SocketName = "agent.sock"

// statusTimeout bounds one status exchange.
const statusTimeout = 2 * time.Second

// Status is what `tether-agent status` shows.
type Status struct {
	ID        string
	Edge      string
	Transport string
	State     string // connecting | connected | waiting to reconnect
	Since     time.Time
	LastError string
	RTTMillis float64
	Streams   int
	Labels    map[string]string
	Tunnels   []TunnelStatus
}

// TunnelStatus is one configured tunnel.
type TunnelStatus struct {
	Name   string
	Proto  string
	Addr   string
	Public string // where the edge serves it
	Error  string // why the edge refused it
}

// Status reports the agent's session and tunnels.
func (a *Agent) Status() Status {
	a.mu.Lock()
	st := Status{
		ID: a.id, Edge: a.cfg.Edge, Transport: a.cfg.Transport,
		State: a.state, Since: a.stateTime, Labels: maps.Clone(a.labels),
	}
	if a.stateErr != nil {
		st.LastError = a.stateErr.Error()
	}
	tunnels, cur := a.tunnels, a.cur
	a.mu.Unlock()
	var public, refused map[string]string
	if cur != nil {
		if t := cur.conn.Transport(); t != st.Transport {
			st.Transport += ": " + t // auto, and what it found
		}
		st.RTTMillis = float64(cur.lastRTT.Load()) / 1000
		st.Streams = int(cur.active.Load())
		cur.mu.Lock()
		public, refused = maps.Clone(cur.public), maps.Clone(cur.refused)
		cur.mu.Unlock()
	}
	st.Tunnels = []TunnelStatus{}
	for _, t := range tunnels {
		st.Tunnels = append(st.Tunnels, TunnelStatus{Name: t.Name, Proto: t.Proto, Addr: t.Addr, Public: public[t.Name], Error: refused[t.Name]})
	}
	return st
}

// serveStatus answers on the status socket until ctx ends; the returned
// func waits for that. A socket it cannot open is logged, not fatal: the
// device keeps its tunnels.
func (a *Agent) serveStatus(ctx context.Context) (wait func()) {
	path := filepath.Join(a.cfg.StateDir, SocketName)
	l, err := listenStatus(path)
	if err != nil {
		a.log.Warn("status socket unavailable; `tether-agent status` will not work", "path", path, "err", err)
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					a.log.Warn("status socket failed", "err", err)
				}
				return
			}
			a.answerStatus(c)
		}
	}()
	return func() {
		stop()
		l.Close()
		wg.Wait()
		os.Remove(path)
	}
}

// listenStatus opens the socket, replacing a stale file that no agent
// answers on; it refuses to take over one that another agent serves.
func listenStatus(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", path, statusTimeout); err == nil {
		c.Close()
		return nil, fmt.Errorf("another agent serves %s (same state_dir?)", path)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// answerStatus serves one client, under a deadline.
func (a *Agent) answerStatus(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(statusTimeout))
	var req [32]byte
	n := 0
	for n < len(req) && (n == 0 || req[n-1] != '\n') {
		m, err := c.Read(req[n:])
		n += m
		if err != nil {
			break
		}
	}
	if strings.TrimSpace(string(req[:n])) != "status" {
		io.WriteString(c, "unknown request: send \"status\\n\"\n")
		return
	}
	st := a.Status()
	WriteStatus(c, &st)
}

// QueryStatus asks the agent serving the status socket at path and copies
// its answer to w.
func QueryStatus(w io.Writer, path string) error {
	c, err := net.DialTimeout("unix", path, statusTimeout)
	if err != nil {
		return fmt.Errorf("no agent answers on %s (is it running with this state_dir?): %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(statusTimeout))
	if _, err := io.WriteString(c, "status\n"); err != nil {
		return err
	}
	if _, err := io.Copy(w, c); err != nil {
		return fmt.Errorf("status from %s: %w", path, err)
	}
	return nil
}

// WriteStatus prints st for a person.
func WriteStatus(w io.Writer, st *Status) {
	fmt.Fprintf(w, "agent     %s\n", st.ID)
	fmt.Fprintf(w, "edge      %s (%s)\n", st.Edge, st.Transport)
	fmt.Fprintf(w, "session   %s since %s\n", st.State, st.Since.Format(time.RFC3339))
	if st.LastError != "" {
		fmt.Fprintf(w, "error     %s\n", st.LastError)
	}
	if st.State == stateConnected {
		if st.RTTMillis > 0 {
			fmt.Fprintf(w, "rtt       %.1f ms\n", st.RTTMillis)
		} else {
			fmt.Fprintf(w, "rtt       - (no heartbeat answered yet)\n")
		}
		fmt.Fprintf(w, "streams   %d\n", st.Streams)
	}
	fmt.Fprintf(w, "labels    %s\n", wire.FormatLabels(st.Labels))
	fmt.Fprintf(w, "tunnels   %d\n", len(st.Tunnels))
	for _, t := range st.Tunnels {
		where := t.Public
		switch {
		case t.Error != "":
			where = "refused: " + t.Error
		case where == "":
			where = "not bound"
		}
		fmt.Fprintf(w, "  %-12s %-8s %-21s → %s\n", t.Name, t.Proto, t.Addr, where)
	}
}
