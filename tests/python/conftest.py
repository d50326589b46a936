"""Fixtures: a Python rpcx server with test handlers, protobuf message classes built at run
time (no protoc needed), and the Rust Arith example server in a subprocess."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import rpcx

REPO = Path(__file__).resolve().parents[2]


# -- protobuf messages (the shapes of rpcx's Go examples) ---------------------------------


def _proto_classes() -> dict[str, Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="rpcx_pytest_arith.proto", package="rpcxpytest", syntax="proto3"
    )
    i64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
    opt = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    args = fdp.message_type.add(name="ProtoArgs")
    args.field.add(name="A", number=1, type=i64, label=opt)
    args.field.add(name="B", number=2, type=i64, label=opt)
    reply = fdp.message_type.add(name="ProtoReply")
    reply.field.add(name="C", number=1, type=i64, label=opt)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"rpcxpytest.{name}"))
        for name in ("ProtoArgs", "ProtoReply")
    }


_PROTO = _proto_classes()
ProtoArgs = _PROTO["ProtoArgs"]
ProtoReply = _PROTO["ProtoReply"]


@dataclasses.dataclass
class Args:
    A: int = 0
    B: int = 0


@dataclasses.dataclass
class Reply:
    C: int = 0


# -- the Python server --------------------------------------------------------------------


class ArithObject:
    """Registered with register_object: every public method becomes Arith.<name>."""

    def Mul(self, args: Args) -> Reply:
        return Reply(args.A * args.B)

    def Add(self, args: Args, ctx: rpcx.Context) -> Reply:
        ctx.set_reply_meta("handled-by", "python")
        return Reply(args.A + args.B)

    def Div(self, args: Args) -> Reply:
        if args.B == 0:
            raise ZeroDivisionError("divide by zero")
        return Reply(args.A // args.B)

    def _private(self) -> None:  # not registered
        raise AssertionError


def build_server(**kwargs: Any) -> rpcx.Server:
    server = rpcx.Server(workers=4, **kwargs)
    server.register_object("Arith", ArithObject())

    @server.register("Proto.Mul")
    def proto_mul(args: ProtoArgs) -> Any:  # type: ignore[valid-type]
        return ProtoReply(C=args.A * args.B)

    @server.register("Echo.Echo")
    def echo(args: Any) -> Any:
        return args

    @server.register("Echo.Async")
    async def echo_async(args: Any) -> Any:
        await asyncio.sleep(0.001)
        return args

    @server.register("Echo.Meta")
    def meta(args: Any, ctx: rpcx.Context) -> Any:
        for k, v in ctx.metadata.items():
            ctx.set_reply_meta(f"echo-{k}", v)
        return {"peer": ctx.peer, "service": ctx.service, "method": ctx.method,
                "st": ctx.serialize_type, "remaining": ctx.remaining()}

    @server.register("Echo.Sleep")
    def sleep(seconds: float) -> float:
        time.sleep(seconds)
        return seconds

    @server.register("Echo.AsyncSleep")
    async def async_sleep(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    @server.register("Echo.Fail")
    def fail(message: str) -> None:
        raise RuntimeError(message)

    @server.register("Echo.AsyncFail")
    async def async_fail(message: str) -> None:
        raise KeyError(message)

    @server.register("Echo.ServiceFail")
    def service_fail(message: str) -> None:
        raise rpcx.ServiceError(message)

    @server.register("Echo.Unencodable")
    def unencodable(_: Any) -> Any:
        return object()

    @server.register("Echo.Push")
    def push(args: Any, ctx: rpcx.Context) -> int:
        for i in range(args["count"]):
            ctx.push("Push", "Data", f"{args['data']}-{i}".encode(), {"n": str(i)})
        return args["count"]

    @server.register("Echo.PushAny")
    def push_any(args: Any, ctx: rpcx.Context) -> str:
        # Any payload the serializers accept: the caller's serializer unless one is given.
        ctx.push("Push", "Value", args["value"])
        ctx.push("Push", "Json", args["value"], serializer=rpcx.JSON)
        ctx.push("Push", "Bytes", b"as is")
        return "pushed"

    @server.register("Echo.PushAsync")
    async def push_async(args: Any, ctx: rpcx.Context) -> str:
        await ctx.push_async("Push", "Value", args["value"], {"async": "yes"})
        await ctx.push_async("Push", "Bytes", b"raw bytes")
        return "pushed"

    @server.register("Echo.NoArgs")
    def no_args() -> str:
        return "pong"

    oneway_seen: list[Any] = []
    oneway_event = threading.Event()
    server.oneway_seen = oneway_seen  # type: ignore[attr-defined]
    server.oneway_event = oneway_event  # type: ignore[attr-defined]

    @server.register("Echo.Oneway")
    def oneway(args: Any) -> None:
        oneway_seen.append(args)
        oneway_event.set()

    return server


@pytest.fixture(scope="session")
def py_server() -> Iterator[rpcx.Server]:
    server = build_server()
    server.start("tcp@127.0.0.1:0")
    yield server
    server.stop(grace=1.0)


@pytest.fixture(scope="session")
def py_addr(py_server: rpcx.Server) -> str:
    return f"tcp@127.0.0.1:{py_server.port}"


# -- the Rust Arith server ----------------------------------------------------------------


def _cargo() -> str | None:
    return shutil.which("cargo") or (
        str(Path.home() / ".cargo/bin/cargo") if (Path.home() / ".cargo/bin/cargo").exists() else None
    )


def build_example(name: str, package: str = "rpcx", features: str = "") -> Path:
    """`cargo build -p <package> --example <name> [--features <features>]`: the executable
    (skips without cargo, fails the test with cargo's output when the build fails)."""
    cargo = _cargo()
    if cargo is None:
        pytest.skip(f"cargo not found: cannot build the Rust {name} example")
    proc = subprocess.run(
        [cargo, "build", "-q", "-p", package, "--example", name]
        + (["--features", features] if features else []),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"cargo build -p {package} --example {name} failed:\n{proc.stderr[-4000:]}")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    exe = target / "debug" / "examples" / name
    assert exe.exists(), exe
    return exe


@pytest.fixture(scope="session")
def rust_addr() -> Iterator[str]:
    """The Rust Arith example server (`cargo build -p rpcx --example arith_server`)."""
    exe = build_example("arith_server")
    proc = subprocess.Popen(
        [str(exe), "--addr", "tcp@127.0.0.1:0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), line
        yield line.split(" ", 1)[1]
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_python(code: str, timeout: float = 30, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter (the one running the tests)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, **kwargs
    )
