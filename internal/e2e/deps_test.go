package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tetherhq/tether"

func goList(t *testing.T, format string, pkgs ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", format}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// agent and edge never import each other; internal/wire imports neither.
func TestPackageBoundaries(t *testing.T) {
	for _, tc := range []struct{ pkg, forbidden string }{
		{module + "/agent/...", module + "/edge"},
		{module + "/edge/...", module + "/agent"},
		{module + "/internal/wire", module + "/agent"},
		{module + "/internal/wire", module + "/edge"},
		{module + "/internal/transport", module + "/edge"},
		{module + "/internal/transport", module + "/agent"},
	} {
		for _, dep := range goList(t, "{{.ImportPath}}", tc.pkg) {
			if dep == tc.forbidden || strings.HasPrefix(dep, tc.forbidden+"/") {
				t.Errorf("%s imports %s", tc.pkg, dep)
			}
		}
	}
}

// The agent goes onto 8 MB of router flash: it links only the standard
// library, smux, kcp-go, BurntSushi/toml and what those need.
func TestAgentDependencies(t *testing.T) {
	allowed := map[string]bool{module: true, "": true, "golang.org/x/sys": true}
	for _, lib := range []string{"github.com/xtaci/smux", "github.com/xtaci/kcp-go/v5", "github.com/BurntSushi/toml"} {
		if exec.Command("go", "list", "-m", lib).Run() != nil {
			continue // not required by this build yet
		}
		for _, m := range goList(t, "{{with .Module}}{{.Path}}{{end}}", lib) {
			allowed[m] = true
		}
	}
	for _, m := range goList(t, "{{with .Module}}{{.Path}}{{end}}", module+"/agent/cmd/tether-agent") {
		if !allowed[m] {
			t.Errorf("the agent links module %s", m)
		}
	}
	for _, p := range goList(t, "{{.ImportPath}}", module+"/agent/cmd/tether-agent") {
		if p == "testing" || p == "net/http" {
			t.Errorf("the agent links %s", p)
		}
	}
}
