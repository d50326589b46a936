"""Stopping a server: from a handler, from another thread, waiting for termination."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import rpcx


def _stopping_server() -> rpcx.Server:
    server = rpcx.Server(workers=2)

    @server.register("Admin.Stop")
    def stop(_: Any) -> str:
        server.stop(grace=10)  # returns at once: the shutdown goes on without this call
        return "stopping"

    @server.register("Admin.StopAsync")
    async def stop_async(_: Any) -> str:
        await server.stop_async(grace=10)
        return "stopping async"

    @server.register("Admin.StopSyncFromAsync")
    async def stop_sync_from_async(_: Any) -> str:
        server.stop(grace=10)
        return "stopping (sync from async)"

    return server


def test_stop_from_a_sync_handler_does_not_wait_for_itself() -> None:
    server = _stopping_server()
    port = server.start("tcp@127.0.0.1:0")
    start = time.monotonic()
    with rpcx.Client(f"tcp@127.0.0.1:{port}", timeout=30) as c:
        # Its own call completes normally (before: it failed after the whole grace).
        assert c.call("Admin", "Stop", None) == "stopping"
    assert server.wait_for_termination(timeout=30)
    assert not server.running
    assert time.monotonic() - start < 8  # far below the 10 s grace
    server.stop()  # idempotent


def test_stop_from_async_handlers() -> None:
    for method, reply in (("StopAsync", "stopping async"),
                          ("StopSyncFromAsync", "stopping (sync from async)")):
        server = _stopping_server()
        port = server.start("tcp@127.0.0.1:0")
        start = time.monotonic()
        with rpcx.Client(f"tcp@127.0.0.1:{port}", timeout=30) as c:
            assert c.call("Admin", method, None) == reply
        assert server.wait_for_termination(timeout=30)
        assert time.monotonic() - start < 8


def test_stop_from_a_handler_on_the_callers_loop() -> None:
    async def main() -> None:
        server = _stopping_server()
        port = await server.start_async("tcp@127.0.0.1:0")
        async with rpcx.AsyncClient(f"tcp@127.0.0.1:{port}", timeout=30) as c:
            assert await c.call("Admin", "StopAsync", None) == "stopping async"
        assert await server.wait_for_termination_async(timeout=30)
        assert not server.running

    start = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - start < 8


def test_wait_for_termination() -> None:
    server = rpcx.Server(workers=1)
    server.register("A.B", lambda a: a)
    server.start("tcp@127.0.0.1:0")
    assert server.wait_for_termination(timeout=0.05) is False

    async def wait_async(timeout: float) -> bool:
        return await server.wait_for_termination_async(timeout=timeout)

    assert asyncio.run(wait_async(0.05)) is False
    threading.Timer(0.2, server.stop, kwargs={"grace": 1}).start()
    assert server.wait_for_termination() is True
    assert server.wait_for_termination(timeout=0) is True
    assert asyncio.run(wait_async(0)) is True


def test_wait_for_termination_async_is_woken_by_stop() -> None:
    server = rpcx.Server(workers=1)
    server.register("A.B", lambda a: a)
    server.start("tcp@127.0.0.1:0")

    async def main() -> bool:
        asyncio.get_running_loop().call_later(0.2, threading.Thread(target=server.stop).start)
        return await server.wait_for_termination_async(timeout=30)

    start = time.monotonic()
    assert asyncio.run(main()) is True
    assert time.monotonic() - start < 10


def test_stop_joins_workers_under_one_deadline() -> None:
    """Workers still running handlers after the grace are not joined one by one."""
    workers = 16
    server = rpcx.Server(workers=workers)
    started = threading.Semaphore(0)
    release = threading.Event()

    @server.register("Slow.Wait")
    def wait(_: Any) -> None:
        started.release()
        release.wait(30)

    port = server.start("tcp@127.0.0.1:0")
    try:
        with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
            for _ in range(workers):
                c.call_oneway("Slow", "Wait", None)
            for _ in range(workers):
                assert started.acquire(timeout=10)
            start = time.monotonic()
            server.stop(grace=0.1)
            # Before: 0.5 s per busy worker, 8 s here.
            assert time.monotonic() - start < 5
    finally:
        release.set()
