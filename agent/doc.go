// Package agent is the tether agent: it keeps one TLS session to an edge,
// binds its tunnels there, and splices every stream the edge opens to the
// tunnel's local address.
package agent
