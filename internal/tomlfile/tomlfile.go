// Package tomlfile loads a TOML config file strictly: unknown keys, wrong
// types and invalid values come back as one *Error naming the file, the line
// (where it can be found) and the key.
package tomlfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/tetherhq/tether/internal/wire"
)

// Error is a config problem the operator must fix.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // dotted path, e.g. tunnel[1].addr; may be empty
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FieldError is returned by Validate methods: a key path and what is wrong
// with it. Load turns it into an *Error with the line.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Field returns a *FieldError for key.
func Field(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Labels checks a label table at key, naming the offending label.
func Labels(key string, l map[string]string) error {
	err := wire.ValidLabels(l)
	var le *wire.LabelError
	if errors.As(err, &le) {
		return Field(key+"."+le.Key, "%v", le.Err)
	}
	if err != nil {
		return Field(key, "%v", err)
	}
	return nil
}

// Validator is a config that checks itself after decoding.
type Validator interface{ Validate() error }

// Warner is a config that reports keys it accepts but does not act on yet.
type Warner interface{ Warnings() []string }

// Load decodes the file at path into v (a pointer to a struct with toml
// tags, pre-filled with defaults) and validates it.
func Load(path string, v Validator) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &Error{File: path, Msg: "config file not found (pass -config FILE)"}
		}
		return &Error{File: path, Msg: err.Error()}
	}
	return Decode(path, string(data), v)
}

// Decode is Load on text already read; name is used in messages.
func Decode(name, text string, v Validator) error {
	md, err := toml.Decode(text, v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: strings.TrimPrefix(pe.Message, "toml: ")}
		}
		// Type mismatches come as `toml: line N (last key "k"): msg`.
		if line, key, msg, ok := parseTypeErr(err.Error()); ok {
			return &Error{File: name, Line: line, Key: key, Msg: msg}
		}
		return &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		msg := "unknown key"
		if len(und) > 1 {
			msg = fmt.Sprintf("unknown key (and %d more)", len(und)-1)
		}
		return &Error{File: name, Line: findLine(text, k), Key: k, Msg: msg}
	}
	if err := v.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return &Error{File: name, Line: findLine(text, fe.Key), Key: fe.Key, Msg: fe.Msg}
		}
		return &Error{File: name, Msg: err.Error()}
	}
	return nil
}

// parseTypeErr splits toml's `toml: line N (last key "k"): msg` (the line
// part may be missing). No regexp: the agent goes onto router flash and
// regexp costs 130 KB there.
func parseTypeErr(s string) (line int, key, msg string, ok bool) {
	s, ok = strings.CutPrefix(s, "toml: ")
	if !ok {
		return 0, "", "", false
	}
	if rest, found := strings.CutPrefix(s, "line "); found {
		num, after, _ := strings.Cut(rest, " ")
		n, err := strconv.Atoi(num)
		if err != nil {
			return 0, "", "", false
		}
		line, s = n, after
	}
	s, ok = strings.CutPrefix(s, `(last key "`)
	if !ok {
		return 0, "", "", false
	}
	key, msg, ok = strings.Cut(s, `"): `)
	return line, key, msg, ok
}

// findLine finds the line that defines path or, for a key that is missing,
// the nearest table that holds it.
func findLine(text, path string) int {
	for path != "" {
		if n := findKeyLine(text, path); n > 0 {
			return n
		}
		if i := strings.LastIndexAny(path, ".["); i >= 0 {
			path = path[:i]
		} else {
			path = ""
		}
	}
	return 0
}

// findKeyLine finds the line that defines a key path such as "listen.agents",
// "tunnel[2].addr" or "tunnel.addr" (toml's own form for array tables, which
// then means the first). It reads the text line by line, tracking [table]
// and [[array]] headers; inline tables and dotted keys are matched by their
// first component. 0 means not found.
func findKeyLine(text, path string) int {
	want := strings.Split(path, ".")
	table := ""
	counts := map[string]int{}
	tableLine := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		switch {
		case strings.HasPrefix(line, "[["):
			name := strings.TrimSpace(strings.Trim(strings.SplitN(line, "]]", 2)[0], "[ "))
			table = fmt.Sprintf("%s[%d]", name, counts[name])
			counts[name]++
			tableLine = i + 1
		case strings.HasPrefix(line, "["):
			table = strings.TrimSpace(strings.Trim(strings.SplitN(line, "]", 2)[0], "[ "))
			tableLine = i + 1
		case line == "" || line[0] == '#':
		default:
			key := strings.Trim(strings.TrimSpace(strings.SplitN(line, "=", 2)[0]), `"'`)
			full := key
			if table != "" {
				full = table + "." + key
			}
			if matches(full, want) {
				return i + 1
			}
		}
		if table != "" && matches(table, want) && len(strings.Split(table, ".")) == len(want) {
			return tableLine
		}
	}
	return 0
}

// matches reports whether a found key path (with array indices) is the
// wanted one or a prefix of it (an inline table holding the wanted key).
func matches(found string, want []string) bool {
	parts := strings.Split(found, ".")
	if len(parts) > len(want) {
		return false
	}
	for i, p := range parts {
		w := want[i]
		if p == w {
			continue
		}
		// "tunnel" in toml's own messages means the array, any index.
		if !strings.Contains(w, "[") && strings.HasPrefix(p, w+"[") {
			continue
		}
		return false
	}
	return true
}
