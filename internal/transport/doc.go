// Package transport carries agent sessions: it dials and listens over "tcp"
// and "kcp", picks between them for "auto", and runs TLS 1.3 on top. Conn is
// the TLS connection handed to smux: it implements WriteBuffers, so smux
// writes each frame with one call, and it corks the raw connection under
// TLS so the records of one frame leave in one write.
//
// KCP (kcp.go, kcplisten.go, kcpconfig.go) runs kcp-go in stream mode with
// write delay off, no-delay mode and no congestion window, so no request
// waits for a timer tick; kcp-go's encryption is off (TLS is on top) and
// its FEC is not linked (third_party/kcp-go). The edge's KCPListener owns
// the UDP socket's read loop and hands datagrams to kcp-go sessions
// (kcp.PacketPusher): a new address opens a session only with a
// conversation's first segment, sessions that have not finished TLS are
// capped and timed out, and quiet ones are closed. KCP has no FIN:
// Conn.Close sends a TLS close_notify and the session lingers a few RTOs so
// the last bytes arrive. Nor has it a reset: a segment from an address the
// edge has no session for (the edge restarted, the agent's NAT mapping
// changed) draws a small reset datagram (kcpreset.go) that ends the agent's
// session at once, so it redials instead of waiting out its heartbeat.
//
// Dialer (dialer.go) is what the agent uses: tcp, kcp, or auto, which
// falls back to TCP when UDP is blocked and offers KCP again on Upgrades
// once a background probe gets through.
//
// All transport tuning lives here.
package transport
