package edge

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// gate is what stands in front of an http/tls route: client address rules
// and HTTP basic auth. A nil *gate lets everyone in.
type gate struct {
	users map[string]credential
	allow []netip.Prefix // empty: any address not denied
	deny  []netip.Prefix

	mu       sync.Mutex
	verified map[[32]byte]bool // bcrypt results, so a client's every request is not a bcrypt run
}

// credential is one basic_auth password: in clear, as SHA-256, or bcrypt.
type credential struct {
	plain  [32]byte // SHA-256 of the clear password, compared in constant time
	sha    bool
	bcrypt []byte
}

type gateError struct {
	key string
	err error
}

func (e *gateError) Error() string { return e.key + ": " + e.err.Error() }

// maxVerified bounds the bcrypt cache; it is emptied when full.
const maxVerified = 1024

// parseGate reads basic_auth ("user:pass", "user:sha256:HEX" or
// "user:$2y$…" bcrypt) and address rules (CIDRs or single addresses). It
// returns nil, nil when there are no rules at all.
func parseGate(basic, allow, deny []string) (*gate, *gateError) {
	if len(basic) == 0 && len(allow) == 0 && len(deny) == 0 {
		return nil, nil
	}
	a := &gate{verified: map[[32]byte]bool{}}
	for i, u := range basic {
		name, pass, ok := strings.Cut(u, ":")
		if !ok || name == "" || pass == "" {
			return nil, &gateError{fmt.Sprintf("basic_auth[%d]", i), errors.New(`want "user:password" (password in clear, "sha256:HEX" or a bcrypt hash)`)}
		}
		if a.users == nil {
			a.users = map[string]credential{}
		}
		var c credential
		switch {
		case strings.HasPrefix(pass, "$2a$") || strings.HasPrefix(pass, "$2b$") || strings.HasPrefix(pass, "$2y$"):
			if _, err := bcrypt.Cost([]byte(pass)); err != nil {
				return nil, &gateError{fmt.Sprintf("basic_auth[%d]", i), fmt.Errorf("user %s: bad bcrypt hash: %v", name, err)}
			}
			c.bcrypt = []byte(pass)
		case strings.HasPrefix(pass, "sha256:"):
			h, err := hex.DecodeString(strings.TrimPrefix(pass, "sha256:"))
			if err != nil || len(h) != 32 {
				return nil, &gateError{fmt.Sprintf("basic_auth[%d]", i), fmt.Errorf("user %s: sha256: wants 64 hex digits (printf %%s PASS | sha256sum)", name)}
			}
			copy(c.plain[:], h)
			c.sha = true
		default:
			c.plain = sha256.Sum256([]byte(pass))
			c.sha = true
		}
		a.users[name] = c
	}
	for _, r := range []struct {
		key  string
		list []string
		dst  *[]netip.Prefix
	}{{"allow_cidrs", allow, &a.allow}, {"deny_cidrs", deny, &a.deny}} {
		for i, s := range r.list {
			p, err := parsePrefix(s)
			if err != nil {
				return nil, &gateError{fmt.Sprintf("%s[%d]", r.key, i), err}
			}
			*r.dst = append(*r.dst, p)
		}
	}
	return a, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR like \"10.0.0.0/8\"", s)
}

// allowAddr applies allow_cidrs and deny_cidrs to a client address
// ("ip:port"). Deny wins; with allow rules, only matching clients pass.
func (a *gate) allowAddr(remote string) bool {
	if a == nil || (len(a.allow) == 0 && len(a.deny) == 0) {
		return true
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.deny {
		if p.Contains(ip) {
			return false
		}
	}
	if len(a.allow) == 0 {
		return true
	}
	for _, p := range a.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// authorized checks the request's basic auth against the users.
func (a *gate) authorized(r *http.Request) bool {
	if a == nil || a.users == nil {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	c, known := a.users[user]
	if !known {
		return false
	}
	if c.sha {
		sum := sha256.Sum256([]byte(pass))
		return subtle.ConstantTimeCompare(sum[:], c.plain[:]) == 1
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass))
	a.mu.Lock()
	hit := a.verified[key]
	a.mu.Unlock()
	if hit {
		return true
	}
	if bcrypt.CompareHashAndPassword(c.bcrypt, []byte(pass)) != nil {
		return false
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerified {
		clear(a.verified)
	}
	a.verified[key] = true
	a.mu.Unlock()
	return true
}
