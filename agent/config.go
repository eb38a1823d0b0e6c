package agent

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/tetherhq/tether/internal/logconf"
	"github.com/tetherhq/tether/internal/tomlfile"
	"github.com/tetherhq/tether/internal/transport"
	"github.com/tetherhq/tether/internal/wire"
)

// DefaultConfigPath is where the agent looks without -config.
const DefaultConfigPath = "/etc/tether/agent.toml"

// Config is agent.toml.
type Config struct {
	Edge           string              `toml:"edge"`
	Token          string              `toml:"token"`
	TokenFile      string              `toml:"token_file"`
	Transport      string              `toml:"transport"`
	KCP            transport.KCPConfig `toml:"kcp"` // [kcp]: used by transport kcp and auto
	CAFile         string              `toml:"ca_file"`
	ServerName     string              `toml:"server_name"`
	ID             string              `toml:"id"`
	StateDir       string              `toml:"state_dir"`
	HardwareLabels bool                `toml:"hardware_labels"`
	Labels         map[string]string   `toml:"labels"`
	Log            logconf.Config      `toml:"log"`
	Tunnels        []TunnelConfig      `toml:"tunnel"`
}

// TunnelConfig is one [[tunnel]].
type TunnelConfig struct {
	Name       string            `toml:"name"`
	Proto      string            `toml:"proto"`
	Addr       string            `toml:"addr"`
	RemotePort int               `toml:"remote_port"`
	Hostname   string            `toml:"hostname"`
	Subdomain  string            `toml:"subdomain"`
	Labels     map[string]string `toml:"labels"`
	// http tunnels: enforced by the edge.
	HostHeader string   `toml:"host_header"`
	BasicAuth  []string `toml:"basic_auth"`
	AllowCIDRs []string `toml:"allow_cidrs"` // http and tls
	DenyCIDRs  []string `toml:"deny_cidrs"`  // http and tls
}

// DefaultConfig returns the defaults that a file overrides.
func DefaultConfig() *Config {
	return &Config{
		Transport:      transport.TCP,
		KCP:            transport.DefaultKCP(),
		StateDir:       "/var/lib/tether",
		HardwareLabels: true,
		Log:            logconf.Default(),
	}
}

// LoadConfig reads and validates an agent config file. Errors are
// *tomlfile.Error values that name the key and line.
func LoadConfig(path string) (*Config, error) {
	cfg := DefaultConfig()
	if err := tomlfile.Load(path, cfg); err != nil {
		return nil, err
	}
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, &tomlfile.Error{File: path, Key: "token_file", Msg: err.Error()}
		}
		cfg.Token = strings.TrimSpace(string(b))
		if cfg.Token == "" {
			return nil, &tomlfile.Error{File: path, Key: "token_file", Msg: cfg.TokenFile + " is empty"}
		}
	}
	return cfg, nil
}

// Validate checks every key; the first problem is returned as a
// *tomlfile.FieldError.
func (c *Config) Validate() error {
	if c.Edge == "" {
		return tomlfile.Field("edge", "missing: the edge's agent address, host:port")
	}
	if _, port, err := net.SplitHostPort(c.Edge); err != nil {
		return tomlfile.Field("edge", "%q is not host:port", c.Edge)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return tomlfile.Field("edge", "port %q is not 1–65535", port)
	}
	switch {
	case c.Token == "" && c.TokenFile == "":
		return tomlfile.Field("token", "missing: set token or token_file")
	case c.Token != "" && c.TokenFile != "":
		return tomlfile.Field("token_file", "set token or token_file, not both")
	case len(c.Token) > wire.MaxTokenLen:
		return tomlfile.Field("token", "longer than %d bytes", wire.MaxTokenLen)
	}
	switch c.Transport {
	case transport.TCP, transport.KCP, transport.Auto:
	default:
		return tomlfile.Field("transport", "%q is not one of tcp, kcp, auto", c.Transport)
	}
	if err := c.KCP.Validate(); err != nil {
		var ce *transport.ConfigError
		if errors.As(err, &ce) {
			return tomlfile.Field(ce.Key, "%s", ce.Msg)
		}
		return tomlfile.Field("kcp", "%v", err)
	}
	if c.ID != "" {
		if err := wire.ValidID(c.ID); err != nil {
			return tomlfile.Field("id", "%v", err)
		}
	}
	if err := tomlfile.Labels("labels", c.Labels); err != nil {
		return err
	}
	if err := c.Log.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range c.Tunnels {
		if err := c.Tunnels[i].validate(fmt.Sprintf("tunnel[%d]", i)); err != nil {
			return err
		}
		if seen[c.Tunnels[i].Name] {
			return tomlfile.Field(fmt.Sprintf("tunnel[%d].name", i), "%q is used by another tunnel", c.Tunnels[i].Name)
		}
		seen[c.Tunnels[i].Name] = true
	}
	return nil
}

