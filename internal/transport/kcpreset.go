package transport

import (
	"encoding/binary"
	"errors"
	"time"
)

// A reset tells an agent that the edge holds no KCP session for the
// conversation its datagram named: the edge restarted, or the agent's
// address changed under it (NAT rebinding). KCP has no RST of its own, so
// without it the agent would wait for its heartbeat timeout (30 s by
// default) before redialing; with it, it redials at the next datagram it
// sends (a heartbeat, a retransmission). The datagram is the conversation
// id (little-endian, as KCP's) and resetMagic: 12 bytes, smaller than any
// KCP segment that draws one, so it amplifies nothing, and 0xee is no KCP
// command. A reset only counts with the conversation of the session that
// receives it, on the socket connected to the edge.
const resetMagic = "\xeeTTHRRST"

// resetLen is the length of a reset datagram.
const resetLen = 4 + len(resetMagic)

// ErrKCPReset ends an agent's KCP session when the edge answers that it
// does not know the session.
var ErrKCPReset = errors.New("the edge has no KCP session for us (it restarted, or our address changed)")

// Resets the edge sends at most: resetBurst per resetWindow.
const (
	resetBurst  = 64
	resetWindow = 100 * time.Millisecond
)

func appendReset(b []byte, conv uint32) []byte {
	b = binary.LittleEndian.AppendUint32(b, conv)
	return append(b, resetMagic...)
}

// isReset reports whether b is a reset for conversation conv.
func isReset(b []byte, conv uint32) bool {
	return len(b) == resetLen && string(b[4:]) == resetMagic && binary.LittleEndian.Uint32(b) == conv
}

// strayConv returns the conversation of a KCP segment that opens nothing,
// the kind of datagram a reset answers: at least a segment header with a
// KCP command (PUSH, ACK, window probe or answer).
func strayConv(b []byte) (uint32, bool) {
	if len(b) < segHeader || b[4] < cmdPush || b[4] > cmdPush+3 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}
