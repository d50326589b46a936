"""Calls an Arith service with the blocking and the asyncio client, over JSON: every example
server answers JSON (Go's, examples/rust/arith_server.rs, examples/python/arith_server.py and
examples/c/arith_server.c, which speaks only JSON). Drop ``serializer=rpcx.JSON`` to use
MsgPack, Go's and rpcx.Client's default, against the Go, Rust and Python servers.

    python examples/python/arith_client.py tcp@127.0.0.1:8972
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import rpcx


@dataclass
class Args:
    A: int = 0
    B: int = 0


@dataclass
class Reply:
    C: int = 0


def blocking(address: str) -> None:
    with rpcx.Client(address, serializer=rpcx.JSON, timeout=5) as client:
        reply = client.call("Arith", "Mul", Args(7, 8), reply_type=Reply)
        print(f"7 * 8 = {reply.C}")
        try:
            client.call("Arith", "Div", Args(1, 0))
        except rpcx.ServiceError as e:
            print(f"1 / 0 -> server error: {e}")


async def concurrent(address: str) -> None:
    async with rpcx.AsyncClient(address, serializer=rpcx.JSON, timeout=5) as client:
        replies = await asyncio.gather(*(client.call("Arith", "Add", Args(i, i)) for i in range(100)))
        print(f"100 concurrent Add calls, last = {replies[-1]}")


if __name__ == "__main__":
    addr = sys.argv[1] if len(sys.argv) > 1 else "tcp@127.0.0.1:8972"
    blocking(addr)
    asyncio.run(concurrent(addr))
