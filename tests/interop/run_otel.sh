#!/usr/bin/env bash
# OpenTelemetry interop (part of `make interop`): the trace context travels in the rpcx
# request metadata map, used as the TextMapCarrier of the W3C TraceContext propagator as the
# otel plugins of rpcxio/rpcx-plugins do (Go side: tests/interop/go/cmd/gootel on
# go.opentelemetry.io/otel; Rust side: the otel_interop example, feature `otel`, spans
# recorded by an in-memory exporter).
#
#   go-client   Go client span, injected into the metadata -> Rust server: our server span
#               has the Go span's trace id, and the Go span as its (remote) parent
#   go-server   Rust client (rpcx::otel::ClientTracing) -> Go server that extracts the
#               context: it saw our client span's trace id and span id as the parent
#
# Prints PASS/FAIL per case and "otel: N passed, N failed"; exit status 1 on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

echo "== building the Go otel peer (gootel)"
build_go ./cmd/gootel
echo "== building the Rust otel_interop example (feature otel)"
(cd "$root" && "$cargo" build -q -p rpcx --features otel --example otel_interop)
"$(debug_example otel_interop)" "$bin/gootel"
