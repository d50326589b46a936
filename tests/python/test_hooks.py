"""Interceptors (server and client, sync and async, Client/AsyncClient/XClient/AsyncXClient),
server pushes to a kept context, XClient pushes, and the IpFilter / RateLimit plugins."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Iterator, Optional

import pytest

import rpcx

# -- a server whose handlers echo the trace id they receive ---------------------------------


class Recorder(rpcx.ServerInterceptor):
    """Records what it sees; refuses ``Echo.Forbidden`` (ServiceError) and ``Echo.Crash``
    (another exception); tags every reply with ``served-by``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Optional[str], str, str]] = []
        self.errors: list[Optional[str]] = []

    def before_call(self, ctx: rpcx.Context) -> None:
        self.seen.append(
            (ctx.method, ctx.metadata.get("trace-id"), ctx.peer, threading.current_thread().name)
        )
        if ctx.method == "Forbidden":
            raise rpcx.ServiceError("no entry")
        if ctx.method == "Crash":
            raise PermissionError("not you")

    def after_call(self, ctx: rpcx.Context, error: Optional[str]) -> None:
        self.errors.append(error)
        ctx.set_reply_meta("served-by", "py-interceptor")


def register_trace(server: rpcx.Server) -> list[str]:
    """Echo.Trace (sync) and Echo.AsyncTrace reply with the trace-id; returns the list of
    the threads the sync handler ran on."""
    threads: list[str] = []

    def trace(_: Any, ctx: rpcx.Context) -> str:
        threads.append(threading.current_thread().name)
        return ctx.metadata.get("trace-id", "")

    async def async_trace(_: Any, ctx: rpcx.Context) -> str:
        await asyncio.sleep(0)
        return ctx.metadata.get("trace-id", "")

    for name in ("Trace", "Forbidden", "Crash", "Local"):
        server.register(f"Echo.{name}", trace)
    server.register("Echo.AsyncTrace", async_trace)
    return threads


@pytest.fixture
def recorded() -> Iterator[tuple[str, Recorder, list[str]]]:
    rec = Recorder()
    server = rpcx.Server(workers=2, interceptors=[rec])
    threads = register_trace(server)
    port = server.start("tcp@127.0.0.1:0")
    yield f"tcp@127.0.0.1:{port}", rec, threads
    server.stop(grace=1.0)


def test_server_interceptor_refuses_adds_reply_metadata_and_sees_the_peer(
    recorded: tuple[str, Recorder, list[str]],
) -> None:
    addr, rec, threads = recorded
    with rpcx.Client(addr) as c:
        reply, md = c.call_with_metadata("Echo", "Trace", None, metadata={"trace-id": "t-1"})
        assert reply == "t-1"
        assert md["served-by"] == "py-interceptor"
        with pytest.raises(rpcx.ServiceError) as e:
            c.call("Echo", "Forbidden")
        assert e.value.message == "no entry"
        assert e.value.metadata["served-by"] == "py-interceptor"
        with pytest.raises(rpcx.ServiceError, match="^PermissionError: not you$"):
            c.call("Echo", "Crash")
        assert c.call("Echo", "AsyncTrace", None, metadata={"trace-id": "t-2"}) == "t-2"
    assert [s[0] for s in rec.seen] == ["Trace", "Forbidden", "Crash", "AsyncTrace"]
    assert rec.seen[0][1] == "t-1"
    assert rec.seen[0][2].startswith("tcp@127.0.0.1:") and rec.seen[0][2] != addr
    # The hook ran on the worker thread that then ran the handler, in the same visit.
    assert rec.seen[0][3].startswith("rpcx-handler-")
    assert threads == [rec.seen[0][3]]
    assert rec.errors == [None, "no entry", "PermissionError: not you", None]


def test_async_server_interceptors_run_on_the_handler_loop() -> None:
    where: list[str] = []

    class AsyncGate:
        async def before_call(self, ctx: rpcx.Context) -> None:
            await asyncio.sleep(0)
            where.append(threading.current_thread().name)
            if ctx.method == "Forbidden":
                raise rpcx.ServiceError("async no entry")

        async def after_call(self, ctx: rpcx.Context, error: Optional[str]) -> None:
            await asyncio.sleep(0)
            where.append(threading.current_thread().name)
            ctx.set_reply_meta("after", error or "ok")

    server = rpcx.Server(workers=2, interceptors=[AsyncGate()])
    register_trace(server)
    port = server.start("tcp@127.0.0.1:0")
    try:
        with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
            for method in ("Trace", "AsyncTrace"):  # a sync and an async handler
                reply, md = c.call_with_metadata("Echo", method, None, metadata={"trace-id": "x"})
                assert reply == "x" and md["after"] == "ok"
            with pytest.raises(rpcx.ServiceError) as e:
                c.call("Echo", "Forbidden")
            assert e.value.message == "async no entry"
            assert e.value.metadata["after"] == "async no entry"
    finally:
        server.stop(grace=1.0)
    assert len(where) == 6 and set(where) == {"rpcx-async-handlers"}


