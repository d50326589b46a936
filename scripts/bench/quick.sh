#!/usr/bin/env bash
# `make bench-quick`: Go client<->Go server vs Rust client<->Rust server at c = 100, pool 10,
# alternating, two short runs each (about 25 s once built). The last line is exactly
#   rust/go throughput ratio: X.XX  p99 ratio: Y.YY
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
scripts/bench/build.sh
exec python3 scripts/bench/bench.py quick --duration "${BENCH_DURATION:-4}" \
  --warmup "${BENCH_WARMUP:-1}" --repeat "${BENCH_REPEAT:-2}"
