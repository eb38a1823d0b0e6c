#!/usr/bin/env bash
# Installs what the whole-system tests use beyond Go: curl and openssl from
# Debian, and pebble + pebble-challtestsrv (a real ACME server, for the
# ACME test) from the Go module proxy into $(go env GOPATH)/bin.
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
for cmd_pkg in curl:curl openssl:openssl git:git; do
  command -v "${cmd_pkg%%:*}" >/dev/null || need+=("${cmd_pkg##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

PEBBLE_VERSION=v2.10.3
bin="$(go env GOPATH)/bin"
for tool in pebble pebble-challtestsrv; do
  if [ ! -x "$bin/$tool" ]; then
    echo "installing $tool $PEBBLE_VERSION"
    go install "github.com/letsencrypt/pebble/v2/cmd/$tool@$PEBBLE_VERSION"
  fi
done
