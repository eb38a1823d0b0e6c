package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/logconf"
	"github.com/tetherhq/tether/internal/tomlfile"
	"github.com/tetherhq/tether/internal/wire"
)

// DefaultConfigPath is where the edge looks without -config.
const DefaultConfigPath = "/etc/tether/edge.toml"

// Config is edge.toml.
type Config struct {
	Domain    string           `toml:"domain"`
	StateDir  string           `toml:"state_dir"`
	Listen    ListenConfig     `toml:"listen"`
	TLS       TLSConfig        `toml:"tls"`
	Admin     AdminConfig      `toml:"admin"`
	Log       logconf.Config   `toml:"log"`
	Limits    LimitsConfig     `toml:"limits"`
	Tokens    []TokenConfig    `toml:"token"`
	Endpoints []EndpointConfig `toml:"endpoint"`
}

// ListenConfig is [listen].
type ListenConfig struct {
	Agents   string `toml:"agents"`
	HTTP     string `toml:"http"`
	HTTPS    string `toml:"https"`
	Admin    string `toml:"admin"`
	TCPPorts string `toml:"tcp_ports"`
	// TCPHost is the address public tcp ports listen on; empty = all.
	TCPHost string `toml:"tcp_host"`
}

// TLSConfig is [tls].
type TLSConfig struct {
	CertFile string      `toml:"cert_file"`
	KeyFile  string      `toml:"key_file"`
	ACME     *ACMEConfig `toml:"acme"`
}

// ACMEConfig is [tls.acme].
type ACMEConfig struct {
	Email     string `toml:"email"`
	Directory string `toml:"directory"`
	CacheDir  string `toml:"cache_dir"`
	// CAFile verifies the ACME directory's own HTTPS, for a private ACME
	// server (step-ca, pebble); empty: system roots.
	CAFile string `toml:"ca_file"`
}

// AdminConfig is [admin].
type AdminConfig struct {
	TokenSHA256 string `toml:"token_sha256"`
}

// LimitsConfig is [limits]: timing and resource bounds.
type LimitsConfig struct {
	HeartbeatInterval time.Duration `toml:"heartbeat_interval"`
	HeartbeatTimeout  time.Duration `toml:"heartbeat_timeout"`
	HandshakeTimeout  time.Duration `toml:"handshake_timeout"`
	// StreamTimeout bounds opening a stream on an agent and its dial of
	// the local service; past it the edge tries another group member.
	StreamTimeout      time.Duration `toml:"stream_timeout"`
	MaxStreamsPerAgent int           `toml:"max_streams_per_agent"`
	MaxAgents          int           `toml:"max_agents"`
	// MaxHandshakes bounds handshakes in flight, so a flood of idle
	// connections cannot exhaust the edge.
	MaxHandshakes int `toml:"max_handshakes"`
	// HTTPHeaderTimeout bounds reading a public request's headers (and the
	// TLS ClientHello on the https port): slow clients cannot pile up.
	HTTPHeaderTimeout time.Duration `toml:"http_header_timeout"`
	// HTTPResponseTimeout bounds the wait for a device's response headers;
	// past it the client gets 504.
	HTTPResponseTimeout time.Duration `toml:"http_response_timeout"`
}

// TokenConfig is one [[token]].
type TokenConfig struct {
	Name        string   `toml:"name"`
	SHA256      string   `toml:"sha256"`
	Secret      string   `toml:"secret"`
	AllowLabels []string `toml:"allow_labels"`
	AllowHosts  []string `toml:"allow_hosts"`
	AllowPorts  []string `toml:"allow_ports"`
}

// EndpointConfig is one [[endpoint]].
type EndpointConfig struct {
	Name     string            `toml:"name"`
	Proto    string            `toml:"proto"`
	Hostname string            `toml:"hostname"`
	Port     int               `toml:"port"`
	Labels   map[string]string `toml:"labels"`
	Balance  string            `toml:"balance"`
	// AccessLog logs one line per public connection (and, for http, per
	// request): access.go.
	AccessLog bool `toml:"access_log"`
	// http, https (basic_auth) and tls (cidrs) endpoints: gate.go.
	BasicAuth  []string `toml:"basic_auth"`
	AllowCIDRs []string `toml:"allow_cidrs"`
	DenyCIDRs  []string `toml:"deny_cidrs"`
}

// Balance policies.
const (
	RoundRobin   = "round-robin"
	Random       = "random"
	LeastStreams = "least-streams"
)

// DefaultConfig returns the defaults that a file overrides.
func DefaultConfig() *Config {
	return &Config{
		StateDir: "/var/lib/tether-edge",
		Listen: ListenConfig{
			Agents:   ":7443",
			TCPPorts: "20000-20999",
		},
		Log: logconf.Default(),
		Limits: LimitsConfig{
			HeartbeatInterval:  10 * time.Second,
			HeartbeatTimeout:   30 * time.Second,
			HandshakeTimeout:   wire.HandshakeTimeout,
			StreamTimeout:      10 * time.Second,
			MaxStreamsPerAgent: 128,
			MaxAgents:          50000,
			MaxHandshakes:      1024,

			HTTPHeaderTimeout:   10 * time.Second,
			HTTPResponseTimeout: 60 * time.Second,
		},
	}
}

