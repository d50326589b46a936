#!/usr/bin/env bash
# HTTP gateway benchmark (part of `make bench`, docs/benchmarks.md "HTTP gateway on the rpcx
# port"): gateway calls/s over keep-alive connections (1 and 16), Rust vs Go v1.9.4 in the same
# run. Builds the Rust arith_server example (release) and the Go goserver + httpbench load
# driver into build/bench/bin, then runs scripts/bench/http_gateway.py, which writes its table
# into docs/benchmarks.md. Knobs (environment): HTTP_BENCH_CONNS (default 1,16),
# HTTP_BENCH_REQUESTS (calls per cell, same order; default 20000,100000), HTTP_BENCH_REPEAT
# (rounds, median kept; 3), HTTP_BENCH_WARMUP (2000), HTTP_BENCH_MODE (gateway | jsonrpc).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
cd "$ROOT"
build_json="$(mktemp)"
trap 'rm -f "$build_json"' EXIT
cargo build --release -q -p rpcx --example arith_server --message-format=json >"$build_json"
rust_server="$(grep -o '"executable":"[^"]*/arith_server"' "$build_json" | tail -n1 | cut -d'"' -f4)"
[[ -x "$rust_server" ]] || { echo "http-bench: could not locate the release arith_server" >&2; exit 1; }
mkdir -p build/bench/bin
(cd tests/interop/go && go build -trimpath -o "$ROOT/build/bench/bin/" ./cmd/goserver ./cmd/httpbench)
echo "http-bench: load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
exec python3 scripts/bench/http_gateway.py \
  --go-server build/bench/bin/goserver --rust-server "$rust_server" \
  --driver build/bench/bin/httpbench \
  --conns "${HTTP_BENCH_CONNS:-1,16}" --requests "${HTTP_BENCH_REQUESTS:-20000,100000}" \
  --repeat "${HTTP_BENCH_REPEAT:-3}" --warmup "${HTTP_BENCH_WARMUP:-2000}" \
  --mode "${HTTP_BENCH_MODE:-gateway}" --command "make bench"
