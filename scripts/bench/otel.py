#!/usr/bin/env python3
"""Cost of OpenTelemetry propagation on the Rust<->Rust workload (`make bench-otel`).

Runs `rpcx-bench server` and `rpcx-bench client` (release build, the `make bench` workload:
581-byte protobuf Hello.Say, pool of 10 XClients, c = 100) with `--otel off`, `unsampled`
(ServerTracing + ClientTracing, sampler AlwaysOff: contexts made, injected and extracted on
every call) and `sampled` (AlwaysOn, spans recorded into a discarding exporter), alternating
the modes round by round in one run, and prints the median req/s, p99 and CPU time per call
of each mode and their ratios to `off`. CPU per call is the server's (from /proc/PID/stat)
plus the client's (its rusage) over the measured run, divided by the calls made: client and
server share the machine's cores, so on a small machine req/s swings with scheduling while
CPU per call holds steadier. The last line is exactly

    otel cost: unsampled X.XXx req/s, +A.AA us CPU/call (B.BBx; paired P.PPx, Q.QQx); sampled …

(one entry per mode after off, in the order of --modes)

where B.BBx is off's CPU per call divided by the mode's, and the paired figures are the
req/s and CPU ratios taken within each round, then their median over rounds.

Not a test: the figures depend on the machine and its load.

    scripts/bench/otel.py [--rounds 3] [--duration 8] [--warmup 2] [-c 100] [--bin PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ["off", "unsampled", "sampled"]
# `--modes off,hooks,header,unsampled`: `hooks` (an interceptor and a plugin doing nothing)
# and `header` (the same carrying a fixed traceparent, no OpenTelemetry API) take the
# unsampled cost apart.
ALL_MODES = ["off", "hooks", "header", "unsampled", "sampled"]


def start_server(binary: str, mode: str) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([binary, "server", "--otel", mode], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line.startswith("LISTENING "):
        p.kill()
        sys.exit(f"server ({mode}) did not report LISTENING: {line!r}")
    return p, line.split()[1]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_cell(binary: str, mode: str, a: argparse.Namespace) -> dict:
    """One measured client run against a fresh server: the client's JSON line plus
    ``cpu_us``, the CPU microseconds per call of server and client together."""
    server, addr = start_server(binary, mode)
    try:
        # The warm-up: a short run whose figures are discarded.
        subprocess.run([binary, "client", "--addr", addr, "-c", str(a.c), "--pool", "10",
                        "-d", str(a.warmup), "--otel", mode], check=True,
                       capture_output=True, timeout=a.warmup + 60)
        server_before, client_before = process_cpu(server.pid), children_cpu()
        out = subprocess.run([binary, "client", "--addr", addr, "-c", str(a.c), "--pool", "10",
                              "-d", str(a.duration), "--otel", mode], check=True,
                             capture_output=True, text=True, timeout=a.duration + 60)
        cpu = process_cpu(server.pid) - server_before + children_cpu() - client_before
        cell = json.loads(out.stdout.strip().splitlines()[-1])
        cell["cpu_us"] = cpu / max(cell["requests"], 1) * 1e6
        return cell
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
    ap.add_argument("--modes", default=",".join(MODES),
                    help=f"comma-separated, off first; any of {', '.join(ALL_MODES)}")
    a = ap.parse_args()
    modes = a.modes.split(",")
    if modes[0] != "off" or len(modes) < 2 or any(m not in ALL_MODES for m in modes):
        sys.exit(f"--modes {a.modes}: off first, then one or more of {', '.join(ALL_MODES[1:])}")
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"{a.bin} not found: cargo build --release -p rpcx-bench")
    cells: dict[str, list[dict]] = {m: [] for m in modes}
    for r in range(a.rounds):
        # Each round starts with a different mode, so no mode always runs first (or right
        # after the most expensive one).
        for mode in modes[r % len(modes):] + modes[:r % len(modes)]:
            cell = run_cell(a.bin, mode, a)
            if cell.get("errors"):
                sys.exit(f"{mode}: {cell['errors']} calls failed: {cell.get('first_error')}")
            cells[mode].append(cell)
            print(f"round {r + 1} {mode:>9}: {cell['rps']:>10,.0f} req/s  "
                  f"p99 {cell['p99_ms']:.3f} ms  {cell['cpu_us']:.2f} us CPU/call", flush=True)
    rps = {m: statistics.median(c["rps"] for c in cells[m]) for m in modes}
    p99 = {m: statistics.median(c["p99_ms"] for c in cells[m]) for m in modes}
    cpu = {m: statistics.median(c["cpu_us"] for c in cells[m]) for m in modes}
    print(f"\nRust client <-> Rust server, c = {a.c}, pool 10, {a.rounds} rounds of "
          f"{a.duration:g} s per mode (medians)")
    print("| otel | req/s | p99 ms | CPU µs/call | req/s ÷ off | p99 ÷ off | off CPU ÷ CPU |")
    print("|---|---|---|---|---|---|---|")
    for m in modes:
        print(f"| {m} | {rps[m]:,.0f} | {p99[m]:.3f} | {cpu[m]:.2f} | "
              f"{rps[m] / rps['off']:.2f}× | {p99[m] / p99['off']:.2f}× | "
              f"{cpu['off'] / cpu[m]:.2f}× |")

    # The same ratios taken within each round, then their median: a round's modes ran back to
    # back under the same conditions, so these pair off what drifts between rounds.
    paired_rps = {m: statistics.median(c["rps"] / o["rps"] for c, o in zip(cells[m], cells["off"]))
                  for m in modes}
    paired_cpu = {m: statistics.median(o["cpu_us"] / c["cpu_us"]
                                       for c, o in zip(cells[m], cells["off"])) for m in modes}
    print("\nRatios to off within each round (median over rounds): " + ", ".join(
        f"{m} {paired_rps[m]:.2f}× req/s, {paired_cpu[m]:.2f}× CPU" for m in modes[1:]))

    def cost(m: str) -> str:
        return (f"{rps[m] / rps['off']:.2f}x req/s, {cpu[m] - cpu['off']:+.2f} us CPU/call "
                f"({cpu['off'] / cpu[m]:.2f}x; paired {paired_rps[m]:.2f}x, {paired_cpu[m]:.2f}x)")

    print("otel cost: " + "; ".join(f"{m} {cost(m)}" for m in modes[1:]))


if __name__ == "__main__":
    main()
