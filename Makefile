# tether — see README.md. Every target works on a fresh Debian machine with Go.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PKG      := github.com/tetherhq/tether
LDFLAGS  := -s -w -X $(PKG)/internal/buildinfo.Version=$(VERSION)
GOBUILD  := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: all build test test-go demo vet fmt clean dist test-services test-qemu bench-devices bench

all: build

build:
	$(GOBUILD) -o bin/tether-agent ./agent/cmd/tether-agent
	$(GOBUILD) -o bin/tether-edge ./edge/cmd/tether-edge

# Every test: unit, protocol fixtures, whole-system tests over real sockets,
# service files, and the agent on emulated ARM and MIPS devices.
test: test-go test-services test-qemu

test-go:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	$(GO) test -count=1 -run '^(TestOverKCP|TestHTTPBigBodiesBoundedMemory)$$/^(TCPTunnelBulkBothWays|StalledServiceIsolated)$$' ./internal/e2e/

# An edge, an agent and a local service on loopback; prints a working curl line.
demo: build
	$(GO) build -o bin/tether-demo ./scripts/demo
	./bin/tether-demo

# Cross builds of every target in platforms/targets: dist/*.tar.gz (binaries,
# service files, installer, example configs), dist/SHA256SUMS, a size table;
# fails when the mipsle agent is over its 6 MiB budget.
dist:
	VERSION=$(VERSION) sh scripts/dist.sh

# Service files and shell scripts: systemd-analyze, OpenRC, procd, shellcheck,
# install.sh. scripts/ci-deps.sh installs the tools (quick when present).
test-services:
	sh scripts/ci-deps.sh
	sh scripts/test-services.sh

# The agent on emulated devices: every target under qemu-user with its CPU
# pinned, and Debian armhf and mipsel kernels under qemu-system, against an
# edge on loopback. Kernels are cached in ~/.cache/tether/qemu.
test-qemu:
	sh scripts/qemu/run.sh

# Per target: binary size and agent RSS after start and after 1,000 proxied
# requests (qemu-user and qemu-system), as a table.
bench-devices:
	sh scripts/bench-devices.sh

# The benchmark suite: every budgeted figure beside its direct-loopback
# baseline, PASS/MISS, and bench.json. Installs iperf3 and wrk. A few minutes.
# FLEET=10000 measures the edge under 10,000 agents (≈ 5 more minutes).
FLEET ?= 1000
bench: build
	sh scripts/ci-deps.sh iperf3 wrk
	$(GO) build -o bin/tether-fleet ./scripts/fleet
	$(GO) build -o bin/tether-fleetbench ./scripts/fleetbench
	$(GO) build -o bin/tether-bench ./scripts/bench
	./bin/tether-bench -json bench.json -fleet $(FLEET)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist
