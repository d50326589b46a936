"""The Python client against the Rust Arith example server (rpcx::arith)."""

from __future__ import annotations

import asyncio

import msgpack
import pytest

import rpcx
from conftest import Args, ProtoArgs, ProtoReply, Reply


def test_msgpack(rust_addr: str) -> None:
    with rpcx.Client(rust_addr) as c:
        assert c.call("Arith", "Mul", {"A": 7, "B": 8}) == {"C": 56}
        assert c.call("Arith", "Add", Args(7, 8), reply_type=Reply) == Reply(15)
        assert c.call("Arith", "Mul", Args(-3, 2**40)) == {"C": -3 * 2**40}


def test_json(rust_addr: str) -> None:
    with rpcx.Client(rust_addr, serializer=rpcx.JSON) as c:
        assert c.call("Arith", "Mul", Args(6, 7), reply_type=Reply) == Reply(42)


def test_protobuf(rust_addr: str) -> None:
    with rpcx.Client(rust_addr, serializer=rpcx.PROTOBUF) as c:
        reply = c.call("Arith", "Mul", ProtoArgs(A=6, B=7), reply_type=ProtoReply)
        assert reply.C == 42


def test_raw_echo(rust_addr: str) -> None:
    with rpcx.Client(rust_addr, serializer=rpcx.RAW, gzip=True) as c:
        blob = b"\x00\x01rust" * 1000
        assert c.call("Arith", "Echo", blob) == blob


def test_service_error_with_reply_payload(rust_addr: str) -> None:
    with rpcx.Client(rust_addr) as c:
        with pytest.raises(rpcx.ServiceError) as info:
            c.call("Arith", "Div", Args(1, 0))
    assert str(info.value) == "divide by zero"
    assert info.value.metadata["__rpcx_error__"] == "divide by zero"
    # Like Go, the Rust service sends its zero reply along with the error.
    assert msgpack.unpackb(info.value.payload) == {"C": 0}


def test_timeout_and_metadata(rust_addr: str) -> None:
    with rpcx.Client(rust_addr) as c:
        with pytest.raises(rpcx.RpcTimeoutError):
            c.call("Arith", "Sleep", {"Ms": 2000}, timeout=0.1)
        reply, md = c.call_with_metadata("Arith", "Meta", Args(), metadata={"k": "v"})
        assert md["echo-k"] == "v"
        assert reply == {"C": 1}


def test_pushes(rust_addr: str) -> None:
    with rpcx.Client(rust_addr) as c:
        assert c.call("Arith", "Push", {"Count": 2, "Data": "hi"}) == {"C": 2}
        pushes = [c.recv_push(timeout=5) for _ in range(2)]
        assert [(p.service, p.method, p.payload) for p in pushes if p] == [("Push", "Data", b"hi")] * 2


def test_async_client(rust_addr: str) -> None:
    async def main() -> None:
        async with rpcx.AsyncClient(rust_addr, serializer=rpcx.JSON) as c:
            replies = await asyncio.gather(*(c.call("Arith", "Add", Args(i, 1)) for i in range(500)))
            assert replies == [{"C": i + 1} for i in range(500)]
            with pytest.raises(rpcx.ServiceError, match="^rpcx: can't find method Nope$"):
                await c.call("Arith", "Nope", Args())

    asyncio.run(main())
