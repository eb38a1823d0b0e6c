#!/bin/sh
# bench-devices.sh prints, per target, the agent's stripped binary size and
# its RSS after it bound its tunnel and after 1,000 proxied requests: under
# qemu-user for every target in platforms/targets (VmRSS of the qemu process:
# emulator and agent together; the native row is the agent alone), and
# inside the armhf and mipsel guests under qemu-system (the agent alone, read
# from the guest's /proc). It is scripts/qemu/run.sh with more requests.
# REQUESTS and SYSTEM_REQUESTS override the counts.
set -eu
REQUESTS="${REQUESTS:-1000}" SYSTEM_REQUESTS="${SYSTEM_REQUESTS:-1000}" \
	exec sh "$(dirname "$0")/qemu/run.sh"
