"""Python <-> Go: the Python clients against the real Go rpcx server (tests/interop/go
goserver, github.com/smallnest/rpcx v1.9.4), and the real Go client (goclient, every case of
the interop matrix, every codec) against a Python server implementing the same service
contract (tests/interop/README.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import msgpack
import pytest

import rpcx
from conftest import REPO, Args, ProtoArgs, ProtoReply, Reply

GO_DIR = REPO / "tests" / "interop" / "go"
AUTH = "secret"


def _go() -> str | None:
    return shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)


@pytest.fixture(scope="module")
def go_bin() -> Iterator[Path]:
    go = _go()
    if go is None:
        pytest.skip("go is not installed: the Go interop peers cannot be built")
    out = Path(tempfile.mkdtemp(prefix="rpcx-py-go-"))
    proc = subprocess.run(
        [go, "build", "-buildvcs=false", "-o", str(out) + "/", "./cmd/goserver", "./cmd/goclient"],
        cwd=GO_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(f"go build of the interop peers failed:\n{proc.stderr[-4000:]}")
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def go_server(go_bin: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [str(go_bin / "goserver"), "-addr", "tcp@127.0.0.1:0", "-auth", AUTH, "-quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), line
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- Python clients -> Go server ----------------------------------------------------------


def test_go_server_msgpack_and_json(go_server: str) -> None:
    for ser in (rpcx.MSGPACK, rpcx.JSON):
        with rpcx.Client(go_server, serializer=ser, auth=AUTH, timeout=10) as c:
            assert c.call("Arith", "Mul", Args(7, 8), reply_type=Reply) == Reply(56)
            assert c.call("Arith", "Add", {"A": -5, "B": 2**40}) == {"C": 2**40 - 5}
            with pytest.raises(rpcx.ServiceError) as info:
                c.call("Arith", "Div", Args(1, 0))
            assert info.value.message == "divide by zero"
            # Go serialises its zero reply along with the error.
            zero = msgpack.unpackb(info.value.payload) if ser == rpcx.MSGPACK else json.loads(info.value.payload)
            assert zero == {"C": 0}
            reply, md = c.call_with_metadata("Arith", "Meta", Args(), metadata={"k": "v", "ü": ""})
            assert md["echo-k"] == "v" and md["echo-ü"] == ""
            assert reply == {"C": 4}  # k, ü, __AUTH and __ServerTimeout
            with pytest.raises(rpcx.ServiceError, match="^rpcx: can't find method Nope$"):
                c.call("Arith", "Nope", Args())
            with pytest.raises(rpcx.ServiceError, match="^rpcx: can't find service Nope$"):
                c.call("Nope", "Mul", Args())


def test_go_server_protobuf_raw_gzip(go_server: str) -> None:
    with rpcx.Client(go_server, serializer=rpcx.PROTOBUF, auth=AUTH, timeout=10) as c:
        assert c.call("ProtoArith", "Mul", ProtoArgs(A=6, B=7), reply_type=ProtoReply).C == 42
    with rpcx.Client(go_server, serializer=rpcx.RAW, auth=AUTH, gzip=True, timeout=10) as c:
        blob = bytes(range(256)) * 40
        assert c.call("Arith", "Echo", blob) == blob


def test_go_server_snappy(go_server: str) -> None:
    # The Go peers register Go rpcx's protocol.SnappyCompressor at compress type 2.
    blob = bytes(range(256)) * 40
    for compress in ("snappy", rpcx.COMPRESS_SNAPPY):
        with rpcx.Client(go_server, serializer=rpcx.RAW, auth=AUTH, compress=compress, timeout=10) as c:
            assert c.call("Arith", "Echo", blob) == blob
            assert c.call("Arith", "Echo", b"small") == b"small"


def test_go_server_auth_timeout_push(go_server: str) -> None:
    with rpcx.Client(go_server, auth="wrong", timeout=10) as c:
        with pytest.raises(rpcx.ServiceError, match="^invalid token$"):
            c.call("Arith", "Mul", Args(1, 1))
    with rpcx.Client(go_server, auth=AUTH) as c:
        start = time.monotonic()
        with pytest.raises((rpcx.RpcTimeoutError, rpcx.ServiceError)) as info:
            c.call("Arith", "Sleep", {"Ms": 3000}, timeout=0.2)
        assert time.monotonic() - start < 2
        if isinstance(info.value, rpcx.ServiceError):  # the Go server's context fired first
            assert info.value.message == "context deadline exceeded"
        assert c.call("Arith", "Push", {"Count": 3, "Data": "hello"}) == {"C": 3}
        pushes = [c.recv_push(timeout=5) for _ in range(3)]
        assert [(p.service, p.method, p.payload) for p in pushes if p] == [("Push", "Data", b"hello")] * 3


def test_go_server_async_and_xclient(go_server: str, go_bin: Path) -> None:
    import asyncio

    async def main() -> None:
        async with rpcx.AsyncClient(go_server, auth=AUTH, timeout=10) as c:
            got = await asyncio.gather(*(c.call("Arith", "Mul", Args(i, 3)) for i in range(1000)))
            assert got == [{"C": 3 * i} for i in range(1000)]

    asyncio.run(main())
    # An XClient over a Go server and a Python server: the same service on both.
    py = rpcx.Server()
    py.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]})
    port = py.start("tcp@127.0.0.1:0")
    try:
        servers = rpcx.MultipleServers([go_server, f"tcp@127.0.0.1:{port}"])
        with rpcx.XClient("Arith", servers, auth=AUTH, timeout=10) as xc:
            assert [xc.call("Mul", Args(i, 2)) for i in range(10)] == [{"C": 2 * i} for i in range(10)]
            assert xc.broadcast("Mul", Args(2, 2)) == {"C": 4}
    finally:
        py.stop(grace=1)


# -- Go client -> Python server -----------------------------------------------------------


def _benchmark_message_class() -> Any:
    """proto.BenchmarkMessage from tests/interop/go/proto/benchmark.proto (via protoc)."""
    protoc = shutil.which("protoc")
    if protoc is None:
        return None
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run(
            [protoc, f"-I{GO_DIR / 'proto'}", f"--descriptor_set_out={out}", "benchmark.proto"],
            check=True,
        )
        fds = descriptor_pb2.FileDescriptorSet.FromString(Path(out).read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("proto.BenchmarkMessage"))


def _zero_reply(st: int) -> bytes:
    if st == rpcx.MSGPACK:
        return bytes(msgpack.packb({"C": 0}))
    if st == rpcx.JSON:
        return b'{"C":0}'
    return b""


def contract_server() -> rpcx.Server:
    """The interop service contract of tests/interop/README.md, in Python."""

    def check(ctx: rpcx.Context, token: str) -> bool:
        if token != AUTH:
            raise PermissionError("invalid token")
        return True

    server = rpcx.Server(workers=8, auth=check)

    def div(a: Any, b: Any, st: int) -> int:
        if b == 0:
            raise rpcx.ServiceError("divide by zero", payload=_zero_reply(st))
        return int(a / b)

    @server.register("Arith.Mul")
    def mul(args: Args) -> Reply:
        return Reply(args.A * args.B)

    @server.register("Arith.Add")
    def add(args: Args) -> Reply:
        return Reply(args.A + args.B)

    @server.register("Arith.Div")
    def arith_div(args: Args, ctx: rpcx.Context) -> Reply:
        return Reply(div(args.A, args.B, ctx.serialize_type))

    @server.register("Arith.Echo")
    def echo(args: Any) -> Any:
        return args

    @server.register("Arith.Sleep")
    def sleep(args: Any, ctx: rpcx.Context) -> Reply:
        ms = int(args["Ms"])
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            left = ctx.remaining()
            if left is not None and left <= 0:
                raise rpcx.ServiceError("context deadline exceeded")
            time.sleep(min(0.005, max(0.0, end - time.monotonic())))
        return Reply(ms)

    @server.register("Arith.Meta")
    def meta(args: Any, ctx: rpcx.Context) -> Reply:
        md = ctx.metadata
        for k, v in md.items():
            ctx.set_reply_meta(f"echo-{k}", v)
        return Reply(len(md))

    @server.register("Arith.Push")
    def push(args: Any, ctx: rpcx.Context) -> Reply:
        for _ in range(int(args["Count"])):
            ctx.push("Push", "Data", str(args["Data"]).encode())
        return Reply(int(args["Count"]))

    @server.register("ProtoArith.Mul")
    def pmul(args: ProtoArgs) -> Any:  # type: ignore[valid-type]
        return ProtoReply(C=args.A * args.B)

    @server.register("ProtoArith.Add")
    def padd(args: ProtoArgs) -> Any:  # type: ignore[valid-type]
        return ProtoReply(C=args.A + args.B)

    @server.register("ProtoArith.Div")
    def pdiv(args: ProtoArgs) -> Any:  # type: ignore[valid-type]
        return ProtoReply(C=div(args.A, args.B, rpcx.PROTOBUF))

    bench = _benchmark_message_class()
    if bench is not None:

        @server.register("Hello.Say", arg_type=bench)
        def say(msg: Any) -> Any:
            msg.field1 = "OK"
            msg.field2 = 100
            return msg

    server.has_hello = bench is not None  # type: ignore[attr-defined]
    return server


@pytest.fixture(scope="module")
def contract_addr() -> Iterator[tuple[str, bool]]:
    server = contract_server()
    port = server.start("tcp@127.0.0.1:0")
    yield f"tcp@127.0.0.1:{port}", server.has_hello  # type: ignore[attr-defined]
    server.stop(grace=1)


@pytest.mark.parametrize("codec", ["json", "msgpack", "protobuf", "raw"])
def test_go_client_against_python_server(
    go_bin: Path, contract_addr: tuple[str, bool], codec: str
) -> None:
    addr, has_hello = contract_addr
    cmd = [str(go_bin / "goclient"), "-addr", addr, "-codec", codec, "-auth", AUTH, "-case-timeout", "30s"]
    if codec == "protobuf" and not has_hello:
        # Hello.Say needs the BenchmarkMessage class, built with protoc.
        cases = "plain,metadata,auth_ok,auth_refused,service_error,unknown_service,unknown_method,oneway,heartbeat,timeout,concurrent,push"
        cmd += ["-cases", cases]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = lines[-1]
    assert summary.startswith(f"{codec}: ") and " 0 failed" in summary, proc.stdout
    passed = int(summary.split(": ", 1)[1].split(" passed")[0])
    assert passed >= 8, proc.stdout
    assert not [l for l in lines if l.startswith("FAIL")], proc.stdout
