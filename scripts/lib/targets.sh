# shellcheck shell=sh
# targets.sh is sourced by the build and QEMU scripts: it reads the one target
# list, platforms/targets, and says how to build and run each target.

# targets prints one line per target: "name goos goarch variant qemu-cpu",
# where name is the short form used in file names (linux-armv7,
# linux-mipsle-softfloat). With arguments, it keeps only the targets whose
# name is one of them.
targets() {
	_file="${TARGETS_FILE:-$(dirname "$0")/../platforms/targets}"
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$_file" | while read -r _os _arch _variant _cpu; do
		case "$_arch/$_variant" in
		arm/*) _name="$_os-armv$_variant" ;;
		*/-) _name="$_os-$_arch" ;;
		*) _name="$_os-$_arch-$_variant" ;;
		esac
		if [ $# -gt 0 ]; then
			_keep=""
			for _want in "$@"; do
				[ "$_want" = "$_name" ] && _keep=1
			done
			[ -n "$_keep" ] || continue
		fi
		echo "$_name $_os $_arch $_variant ${_cpu:--}"
	done
}

# target_env prints the environment a go build for goos goarch variant needs.
# 32-bit MIPS routers have 8-16 MB of flash: their builds do without
# inlining (-gcflags=all=-l), which takes ~520 KB off the agent (what
# linking kcp-go adds) for ~13% of tunnel throughput (make bench, amd64).
target_env() {
	printf 'CGO_ENABLED=0 GOOS=%s GOARCH=%s' "$1" "$2"
	case "$2/$3" in
	*/-) ;;
	arm/*) printf ' GOARM=%s' "$3" ;;
	mips/* | mipsle/*) printf ' GOMIPS=%s GOFLAGS=-gcflags=all=-l' "$3" ;;
	mips64/* | mips64le/*) printf ' GOMIPS64=%s' "$3" ;;
	*) echo "targets: no variant knob for $2 ($3)" >&2; return 1 ;;
	esac
	echo
}

# qemu_user names the qemu-user binary that runs goarch, or "" for the host's.
qemu_user() {
	case "$1" in
	amd64) [ "$(uname -m)" = x86_64 ] || echo qemu-x86_64-static ;;
	arm64) echo qemu-aarch64-static ;;
	arm) echo qemu-arm-static ;;
	mips) echo qemu-mips-static ;;
	mipsle) echo qemu-mipsel-static ;;
	mips64) echo qemu-mips64-static ;;
	mips64le) echo qemu-mips64el-static ;;
	riscv64) echo qemu-riscv64-static ;;
	*) echo "qemu-$1-static" ;;
	esac
}

# The router flash budget binds the 32-bit MIPS agents (8-16 MB of flash).
AGENT_BUDGET_BYTES="${AGENT_BUDGET_BYTES:-$((6 << 20))}"
BUDGETED_TARGETS="linux-mipsle-softfloat linux-mips-softfloat"

# check_agent_budget DIR NAME... checks DIR/NAME/tether-agent of each
# budgeted target among the names (others, and missing files, are passed
# over): it prints each one's share of the budget and fails naming those
# over it.
check_agent_budget() {
	_dir=$1
	shift
	_over=""
	for _t in "$@"; do
		case " $BUDGETED_TARGETS " in
		*" $_t "*) ;;
		*) continue ;;
		esac
		[ -f "$_dir/$_t/tether-agent" ] || continue
		_size=$(stat -c %s "$_dir/$_t/tether-agent")
		if [ "$_size" -gt "$AGENT_BUDGET_BYTES" ]; then
			_over="$_over $_t ($_size bytes)"
		else
			echo "budget: $_t agent $_size bytes, $((_size * 100 / AGENT_BUDGET_BYTES))% of $AGENT_BUDGET_BYTES"
		fi
	done
	if [ -n "$_over" ]; then
		echo "budget: FAIL: agent over its size budget of $AGENT_BUDGET_BYTES bytes (6 MiB, stripped):$_over" >&2
		return 1
	fi
}
