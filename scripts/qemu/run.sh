#!/bin/sh
# run.sh is `make test-qemu`: it installs what it needs (scripts/ci-deps.sh),
# builds the agent for every target in platforms/targets, the edge for this
# machine and the guests' /init, fetches the Debian kernels into a cache, and
# runs scripts/qemu/harness:
#   - qemu-user: every target's agent with its CPU model pinned, against an
#     edge on loopback, reached through an endpoint that selects its arch;
#   - full system: Debian armhf (-M virt) and mipsel (-M malta) kernels
#     booting an initramfs whose /init starts the agent.
# Both run at once. It prints a table of sizes and RSS and ends with
# "qemu: N passed, N failed".
#
# Environment: QEMU_MODES (user,system), REQUESTS (per qemu-user target,
# default 200), SYSTEM_REQUESTS (per guest, default 100), TETHER_CACHE (the
# kernel cache; default ${XDG_CACHE_HOME:-$HOME/.cache}/tether), TARGETS
# (names from platforms/targets; default all), TRANSPORT (the agents'
# transport: tcp, kcp or auto; default tcp).
set -eu

cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/targets.sh
. scripts/lib/targets.sh
TARGETS_FILE=platforms/targets
export TARGETS_FILE

cache="${TETHER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tether}/qemu"
modes="${QEMU_MODES:-user,system}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sh scripts/ci-deps.sh

# The kernels download while the binaries build.
kernels_pid=""
case "$modes" in
*system*)
	sh scripts/qemu/fetch-kernels.sh "$cache/kernels" >"$work/kernels.log" 2>&1 &
	kernels_pid=$!
	;;
esac

t0=$(date +%s)
# shellcheck disable=SC2086 # TARGETS is a list of names
sh scripts/dist.sh --agent-only --no-archive --no-budget --out "$work/bin" ${TARGETS:-} >"$work/build.log" 2>&1 || {
	cat "$work/build.log" >&2
	exit 1
}
CGO_ENABLED=0 go build -trimpath -o "$work/tether-edge" ./edge/cmd/tether-edge
go build -o "$work/harness" ./scripts/qemu/harness
for t in linux-armv7 linux-mipsle-softfloat; do
	targets "$t" | while read -r name os arch variant _; do
		# shellcheck disable=SC2046 # target_env prints NAME=value words
		env $(target_env "$os" "$arch" "$variant") go build -trimpath -ldflags "-s -w" \
			-o "$work/bin/$name/guestinit" ./scripts/qemu/guestinit
	done
done
# The baseline of the memory figures: an idle Go program per target.
# shellcheck disable=SC2086 # TARGETS is a list of names
targets ${TARGETS:-} | while read -r name os arch variant _; do
	# shellcheck disable=SC2046 # target_env prints NAME=value words
	env $(target_env "$os" "$arch" "$variant") go build -trimpath -ldflags "-s -w" \
		-o "$work/bin/$name/idle" ./scripts/qemu/idle
done
# A negative control for the 24Kc pin: a hardfloat build must die there.
mkdir -p "$work/bin/linux-mipsle-hardfloat"
CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=hardfloat go build -trimpath -ldflags "-s -w" \
	-o "$work/bin/linux-mipsle-hardfloat/tether-agent" ./agent/cmd/tether-agent
echo "qemu: built in $(($(date +%s) - t0)) s"

if [ -n "$kernels_pid" ]; then
	wait "$kernels_pid" || {
		cat "$work/kernels.log" >&2
		exit 1
	}
fi

set --
# shellcheck disable=SC2086
targets ${TARGETS:-} >"$work/targets"
while read -r line; do
	set -- "$@" -target "$line"
done <"$work/targets"
status=0
"$work/harness" -mode "$modes" -edge "$work/tether-edge" -bins "$work/bin" -kernels "$cache/kernels" \
	-requests "${REQUESTS:-200}" -system-requests "${SYSTEM_REQUESTS:-100}" -transport "${TRANSPORT:-tcp}" \
	-refuse "linux-mipsle-softfloat=$work/bin/linux-mipsle-hardfloat/tether-agent" "$@" || status=$?

# The router flash budget, as make dist enforces it: checked after the
# device tests so that both results show.
# shellcheck disable=SC2046 # one target name a word
check_agent_budget "$work/bin" $(cut -d' ' -f1 "$work/targets") || status=1
exit "$status"
