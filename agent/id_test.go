package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetherhq/tether/internal/wire"
)

const testMachineID = "0123456789abcdef0123456789abcdef"

// testMachineHash is the id of testMachineID with state dir /var/lib/tether.
// It is spelled out so that a change of the hash input, which would rename
// every device, fails a test.
const testMachineHash = "21ca947fc996dccc"

func TestStableID(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // under root
		want  string            // "" = generated and kept in the state dir
	}{
		{"etc machine-id", map[string]string{"etc/machine-id": testMachineID + "\n"}, testMachineHash},
		{"dbus machine-id", map[string]string{"var/lib/dbus/machine-id": testMachineID + "\n"}, testMachineHash},
		{"etc wins over dbus", map[string]string{"etc/machine-id": testMachineID, "var/lib/dbus/machine-id": "other"}, testMachineHash},
		{"empty machine-id", map[string]string{"etc/machine-id": "\n"}, ""},
		{"uninitialized machine-id", map[string]string{"etc/machine-id": "uninitialized\n"}, ""},
		{"no machine-id (OpenWrt)", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
			if tt.want != "" {
				state = "/var/lib/tether" // derived ids write nothing there
			}
			for name, text := range tt.files {
				writeTestFile(t, filepath.Join(root, name), text)
			}
			first, err := StableID(root, state)
			if err != nil {
				t.Fatal(err)
			}
			if err := wire.ValidID(first); err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && first != tt.want {
				t.Errorf("id = %q, want %q", first, tt.want)
			}
			if strings.Contains(first, testMachineID) {
				t.Errorf("id %q exposes the machine-id", first)
			}
			again, err := StableID(root, state)
			if err != nil || again != first {
				t.Errorf("second call = %q, %v; want %q", again, err, first)
			}
			_, statErr := os.Stat(filepath.Join(state, idFile))
			if tt.want != "" && statErr == nil {
				t.Errorf("derived id still wrote %s", idFile)
			}
			if tt.want == "" {
				fi, err := os.Stat(filepath.Join(state, idFile))
				if err != nil {
					t.Fatalf("generated id not kept: %v", err)
				}
				if perm := fi.Mode().Perm(); perm != 0o600 {
					t.Errorf("%s mode %o, want 600", idFile, perm)
				}
			}
		})
	}
}

// Two agents on one machine, each with its own state dir, must not share an
// id: the edge would have each replace the other's session for ever.
func TestStableIDPerStateDir(t *testing.T) {
	root := t.TempDir()
	writeTestFile(t, filepath.Join(root, "etc/machine-id"), testMachineID)
	a, errA := StableID(root, "/var/lib/tether")
	b, errB := StableID(root, "/var/lib/tether-second")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b {
		t.Errorf("two state dirs share the id %q", a)
	}
	t.Chdir("/var")
	rel, err := StableID(root, "lib/tether")
	if err != nil || rel != a {
		t.Errorf("relative state dir gave %q, %v; want %q", rel, err, a)
	}
}

func TestStableIDSurvivesRestartAndReplacesDamage(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	first, err := StableID(root, state)
	if err != nil {
		t.Fatal(err)
	}
	// A new process reads the same file back.
	b, err := os.ReadFile(filepath.Join(state, idFile))
	if err != nil || strings.TrimSpace(string(b)) != first {
		t.Fatalf("kept id = %q, %v; want %q", b, err, first)
	}
	entries, _ := os.ReadDir(state)
	if len(entries) != 1 {
		t.Errorf("state dir holds %d entries, want only %s (no temporary files left)", len(entries), idFile)
	}

	writeTestFile(t, filepath.Join(state, idFile), "not a valid id!\n")
	repaired, err := StableID(root, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.ValidID(repaired); err != nil {
		t.Fatalf("repaired id: %v", err)
	}
}

func TestStableIDUnwritableState(t *testing.T) {
	root := t.TempDir()
	blocker := filepath.Join(t.TempDir(), "file")
	writeTestFile(t, blocker, "")
	if _, err := StableID(root, filepath.Join(blocker, "state")); err == nil {
		t.Fatal("want an error when the state dir cannot be made")
	}
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