func (t *TunnelConfig) validate(key string) error {
	if t.Name == "" {
		return tomlfile.Field(key+".name", "missing")
	}
	if err := wire.ValidName(t.Name); err != nil {
		return tomlfile.Field(key+".name", "%v", err)
	}
	switch t.Proto {
	case wire.ProtoTCP, wire.ProtoHTTP, wire.ProtoTLS, wire.ProtoLabeled:
	case "":
		return tomlfile.Field(key+".proto", "missing: one of tcp, http, tls, labeled")
	default:
		return tomlfile.Field(key+".proto", "%q is not one of tcp, http, tls, labeled", t.Proto)
	}
	if t.Addr == "" {
		return tomlfile.Field(key+".addr", "missing: the local service, host:port")
	}
	if _, port, err := net.SplitHostPort(t.Addr); err != nil {
		return tomlfile.Field(key+".addr", "%q is not host:port", t.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return tomlfile.Field(key+".addr", "port %q is not 1–65535", port)
	}
	if t.RemotePort < 0 || t.RemotePort > 65535 {
		return tomlfile.Field(key+".remote_port", "%d is not 0–65535", t.RemotePort)
	}
	if t.RemotePort != 0 && t.Proto != wire.ProtoTCP {
		return tomlfile.Field(key+".remote_port", "only tcp tunnels take a remote_port")
	}
	if (t.Hostname != "" || t.Subdomain != "") && t.Proto != wire.ProtoHTTP && t.Proto != wire.ProtoTLS {
		return tomlfile.Field(key+".hostname", "only http and tls tunnels take a hostname or subdomain")
	}
	if t.Hostname != "" && t.Subdomain != "" {
		return tomlfile.Field(key+".subdomain", "set hostname or subdomain, not both")
	}
	if len(t.Labels) > 0 && t.Proto != wire.ProtoLabeled {
		return tomlfile.Field(key+".labels", "only labeled tunnels take labels")
	}
	if err := tomlfile.Labels(key+".labels", t.Labels); err != nil {
		return err
	}
	if (t.HostHeader != "" || len(t.BasicAuth) > 0) && t.Proto != wire.ProtoHTTP {
		return tomlfile.Field(key+".basic_auth", "only http tunnels take basic_auth or host_header")
	}
	if (len(t.AllowCIDRs) > 0 || len(t.DenyCIDRs) > 0) && t.Proto != wire.ProtoHTTP && t.Proto != wire.ProtoTLS {
		return tomlfile.Field(key+".allow_cidrs", "only http and tls tunnels take allow_cidrs or deny_cidrs")
	}
	for i, u := range t.BasicAuth {
		if name, pass, ok := strings.Cut(u, ":"); !ok || name == "" || pass == "" {
			return tomlfile.Field(fmt.Sprintf("%s.basic_auth[%d]", key, i), "want \"user:password\" (the password may be a bcrypt hash or sha256:HEX)")
		}
	}
	for k, list := range map[string][]string{"allow_cidrs": t.AllowCIDRs, "deny_cidrs": t.DenyCIDRs} {
		for i, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				if _, err := netip.ParseAddr(c); err != nil {
					return tomlfile.Field(fmt.Sprintf("%s.%s[%d]", key, k, i), "%q is not an address or CIDR like \"10.0.0.0/8\"", c)
				}
			}
		}
	}
	return nil
}

// edgeHost is the host part of Edge, the default server_name.
func (c *Config) serverName() string {
	if c.ServerName != "" {
		return c.ServerName
	}
	host, _, _ := net.SplitHostPort(c.Edge)
	return host
}
