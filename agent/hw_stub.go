package agent

// Placeholders until hardware-label detection and stable ids land (issue 5).

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// HardwareLabels returns labels detected from files under root.
func HardwareLabels(root string) map[string]string {
	l := map[string]string{"arch": runtime.GOARCH, "os": runtime.GOOS, "cpus": strconv.Itoa(runtime.NumCPU())}
	if h, err := os.Hostname(); err == nil && h != "" {
		l["hostname"] = h
	}
	return l
}

// StableID returns the device id kept in stateDir.
func StableID(root, stateDir string) (string, error) {
	p := filepath.Join(stateDir, "agent-id")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	var r [8]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", err
	}
	return id, os.WriteFile(p, []byte(id+"\n"), 0o600)
}
