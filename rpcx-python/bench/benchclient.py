"""The community benchmark workload from Python (github.com/rpcxio/rpcx-benchmark; docs/benchmarks.md), for the Python
row of `make bench` (scripts/bench/clients.d/python.sh): ``C`` asyncio tasks over a pool of
``P`` ``rpcx.AsyncClient`` connections call ``Hello.Say`` with the 581-byte protobuf
``BenchmarkMessage`` (a google.protobuf message, encoded per call), decode the reply and check
``field1 == "OK"`` and ``field2 == 100``, for ``-d`` seconds; prints one JSON line like
``rpcx-bench client``.

    python rpcx-python/bench/benchclient.py --addr tcp@127.0.0.1:PORT -c 100 --pool 10 -d 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import rpcx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import filled, message_class  # noqa: E402  (the message shared with bench.py)


def pct(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    rank = max(1, min(len(sorted_ms), int(q * len(sorted_ms) + 0.999999)))
    return sorted_ms[rank - 1]


async def run(addr: str, concurrency: int, pool: int, seconds: float) -> dict:
    cls = message_class()
    request = filled(cls)
    clients = [rpcx.AsyncClient(addr, serializer=rpcx.PROTOBUF, timeout=30) for _ in range(pool)]
    for c in clients:  # warm-up, checked
        for _ in range(5):
            reply = await c.call("Hello", "Say", request, reply_type=cls)
            if reply.field1 != "OK" or reply.field2 != 100:
                raise SystemExit("warm-up: bad reply fields")
    latencies: list[float] = []
    errors = 0
    first_error = None
    deadline = time.perf_counter() + seconds

    async def caller(client: rpcx.AsyncClient) -> None:
        nonlocal errors, first_error
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                reply = await client.call("Hello", "Say", request, reply_type=cls)
                if reply.field1 != "OK" or reply.field2 != 100:
                    raise ValueError("bad reply fields")
            except Exception as e:  # counted, like the other bench clients
                errors += 1
                first_error = first_error or str(e)
            latencies.append((time.perf_counter() - t) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(caller(clients[i % pool]) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    for c in clients:
        await c.close()
    latencies.sort()
    n = len(latencies)
    return {
        "client": "python-asyncio",
        "requests": n,
        "errors": errors,
        "first_error": first_error,
        "seconds": elapsed,
        "rps": n / elapsed if elapsed else 0.0,
        "mean_ms": sum(latencies) / n if n else 0.0,
        "p50_ms": pct(latencies, 0.5),
        "p99_ms": pct(latencies, 0.99),
        "p999_ms": pct(latencies, 0.999),
        "max_ms": latencies[-1] if n else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--addr", required=True)
    ap.add_argument("-c", type=int, default=100)
    ap.add_argument("--pool", type=int, default=10)
    ap.add_argument("-d", type=float, default=10.0)
    a = ap.parse_args()
    result = asyncio.run(run(a.addr, a.c, a.pool, a.d))
    print(json.dumps(result))
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
