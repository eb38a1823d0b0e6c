// Package filetest runs config test cases kept as files: each file's first
// line is "# want: ok" or "# want: <text the error must contain>". Only
// tests import it.
package filetest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CheckCases loads every *.toml in dir with load and checks the result.
func CheckCases(t *testing.T, dir string, load func(path string) error) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no config cases in %s: %v", dir, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := firstLineWant(t, path)
			err := load(path)
			switch {
			case want == "ok" && err != nil:
				t.Fatalf("want no error, got: %v", err)
			case want != "ok" && err == nil:
				t.Fatalf("want an error containing %q, got none", want)
			case want != "ok" && !strings.Contains(err.Error(), want):
				t.Fatalf("error:\n  %v\nwant it to contain:\n  %s", err, want)
			}
		})
	}
}

func firstLineWant(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	want, ok := strings.CutPrefix(sc.Text(), "# want: ")
	if !ok {
		t.Fatalf("%s: first line must be \"# want: ...\"", path)
	}
	return want
}
