// Command demo runs a tether edge, an agent and a small local service on
// loopback with a built-in config, prints the public addresses and curl
// lines that work, and runs until Ctrl-C. `make demo` builds the binaries
// and runs it.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const secret = "demo-token-change-me"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bin, err := filepath.Abs("bin")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tether-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The device's local service.
	svc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(svc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from the device behind tether! You asked for %s %s\n", r.Method, r.URL.Path)
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			fmt.Fprintf(w, "(through the edge's http port: Host %s, X-Forwarded-For %s)\n", r.Host, xff)
		}
	}))

	agentPort, err := freePort()
	if err != nil {
		return err
	}
	groupPort, err := freePort()
	if err != nil {
		return err
	}
	httpPort, err := freePort()
	if err != nil {
		return err
	}
	lo, err := freeRange(20000, 50)
	if err != nil {
		return err
	}
	if out, err := exec.Command(bin+"/tether-edge", "gencert", "-dir", dir, "-hosts", "localhost,127.0.0.1").CombinedOutput(); err != nil {
		return fmt.Errorf("gencert: %v\n%s", err, out)
	}
	edgeToml := fmt.Sprintf(`# tether demo edge
domain = "localhost"
[listen]
agents = "127.0.0.1:%d"
http = "127.0.0.1:%d"
tcp_ports = "%d-%d"
tcp_host = "127.0.0.1"
[tls]
cert_file = %q
key_file = %q
[[token]]
name = "demo"
secret = %q
[[endpoint]]
name = "web-group"
proto = "tcp"
port = %d
labels = { app = "web" }
`, agentPort, httpPort, lo, lo+49, dir+"/edge.crt", dir+"/edge.key", secret, groupPort)
	agentToml := fmt.Sprintf(`# tether demo agent
edge = "127.0.0.1:%d"
token = %q
ca_file = %q
server_name = "localhost"
id = "demo-pi"
state_dir = %q
[labels]
site = "demo"
[[tunnel]]
name = "web"
proto = "tcp"
addr = %q
[[tunnel]]
name = "ui"
proto = "http"
addr = %q
subdomain = "ui"
[[tunnel]]
name = "web-labeled"
proto = "labeled"
addr = %q
labels = { app = "web" }
`, agentPort, secret, dir+"/ca.crt", dir+"/state", svc.Addr().String(), svc.Addr().String(), svc.Addr().String())
	for name, body := range map[string]string{"edge.toml": edgeToml, "agent.toml": agentToml} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}

	edgeCmd, edgeLines, err := start("edge ", bin+"/tether-edge", "-config", dir+"/edge.toml")
	if err != nil {
		return err
	}
	defer stopProc(edgeCmd)
	if _, err := waitFor(edgeLines, "edge ready"); err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	agentCmd, agentLines, err := start("agent", bin+"/tether-agent", "-config", dir+"/agent.toml")
	if err != nil {
		return err
	}
	defer stopProc(agentCmd)
	line, err := waitFor(agentLines, "tunnel bound", "tunnel=web ")
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	public := field(line, "public")
	group := fmt.Sprintf("127.0.0.1:%d", groupPort)
	line, err = waitFor(agentLines, "tunnel bound", "tunnel=ui ")
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	web := strings.TrimPrefix(field(line, "public"), "http://") // ui.localhost:PORT

	// Prove the lines work before printing them.
	check := &http.Client{Timeout: 5 * time.Second}
	for _, addr := range []string{public, group} {
		resp, err := check.Get("http://" + addr + "/")
		if err != nil {
			return fmt.Errorf("checking http://%s/: %w", addr, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// curl resolves *.localhost to loopback by itself; Go is told here.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", httpPort), nil)
	req.Host = web
	resp, err := check.Do(req)
	if err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("checking http://%s/: %v %v", web, err, resp)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	check.CloseIdleConnections() // an open stream would hold up a drain at Ctrl-C
	fmt.Printf(`
  tether demo is running (configs and certificates in %s)

  local service   http://%s/   (on the "device")
  agent           demo-pi, dialled out to the edge at 127.0.0.1:%d over TLS 1.3
  tcp tunnel      web          → public %s
  labeled group   web-group    → public %s  (every agent labelled app=web)
  http tunnel     ui           → public http://%s/  (routed by Host on the edge's http port)

  Try it:
    curl http://%s/
    curl http://%s/hello
    curl http://%s/

  Ctrl-C to stop.

`, dir, svc.Addr(), agentPort, public, group, web, public, group, web)
	<-ctx.Done()
	fmt.Println("\nstopping")
	return nil
}

// start runs a binary, copies its log to stdout with a prefix, and returns
// a channel of its log lines.
func start(prefix, bin string, args ...string) (*exec.Cmd, <-chan string, error) {
	cmd := exec.Command(bin, args...)
	// If the demo dies, however it dies, the edge and agent go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w (run `make build` first)", bin, err)
	}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Printf("[%s] %s\n", prefix, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	return cmd, lines, nil
}

func stopProc(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
	}
}

func waitFor(lines <-chan string, subs ...string) (string, error) {
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", fmt.Errorf("exited before logging %q", subs)
			}
			match := true
			for _, s := range subs {
				match = match && strings.Contains(l, s)
			}
			if match {
				return l, nil
			}
		case <-timeout:
			return "", fmt.Errorf("no %q within 15s", subs)
		}
	}
}

// field returns the value of key=value in a slog text line.
func field(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeRange finds n consecutive free ports at or above from.
func freeRange(from, n int) (int, error) {
	for lo := from; lo+n < 32768; lo += n {
		ok := true
		for p := lo; p < lo+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return lo, nil
		}
	}
	return 0, fmt.Errorf("no %d free ports in a row below 32768", n)
}
