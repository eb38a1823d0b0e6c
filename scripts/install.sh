#!/bin/sh
# install.sh installs the tether agent (or, with --edge, the edge) and its
# service on this machine, for systemd, OpenRC or OpenWrt's procd, whichever
# runs here. Run it from an unpacked release archive (make dist), as root:
#
#   ./install.sh                 install or upgrade the agent; enable it
#   ./install.sh --edge          the edge instead (systemd only)
#   ./install.sh --uninstall     stop and remove the service and binary;
#                                the config and the state (device id) stay
#   ./install.sh --uninstall --purge   remove those too
#
# Options: --init systemd|openrc|procd (default: detected), --binary FILE
# (default: the one beside this script), --no-start, --root DIR (install into
# DIR as if it were /, and only print the service-manager commands; for tests
# and image builds).
#
# An existing config is never overwritten: a new one is the example for this
# kind of device, and the service is started only once a config of your own
# is in place.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
what=agent
init=""
binary=""
uninstall=""
purge=""
start=1
root=""

die() {
	echo "install: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--edge) what=edge ;;
	--uninstall) uninstall=1 ;;
	--purge) purge=1 ;;
	--no-start) start="" ;;
	--init)
		[ $# -ge 2 ] || die "--init needs systemd, openrc or procd"
		init=$2
		shift
		;;
	--binary)
		[ $# -ge 2 ] || die "--binary needs a file"
		binary=$2
		shift
		;;
	--root)
		[ $# -ge 2 ] || die "--root needs a directory"
		root=$(cd "$2" && pwd) || die "no directory $2"
		shift
		;;
	-h | --help)
		sed -n '2,20p' "$0"
		exit 0
		;;
	*) die "unknown argument $1 (try --help)" ;;
	esac
	shift
done

# run executes a service-manager command, or with --root only shows it.
run() {
	if [ -n "$root" ]; then
		echo "would run: $*"
	else
		"$@"
	fi
}

# detect_init names the init system that runs this machine.
detect_init() {
	if [ -d "$root/run/systemd/system" ]; then
		echo systemd
	elif [ -x "$root/sbin/procd" ] && [ -f "$root/etc/rc.common" ]; then
		echo procd
	elif [ -x "$root/sbin/openrc-run" ] || [ -x "$root/usr/sbin/openrc-run" ]; then
		echo openrc
	else
		return 1
	fi
}

[ -n "$init" ] || init=$(detect_init) || die "no systemd, OpenRC or procd found; say which with --init"
case "$init" in
systemd | openrc | procd) ;;
*) die "unknown init system $init: want systemd, openrc or procd" ;;
esac
[ "$what" = agent ] || [ "$init" = systemd ] || die "the edge ships a systemd unit only"
[ -n "$root" ] || [ "$(id -u)" = 0 ] || die "run me as root (or with --root DIR)"

