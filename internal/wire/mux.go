package wire

import (
	"github.com/xtaci/smux"
)

// Flow-control sizes. smux lets a new stream receive initialWindow bytes
// before the first window update, whatever MaxStreamBuffer says, so the
// session-wide receive budget must hold that much for every stream that may
// be open at once: otherwise a few streams nobody reads stall the whole
// session, the control stream included.
const (
	initialWindow = 256 << 10
	// MaxFrameSize is smux's largest frame; smaller frames cost throughput.
	MaxFrameSize = 65535
)

// shaperQueue bounds smux's queue of frames waiting to be written. Each
// stream has at most a frame or two in flight (smux writes synchronously),
// so a short queue only makes a writer wait a moment when every stream
// writes at once; upstream's 1024 slots cost 56 KiB per session.
const shaperQueue = 64

// MuxConfig returns the smux configuration for a session that allows
// maxStreams concurrent streams (plus the control stream) with a
// per-stream receive window of window bytes, and lets acceptBacklog
// opened streams wait for AcceptStream (the edge accepts only the control
// stream; the agent accepts every data stream at once). smux's own
// keepalive is off: the heartbeat on the control stream does that job and
// also catches a session whose streams have stalled.
func MuxConfig(maxStreams, window, acceptBacklog int) *smux.Config {
	if window < initialWindow {
		window = initialWindow
	}
	if maxStreams < 1 {
		maxStreams = 1
	}
	return &smux.Config{
		Version:           2,
		KeepAliveDisabled: true,
		MaxFrameSize:      MaxFrameSize,
		MaxStreamBuffer:   window,
		MaxReceiveBuffer:  (maxStreams + 2) * window,
		AcceptBacklog:     max(acceptBacklog, 1),
		ShaperQueueSize:   shaperQueue,
	}
}
