"""Calls/s from Python: rpcx against grpcio doing the same work in the same run.

Workloads: the 581-byte protobuf ``Hello.Say`` echo of the rpcx benchmark (the server sets
``field1 = "OK"`` and ``field2 = 100`` and returns the message) and a small dict
(``Arith.Mul {"A": 7, "B": 8}`` as MessagePack; for gRPC the same dict, MessagePack-encoded
through a generic handler). Modes: a blocking client calling in a loop, and asyncio with 100
calls in flight on one client/channel.

Servers, each in its own process:

* ``rust``  — ``rpcx-bench server`` (the Rust bench server: no Python on the server side);
* ``py``    — an ``rpcx.Server`` with Python handlers (the throughput of a Python handler);
* ``grpc``  — a ``grpc.aio`` server with the same Python handlers.

``rpcx/py`` against ``grpc`` is the like-for-like comparison (Python handlers on both
sides); ``rpcx/rust`` shows what the Python client does when the server is not the
bottleneck.

    python rpcx-python/bench/bench.py --rpcx-bench target/release/rpcx-bench [-d 3]

Needs ``grpcio``, ``protobuf``, ``msgpack`` and ``protoc`` (for the message class).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

import msgpack

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "tests" / "interop" / "go" / "proto"
FILL = "许多往事在眼前一幕一幕，变的那麼模糊"
CONCURRENCY = 100


def message_class() -> Any:
    """``proto.BenchmarkMessage`` from tests/interop/go/proto/benchmark.proto (via protoc)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    protoc = shutil.which("protoc")
    if protoc is None:
        sys.exit("bench: protoc is needed to build the BenchmarkMessage class")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run(
            [protoc, f"-I{PROTO_DIR}", f"--descriptor_set_out={out}", "benchmark.proto"], check=True
        )
        fds = descriptor_pb2.FileDescriptorSet.FromString(Path(out).read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("proto.BenchmarkMessage"))


def filled(cls: Any) -> Any:
    """The benchmark request: every singular field set (integers 100000, booleans true,
    strings FILL), the repeated field empty — 581 bytes encoded."""
    msg = cls()
    for f in cls.DESCRIPTOR.fields:
        if getattr(f, "is_repeated", None) or getattr(f, "label", None) == f.LABEL_REPEATED:
            continue
        if f.type == f.TYPE_STRING:
            setattr(msg, f.name, FILL)
        elif f.type == f.TYPE_BOOL:
            setattr(msg, f.name, True)
        else:
            setattr(msg, f.name, 100000)
    return msg


def say(msg: Any) -> Any:
    msg.field1 = "OK"
    msg.field2 = 100
    return msg


def mul(args: dict[str, int]) -> dict[str, int]:
    return {"C": args["A"] * args["B"]}


# -- servers (run as subprocesses of this script) -------------------------------------------


def serve_rpcx() -> None:
    import rpcx

    bench = message_class()
    server = rpcx.Server(workers=4)
    server.register("Hello.Say", say, arg_type=bench)
    server.register("Arith.Mul", mul)
    port = server.start("tcp@127.0.0.1:0")
    print(f"LISTENING tcp@127.0.0.1:{port}", flush=True)
    server.serve_forever()