name="tether-$what"
case "$init" in
procd) bindir=/usr/bin ;;
*) bindir=/usr/local/bin ;;
esac
case "$init" in
systemd) service="/etc/systemd/system/$name.service" ;;
*) service="/etc/init.d/$name" ;;
esac
config="/etc/tether/$what.toml"
case "$what/$init" in
agent/procd) state=/etc/tether/state ;; # /var is RAM on OpenWrt
agent/*) state=/var/lib/tether ;;
edge/*) state=/var/lib/tether-edge ;;
esac
# OpenWrt keeps the files listed here across a sysupgrade (reflash).
keep=/lib/upgrade/keep.d/tether

service_stop() {
	case "$init" in
	systemd) run systemctl disable --now "$name.service" || true ;;
	openrc)
		run rc-service "$name" stop || true
		run rc-update del "$name" default || true
		;;
	procd)
		run "$service" stop || true
		run "$service" disable || true
		;;
	esac
}

if [ -n "$uninstall" ]; then
	[ -e "$root$service" ] && service_stop
	rm -f "$root$service" "$root$bindir/$name" "$root$keep"
	[ "$init" = systemd ] && run systemctl daemon-reload
	if [ -n "$purge" ]; then
		rm -rf "$root$config" "$root$state"
		[ "$what" = agent ] && rm -f "$root/etc/tether/token"
		rmdir "$root/etc/tether" 2>/dev/null || true
		echo "install: removed $name, its config and its state"
	else
		echo "install: removed $name; kept $config and $state (--purge removes them)"
	fi
	exit 0
fi

# The binary: beside this script (a release archive), or --binary.
[ -n "$binary" ] || binary="$here/$name"
[ -f "$binary" ] || die "no $binary: run me from an unpacked release archive, or pass --binary"
if [ -z "$root" ] && ! "$binary" -version >/dev/null 2>&1; then
	die "$binary does not run on this machine ($(uname -m)): pick the archive for this CPU"
fi

# The files of this archive, or of a source tree (platforms/).
src=$here
[ -d "$src/systemd" ] || src="$here/../platforms"
case "$init" in
systemd) unit_src="$src/systemd/$name.service" ;;
openrc) unit_src="$src/openrc/$name" ;;
procd) unit_src="$src/openwrt/$name" ;;
esac
case "$what/$init" in
edge/*) example="$src/examples/edge.toml" ;;
agent/procd) example="$src/examples/agent-openwrt.toml" ;;
*) example="$src/examples/agent-pi.toml" ;;
esac
[ -f "$unit_src" ] || die "no service file $unit_src"

# A system user for systemd and OpenRC; procd runs the agent as root.
owner=root
if [ "$init" != procd ]; then
	owner=tether
	if [ -n "$root" ]; then
		echo "would create system user tether"
		owner=root
	elif ! id tether >/dev/null 2>&1; then
		if command -v useradd >/dev/null 2>&1; then
			useradd --system --user-group --no-create-home --home-dir "$state" --shell /usr/sbin/nologin tether
		else # busybox (Alpine)
			addgroup -S tether
			adduser -S -D -H -h "$state" -s /sbin/nologin -G tether tether
		fi
	fi
fi

was_running=""
if [ -e "$root$service" ]; then
	case "$init" in
	systemd) [ -z "$root" ] && systemctl is-active --quiet "$name.service" && was_running=1 ;;
	openrc) [ -z "$root" ] && rc-service "$name" status >/dev/null 2>&1 && was_running=1 ;;
	procd) [ -z "$root" ] && "$service" running >/dev/null 2>&1 && was_running=1 ;;
	esac
fi

mkdir -p "$root$bindir" "$root$(dirname "$service")" "$root/etc/tether"
# Copy, then rename: a running binary is replaced, never written into.
cp "$binary" "$root$bindir/.$name.new"
chmod 0755 "$root$bindir/.$name.new"
mv -f "$root$bindir/.$name.new" "$root$bindir/$name"
cp "$unit_src" "$root$service"
case "$init" in
systemd) chmod 0644 "$root$service" ;;
*) chmod 0755 "$root$service" ;;
esac

fresh=""
if [ -e "$root$config" ]; then
	echo "install: keeping the existing $config"
else
	[ -f "$example" ] || die "no example config $example"
	cp "$example" "$root$config"
	fresh=1
fi
chmod 0640 "$root$config"
[ "$owner" = root ] || chown "root:$owner" "$root$config"

if [ "$init" = procd ]; then
	mkdir -p "$root$(dirname "$keep")"
	echo "/etc/tether/" >"$root$keep"
fi

case "$init" in
systemd)
	run systemctl daemon-reload
	run systemctl enable "$name.service"
	;;
openrc) run rc-update add "$name" default ;;
procd) run "$service" enable ;;
esac

if [ -n "$fresh" ]; then
	echo "install: wrote the example config $config: edit it (edge, token, tunnels), check it with"
	echo "         $bindir/$name -check -config $config"
	case "$init" in
	systemd) echo "         and start the service: systemctl start $name" ;;
	openrc) echo "         and start the service: rc-service $name start" ;;
	procd) echo "         and start the service: $service start" ;;
	esac
elif [ -n "$start" ]; then
	action=start
	[ -n "$was_running" ] && action=restart
	case "$init" in
	systemd) run systemctl "$action" "$name.service" ;;
	openrc) run rc-service "$name" "$action" ;;
	procd) run "$service" "$action" ;;
	esac
fi
echo "install: installed $bindir/$name and $service ($init)"
