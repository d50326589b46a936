#!/usr/bin/env bash
# `make bench`: the full benchmark matrix (github.com/rpcxio/rpcx-benchmark; docs/benchmarks.md) on this machine.
#
#   {Go client, Rust client} x {Go server, Rust server} at c = 100 and 1000 over a pool of 10,
#   the limit row (Rust client -> `rpcx-bench limit-server`, a bare tokio frame echo), then one
#   row per client hook in scripts/bench/clients.d (C ABI, Python… when present).
#
# Writes docs/benchmarks.json, the generated part of docs/benchmarks.md and docs/benchmarks.png.
# Knobs (environment): BENCH_DURATION (s per cell, default 10), BENCH_WARMUP (2),
# BENCH_REPEAT (runs per cell, median kept; 1), BENCH_CONCURRENCY (100,1000), BENCH_POOL (10).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
scripts/bench/build.sh

# matplotlib for the chart, in a venv under build/ (the chart falls back to a plain PNG).
PY=python3
VENV="$ROOT/build/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
  { python3 -m venv "$VENV" && timeout 300 "$VENV/bin/pip" install -q matplotlib; } >&2 \
    || echo "bench: matplotlib unavailable, writing a plain chart" >&2
fi
"$VENV/bin/python" -c 'import matplotlib' 2>/dev/null && PY="$VENV/bin/python"

echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
exec "$PY" scripts/bench/bench.py full \
  --duration "${BENCH_DURATION:-10}" --warmup "${BENCH_WARMUP:-2}" \
  --repeat "${BENCH_REPEAT:-1}" --concurrency "${BENCH_CONCURRENCY:-100,1000}" \
  --pool "${BENCH_POOL:-10}" --command "make bench${BENCH_REPEAT:+ BENCH_REPEAT=$BENCH_REPEAT}"
