#!/usr/bin/env bash
# KCP vs TCP benchmarks, printed as Markdown tables:
#   1. clean loopback: direct, tunnel over TCP, tunnel over KCP (a real edge
#      and agents in one process): bulk throughput and per-request latency;
#   2. the edge's Go heap+stack per idle session, TCP vs KCP;
#   3. a bad link: two network namespaces joined by a TUN wire with 2% loss
#      each way, 40 ms RTT and 20 Mbit/s (userspace: the kernel here has no
#      netem): TLS over KCP vs TLS over TCP with reno and with bbr.
# Part 3 needs root (namespaces, /dev/net/tun); it is skipped without.
# Traffic goes only to loopback and to addresses inside the namespaces this
# script creates. Usage: scripts/bench-kcp.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

quick=false
[ "${1:-}" = "--quick" ] && quick=true

if ! command -v ip >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2
fi

bin="$(mktemp -d)"
trap 'cleanup' EXIT
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del tkbenchA 2>/dev/null || true
  ip netns del tkbenchB 2>/dev/null || true
  rm -rf "$bin"
}
go build -o "$bin/benchkcp" ./scripts/benchkcp

if $quick; then
  "$bin/benchkcp" loopback -bytes $((128 << 20)) -requests 2000 -rounds 1
  "$bin/benchkcp" mem -sessions 200
else
  "$bin/benchkcp" loopback
  "$bin/benchkcp" mem
fi

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ]; then
  echo "Skipping the lossy-link table: it needs root and /dev/net/tun."
  exit 0
fi

# Two hosts joined by the wire: A is the agent's side, B the edge's.
ip netns add tkbenchA
ip netns add tkbenchB
"$bin/benchkcp" wire -a tkbenchA -b tkbenchB -loss 0.02 -delay 20ms -rate 20e6 -queue $((128 << 10)) 2>"$bin/wire.log" &
pids+=($!)
for ns in tkbenchA tkbenchB; do
  for _ in $(seq 100); do ip -n "$ns" link show tw0 >/dev/null 2>&1 && break; sleep 0.05; done
  ip -n "$ns" link set lo up
  ip -n "$ns" link set tw0 up
done
ip -n tkbenchA addr add 10.77.0.1/24 dev tw0
ip -n tkbenchB addr add 10.77.0.2/24 dev tw0
ip netns exec tkbenchB "$bin/benchkcp" serve -listen 10.77.0.2:7443 -certdir "$bin" 2>"$bin/serve.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$bin/ca.crt" ] && grep -q serving "$bin/serve.log" && break; sleep 0.05; done

size=$((16 << 20)); reqs=300
$quick && { size=$((4 << 20)); reqs=100; }
echo "Bad link: 2% loss each way, 40 ms RTT, 20 Mbit/s, 128 KiB bottleneck buffer (TUN wire between namespaces)."
echo "One TLS stream: $((size >> 20)) MiB bulk; $reqs sequential 64-byte requests."
echo
echo "| path                         | bulk Mbit/s | p50 ms    | p99 ms    |"
echo "|------------------------------|------------:|----------:|----------:|"
ip netns exec tkbenchA "$bin/benchkcp" client -transport kcp -addr 10.77.0.2:7443 -ca "$bin/ca.crt" \
  -label "TLS over KCP" -bytes "$size" -requests "$reqs"
for cc in reno bbr; do
  for ns in tkbenchA tkbenchB; do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="$cc"
  done
  ip netns exec tkbenchA "$bin/benchkcp" client -transport tcp -addr 10.77.0.2:7443 -ca "$bin/ca.crt" \
    -label "TLS over TCP ($cc)" -bytes "$size" -requests "$reqs"
done
echo
