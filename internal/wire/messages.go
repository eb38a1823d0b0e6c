package wire

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Hello is the agent's first message.
type Hello struct {
	Token   string            `json:"token"`
	ID      string            `json:"id"`
	Labels  map[string]string `json:"labels,omitempty"`
	Version string            `json:"version"` // agent software version
	OS      string            `json:"os"`
	Arch    string            `json:"arch"`
}

// Welcome accepts a Hello. The edge dictates the heartbeat and the stream
// limit; the agent follows them.
type Welcome struct {
	Edge             string `json:"edge"` // edge software version
	HeartbeatMillis  int64  `json:"heartbeat_ms"`
	TimeoutMillis    int64  `json:"timeout_ms"`
	MaxStreams       int    `json:"max_streams"`
	ReplacedPrevious bool   `json:"replaced,omitempty"` // an older session with this id was closed
}

// Refusal codes. Agents branch on them; their text is for people.
const (
	RefuseVersion  = "unsupported_version"
	RefuseToken    = "unknown_token"
	RefuseHello    = "bad_hello"
	RefuseShutdown = "shutting_down"
)

// Refuse rejects a Hello, with a reason for the operator.
type Refuse struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// RefusedError is a Refuse received from the peer.
type RefusedError struct{ Refuse Refuse }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("edge refused the session (%s): %s", e.Refuse.Code, e.Refuse.Reason)
}

// Tunnel protocols.
const (
	ProtoTCP     = "tcp"
	ProtoHTTP    = "http"
	ProtoTLS     = "tls"
	ProtoLabeled = "labeled"
)

// Bind asks the edge to serve one tunnel.
type Bind struct {
	Name       string            `json:"name"`
	Proto      string            `json:"proto"`
	RemotePort int               `json:"remote_port,omitempty"`
	Hostname   string            `json:"hostname,omitempty"`
	Subdomain  string            `json:"subdomain,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"` // labeled: the tunnel's full label set
	// http tunnels: what the edge does in front of the device.
	HostHeader string   `json:"host_header,omitempty"` // rewrite Host to this
	BasicAuth  []string `json:"basic_auth,omitempty"`  // "user:pass" or "user:<bcrypt or sha256:hex>"
	AllowCIDRs []string `json:"allow_cidrs,omitempty"` // http, tls: client addresses let in
	DenyCIDRs  []string `json:"deny_cidrs,omitempty"`  // http, tls: client addresses kept out
}

// BindResult answers a Bind.
type BindResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Public string `json:"public,omitempty"` // public address or URL
	Error  string `json:"error,omitempty"`  // why the bind was refused, naming the rule
}

// Unbind removes a tunnel.
type Unbind struct {
	Name string `json:"name"`
}

// Ping is the agent's heartbeat; RTTMicros reports the last measured round
// trip so the edge can show it.
type Ping struct {
	Seq       uint64 `json:"seq"`
	RTTMicros int64  `json:"rtt_us,omitempty"`
}

// Pong answers a Ping.
type Pong struct {
	Seq uint64 `json:"seq"`
}

// Limits on identifiers and labels, shared by both sides.
const (
	MaxIDLen         = 128
	MaxNameLen       = 64
	MaxLabels        = 64
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 255
	MaxTokenLen      = 512
	MaxAccessRules   = 32  // basic_auth, allow_cidrs, deny_cidrs entries each
	MaxAccessRuleLen = 256 // bytes per entry
)

// ErrInvalid marks a message that breaks the limits above.
var ErrInvalid = errors.New("invalid")

// Validate checks a Hello's fields against the limits.
func (h *Hello) Validate() error {
	if h.Token == "" {
		return fmt.Errorf("%w: empty token", ErrInvalid)
	}
	if len(h.Token) > MaxTokenLen {
		return fmt.Errorf("%w: token longer than %d bytes", ErrInvalid, MaxTokenLen)
	}
	if err := ValidID(h.ID); err != nil {
		return err
	}
	return ValidLabels(h.Labels)
}

