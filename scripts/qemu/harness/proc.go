package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is a child process whose output goes to a log file. Its owner calls
// kill (idempotent, also after the process ended) when done with it.
type proc struct {
	cmd     *exec.Cmd
	log     string
	started time.Time
	exited  chan struct{}
	err     error // valid once exited is closed
}

// startProc starts args with stdout and stderr to logPath and extra
// environment variables.
func startProc(args []string, logPath string, env ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, log: logPath, started: time.Now(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", strings.Join(args, " "), err)
	}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// kill ends the process at once and waits for it.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// waitExit waits up to timeout for the process to end and returns how it
// ended; on timeout it kills it and says so.
func (p *proc) waitExit(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("still running %v later: killed", timeout)
	}
}

// terminate sends SIGTERM and waits up to timeout for a clean exit.
func (p *proc) terminate(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.waitExit(timeout)
}
