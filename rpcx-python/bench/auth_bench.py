"""Calls/s of a Python server with ``auth`` on, against the same server without it.

    python rpcx-python/bench/auth_bench.py [--calls 20000]

A blocking client calls one at a time; an AsyncClient keeps 100 calls in flight. Each row
is the best of ``--rounds`` runs. The auth callable counts its calls, which shows how often
a request pays the auth round trip (a Python worker visit with the reading runtime thread
waiting).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any, Optional

import rpcx

TOKEN = "Bearer secret"


def _server(auth: bool, counter: list[int]) -> rpcx.Server:
    def check(ctx: rpcx.Context, token: str) -> bool:
        counter[0] += 1
        return token == TOKEN

    server = rpcx.Server(workers=4, auth=check if auth else None)
    server.register("Bench.Echo", lambda a: a)
    return server


def _sync_rate(addr: str, calls: int) -> float:
    with rpcx.Client(addr, auth=TOKEN) as c:
        for i in range(200):
            c.call("Bench", "Echo", i)
        start = time.perf_counter()
        for i in range(calls):
            c.call("Bench", "Echo", i)
        return calls / (time.perf_counter() - start)


def _async_rate(addr: str, calls: int, inflight: int = 100) -> float:
    async def main() -> float:
        async with rpcx.AsyncClient(addr, auth=TOKEN) as c:
            await asyncio.gather(*(c.call("Bench", "Echo", i) for i in range(inflight)))
            start = time.perf_counter()
            for base in range(0, calls, inflight):
                await asyncio.gather(
                    *(c.call("Bench", "Echo", i) for i in range(base, base + inflight))
                )
            return calls / (time.perf_counter() - start)

    return asyncio.run(main())


def run(auth: bool, calls: int, rounds: int) -> tuple[float, float, Optional[int]]:
    counter = [0]
    server = _server(auth, counter)
    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    try:
        sync = max(_sync_rate(addr, calls) for _ in range(rounds))
        aio = max(_async_rate(addr, calls) for _ in range(rounds))
    finally:
        server.stop(grace=1)
    return sync, aio, counter[0] if auth else None


def main(argv: Any = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{'server':<12} {'sync calls/s':>14} {'async calls/s':>14} {'auth calls':>11}")
    for auth in (False, True):
        sync, aio, checks = run(auth, args.calls, args.rounds)
        name = "auth on" if auth else "no auth"
        print(f"{name:<12} {sync:>14,.0f} {aio:>14,.0f} {'-' if checks is None else checks:>11}")


if __name__ == "__main__":
    main()
