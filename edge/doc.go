// Package edge is the tether edge: it accepts agent sessions, keeps the
// registry of live tunnels and labeled groups, and serves public endpoints.
//
// For operators it serves an admin API and Prometheus metrics on
// listen.admin (admin.go, metrics.go), logs accesses per endpoint
// (access.go), and reloads tokens, endpoints and limits from its config
// file without dropping sessions that are still allowed (reload.go,
// endpoints.go).
package edge
