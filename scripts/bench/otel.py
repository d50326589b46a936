#!/usr/bin/env python3
"""Cost of OpenTelemetry propagation on the Rust<->Rust workload (`make bench-otel`).

Runs `rpcx-bench server` and `rpcx-bench client` (release build, the `make bench` workload:
581-byte protobuf Hello.Say, pool of 10 XClients, c = 100) with `--otel off`, `unsampled`
(ServerTracing + ClientTracing, sampler AlwaysOff: contexts made, injected and extracted on
every call) and `sampled` (AlwaysOn, spans recorded into a discarding exporter), alternating
the modes round by round in one run, and prints the median req/s and p99 of each mode and
their ratios to `off`. The last line is exactly

    otel cost: unsampled X.XXx req/s, sampled Y.YYx req/s (of off)

Not a test: the figures depend on the machine and its load.

    scripts/bench/otel.py [--rounds 3] [--duration 8] [--warmup 2] [-c 100] [--bin PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ["off", "unsampled", "sampled"]


def start_server(binary: str, mode: str) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([binary, "server", "--otel", mode], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line.startswith("LISTENING "):
        p.kill()
        sys.exit(f"server ({mode}) did not report LISTENING: {line!r}")
    return p, line.split()[1]


def run_cell(binary: str, mode: str, a: argparse.Namespace) -> dict:
    server, addr = start_server(binary, mode)
    try:
        # The warm-up: a short run whose figures are discarded.
        subprocess.run([binary, "client", "--addr", addr, "-c", str(a.c), "--pool", "10",
                        "-d", str(a.warmup), "--otel", mode], check=True,
                       capture_output=True, timeout=a.warmup + 60)
        out = subprocess.run([binary, "client", "--addr", addr, "-c", str(a.c), "--pool", "10",
                              "-d", str(a.duration), "--otel", mode], check=True,
                             capture_output=True, text=True, timeout=a.duration + 60)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("-c", type=int, default=100)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/rpcx-bench"))
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} not found: cargo build --release -p rpcx-bench")
    cells: dict[str, list[dict]] = {m: [] for m in MODES}
    for r in range(a.rounds):
        for mode in MODES:
            cell = run_cell(a.bin, mode, a)
            if cell.get("errors"):
                sys.exit(f"{mode}: {cell['errors']} calls failed: {cell.get('first_error')}")
            cells[mode].append(cell)
            print(f"round {r + 1} {mode:>9}: {cell['rps']:>10,.0f} req/s  "
                  f"p99 {cell['p99_ms']:.3f} ms", flush=True)
    rps = {m: statistics.median(c["rps"] for c in cells[m]) for m in MODES}
    p99 = {m: statistics.median(c["p99_ms"] for c in cells[m]) for m in MODES}
    print(f"\nRust client <-> Rust server, c = {a.c}, pool 10, {a.rounds} rounds of "
          f"{a.duration:g} s per mode (medians)")
    print("| otel | req/s | p99 ms | req/s ÷ off | p99 ÷ off |")
    print("|---|---|---|---|---|")
    for m in MODES:
        print(f"| {m} | {rps[m]:,.0f} | {p99[m]:.3f} | {rps[m] / rps['off']:.2f}× | "
              f"{p99[m] / p99['off']:.2f}× |")
    print(f"otel cost: unsampled {rps['unsampled'] / rps['off']:.2f}x req/s, "
          f"sampled {rps['sampled'] / rps['off']:.2f}x req/s (of off)")


if __name__ == "__main__":
    main()
