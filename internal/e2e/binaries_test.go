package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds tether-agent and tether-edge once per test run.
func binaries(t *testing.T) (agentBin, edgeBin string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tether-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+"/", module+"/agent/cmd/tether-agent", module+"/edge/cmd/tether-edge").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "tether-agent"), filepath.Join(binDir, "tether-edge")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func TestBinaryFlags(t *testing.T) {
	agentBin, edgeBin := binaries(t)
	for _, tc := range []struct {
		name string
		bin  string
		args []string
		code int
		out  string
	}{
		{"agent version", agentBin, []string{"-version"}, 0, "tether-agent dev"},
		{"edge version", edgeBin, []string{"-version"}, 0, "tether-edge dev"},
		{"agent check ok", agentBin, []string{"-check", "-config", "../../testdata/config/agent/full.toml"}, 0, "full.toml: ok (edge edge.example.com:7443, 3 tunnels)"},
		{"edge check ok, with warnings", edgeBin, []string{"-check", "-config", "../../testdata/config/edge/full.toml"}, 0, "full.toml: ok (1 tokens, 2 endpoints)"},
		{"agent check broken", agentBin, []string{"-check", "-config", "../../testdata/config/agent/wrong-type.toml"}, 2, "wrong-type.toml:8: tunnel.remote_port: incompatible types"},
		{"edge check broken", edgeBin, []string{"-check", "-config", "../../testdata/config/edge/ep-balance.toml"}, 2, `endpoint[0].balance: "fastest" is not one of`},
		{"agent broken without -check", agentBin, []string{"-config", "../../testdata/config/agent/unknown-key.toml"}, 2, "unknown-key.toml:9: tunnel.adr: unknown key"},
		{"agent missing file", agentBin, []string{"-config", "/nonexistent/agent.toml"}, 2, "/nonexistent/agent.toml: config file not found"},
		{"edge missing file", edgeBin, []string{"-config", "/nonexistent/edge.toml"}, 2, "config file not found"},
		{"edge missing cert", edgeBin, []string{"-config", "../../testdata/config/edge/full.toml"}, 2, "tls.cert_file/key_file: open /etc/tether/edge.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(tc.bin, tc.args...).CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.out) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tc.code, tc.out)
			}
		})
	}
}

// proc is a running binary whose stderr lines can be waited on.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	mu    sync.Mutex
	log   []string
}

func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s log:\n%s", name, strings.Join(p.log, "\n"))
			p.mu.Unlock()
		}
	})
	return p
}

// waitLine waits for a log line containing all of subs and returns it.
func (p *proc) waitLine(within time.Duration, subs ...string) string {
	p.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case l := <-p.lines:
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(l, s)
			}
			if ok {
				return l
			}
		case <-p.done:
			p.t.Fatalf("process exited while waiting for %q", subs)
		case <-timeout:
			p.t.Fatalf("no log line with %q within %v", subs, within)
		}
	}
}

// exit waits for the process to end and returns its exit code.
func (p *proc) exit(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		p.t.Fatalf("process still running after %v", within)
		return -1
	}
}

// Binaries as a user runs them: a group of three agent processes behind
// one tcp endpoint; SIGKILL one and every new connection still succeeds;
// SIGTERM another and it drains and exits 0; SIGTERM the edge, likewise.
func TestBinaryFleet(t *testing.T) {
	agentBin, edgeBin := binaries(t)
	p := newPKI(t)
	dir := t.TempDir()
	agentPort, endpointPort := freePort(t), freePort(t)
	lo := freePortRange(t)
	edgeToml := fmt.Sprintf(`
[listen]
agents = "127.0.0.1:%d"
tcp_ports = "%d-%d"
tcp_host = "127.0.0.1"
[tls]
cert_file = %q
key_file = %q
[limits]
heartbeat_interval = "500ms"
heartbeat_timeout = "2s"
[[token]]
name = "fleet"
sha256 = "%x"
allow_labels = ["app=cam", "site=*"]
[[endpoint]]
name = "cams"
proto = "tcp"
port = %d
labels = { app = "cam" }
`, agentPort, lo, lo+49, p.Cert, p.Key, sha256sum(testSecret), endpointPort)
	writeFile(t, dir+"/edge.toml", edgeToml)
	edge := startProc(t, "edge", edgeBin, "-config", dir+"/edge.toml")
	edge.waitLine(10*time.Second, "edge ready")

	var agents []*proc
	for i := 0; i < 3; i++ {
		svc := serve(t, whoami(fmt.Sprintf("cam-%d", i)))
		os.WriteFile(dir+"/token", []byte(testSecret+"\n"), 0o600)
		writeFile(t, fmt.Sprintf("%s/agent%d.toml", dir, i), fmt.Sprintf(`
edge = "127.0.0.1:%d"
token_file = %q
ca_file = %q
server_name = "localhost"
state_dir = %q
[labels]
site = "lab"
[[tunnel]]
name = "cam"
proto = "labeled"
addr = %q
labels = { app = "cam" }
`, agentPort, dir+"/token", p.CACert, fmt.Sprintf("%s/state%d", dir, i), svc.addr()))
		a := startProc(t, fmt.Sprintf("agent %d", i), agentBin, "-config", fmt.Sprintf("%s/agent%d.toml", dir, i))
		a.waitLine(10*time.Second, "tunnel bound", "tunnel=cam")
		agents = append(agents, a)
	}
	edge.waitLine(5*time.Second, "group member joined", "members=3")
	f := &fleet{public: fmt.Sprintf("127.0.0.1:%d", endpointPort)}
	if seen := f.spread(t, 9); len(seen) != 3 {
		t.Fatalf("9 connections reached %v, want all three agents", seen)
	}

	agents[1].cmd.Process.Signal(syscall.SIGKILL)
	for i := 0; i < 12; i++ {
		if got := f.who(t); got == "cam-1" {
			t.Fatalf("connection %d reached the killed agent", i)
		}
	}
	edge.waitLine(5*time.Second, "group member left", "members=2")

	agents[2].cmd.Process.Signal(syscall.SIGTERM)
	if code := agents[2].exit(10 * time.Second); code != 0 {
		t.Fatalf("agent exited %d after SIGTERM", code)
	}
	edge.waitLine(5*time.Second, "members=1")
	if got := f.who(t); got != "cam-0" {
		t.Fatalf("after two agents left: %q", got)
	}

	edge.cmd.Process.Signal(syscall.SIGTERM)
	if code := edge.exit(10 * time.Second); code != 0 {
		t.Fatalf("edge exited %d after SIGTERM", code)
	}
	agents[0].waitLine(5*time.Second, "session ended")
	agents[0].cmd.Process.Signal(syscall.SIGINT)
	if code := agents[0].exit(10 * time.Second); code != 0 {
		t.Fatalf("agent exited %d after SIGINT", code)
	}
	for _, l := range append(edge.log, agents[0].log...) {
		if strings.Contains(l, testSecret) {
			t.Fatalf("a log line carries the token: %s", l)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
