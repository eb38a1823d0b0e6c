#!/bin/sh
# fetch-kernels.sh fetches the Debian kernels that the full-system QEMU tests
# boot, with the NIC modules they need, into a cache:
#
#   $CACHE/<guest>/vmlinuz     the kernel
#   $CACHE/<guest>/modules/    the NIC's modules, and a file "order" naming
#                              them in the order they must be loaded
#
# Guests: armhf (linux-image-armmp-lpae, for qemu-system-arm -M virt) and
# mipsel (linux-image-4kc-malta, for -M malta). CACHE is the first argument,
# else ${XDG_CACHE_HOME:-$HOME/.cache}/tether/qemu/kernels. A guest already in
# the cache is not fetched again; the cache key is the versioned package, so a
# new Debian kernel is picked up, and the old one stays until removed.
set -eu

cache="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/tether/qemu/kernels}"
mkdir -p "$cache"

# guest dpkg-arch meta-package modules...
fetch() {
	guest=$1 arch=$2 meta=$3
	shift 3
	if [ -f "$cache/$guest/vmlinuz" ] && [ -f "$cache/$guest/modules/order" ]; then
		return 0
	fi
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		dpkg --add-architecture "$arch"
		apt-get update -qq
	fi
	# The meta package depends on the versioned one, e.g. linux-image-6.1.0-57-armmp-lpae.
	pkg=$(apt-cache depends "$meta:$arch" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
	if [ -z "$pkg" ]; then
		apt-get update -qq
		pkg=$(apt-cache depends "$meta:$arch" | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
	fi
	[ -n "$pkg" ] || {
		echo "fetch-kernels: cannot resolve $meta:$arch" >&2
		return 1
	}
	tmp=$(mktemp -d)
	# apt-get download writes into the current directory, as _apt where it can.
	chmod 0777 "$tmp"
	(cd "$tmp" && apt-get download -q "${pkg%:*}:$arch" >/dev/null 2>&1) || {
		rm -rf "$tmp"
		echo "fetch-kernels: apt-get download $pkg:$arch failed" >&2
		return 1
	}
	dpkg -x "$tmp"/*.deb "$tmp/x"
	rm -rf "${cache:?}/${guest:?}.new"
	mkdir -p "$cache/$guest.new/modules"
	cp "$tmp"/x/boot/vmlinuz-* "$cache/$guest.new/vmlinuz"
	for m in "$@"; do
		f=$(find "$tmp/x/lib/modules" -name "$m.ko" | head -n 1)
		[ -n "$f" ] || {
			echo "fetch-kernels: $pkg has no $m.ko" >&2
			rm -rf "$tmp"
			return 1
		}
		cp "$f" "$cache/$guest.new/modules/"
		echo "$m.ko" >>"$cache/$guest.new/modules/order"
	done
	echo "$pkg" >"$cache/$guest.new/package"
	rm -rf "$tmp" "${cache:?}/${guest:?}"
	mv "$cache/$guest.new" "$cache/$guest"
	echo "fetch-kernels: $guest: $pkg"
}

fetch armhf armhf linux-image-armmp-lpae failover net_failover virtio_mmio virtio_net
fetch mipsel mipsel linux-image-4kc-malta mii pcnet32
