// Package logconf is the [log] table both binaries share, and the slog
// logger it builds.
package logconf

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/tetherhq/tether/internal/tomlfile"
)

// Config is the [log] table.
type Config struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json
}

// Default is info, text.
func Default() Config { return Config{Level: "info", Format: "text"} }

// Validate checks level and format.
func (c Config) Validate() error {
	if _, err := c.level(); err != nil {
		return tomlfile.Field("log.level", "%v", err)
	}
	switch c.Format {
	case "text", "json":
		return nil
	}
	return tomlfile.Field("log.format", "%q is not one of text, json", c.Format)
}

func (c Config) level() (slog.Level, error) {
	switch c.Level {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", c.Level)
}

// New builds the logger writing to w.
func (c Config) New(w io.Writer) *slog.Logger {
	lvl, _ := c.level()
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