# -- client interceptors --------------------------------------------------------------------


class Tracer(rpcx.ClientInterceptor):
    def __init__(self) -> None:
        self.after: list[tuple[str, str, Optional[BaseException], Optional[dict[str, str]]]] = []

    def before_call(self, call: rpcx.ClientCall) -> None:
        if call.method == "Local":
            raise PermissionError("stays here")
        call.metadata["trace-id"] = f"trace-{call.method}"

    def after_call(self, call: rpcx.ClientCall, error: Optional[BaseException]) -> None:
        self.after.append((call.kind, call.method, error, call.reply_metadata))


def test_client_interceptor_adds_a_trace_id_and_may_refuse(
    recorded: tuple[str, Recorder, list[str]],
) -> None:
    addr, rec, _ = recorded
    tracer = Tracer()
    with rpcx.Client(addr, interceptors=[tracer, lambda call: call.metadata.update(x="1")]) as c:
        assert c.call("Echo", "Trace") == "trace-Trace"
        with pytest.raises(PermissionError, match="stays here"):
            c.call("Echo", "Local")
        c.call_oneway("Echo", "Trace")
    assert [s[0] for s in rec.seen if s[0] == "Local"] == []  # never sent
    kinds = [(k, m) for k, m, _, _ in tracer.after]
    assert kinds == [("call", "Trace"), ("call", "Local"), ("oneway", "Trace")]
    assert tracer.after[0][3] is not None and tracer.after[0][3]["served-by"] == "py-interceptor"
    assert isinstance(tracer.after[1][2], PermissionError)
    assert tracer.after[2][2] is None


def test_async_client_interceptors(recorded: tuple[str, Recorder, list[str]]) -> None:
    addr, _, _ = recorded
    seen: list[Optional[BaseException]] = []

    class AsyncTracer:
        async def before_call(self, call: rpcx.ClientCall) -> None:
            await asyncio.sleep(0)
            call.metadata["trace-id"] = "async-trace"

        async def after_call(self, call: rpcx.ClientCall, error: Optional[BaseException]) -> None:
            seen.append(error)

    async def main() -> None:
        async with rpcx.AsyncClient(addr, interceptors=[AsyncTracer(), Tracer()]) as c:
            assert await c.call("Echo", "Trace") == "trace-Trace"  # the later one wins
            with pytest.raises(PermissionError):
                await c.call("Echo", "Local")
            await c.call_oneway("Echo", "Trace")

    asyncio.run(main())
    assert seen[0] is None and isinstance(seen[1], PermissionError) and seen[2] is None


def test_blocking_clients_refuse_async_hooks() -> None:
    class AsyncHook:
        async def before_call(self, call: rpcx.ClientCall) -> None: ...

    with pytest.raises(TypeError, match="asyncio client"):
        rpcx.Client("tcp@127.0.0.1:1", interceptors=[AsyncHook()])
    with pytest.raises(TypeError, match="asyncio client"):
        rpcx.XClient("Echo", rpcx.Peer("tcp@127.0.0.1:1"), interceptors=[AsyncHook()])
    with pytest.raises(TypeError, match="interceptor"):
        rpcx.Server(interceptors=[42])


def test_xclient_interceptors(recorded: tuple[str, Recorder, list[str]]) -> None:
    addr, rec, _ = recorded
    tracer = Tracer()
    with rpcx.XClient("Echo", rpcx.Peer(addr), interceptors=[tracer]) as xc:
        assert xc.call("Trace") == "trace-Trace"
        with pytest.raises(PermissionError):
            xc.call("Local")
        assert xc.broadcast("Trace") == "trace-Trace"
    assert [(k, m) for k, m, _, _ in tracer.after] == [
        ("call", "Trace"), ("call", "Local"), ("broadcast", "Trace")
    ]

    async def main() -> None:
        async with rpcx.AsyncXClient("Echo", rpcx.Peer(addr), interceptors=[Tracer()]) as axc:
            assert await axc.call("Trace") == "trace-Trace"
            with pytest.raises(PermissionError):
                await axc.call("Local")

    asyncio.run(main())


# -- pushes ---------------------------------------------------------------------------------


