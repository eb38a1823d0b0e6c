package transport

import (
	"fmt"
	"net"
	"strconv"
)

// ListenAgents opens the edge's agent listeners: TCP on addr and KCP on
// the UDP port with the same number. With port 0 it picks a port free for
// both. Close both when done.
func ListenAgents(addr string, cfg KCPConfig, lim KCPLimits) (net.Listener, *KCPListener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	tries := 1
	if port == "0" {
		tries = 20 // the TCP port's number may be taken on UDP: pick another
	}
	for range tries {
		t, err := Listen(TCP, addr)
		if err != nil {
			return nil, nil, err
		}
		p := t.Addr().(*net.TCPAddr).Port
		k, err := ListenKCP(net.JoinHostPort(host, strconv.Itoa(p)), cfg, lim)
		if err == nil {
			return t, k, nil
		}
		t.Close()
		if tries == 1 {
			return nil, nil, fmt.Errorf("udp (kcp): %w", err)
		}
	}
	return nil, nil, fmt.Errorf("no port free for both TCP and UDP on %s", host)
}
