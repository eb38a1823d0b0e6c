package edge

import (
	"crypto/sha256"
	"fmt"
	"strings"
)

// hardwareKeys are the labels agents detect themselves. A token's
// allow_labels leaves them free unless one of its rules names the key, so
// restricting "site" does not lock out every device's "arch".
var hardwareKeys = map[string]bool{"arch": true, "os": true, "distro": true, "board": true, "hostname": true, "cpus": true}

// token is a [[token]] ready for checks. The secret itself is never kept.
type token struct {
	hash   [32]byte // SHA-256 of the secret: a reload finds a session's token again by it
	name   string
	labels []labelRule // nil: any labels
	hosts  []string    // nil: any host under the edge's rules
	ports  []portRange // nil: the edge's tcp_ports
}

type labelRule struct{ key, value string } // value is a glob

func parseLabelRule(s string) (labelRule, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return labelRule{}, fmt.Errorf("%q is not key=value (value may use *, e.g. \"app=*\")", s)
	}
	return labelRule{strings.TrimSpace(k), strings.TrimSpace(v)}, nil
}

func newToken(c *TokenConfig) *token {
	t := &token{name: c.Name, hosts: c.AllowHosts}
	for _, r := range c.AllowLabels {
		lr, _ := parseLabelRule(r) // validated
		t.labels = append(t.labels, lr)
	}
	if c.AllowLabels != nil && t.labels == nil {
		t.labels = []labelRule{} // allow_labels = [] allows none
	}
	t.ports, _ = parsePortRanges(c.AllowPorts)
	return t
}

// tokenSet finds tokens by the SHA-256 of the secret an agent presents.
type tokenSet map[[32]byte]*token

func newTokenSet(cs []TokenConfig) tokenSet {
	ts := make(tokenSet, len(cs))
	for i := range cs {
		t := newToken(&cs[i])
		t.hash = cs[i].hash()
		ts[t.hash] = t
	}
	return ts
}

func (ts tokenSet) lookup(secret string) *token {
	return ts[sha256.Sum256([]byte(secret))]
}

// checkLabels reports the first label that no rule allows.
func (t *token) checkLabels(l map[string]string) error {
	if t.labels == nil {
		return nil
	}
	for k, v := range l {
		named, ok := false, false
		for _, r := range t.labels {
			if r.key == k || r.key == "*" {
				named = named || r.key == k
				if glob(r.value, v) {
					ok = true
					break
				}
			}
		}
		if !ok && !(hardwareKeys[k] && !named) {
			return fmt.Errorf("label %s=%s is not allowed by token %q (allow_labels = %s)", k, v, t.name, t.labelRules())
		}
	}
	return nil
}

func (t *token) labelRules() string {
	s := make([]string, len(t.labels))
	for i, r := range t.labels {
		s[i] = fmt.Sprintf("%q", r.key+"="+r.value)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// checkPort reports whether the token may take public port p; without
// allow_ports only the edge's tcp_ports range is open.
func (t *token) checkPort(p int, edgeRange []portRange) error {
	if t.ports != nil {
		if !inRanges(t.ports, p) {
			return fmt.Errorf("port %d is not allowed by token %q (allow_ports)", p, t.name)
		}
		return nil
	}
	if !inRanges(edgeRange, p) {
		return fmt.Errorf("port %d is outside the edge's listen.tcp_ports and token %q has no allow_ports", p, t.name)
	}
	return nil
}

// checkHost reports whether the token may serve host name h.
func (t *token) checkHost(h string) error {
	if t.hosts == nil {
		return nil
	}
	for _, pat := range t.hosts {
		if glob(strings.ToLower(pat), strings.ToLower(h)) {
			return nil
		}
	}
	return fmt.Errorf("host %s is not allowed by token %q (allow_hosts)", h, t.name)
}

// glob matches s against pattern, where * matches any run of characters.
func glob(pattern, s string) bool {
	for {
		star := strings.IndexByte(pattern, '*')
		if star < 0 {
			return pattern == s
		}
		if !strings.HasPrefix(s, pattern[:star]) {
			return false
		}
		s, pattern = s[star:], pattern[star+1:]
		if pattern == "" {
			return true
		}
		// Try every place the rest can start.
		for i := 0; i <= len(s); i++ {
			if glob(pattern, s[i:]) {
				return true
			}
		}
		return false
	}
}
