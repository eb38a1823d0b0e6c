#!/bin/sh
# ci-deps.sh installs, from Debian's packages, exactly what the device tests
# need: qemu-user for cross-arch runs, qemu-system for full-system boots,
# systemd (systemd-analyze), OpenRC, procps (pgrep) and shellcheck for the
# service-file tests. The kernels the full-system boots need come from
# scripts/qemu/fetch-kernels.sh.
# It runs apt-get update once, and only when something is missing, so a
# second run on a ready machine takes well under a second.
set -eu

pkgs="curl git systemd procps qemu-user-static qemu-system-arm qemu-system-mips openrc shellcheck $*"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "ci-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086 # word splitting is wanted: one package a word
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
