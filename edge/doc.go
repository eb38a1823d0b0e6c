// Package edge is the tether edge: it accepts agent sessions, keeps the
// registry of live tunnels and labeled groups, and serves public endpoints.
package edge
