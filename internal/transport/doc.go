// Package transport carries agent sessions: it dials and listens over "tcp"
// (and, where built, "kcp"), and runs TLS 1.3 on top of either. Conn is the
// TLS connection handed to smux: it implements WriteBuffers, so smux writes
// each frame with one call, and it corks the raw connection under TLS so the
// records of one frame leave in one write.
//
// All transport tuning lives here.
package transport