def serve_grpc() -> None:
    import grpc

    bench = message_class()

    async def a_say(msg: Any, context: Any) -> Any:
        return say(msg)

    async def a_mul(args: Any, context: Any) -> Any:
        return mul(args)

    async def main() -> None:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "Hello",
                    {
                        "Say": grpc.unary_unary_rpc_method_handler(
                            a_say,
                            request_deserializer=bench.FromString,
                            response_serializer=bench.SerializeToString,
                        )
                    },
                ),
                grpc.method_handlers_generic_handler(
                    "Arith",
                    {
                        "Mul": grpc.unary_unary_rpc_method_handler(
                            a_mul,
                            request_deserializer=msgpack.unpackb,
                            response_serializer=msgpack.packb,
                        )
                    },
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"LISTENING 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()

    asyncio.run(main())


class Proc:
    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            self.stop()
            sys.exit(f"bench: {argv[0]} did not start: {line!r}")
        self.address = line.split(" ", 1)[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- load ---------------------------------------------------------------------------------


def run_sync(call: Callable[[], Any], seconds: float) -> float:
    for _ in range(50):
        call()
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(20):
            call()
        n += 20
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


def run_async(make: Callable[[], Callable[[], Awaitable[Any]]], seconds: float) -> float:
    async def main() -> float:
        call = make()
        for _ in range(50):
            await call()
        count = 0
        stop = False

        async def worker() -> None:
            nonlocal count
            while not stop:
                await call()
                count += 1

        start = time.perf_counter()
        tasks = [asyncio.ensure_future(worker()) for _ in range(CONCURRENCY)]
        await asyncio.sleep(seconds)
        stop = True
        await asyncio.gather(*tasks)
        return count / (time.perf_counter() - start)

    return asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rpcx-bench", default=str(REPO / "target/release/rpcx-bench"))
    ap.add_argument("-d", "--seconds", type=float, default=3.0, help="seconds per row")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--serve", choices=["rpcx", "grpc"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve == "rpcx":
        return serve_rpcx()
    if args.serve == "grpc":
        return serve_grpc()

    import grpc

    import rpcx

    bench = message_class()
    request = filled(bench)
    size = len(request.SerializeToString())
    small = {"A": 7, "B": 8}
    if not Path(args.rpcx_bench).exists():
        sys.exit(f"bench: {args.rpcx_bench} not found (cargo build --release -p rpcx-bench)")

    servers = {
        "rust": Proc([args.rpcx_bench, "server", "--addr", "tcp@127.0.0.1:0"]),
        "py": Proc([sys.executable, __file__, "--serve", "rpcx"]),
        "grpc": Proc([sys.executable, __file__, "--serve", "grpc"]),
    }
    results: list[dict[str, Any]] = []
    try:
        # rpcx rows.
        for server in ("rust", "py"):
            addr = servers[server].address
            pc = rpcx.Client(addr, serializer=rpcx.PROTOBUF)
            assert pc.call("Hello", "Say", request, reply_type=bench).field1 == "OK"
            mc = rpcx.Client(addr)
            assert mc.call("Arith", "Mul", small) == {"C": 56}
            for work, sync_call, async_make in (
                (
                    "protobuf Hello.Say",
                    lambda: pc.call("Hello", "Say", request, reply_type=bench),
                    lambda a=addr: _rpcx_async(a, rpcx.PROTOBUF, "Hello", "Say", request, bench),
                ),
                (
                    "small dict",
                    lambda: mc.call("Arith", "Mul", small),
                    lambda a=addr: _rpcx_async(a, rpcx.MSGPACK, "Arith", "Mul", small, None),
                ),
            ):
                results.append(row("rpcx", server, work, "sync", run_sync(sync_call, args.seconds)))
                results.append(
                    row("rpcx", server, work, f"asyncio x{CONCURRENCY}", run_async(async_make, args.seconds))
                )
            pc.close()
            mc.close()
        # grpc rows.
        gaddr = servers["grpc"].address
        channel = grpc.insecure_channel(gaddr)
        g_say = channel.unary_unary(
            "/Hello/Say", request_serializer=bench.SerializeToString, response_deserializer=bench.FromString
        )
        g_mul = channel.unary_unary(
            "/Arith/Mul", request_serializer=msgpack.packb, response_deserializer=msgpack.unpackb
        )
        assert g_say(request).field1 == "OK" and g_mul(small) == {"C": 56}
        for work, sync_call, path, ser, de, req in (
            ("protobuf Hello.Say", lambda: g_say(request), "/Hello/Say", bench.SerializeToString, bench.FromString, request),
            ("small dict", lambda: g_mul(small), "/Arith/Mul", msgpack.packb, msgpack.unpackb, small),
        ):
            results.append(row("grpcio", "grpc", work, "sync", run_sync(sync_call, args.seconds)))
            results.append(
                row(
                    "grpcio",
                    "grpc",
                    work,
                    f"asyncio x{CONCURRENCY}",
                    run_async(lambda p=path, s=ser, d=de, r=req: _grpc_async(gaddr, p, s, d, r), args.seconds),
                )
            )
        channel.close()
    finally:
        for p in servers.values():
            p.stop()

    print()
    print(f"Python {sys.version.split()[0]}, rpcx {rpcx.__version__}, grpcio {grpc.__version__}, "
          f"{os.cpu_count()} CPUs, {args.seconds:g} s per row, Hello.Say request {size} bytes")
    print(f"{'client':8} {'server':26} {'workload':20} {'mode':12} {'calls/s':>10}")
    names = {"rust": "Rust rpcx-bench", "py": "Python rpcx.Server", "grpc": "Python grpc.aio server"}
    for r in results:
        print(f"{r['client']:8} {names[r['server']]:26} {r['work']:20} {r['mode']:12} {r['rate']:>10,.0f}")
    print()
    print("ratios (rpcx / grpcio, same workload and mode):")
    for r in results:
        if r["client"] != "grpcio":
            continue
        for server in ("py", "rust"):
            mine = next(x for x in results if x["client"] == "rpcx" and x["server"] == server
                        and x["work"] == r["work"] and x["mode"] == r["mode"])
            label = "Python servers both" if server == "py" else "rpcx to the Rust server"
            print(f"  {r['work']:20} {r['mode']:12} {label:24} {mine['rate'] / r['rate']:6.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def row(client: str, server: str, work: str, mode: str, rate: float) -> dict[str, Any]:
    print(f"  {client:7} -> {server:5} {work:20} {mode:12} {rate:>10,.0f} calls/s", flush=True)
    return {"client": client, "server": server, "work": work, "mode": mode, "rate": rate}


def _rpcx_async(addr: str, ser: Any, service: str, method: str, req: Any, reply_type: Any) -> Callable[[], Awaitable[Any]]:
    import rpcx

    client = rpcx.AsyncClient(addr, serializer=ser)

    def call() -> Awaitable[Any]:
        return client.call(service, method, req, reply_type=reply_type)

    return call


def _grpc_async(addr: str, path: str, ser: Any, de: Any, req: Any) -> Callable[[], Awaitable[Any]]:
    import grpc

    channel = grpc.aio.insecure_channel(addr)
    stub = channel.unary_unary(path, request_serializer=ser, response_deserializer=de)

    def call() -> Awaitable[Any]:
        return stub(req)

    return call


if __name__ == "__main__":
    main()