// Validate checks a Bind's fields.
func (b *Bind) Validate() error {
	if err := ValidName(b.Name); err != nil {
		return err
	}
	switch b.Proto {
	case ProtoTCP, ProtoHTTP, ProtoTLS, ProtoLabeled:
	default:
		return fmt.Errorf("%w: tunnel %q: unknown proto %q", ErrInvalid, b.Name, b.Proto)
	}
	if b.RemotePort < 0 || b.RemotePort > 65535 {
		return fmt.Errorf("%w: tunnel %q: remote_port %d out of range", ErrInvalid, b.Name, b.RemotePort)
	}
	if len(b.Hostname) > 253 || len(b.Subdomain) > 63 {
		return fmt.Errorf("%w: tunnel %q: hostname too long", ErrInvalid, b.Name)
	}
	if len(b.HostHeader) > 253 {
		return fmt.Errorf("%w: tunnel %q: host_header too long", ErrInvalid, b.Name)
	}
	for key, list := range map[string][]string{"basic_auth": b.BasicAuth, "allow_cidrs": b.AllowCIDRs, "deny_cidrs": b.DenyCIDRs} {
		if len(list) > MaxAccessRules {
			return fmt.Errorf("%w: tunnel %q: %s has %d entries, at most %d", ErrInvalid, b.Name, key, len(list), MaxAccessRules)
		}
		for _, e := range list {
			if len(e) > MaxAccessRuleLen || !printable(e) {
				return fmt.Errorf("%w: tunnel %q: %s entry too long or not printable", ErrInvalid, b.Name, key)
			}
		}
	}
	return ValidLabels(b.Labels)
}

// ValidID checks an agent id: 1–128 of [A-Za-z0-9._-].
func ValidID(id string) error {
	if id == "" || len(id) > MaxIDLen || !isToken(id, "._-") {
		return fmt.Errorf("%w: agent id %q: want 1–%d characters of A-Z a-z 0-9 . _ -", ErrInvalid, clip(id), MaxIDLen)
	}
	return nil
}

// ValidName checks a tunnel or endpoint name: 1–64 of [A-Za-z0-9_-].
func ValidName(n string) error {
	if n == "" || len(n) > MaxNameLen || !isToken(n, "_-") {
		return fmt.Errorf("%w: name %q: want 1–%d characters of A-Z a-z 0-9 _ -", ErrInvalid, clip(n), MaxNameLen)
	}
	return nil
}

// LabelError is a problem with one label.
type LabelError struct {
	Key string
	Err error
}

func (e *LabelError) Error() string { return e.Err.Error() }
func (e *LabelError) Unwrap() error { return e.Err }

// ValidLabels checks label keys (1–63 of [A-Za-z0-9._/-]) and values (at
// most 255 printable characters, no '=' or ',').
func ValidLabels(l map[string]string) error {
	if len(l) > MaxLabels {
		return fmt.Errorf("%w: %d labels, at most %d", ErrInvalid, len(l), MaxLabels)
	}
	for k, v := range l {
		if k == "" || len(k) > MaxLabelKeyLen || !isToken(k, "._/-") {
			return &LabelError{k, fmt.Errorf("%w: label key %q: want 1–%d characters of A-Z a-z 0-9 . _ / -", ErrInvalid, clip(k), MaxLabelKeyLen)}
		}
		if len(v) > MaxLabelValueLen || strings.ContainsAny(v, "=,") || !printable(v) {
			return &LabelError{k, fmt.Errorf("%w: label %s: value %q: want at most %d printable characters without '=' or ','", ErrInvalid, k, clip(v), MaxLabelValueLen)}
		}
	}
	return nil
}

// FormatLabels renders labels as sorted k=v pairs, for logs.
func FormatLabels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
	}
	return b.String()
}

func isToken(s, extra string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(extra, r):
		default:
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
