"""The Arith service of rpcx's Go examples, served from Python.

    python examples/python/arith_server.py tcp@127.0.0.1:8972

Go clients call it as usual (`xclient.Call(ctx, "Mul", &Args{7, 8}, &reply)`), with MsgPack
(Go's default) or JSON. Ctrl-C stops it gracefully.
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


class Arith:
    def Mul(self, args: Args) -> Reply:
        return Reply(args.A * args.B)

    def Add(self, args: Args) -> Reply:
        return Reply(args.A + args.B)

    def Div(self, args: Args) -> Reply:
        if args.B == 0:
            raise ZeroDivisionError("divide by zero")
        return Reply(args.A // args.B)

    async def Sleep(self, args: dict, ctx: rpcx.Context) -> Reply:
        ms = int(args.get("Ms", 0))
        await asyncio.sleep(ms / 1000)
        ctx.set_reply_meta("slept-ms", str(ms))
        return Reply(ms)


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else "tcp@127.0.0.1:8972"
    with rpcx.Server(workers=4, metrics=True) as server:
        server.register_object("Arith", Arith())
        server.start(address)
        print(f"LISTENING {server.address}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopping; metrics:")
            print(server.metrics_text(), end="")


if __name__ == "__main__":
    main()
