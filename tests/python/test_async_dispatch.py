"""``async def`` handlers fed to their event loop through the server's queue (no worker
thread in between): distinct replies under concurrency, errors, and what a stop or a closed
loop leaves behind."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import pytest

import rpcx

#: Every wait in these tests is bounded by this many seconds.
LIMIT = 30.0


def _server(**kw: Any) -> rpcx.Server:
    server = rpcx.Server(workers=kw.pop("workers", 2), **kw)

    @server.register("Async.Echo")
    async def echo(args: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(random.random() / 100)
        return {"i": args["i"], "thread": threading.current_thread().name}

    @server.register("Async.Ctx")
    async def with_ctx(args: Any, ctx: rpcx.Context) -> str:
        ctx.set_reply_meta("seen", ctx.method)
        return f"{ctx.service}.{ctx.method}:{args}"

    @server.register("Async.Raise")
    async def raise_(args: Any) -> None:
        raise ValueError(f"boom {args}")

    @server.register("Async.Refuse")
    async def refuse(args: Any) -> None:
        raise rpcx.ServiceError(f"refused {args}")

    @server.register("Async.TwoArgs")
    async def two(a: Any, b: Any, c: Any) -> None:  # called with 2: TypeError at the call
        return None

    return server


def test_many_concurrent_async_handlers_get_distinct_replies() -> None:
    server = _server()
    port = server.start("tcp@127.0.0.1:0")
    try:

        async def main() -> list[Any]:
            async with rpcx.AsyncClient(f"tcp@127.0.0.1:{port}", timeout=LIMIT) as c:
                return await asyncio.gather(
                    *(c.call("Async", "Echo", {"i": i}) for i in range(2000))
                )

        replies = asyncio.run(main())
        assert [r["i"] for r in replies] == list(range(2000))
        assert {r["thread"] for r in replies} == {"rpcx-async-handlers"}
        with rpcx.Client(f"tcp@127.0.0.1:{port}", timeout=LIMIT) as c:
            assert c.call("Async", "Ctx", 7) == "Async.Ctx:7"
    finally:
        server.stop()


def test_async_handlers_do_not_need_a_free_worker() -> None:
    # The only worker is stuck in a sync handler: async calls still reach their loop.
    server = _server(workers=1)
    release = threading.Event()
    entered = threading.Event()

    @server.register("Sync.Block")
    def block(_: Any) -> str:
        entered.set()
        release.wait(LIMIT)
        return "released"

    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    try:
        with rpcx.Client(addr, timeout=LIMIT) as blocked, rpcx.Client(addr, timeout=LIMIT) as c:
            done: list[Any] = []
            t = threading.Thread(target=lambda: done.append(blocked.call("Sync", "Block", None)))
            t.start()
            assert entered.wait(LIMIT)
            assert c.call("Async", "Echo", {"i": 5})["i"] == 5
            release.set()
            t.join(LIMIT)
            assert done == ["released"]
    finally:
        release.set()
        server.stop()


def test_async_handler_errors_reach_the_caller() -> None:
    server = _server()
    port = server.start("tcp@127.0.0.1:0")
    try:
        with rpcx.Client(f"tcp@127.0.0.1:{port}", timeout=LIMIT) as c:
            with pytest.raises(rpcx.ServiceError, match=r"^ValueError: boom 3$"):
                c.call("Async", "Raise", 3)
            with pytest.raises(rpcx.ServiceError, match=r"^refused 4$"):
                c.call("Async", "Refuse", 4)
            with pytest.raises(rpcx.ServiceError, match=r"TypeError"):
                c.call("Async", "TwoArgs", 1)
            # The loop goes on serving after each of them.
            assert c.call("Async", "Echo", {"i": 1})["i"] == 1
    finally:
        server.stop()


def _calls_in_threads(addr: str, n: int, method: str) -> tuple[list[threading.Thread], list[Any]]:
    outcomes: list[Any] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        try:
            with rpcx.Client(addr, timeout=LIMIT) as c:
                r: Any = c.call("Async", method, i)
        except rpcx.RpcError as e:
            r = e
        with lock:
            outcomes.append(r)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, outcomes


def test_stop_with_async_jobs_queued_for_a_blocked_loop_releases_everything() -> None:
    server = rpcx.Server(workers=1)
    loop_blocked = threading.Event()
    unblock = threading.Event()
    ran: list[int] = []

    @server.register("Async.BlockLoop")
    async def block_loop(_: Any) -> str:
        loop_blocked.set()
        unblock.wait(LIMIT)  # blocks the loop: later calls stay in its queue
        return "unblocked"

    @server.register("Async.Queued")
    async def queued(i: int) -> int:
        ran.append(i)
        return i

    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    blocker, first = _calls_in_threads(addr, 1, "BlockLoop")
    assert loop_blocked.wait(LIMIT)
    threads, outcomes = _calls_in_threads(addr, 20, "Queued")
    # Every queued call has reached the server (it counts them in flight).
    for _ in range(int(LIMIT * 100)):
        if server._raw is not None and server._raw.inflight >= 21:
            break
        threading.Event().wait(0.01)
    assert server._raw is not None and server._raw.inflight >= 21
    stopper = threading.Thread(target=server.stop, kwargs={"grace": 0.2})
    stopper.start()
    for t in threads:
        t.join(LIMIT)
    assert len(outcomes) == 20
    assert all(isinstance(o, rpcx.RpcError) for o in outcomes), outcomes
    unblock.set()
    stopper.join(LIMIT)
    blocker[0].join(LIMIT)
    assert not stopper.is_alive() and not blocker[0].is_alive()
    assert server.wait_for_termination(LIMIT)
    assert ran == []  # the queued calls were dropped, not run after the stop
    assert server._feed is not None and server._feed.closed
    assert not server._tasks
    assert not [t for t in server._threads if t.is_alive()]


def test_loop_closed_while_jobs_pending_then_stop_ends_every_call() -> None:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    server = rpcx.Server(workers=1)
    waiting: list[int] = []

    @server.register("Async.Forever")
    async def forever(i: int) -> None:
        waiting.append(i)
        if len(waiting) == 5:
            started.set()
        await asyncio.get_running_loop().create_future()  # never resolved

    def run_loop() -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        # Stopped with handlers pending: close it under the running server.
        loop.close()

    port = asyncio.run_coroutine_threadsafe(
        server.start_async("tcp@127.0.0.1:0"), _start_thread(run_loop, loop)
    ).result(LIMIT)
    addr = f"tcp@127.0.0.1:{port}"
    threads, outcomes = _calls_in_threads(addr, 5, "Forever")
    assert started.wait(LIMIT)
    loop.call_soon_threadsafe(loop.stop)
    for _ in range(int(LIMIT * 100)):
        if loop.is_closed():
            break
        threading.Event().wait(0.01)
    assert loop.is_closed()
    server.stop(grace=0.2)
    for t in threads:
        t.join(LIMIT)
    assert len(outcomes) == 5
    assert all(isinstance(o, rpcx.RpcError) for o in outcomes), outcomes
    assert server.wait_for_termination(LIMIT)
    assert server._feed is not None and server._feed.closed
    assert not server._tasks
    # A new server and loop work afterwards.
    again = _server()
    port = again.start("tcp@127.0.0.1:0")
    try:
        with rpcx.Client(f"tcp@127.0.0.1:{port}", timeout=LIMIT) as c:
            assert c.call("Async", "Echo", {"i": 9})["i"] == 9
    finally:
        again.stop()


def _start_thread(target: Any, loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    threading.Thread(target=target, daemon=True).start()
    return loop
