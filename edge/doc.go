// Package edge is the tether edge: it accepts agent sessions, keeps the
// registry of live tunnels and labeled groups, and serves public endpoints.
//
// Public HTTP and HTTPS (fronts.go, http.go, https.go) route by Host and
// SNI through the host table (hosts.go) to http/tls tunnels and endpoint
// groups, per request, over pooled streams (httppool.go); gate.go holds
// basic_auth and the CIDR rules, sni.go the TLS passthrough, acme.go the
// ACME certificates.
//
// For operators it serves an admin API and Prometheus metrics on
// listen.admin (admin.go, metrics.go), logs accesses per endpoint
// connection or HTTP request (access.go), and reloads tokens, endpoints
// and limits from its config file without dropping sessions that are
// still allowed (reload.go, endpoints.go).
package edge
