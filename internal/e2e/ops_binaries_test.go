package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/agent"
)

// The operator's side with the real binaries: `tether-agent status` over
// the unix socket, SIGHUP on the edge (a new endpoint with an access log)
// and on the agent (a new tunnel), and an admin listener that would be open
// to the network without a token refused at start with exit 2.
func TestBinaryOps(t *testing.T) {
	agentBin, edgeBin := binaries(t)
	p := newPKI(t)
	dir := t.TempDir()
	agentPort, camPort := freePort(t), freePort(t)
	lo := freePortRange(t)
	edgeBase := fmt.Sprintf(`
[listen]
agents = "127.0.0.1:%d"
tcp_ports = "%d-%d"
tcp_host = "127.0.0.1"
admin = "127.0.0.1:0"
[tls]
cert_file = %q
key_file = %q
[limits]
heartbeat_interval = "500ms"
heartbeat_timeout = "2s"
[[token]]
name = "fleet"
sha256 = "%x"
`, agentPort, lo, lo+49, p.Cert, p.Key, sha256sum(testSecret))
	writeFile(t, dir+"/edge.toml", edgeBase)
	edge := startProc(t, "edge", edgeBin, "-config", dir+"/edge.toml")
	edge.waitLine(10*time.Second, "edge ready")

	agentBase := fmt.Sprintf(`
edge = "127.0.0.1:%d"
token = %q
ca_file = %q
server_name = "localhost"
id = "pi-7"
state_dir = %q
hardware_labels = false
[labels]
site = "lab"
[[tunnel]]
name = "cam"
proto = "labeled"
addr = %q
labels = { app = "cam" }
`, agentPort, testSecret, p.CACert, dir+"/state", serve(t, whoami("pi-7")).addr())
	writeFile(t, dir+"/agent.toml", agentBase)
	ag := startProc(t, "agent", agentBin, "-config", dir+"/agent.toml")
	ag.waitLine(10*time.Second, "tunnel bound", "tunnel=cam")

	status := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(agentBin, append([]string{"status", "-config", dir + "/agent.toml"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tether-agent status: %v\n%s", err, out)
		}
		return string(out)
	}
	out := status()
	for _, want := range []string{"agent     pi-7", fmt.Sprintf("edge      127.0.0.1:%d (tcp)", agentPort), "session   connected since", "rtt       ", "labels    site=lab", "cam          labeled", "no endpoint selects these labels"} {
		if !strings.Contains(out, want) {
			t.Errorf("status: no %q in\n%s", want, out)
		}
	}
	if bySocket := status("-socket", filepath.Join(dir, "state", agent.SocketName)); !strings.Contains(bySocket, "agent     pi-7") {
		t.Errorf("status -socket differs:\n%s\nfrom -config:\n%s", bySocket, out)
	}
	if fi, err := os.Stat(filepath.Join(dir, "state", agent.SocketName)); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("status socket: %v %v, want a socket with mode 0600", fi.Mode(), err)
	}

	// Edge SIGHUP: a tcp endpoint for the group, with an access log.
	writeFile(t, dir+"/edge.toml", edgeBase+fmt.Sprintf(`
[[endpoint]]
name = "cams"
proto = "tcp"
port = %d
labels = { app = "cam" }
access_log = true
`, camPort))
	edge.cmd.Process.Signal(syscall.SIGHUP)
	edge.waitLine(5*time.Second, "config reloaded", "changes=1")
	c := dialTunnel(t, fmt.Sprintf("127.0.0.1:%d", camPort))
	if line, err := readLine(c, 5*time.Second); line != "pi-7" {
		t.Fatalf("new endpoint: %q %v", line, err)
	}
	c.Close()
	edge.waitLine(5*time.Second, `msg=access endpoint=cams client=127.0.0.1:`, "outcome=ok agent=pi-7 tunnel=cam bytes_in=0 bytes_out=5 duration=")

	// Agent SIGHUP: a second tunnel, bound on the live session.
	writeFile(t, dir+"/agent.toml", agentBase+fmt.Sprintf(`
[[tunnel]]
name = "ssh"
proto = "tcp"
addr = %q
`, serve(t, whoami("ssh")).addr()))
	ag.cmd.Process.Signal(syscall.SIGHUP)
	ag.waitLine(5*time.Second, "tunnel bound", "tunnel=ssh")
	out = status()
	var sshPublic string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 5 && f[0] == "ssh" && f[1] == "tcp" && f[3] == "→" {
			sshPublic = f[4]
		}
	}
	if sshPublic == "" || !strings.Contains(out, "→ [cams 127.0.0.1:") {
		t.Fatalf("status after the reloads:\n%s", out)
	}
	if line, err := readLine(dialTunnel(t, sshPublic), 5*time.Second); line != "ssh" {
		t.Fatalf("reloaded tunnel ssh: %q %v", line, err)
	}
	// A broken edge config: rejected, the edge serves on.
	writeFile(t, dir+"/edge.toml", edgeBase+"[[endpoint]]\nname = 1\n")
	edge.cmd.Process.Signal(syscall.SIGHUP)
	edge.waitLine(5*time.Second, "reload rejected: the running config stays", "edge.toml:")
	if line, _ := readLine(dialTunnel(t, fmt.Sprintf("127.0.0.1:%d", camPort)), 5*time.Second); line != "pi-7" {
		t.Fatalf("after a broken reload: %q", line)
	}

	ag.cmd.Process.Signal(syscall.SIGTERM)
	if code := ag.exit(10 * time.Second); code != 0 {
		t.Fatalf("agent exited %d", code)
	}
	if out, err := exec.Command(agentBin, "status", "-config", dir+"/agent.toml").CombinedOutput(); err == nil || !strings.Contains(string(out), "no agent answers") {
		t.Fatalf("status with no agent: %v %s", err, out)
	}

	// An admin API open to the network without a token: refused at start.
	writeFile(t, dir+"/open.toml", strings.Replace(edgeBase, `admin = "127.0.0.1:0"`, `admin = "0.0.0.0:0"`, 1))
	out2, err := exec.Command(edgeBin, "-config", dir+"/open.toml").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out2), `listen.admin: "0.0.0.0:0" is not a loopback address and [admin] token_sha256 is not set`) {
		t.Fatalf("open admin listener: %v\n%s", err, out2)
	}
}
