"""Errors reach the right exception classes, with the server's message unchanged; bad
arguments give clear exceptions."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

import rpcx
from conftest import Args, build_server


def test_hierarchy() -> None:
    assert issubclass(rpcx.ServiceError, rpcx.RpcError)
    assert issubclass(rpcx.RpcTimeoutError, rpcx.RpcError)
    assert issubclass(rpcx.RpcTimeoutError, TimeoutError)
    assert issubclass(rpcx.RpcConnectionError, ConnectionError)
    assert issubclass(rpcx.SerializationError, ValueError)
    assert issubclass(rpcx.ClosedError, rpcx.RpcError)
    e = rpcx.ServiceError("boom", metadata={"k": "v"}, payload=b"p")
    assert (str(e), e.message, e.code, e.metadata, e.payload) == ("boom", "boom", "service", {"k": "v"}, b"p")
    assert rpcx.RpcTimeoutError("t").code == "timeout"


def test_handler_exception_becomes_service_error(py_addr: str) -> None:
    # The caller gets the exception's type and text, as the last line of a traceback.
    with rpcx.Client(py_addr) as c:
        with pytest.raises(rpcx.ServiceError) as info:
            c.call("Echo", "Fail", "the server's own words")
        assert str(info.value) == "RuntimeError: the server's own words"
        assert info.value.message == "RuntimeError: the server's own words"
        assert info.value.code == "service"
        assert info.value.metadata["__rpcx_error__"] == "RuntimeError: the server's own words"

        with pytest.raises(rpcx.ServiceError) as info:
            c.call("Echo", "AsyncFail", "missing")
        assert str(info.value) == "KeyError: 'missing'"

        with pytest.raises(rpcx.ServiceError, match="^ZeroDivisionError: divide by zero$"):
            c.call("Arith", "Div", Args(1, 0))

        # A ServiceError is the handler's answer: its text goes out verbatim.
        with pytest.raises(rpcx.ServiceError) as info:
            c.call("Echo", "ServiceFail", "plain words")
        assert str(info.value) == "plain words"


def _rpcx_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rpcx"]


def test_handler_exceptions_are_logged(py_addr: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rpcx")
    with rpcx.Client(py_addr) as c:
        for method, arg in (("Fail", "sync boom"), ("AsyncFail", "async boom")):
            caplog.clear()
            with pytest.raises(rpcx.ServiceError):
                c.call("Echo", method, arg)
            # Logged (with the traceback) before the error is sent, so it is there already.
            records = _rpcx_records(caplog)
            assert len(records) == 1, records
            r = records[0]
            assert r.levelno == logging.ERROR
            assert f"Echo.{method}" in r.getMessage()
            assert r.exc_info is not None and r.exc_info[1] is not None
            assert arg in str(r.exc_info[1])
            assert "Traceback" in caplog.text

        # A handler returning what cannot be encoded is a handler bug too.
        caplog.clear()
        with pytest.raises(rpcx.ServiceError, match="cannot encode reply"):
            c.call("Echo", "Unencodable", None)
        assert [r.levelno for r in _rpcx_records(caplog)] == [logging.ERROR]

        # ServiceError is a deliberate answer: not logged as a failure.
        caplog.clear()
        with pytest.raises(rpcx.ServiceError):
            c.call("Echo", "ServiceFail", "fine")
        assert not [r for r in _rpcx_records(caplog) if r.levelno >= logging.WARNING]


def test_unknown_service_and_method(py_addr: str) -> None:
    with rpcx.Client(py_addr) as c:
        with pytest.raises(rpcx.ServiceError, match="^rpcx: can't find service Nope$"):
            c.call("Nope", "Mul", {})
        with pytest.raises(rpcx.ServiceError, match="^rpcx: can't find method Nope$"):
            c.call("Arith", "Nope", {})
        with pytest.raises(rpcx.ServiceError, match="can't find method _private"):
            c.call("Arith", "_private", {})


def test_bad_arguments_reported_by_server(py_addr: str) -> None:
    with rpcx.Client(py_addr) as c:
        # A dataclass handler receiving a list: the decode error text comes back.
        with pytest.raises(rpcx.ServiceError, match="expected a map for Args"):
            c.call("Arith", "Mul", [1, 2])
        with pytest.raises(rpcx.ServiceError, match="cannot encode reply"):
            c.call("Echo", "Unencodable", None)


def test_timeout(py_addr: str) -> None:
    with rpcx.Client(py_addr) as c:
        start = time.monotonic()
        with pytest.raises(rpcx.RpcTimeoutError) as info:
            c.call("Echo", "Sleep", 2.0, timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert time.monotonic() - start < 1.5
        assert c.call("Echo", "Echo", 1) == 1  # the connection is still fine
    with rpcx.Client(py_addr, timeout=0.2) as c:
        with pytest.raises(TimeoutError):
            c.call("Echo", "AsyncSleep", 2.0)


def test_async_timeout(py_addr: str) -> None:
    async def main() -> None:
        async with rpcx.AsyncClient(py_addr) as c:
            with pytest.raises(rpcx.RpcTimeoutError):
                await c.call("Echo", "AsyncSleep", 2.0, timeout=0.1)

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused() -> None:
    addr = f"tcp@127.0.0.1:{_free_port()}"
    with pytest.raises(rpcx.RpcConnectionError) as info:
        rpcx.Client(addr)
    assert isinstance(info.value, ConnectionError)

    async def main() -> None:
        with pytest.raises(ConnectionError):
            await rpcx.AsyncClient(addr).call("A", "B", 1)

    asyncio.run(main())


def test_closed_client(py_addr: str) -> None:
    c = rpcx.Client(py_addr)
    c.close()
    assert c.closed
    with pytest.raises(rpcx.ClosedError):
        c.call("Echo", "Echo", 1)

    async def main() -> None:
        ac = rpcx.AsyncClient(py_addr)
        await ac.connect()
        await ac.close()
        with pytest.raises(rpcx.ClosedError):
            await ac.call("Echo", "Echo", 1)

    asyncio.run(main())


def test_close_fails_pending_calls(py_addr: str) -> None:
    import threading

    c = rpcx.Client(py_addr)
    threading.Timer(0.2, c.close).start()
    with pytest.raises(rpcx.ClosedError):
        c.call("Echo", "Sleep", 2.0)


def test_server_gone_is_a_connection_error() -> None:
    server = build_server()
    port = server.start("tcp@127.0.0.1:0")
    c = rpcx.Client(f"tcp@127.0.0.1:{port}")
    assert c.call("Echo", "Echo", "x") == "x"
    server.stop(grace=0.5)
    with pytest.raises((rpcx.RpcConnectionError, rpcx.ClosedError)):
        c.call("Echo", "Echo", "x", timeout=2)


def test_unencodable_arguments(py_addr: str) -> None:
    with rpcx.Client(py_addr) as c:
        with pytest.raises(rpcx.SerializationError, match="cannot encode object as MSGPACK") as info:
            c.call("Echo", "Echo", object())
        assert isinstance(info.value, ValueError)
    with rpcx.Client(py_addr, serializer=rpcx.JSON) as c:
        with pytest.raises(rpcx.SerializationError, match="JSON"):
            c.call("Echo", "Echo", {1, 2j})
        with pytest.raises(rpcx.SerializationError):
            c.call("Echo", "Echo", float("nan"))

    async def main() -> None:
        async with rpcx.AsyncClient(py_addr) as c:
            with pytest.raises(rpcx.SerializationError):
                await c.call("Echo", "Echo", object())

    asyncio.run(main())


def test_wrong_argument_types(py_addr: str) -> None:
    with pytest.raises(TypeError, match="address must be str"):
        rpcx.Client(8972)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown serializer"):
        rpcx.Client(py_addr, serializer=9)
    with pytest.raises(ValueError):
        rpcx.Client("tcp@")
    with pytest.raises(TypeError, match="auth must be a str"):
        rpcx.Client(py_addr, auth=1)  # type: ignore[arg-type]
    with rpcx.Client(py_addr) as c:
        with pytest.raises(TypeError, match="service and method must be str"):
            c.call(1, "Echo", 1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="metadata keys and values must be str"):
            c.call("Echo", "Echo", 1, metadata={"a": 1})  # type: ignore[dict-item]
        with pytest.raises(ValueError, match="timeout"):
            c.call("Echo", "Echo", 1, timeout=-1)
        with pytest.raises(TypeError):
            c.call("Echo", "Echo", 1, timeout="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers"):
        rpcx.Server(workers=0)
    with pytest.raises(TypeError, match="auth must be callable"):
        rpcx.Server(auth="secret")  # type: ignore[arg-type]
    server = rpcx.Server()
    with pytest.raises(ValueError, match="Service.Method"):
        server.register("NoDot")
    with pytest.raises(ValueError, match="max_frame_len"):
        rpcx.Limits(max_frame_len=-1)


def test_auth() -> None:
    def auth(ctx: rpcx.Context, token: str) -> bool:
        if token == "Bearer bad":
            raise PermissionError(f"bad token for {ctx.service}.{ctx.method}")
        return token == "Bearer good"

    server = build_server(auth=auth)
    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    try:
        with rpcx.Client(addr, auth="Bearer good") as c:
            assert c.call("Arith", "Mul", Args(2, 3)) == {"C": 6}
        with rpcx.Client(addr) as c:
            with pytest.raises(rpcx.ServiceError, match="^rpcx: authentication failed$"):
                c.call("Arith", "Mul", Args(2, 3))
        with rpcx.Client(addr, auth="Bearer bad") as c:
            with pytest.raises(rpcx.ServiceError, match="^bad token for Arith.Mul$"):
                c.call("Arith", "Mul", Args(2, 3))

        async def main() -> None:
            async with rpcx.AsyncClient(addr, auth="Bearer good") as c:
                assert await c.call("Arith", "Mul", Args(4, 3)) == {"C": 12}

        asyncio.run(main())
    finally:
        server.stop(grace=1)


def test_auth_is_checked_once_per_connection_and_token() -> None:
    seen: list[tuple[str, str]] = []

    def auth(ctx: rpcx.Context, token: str) -> bool:
        seen.append((ctx.method, token))
        return token.startswith("good")

    server = build_server(auth=auth)
    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    try:
        with rpcx.Client(addr, auth="good-1") as c:
            for i in range(5):
                assert c.call("Arith", "Mul", Args(i, 2)) == {"C": 2 * i}
            assert c.call("Echo", "Echo", "x") == "x"
        assert seen == [("Mul", "good-1")]

        # Another connection with the same token is checked again.
        with rpcx.Client(addr, auth="good-1") as c:
            for i in range(3):
                c.call("Arith", "Mul", Args(i, 2))
        assert seen == [("Mul", "good-1")] * 2

        # A different token on the same connection is checked again; a known one is not.
        seen.clear()
        with rpcx.Client(addr) as c:
            for token in ("good-a", "good-a", "good-b", "good-b", "good-a"):
                c.call("Echo", "Echo", token, metadata={"__AUTH": token})
            assert seen == [("Echo", "good-a"), ("Echo", "good-b")]
            # A refused token still closes the connection.
            with pytest.raises(rpcx.ServiceError, match="^rpcx: authentication failed$"):
                c.call("Echo", "Echo", 1, metadata={"__AUTH": "bad"})
            with pytest.raises((rpcx.RpcConnectionError, rpcx.ClosedError)):
                c.call("Echo", "Echo", 1, metadata={"__AUTH": "good-a"}, timeout=5)

        # Async clients share the rule.
        seen.clear()

        async def main() -> None:
            async with rpcx.AsyncClient(addr, auth="good-async") as c:
                for i in range(4):
                    assert await c.call("Arith", "Mul", Args(i, 3)) == {"C": 3 * i}

        asyncio.run(main())
        assert seen == [("Mul", "good-async")]
    finally:
        server.stop(grace=1)
