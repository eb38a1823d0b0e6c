package e2e

import (
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/transport"
)

// overKCP lists the whole-system test bodies that run again with agents on
// KCP (as top-level tests they run over TCP): one table of transports, as
// yamux's testConnTypes. Fault proxies relay UDP on their port number too.
var overKCP = []struct {
	name string
	body func(*testing.T)
	bulk bool // pushes hundreds of MiB: skipped under -race, run without it by make test
}{
	{"TCPTunnelCurl", TestTCPTunnelCurl, false},
	{"TCPTunnelBulkBothWays", TestTCPTunnelBulkBothWays, true},
	{"TCPTunnelRemotePort", TestTCPTunnelRemotePort, false},
	{"TCPTunnelLocalServiceDown", TestTCPTunnelLocalServiceDown, false},
	{"AgentWrongToken", TestAgentWrongToken, false},
	{"Refusals", TestRefusals, false},
	{"BindRules", TestBindRules, false},
	{"AgentPortAbuse", TestAgentPortAbuse, false},
	{"GroupRoundRobinSpreadsEvenly", TestGroupRoundRobinSpreadsEvenly, false},
	{"GroupBalancePolicies", TestGroupBalancePolicies, false},
	{"GroupLeastStreamsAvoidsBusyMember", TestGroupLeastStreamsAvoidsBusyMember, false},
	{"GroupMemberKilled", TestGroupMemberKilled, false},
	{"GroupMemberSilent", TestGroupMemberSilent, false},
	{"GroupMemberServiceDown", TestGroupMemberServiceDown, false},
	{"GroupEmpty", TestGroupEmpty, false},
	{"EdgeRestart", TestEdgeRestart, false},
	{"SessionTakeover", TestSessionTakeover, false},
	{"HeartbeatLoss", TestHeartbeatLoss, false},
	{"StalledServiceIsolated", TestStalledServiceIsolated, true},
}

func TestOverKCP(t *testing.T) {
	for _, tc := range overKCP {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bulk && raceEnabled {
				t.Skip("bulk over KCP runs without -race (make test)")
			}
			agentTransport, heartbeatTimeout = transport.KCP, 3*time.Second
			defer func() { agentTransport, heartbeatTimeout = transport.TCP, time.Second }()
			tc.body(t)
		})
	}
}
