# rpcx — build, test, demo and benchmark entry points. `make test` runs every suite.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:/usr/local/go/bin:$(PATH)
CARGO ?= cargo

.PHONY: all build bootstrap test lint fmt fmt-check clippy rust-test demo bench bench-protocol fuzz clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build --workspace --all-targets

# Each mk/*.mk adds its suites to TEST_TARGETS (C ABI, Python, Go interop…).
TEST_TARGETS :=
include $(sort $(wildcard mk/*.mk))

## Every test suite of the repository, plus formatting and lint gates.
test: bootstrap lint rust-test $(TEST_TARGETS)

lint: fmt-check clippy

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p rpcx --all-targets --features otel,tracing -- -D warnings

rust-test:
	$(CARGO) test --workspace
	$(CARGO) test -p rpcx --features tls,tracing --test server_tls
	$(CARGO) test -p rpcx --features otel,tracing --test otel

## Protocol micro-benchmarks (criterion) and allocation counts per operation.
bench-protocol: bootstrap
	$(CARGO) bench -p rpcx --bench protocol
	$(CARGO) bench -p rpcx --bench protocol_allocs

## Fuzz the frame decoder (needs the nightly toolchain and cargo-fuzz; FUZZ_SECONDS=60 default).
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz run decode_frame -- -max_total_time=$(FUZZ_SECONDS)

clean:
	$(CARGO) clean

## Start the Rust Arith server and call it from every client language built here.
demo: bootstrap
	@scripts/demo.sh
