package agent

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tetherhq/tether/internal/wire"
)

// idFile is the file under the state directory that keeps a generated id.
const idFile = "agent-id"

// idHashPrefix keeps the raw machine-id out of the agent id: the id is
// SHA-256(prefix + machine-id + NUL + state dir), so it cannot be matched
// against the machine-id another program derives or reveals. Never change
// it: every device's id would change with it.
const idHashPrefix = "tether-agent-id/v1:"

// StableID returns this agent's device id, the same on every call and across
// reboots and reinstalls of the binary:
//
//   - when root/etc/machine-id (or root/var/lib/dbus/machine-id) holds an id,
//     the first 16 hex digits of SHA-256(idHashPrefix + machine-id + NUL +
//     the absolute state dir). The state dir is part of it so that two
//     agents on one machine, each with its own state_dir, get ids of their
//     own instead of replacing each other's session at the edge; one agent
//     keeps its id as long as its state_dir stays (the default is
//     /var/lib/tether everywhere);
//   - otherwise a random id, generated on the first call and kept in
//     stateDir/agent-id (mode 0600, written atomically).
//
// It fails only when there is no machine-id and the state directory can be
// neither read nor written.
func StableID(root, stateDir string) (string, error) {
	for _, name := range []string{"etc/machine-id", "var/lib/dbus/machine-id"} {
		mid := strings.TrimSpace(readFile(root, name))
		// systemd writes "uninitialized" before the first boot completes.
		if mid == "" || mid == "uninitialized" {
			continue
		}
		dir, err := filepath.Abs(stateDir)
		if err != nil {
			dir = filepath.Clean(stateDir)
		}
		sum := sha256.Sum256([]byte(idHashPrefix + mid + "\x00" + dir))
		return hex.EncodeToString(sum[:])[:16], nil
	}
	return storedID(stateDir)
}

// storedID reads the id kept in stateDir, or makes and keeps a new one.
func storedID(stateDir string) (string, error) {
	path := filepath.Join(stateDir, idFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		id := strings.TrimSpace(string(b))
		if wire.ValidID(id) == nil {
			return id, nil
		}
		// A damaged file is replaced, as if it were missing.
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read agent id: %w", err)
	}
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generate agent id: %w", err)
	}
	id := "r" + hex.EncodeToString(raw[:]) // "r": generated, not derived from a machine-id
	if err := writeFileAtomic(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep agent id: %w", err)
	}
	return id, nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so a reader (or a power cut) sees the old file or the
// new one, never half of one. It creates the directory when missing.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return nil
}
