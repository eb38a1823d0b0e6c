#!/bin/sh
# dist.sh cross-builds tether for every target in platforms/targets with the
# one build recipe (static, stripped, trimmed, version stamped), packs a
# .tar.gz per target with the binaries, the service files, the installer and
# the example configs, writes SHA256SUMS, prints a size table, and fails when
# a router agent is over its size budget.
#
#   scripts/dist.sh                       every target, agent and edge, archives
#   scripts/dist.sh linux-armv7 ...       only these targets
#   scripts/dist.sh --agent-only --no-archive --no-budget --out DIR
#                                         what the QEMU tests use
#
# Environment: VERSION (default: git describe), JOBS (parallel builds, default
# the number of cores), AGENT_BUDGET_BYTES (default 6 MiB).
set -eu

self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."
# shellcheck source=scripts/lib/targets.sh
. scripts/lib/targets.sh
TARGETS_FILE=platforms/targets
export TARGETS_FILE

PKG=github.com/tetherhq/tether
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
JOBS="${JOBS:-$(nproc)}"
budget=1 # scripts/lib/targets.sh has the budget and the targets it binds
export PKG VERSION

# --build-one NAME GOOS GOARCH VARIANT OUT BIN:PKG...: one target's binaries.
# dist.sh runs itself this way, $JOBS at a time, through xargs.
if [ "${1:-}" = --build-one ]; then
	name=$2 env=$(target_env "$3" "$4" "$5") out=$6
	shift 6
	mkdir -p "$out/$name"
	for b in "$@"; do
		# shellcheck disable=SC2086 # $env is a list of NAME=value words
		if ! env $env go build -trimpath -ldflags "-s -w -X $PKG/internal/buildinfo.Version=$VERSION" \
			-o "$out/$name/${b%%:*}" "${b#*:}" >"$out/$name/build.log" 2>&1; then
			echo "dist: build of ${b%%:*} for $name failed:" >&2
			cat "$out/$name/build.log" >&2
			exit 1
		fi
	done
	rm -f "$out/$name/build.log"
	exit 0
fi

out=dist
archive=1
bins="tether-agent:./agent/cmd/tether-agent tether-edge:./edge/cmd/tether-edge"
want=""
while [ $# -gt 0 ]; do
	case "$1" in
	--agent-only) bins="tether-agent:./agent/cmd/tether-agent" ;;
	--no-archive) archive="" ;;
	--no-budget) budget="" ;;
	--out)
		out="$2"
		shift
		;;
	-h | --help)
		sed -n '2,15p' "$0"
		exit 0
		;;
	-*)
		echo "dist: unknown option $1" >&2
		exit 2
		;;
	*) want="$want $1" ;;
	esac
	shift
done

# Build what exists: until a binary's main package is there, say so and skip it.
build=""
for b in $bins; do
	if [ -d "${b#*:}" ]; then
		build="$build $b"
	else
		echo "dist: ${b#*:} does not exist yet; not building ${b%%:*}" >&2
	fi
done
[ -n "$build" ] || {
	echo "dist: nothing to build" >&2
	exit 1
}

# shellcheck disable=SC2086 # $want is a list of target names
list=$(targets $want)
[ -n "$list" ] || {
	echo "dist: no target matches:$want" >&2
	exit 2
}
mkdir -p "$out"

# Up to $JOBS builds at a time; the go tool parallelises inside each as well.
# shellcheck disable=SC2086 # $build is a list of BIN:PKG words
echo "$list" | while read -r name os arch variant _; do
	echo "$name $os $arch $variant $out" $build
done | xargs -P "$JOBS" -L 1 "$self" --build-one

# The size table, and the budget.
printf '%-24s %12s %9s %12s\n' target agent "budget" edge
echo "$list" | while read -r name _; do
	a=$(stat -c %s "$out/$name/tether-agent" 2>/dev/null || echo 0)
	e=$(stat -c %s "$out/$name/tether-edge" 2>/dev/null || echo -)
	printf '%-24s %12s %8s%% %12s\n' "$name" "$a" $((a * 100 / AGENT_BUDGET_BYTES)) "$e"
done
if [ -n "$budget" ]; then
	# shellcheck disable=SC2046 # one target name a word
	check_agent_budget "$out" $(echo "$list" | cut -d' ' -f1) >/dev/null
fi

[ -n "$archive" ] || exit 0

# One reproducible archive per target: fixed owner, order and times.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
rm -f "$out"/tether_*.tar.gz "$out/SHA256SUMS"
echo "$list" | while read -r name _; do
	dir="tether_${VERSION}_${name}"
	mkdir -p "$stage/$dir/systemd" "$stage/$dir/openrc" "$stage/$dir/openwrt" "$stage/$dir/examples"
	cp "$out/$name"/tether-* "$stage/$dir/"
	cp platforms/systemd/*.service "$stage/$dir/systemd/"
	cp platforms/openrc/* "$stage/$dir/openrc/"
	cp platforms/openwrt/* "$stage/$dir/openwrt/"
	cp platforms/examples/* "$stage/$dir/examples/"
	cp scripts/install.sh "$stage/$dir/install.sh"
	cp platforms/README.md "$stage/$dir/README.md"
	tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
		-cf - "$dir" | gzip -9n >"$out/$dir.tar.gz"
done
(cd "$out" && sha256sum -- tether_*.tar.gz >SHA256SUMS)
echo "dist: wrote $(wc -l <"$out/SHA256SUMS") archives and $out/SHA256SUMS (version $VERSION)"
