// Package wire is the protocol between a tether agent and a tether edge. Both
// sides import it; it imports neither.
//
// # Session
//
// The agent dials the edge (TCP, or KCP over UDP) and runs TLS 1.3 with ALPN
// "tether/1", verifying the edge's certificate. Inside TLS, the agent speaks
// first:
//
//	agent → edge   preamble: "TTHR" + one version byte (Version)
//	agent → edge   Hello      {token, id, labels, version, os, arch}
//	edge  → agent  Welcome    {heartbeat, timeout, max_streams, ...}
//	           or  Refuse     {code, reason}   and the edge closes
//
// Every control message is a frame: one type byte, a big-endian uint16 length,
// and that many bytes of tagged fields (codec.go: protobuf-style keys, so
// either side skips fields it does not know). A frame longer than MaxFrame is
// rejected before anything is allocated. The Refuse frame keeps this layout in every protocol
// version, so an agent that speaks a newer version still reads why it was
// refused. The whole handshake runs under a deadline (HandshakeTimeout).
//
// After the Welcome both sides run smux protocol version 2 on the same TLS
// connection (MuxConfig). The agent opens the first stream, the control
// stream, and sends one Bind per tunnel; the edge answers each with a
// BindResult, which carries the tunnel's public address or the rule that
// refused it. Unbind removes a tunnel; the agent may bind and unbind at any
// time (a config reload). The edge may also send a BindResult nobody asked
// for: OK with a new public address (its groups changed), or not OK when it
// withdraws a tunnel (its token's rules changed). The agent sends Ping every heartbeat
// interval and the edge answers with Pong; each side closes the session when
// its control stream has been silent for the heartbeat timeout.
//
// # Data streams
//
// For each public connection (or pooled HTTP connection) the edge opens a
// stream toward the agent and writes a StreamHeader: the tunnel name and the
// public client's address, each a one-byte length and that many bytes. The
// agent dials the tunnel's local address and answers with one status byte
// (StatusOK, or an error status followed by a one-byte length and a reason).
// Only after StatusOK does payload flow, so the edge can try another member
// of a group when a device cannot reach its local service.
package wire
