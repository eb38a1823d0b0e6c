// Package agent is the tether agent: it keeps one TLS session to an edge,
// binds its tunnels there, and splices every stream the edge opens to the
// tunnel's local address. It reloads its tunnels on the live session
// (reload.go) and reports its state on a unix socket in state_dir
// (status.go), with no HTTP and no TCP port of its own.
package agent
