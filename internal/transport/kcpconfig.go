package transport

import (
	"fmt"

	kcp "github.com/xtaci/kcp-go/v5"
)

// KCPConfig is every kcp-go knob tether exposes: the agent's optional [kcp]
// table; the edge's listener runs DefaultKCP. Start from DefaultKCP and
// decode over it, so absent keys keep their defaults. The two ends may
// differ in every setting. There is no FEC: third_party/kcp-go leaves
// kcp-go's Reed-Solomon coder out (≈ 190 KB of router flash), and fast
// retransmit (Resend) with no congestion window repairs random loss.
type KCPConfig struct {
	// Interval is kcp-go's update tick in milliseconds: retransmit timers
	// and (with ACKNoDelay off) ACKs run on it. Requests never wait for it:
	// writes are flushed at once.
	Interval int `toml:"interval"`
	// Resend is the fast-retransmit threshold: a segment skipped by this
	// many ACKs is sent again without waiting for its timer. 0 turns it off.
	Resend int `toml:"resend"`
	// NoCongestion turns KCP's congestion window off. On, a new session's
	// first segments wait a tick and throughput collapses under random loss.
	NoCongestion bool `toml:"no_congestion"`
	// SndWnd and RcvWnd are the windows in segments. Memory per session
	// grows to about window × mtu on each side during a transfer and stays.
	SndWnd int `toml:"snd_wnd"`
	RcvWnd int `toml:"rcv_wnd"`
	// MTU is the largest UDP payload KCP sends.
	MTU int `toml:"mtu"`
	// ACKNoDelay sends an ACK for every datagram at once instead of with the
	// next write or tick. On: loss is repaired sooner (≈ +30% throughput at
	// 2% loss, 40 ms RTT); off: ≈ +60% bulk throughput on a clean path and
	// half the datagrams. Request latency is the same either way.
	ACKNoDelay bool `toml:"ack_nodelay"`
}

// DefaultKCP returns the settings that are fast on a clean link and robust
// on a lossy one (../shared/MUX-NOTES.md has the measurements).
func DefaultKCP() KCPConfig {
	return KCPConfig{
		Interval:     20,
		Resend:       2,
		NoCongestion: true,
		SndWnd:       1024,
		RcvWnd:       1024,
		MTU:          1350,
		ACKNoDelay:   true,
	}
}

// Validate reports the first bad setting, named by its key in the [kcp]
// table.
func (c KCPConfig) Validate() error {
	checks := []struct {
		key      string
		v, lo, h int
	}{
		{"interval", c.Interval, 10, 1000},
		{"resend", c.Resend, 0, 16},
		{"snd_wnd", c.SndWnd, 32, 8192},
		{"rcv_wnd", c.RcvWnd, 32, 8192},
		{"mtu", c.MTU, 576, 1472},
	}
	for _, k := range checks {
		if k.v < k.lo || k.v > k.h {
			return &ConfigError{Key: "kcp." + k.key, Msg: fmt.Sprintf("%d is not in %d..%d", k.v, k.lo, k.h)}
		}
	}
	return nil
}

// ConfigError names the [kcp] key that is wrong, as "kcp.<key>".
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Msg }

// apply tunes a fresh session. Stream mode on: smux needs a byte stream and
// full segments. Write delay off: every write is flushed at once, so no
// request waits for a tick.
func (c KCPConfig) apply(s *kcp.UDPSession) {
	nc := 0
	if c.NoCongestion {
		nc = 1
	}
	s.SetStreamMode(true)
	s.SetWriteDelay(false)
	s.SetNoDelay(1, c.Interval, c.Resend, nc)
	s.SetWindowSize(c.SndWnd, c.RcvWnd)
	s.SetMtu(c.MTU)
	s.SetACKNoDelay(c.ACKNoDelay)
}