// LoadConfig reads and validates an edge config file.
func LoadConfig(path string) (*Config, error) {
	cfg := DefaultConfig()
	if err := tomlfile.Load(path, cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks every key; the first problem comes back as a
// *tomlfile.FieldError.
func (c *Config) Validate() error {
	if c.Listen.Agents == "" {
		return tomlfile.Field("listen.agents", "missing: the address agents dial, e.g. \":7443\"")
	}
	for key, addr := range map[string]string{"listen.agents": c.Listen.Agents, "listen.http": c.Listen.HTTP, "listen.https": c.Listen.HTTPS, "listen.admin": c.Listen.Admin} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return tomlfile.Field(key, "%q is not host:port (use \":port\" for all addresses)", addr)
		}
	}
	if _, err := parsePortRanges([]string{c.Listen.TCPPorts}); err != nil || c.Listen.TCPPorts == "" {
		return tomlfile.Field("listen.tcp_ports", "%q is not a port range like \"20000-20999\"", c.Listen.TCPPorts)
	}
	if c.Listen.TCPHost != "" && net.ParseIP(c.Listen.TCPHost) == nil {
		return tomlfile.Field("listen.tcp_host", "%q is not an IP address", c.Listen.TCPHost)
	}
	switch {
	case c.TLS.ACME != nil && (c.TLS.CertFile != "" || c.TLS.KeyFile != ""):
		return tomlfile.Field("tls.acme", "use either cert_file/key_file or [tls.acme], not both")
	case c.TLS.ACME == nil && c.TLS.CertFile == "":
		return tomlfile.Field("tls.cert_file", "missing: the edge's certificate (PEM); `tether-edge gencert` makes one")
	case c.TLS.ACME == nil && c.TLS.KeyFile == "":
		return tomlfile.Field("tls.key_file", "missing: the key of tls.cert_file (PEM)")
	}
	if c.TLS.ACME != nil && c.Listen.HTTPS == "" && c.Listen.HTTP == "" {
		return tomlfile.Field("tls.acme", "ACME needs listen.https (tls-alpn-01) or listen.http (http-01) to answer challenges")
	}
	if err := c.validateAdmin(); err != nil {
		return err
	}
	if err := c.Log.Validate(); err != nil {
		return err
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	names := map[string]bool{}
	for i := range c.Tokens {
		key := fmt.Sprintf("token[%d]", i)
		if err := c.Tokens[i].validate(key); err != nil {
			return err
		}
		if names[c.Tokens[i].Name] {
			return tomlfile.Field(key+".name", "%q is used by another token", c.Tokens[i].Name)
		}
		names[c.Tokens[i].Name] = true
	}
	names = map[string]bool{}
	ports := map[int]bool{}
	for i := range c.Endpoints {
		key := fmt.Sprintf("endpoint[%d]", i)
		e := &c.Endpoints[i]
		if e.Balance == "" {
			e.Balance = RoundRobin
		}
		if err := e.validate(key); err != nil {
			return err
		}
		if err := c.checkEndpointListener(key, e); err != nil {
			return err
		}
		if names[e.Name] {
			return tomlfile.Field(key+".name", "%q is used by another endpoint", e.Name)
		}
		names[e.Name] = true
		if e.Port != 0 {
			if ports[e.Port] {
				return tomlfile.Field(key+".port", "%d is used by another endpoint", e.Port)
			}
			ports[e.Port] = true
		}
	}
	return nil
}

// Warnings lists keys that are accepted but not acted on by this build.
func (c *Config) Warnings() []string {
	var w []string
	if c.Listen.Admin == "" && c.Admin.TokenSHA256 != "" {
		w = append(w, "[admin] token_sha256 is set but listen.admin is not: the admin API is off")
	}
	return w
}

func (l *LimitsConfig) validate() error {
	switch {
	case l.HeartbeatInterval < 100*time.Millisecond:
		return tomlfile.Field("limits.heartbeat_interval", "%v is below 100ms", l.HeartbeatInterval)
	case l.HeartbeatTimeout < 2*l.HeartbeatInterval:
		return tomlfile.Field("limits.heartbeat_timeout", "%v must be at least twice heartbeat_interval (%v)", l.HeartbeatTimeout, l.HeartbeatInterval)
	case l.HandshakeTimeout < 100*time.Millisecond:
		return tomlfile.Field("limits.handshake_timeout", "%v is below 100ms", l.HandshakeTimeout)
	case l.StreamTimeout < 100*time.Millisecond:
		return tomlfile.Field("limits.stream_timeout", "%v is below 100ms", l.StreamTimeout)
	case l.MaxStreamsPerAgent < 1 || l.MaxStreamsPerAgent > 4096:
		return tomlfile.Field("limits.max_streams_per_agent", "%d is not 1–4096", l.MaxStreamsPerAgent)
	case l.MaxAgents < 1:
		return tomlfile.Field("limits.max_agents", "%d must be positive", l.MaxAgents)
	case l.MaxHandshakes < 1:
		return tomlfile.Field("limits.max_handshakes", "%d must be positive", l.MaxHandshakes)
	case l.HTTPHeaderTimeout < 100*time.Millisecond:
		return tomlfile.Field("limits.http_header_timeout", "%v is below 100ms", l.HTTPHeaderTimeout)
	case l.HTTPResponseTimeout < 100*time.Millisecond:
		return tomlfile.Field("limits.http_response_timeout", "%v is below 100ms", l.HTTPResponseTimeout)
	}
	return nil
}

func (t *TokenConfig) validate(key string) error {
	if t.Name == "" {
		return tomlfile.Field(key+".name", "missing")
	}
	switch {
	case t.SHA256 == "" && t.Secret == "":
		return tomlfile.Field(key+".sha256", "missing: the hex SHA-256 of the agent's token (or secret = \"…\" for development)")
	case t.SHA256 != "" && t.Secret != "":
		return tomlfile.Field(key+".secret", "set sha256 or secret, not both")
	case t.SHA256 != "" && !isSHA256Hex(t.SHA256):
		return tomlfile.Field(key+".sha256", "want 64 hex digits (printf %%s TOKEN | sha256sum)")
	}
	for i, r := range t.AllowLabels {
		if _, err := parseLabelRule(r); err != nil {
			return tomlfile.Field(fmt.Sprintf("%s.allow_labels[%d]", key, i), "%v", err)
		}
	}
	for i, h := range t.AllowHosts {
		if h == "" || strings.ContainsAny(h, " /:") {
			return tomlfile.Field(fmt.Sprintf("%s.allow_hosts[%d]", key, i), "%q is not a host name pattern like \"*.example.com\"", h)
		}
	}
	if _, err := parsePortRanges(t.AllowPorts); err != nil {
		return tomlfile.Field(key+".allow_ports", "%v", err)
	}
	return nil
}

// hash returns the token's SHA-256 digest.
func (t *TokenConfig) hash() [32]byte {
	if t.Secret != "" {
		return sha256.Sum256([]byte(t.Secret))
	}
	var h [32]byte
	hex.Decode(h[:], []byte(strings.ToLower(t.SHA256)))
	return h
}

func (e *EndpointConfig) validate(key string) error {
	if err := wire.ValidName(e.Name); err != nil {
		return tomlfile.Field(key+".name", "%v", err)
	}
	switch e.Proto {
	case wire.ProtoTCP:
		if e.Port < 1 || e.Port > 65535 {
			return tomlfile.Field(key+".port", "missing or not 1–65535: a tcp endpoint needs its public port")
		}
	case wire.ProtoHTTP, "https", wire.ProtoTLS:
		if e.Hostname == "" {
			return tomlfile.Field(key+".hostname", "missing: an %s endpoint is routed by host name", e.Proto)
		}
	case "":
		return tomlfile.Field(key+".proto", "missing: one of tcp, http, https, tls")
	default:
		return tomlfile.Field(key+".proto", "%q is not one of tcp, http, https, tls", e.Proto)
	}
	if len(e.Labels) == 0 {
		return tomlfile.Field(key+".labels", "missing: the label selector of the group, e.g. { app = \"camera\" }")
	}
	if err := tomlfile.Labels(key+".labels", e.Labels); err != nil {
		return err
	}
	switch e.Balance {
	case RoundRobin, Random, LeastStreams:
	default:
		return tomlfile.Field(key+".balance", "%q is not one of round-robin, random, least-streams", e.Balance)
	}
	if len(e.BasicAuth) > 0 && e.Proto != wire.ProtoHTTP && e.Proto != "https" {
		return tomlfile.Field(key+".basic_auth", "only http and https endpoints take basic_auth")
	}
	if (len(e.AllowCIDRs) > 0 || len(e.DenyCIDRs) > 0) && e.Proto == wire.ProtoTCP {
		return tomlfile.Field(key+".allow_cidrs", "tcp endpoints take no allow_cidrs or deny_cidrs (yet)")
	}
	if _, err := parseGate(e.BasicAuth, e.AllowCIDRs, e.DenyCIDRs); err != nil {
		return tomlfile.Field(key+"."+err.key, "%v", err.err)
	}
	if e.Hostname != "" {
		if err := validHost(e.Hostname); err != nil {
			return tomlfile.Field(key+".hostname", "%v", err)
		}
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi int }

func parsePortRanges(specs []string) ([]portRange, error) {
	var out []portRange
	for _, s := range specs {
		lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
		if !found {
			hi = lo
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return nil, fmt.Errorf("%q is not a port or range like \"20000-20099\"", s)
		}
		out = append(out, portRange{a, b})
	}
	return out, nil
}

func inRanges(rs []portRange, p int) bool {
	for _, r := range rs {
		if p >= r.lo && p <= r.hi {
			return true
		}
	}
	return false
}