def push_server() -> tuple[rpcx.Server, list[rpcx.Context]]:
    """Hub.Join pushes a welcome and keeps its context (to push after the call)."""
    kept: list[rpcx.Context] = []
    server = rpcx.Server(workers=2)

    @server.register("Hub.Join")
    def join(_: Any, ctx: rpcx.Context) -> str:
        ctx.push("Hub", "Welcome", b"welcome")
        kept.append(ctx)
        return "joined"

    server.start("tcp@127.0.0.1:0")
    return server, kept


def test_a_kept_context_pushes_after_the_call_until_the_client_leaves() -> None:
    server, kept = push_server()
    try:
        c = rpcx.Client(server.address or "")
        assert c.call("Hub", "Join") == "joined"
        kept[0].push("Hub", "Later", b"later")
        got = [c.recv_push(timeout=10) for _ in range(2)]
        assert [(p.method, p.payload, p.server) for p in got if p] == [
            ("Welcome", b"welcome", server.address),
            ("Later", b"later", server.address),
        ]
        c.close()
        deadline = time.monotonic() + 30
        while kept[0].is_active() and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(rpcx.ClosedError):
            kept[0].push("Hub", "Late", b"x")
    finally:
        server.stop(grace=1.0)


def test_xclient_receives_pushes_from_its_servers() -> None:
    a, _ = push_server()
    b, _ = push_server()
    try:
        addrs = [a.address or "", b.address or ""]
        with rpcx.XClient("Hub", rpcx.MultipleServers(addrs)) as xc:
            assert xc.recv_push(timeout=0.05) is None
            assert xc.broadcast("Join") == "joined"
            got = [xc.recv_push(timeout=10) for _ in range(2)]
            assert sorted(p.server for p in got if p) == sorted(addrs)
            assert {(p.service, p.method, p.payload) for p in got if p} == {
                ("Hub", "Welcome", b"welcome")
            }
        with pytest.raises(rpcx.ClosedError):
            xc.recv_push(timeout=10)

        async def main() -> None:
            axc = rpcx.AsyncXClient("Hub", rpcx.Peer(addrs[0]))
            assert await axc.call("Join") == "joined"
            push = await axc.recv_push(timeout=10)
            assert push is not None and push.server == addrs[0] and push.payload == b"welcome"
            assert await axc.call("Join") == "joined"
            stream = axc.pushes()
            assert (await stream.__anext__()).method == "Welcome"
            await axc.close()
            assert [p async for p in stream] == []  # ends once closed

        asyncio.run(main())
    finally:
        a.stop(grace=1.0)
        b.stop(grace=1.0)


# -- IpFilter and RateLimit -----------------------------------------------------------------


def echo_server(**kwargs: Any) -> rpcx.Server:
    server = rpcx.Server(workers=2, **kwargs)
    server.register("Echo.Echo", lambda x: x)
    server.start("tcp@127.0.0.1:0")
    return server


def test_ip_filter_denies_loopback() -> None:
    f = rpcx.IpFilter(deny=["127.0.0.1"])
    assert not f.permits("tcp@127.0.0.1:5000") and f.permits("tcp@127.0.0.2:5000")
    with pytest.raises(ValueError, match="prefix"):
        rpcx.IpFilter(allow=["10.0.0.0/33"])
    with pytest.raises(TypeError, match="IpFilter"):
        rpcx.Server(plugins=["127.0.0.1"])
    server = echo_server(plugins=[f])
    try:
        with pytest.raises((rpcx.RpcConnectionError, rpcx.ClosedError)):
            with rpcx.Client(server.address or "", connect_timeout=10) as c:
                c.call("Echo", "Echo", 1, timeout=10)
    finally:
        server.stop(grace=1.0)
    server = echo_server(plugins=[rpcx.IpFilter(allow=["127.0.0.0/8"])])
    try:
        with rpcx.Client(server.address or "") as c:
            assert c.call("Echo", "Echo", 1) == 1
    finally:
        server.stop(grace=1.0)


def test_rate_limit_refuses_the_excess() -> None:
    with pytest.raises(ValueError):
        rpcx.RateLimit(0, 1)
    with pytest.raises(ValueError):
        rpcx.RateLimit(1, 0)
    server = echo_server(plugins=[rpcx.RateLimit(3600, 2)])
    try:
        with rpcx.Client(server.address or "") as c:
            assert [c.call("Echo", "Echo", i) for i in range(2)] == [0, 1]
            for _ in range(3):
                with pytest.raises(rpcx.ServiceError, match="^request reached rate limit$"):
                    c.call("Echo", "Echo", 9)
            assert not c.closed
    finally:
        server.stop(grace=1.0)
