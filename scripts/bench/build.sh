#!/usr/bin/env bash
# Builds what the benchmark runs: the Rust rpcx-bench (release) and the Go reference
# benchserver/benchclient (rpcx v1.9.4) into build/bench/bin. Quiet when up to date.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
cd "$ROOT"
cargo build --release -q -p rpcx-bench
mkdir -p build/bench/bin
(cd tests/interop/go && go build -trimpath -o "$ROOT/build/bench/bin/" ./cmd/benchserver ./cmd/benchclient)
