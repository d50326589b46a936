"""asyncio behaviour: cancellation, many concurrent calls, async servers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import rpcx
from conftest import Args


def test_cancel_awaited_call(py_addr: str) -> None:
    async def main() -> None:
        async with rpcx.AsyncClient(py_addr) as c:
            task = asyncio.ensure_future(c.call("Echo", "AsyncSleep", 5.0))
            await asyncio.sleep(0.1)
            start = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - start < 1.0
            # wait_for cancels too, and the client stays usable.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.call("Echo", "Sleep", 5.0), 0.1)
            assert await c.call("Echo", "Echo", "still fine") == "still fine"

    asyncio.run(main())


def test_ten_thousand_concurrent_calls(py_addr: str) -> None:
    async def main() -> list[object]:
        async with rpcx.AsyncClient(py_addr) as c:
            return await asyncio.wait_for(
                asyncio.gather(*(c.call("Arith", "Mul", {"A": i, "B": 2}) for i in range(10_000))),
                60,
            )

    start = time.monotonic()
    replies = asyncio.run(main())
    assert replies == [{"C": 2 * i} for i in range(10_000)]
    assert time.monotonic() - start < 30


def test_concurrent_async_handlers(py_addr: str) -> None:
    # 200 handlers sleeping 0.2 s on the server's event loop finish together, not in turn.
    async def main() -> list[object]:
        async with rpcx.AsyncClient(py_addr) as c:
            return await asyncio.gather(*(c.call("Echo", "AsyncSleep", 0.2) for _ in range(200)))

    start = time.monotonic()
    assert asyncio.run(main()) == [0.2] * 200
    assert time.monotonic() - start < 5


def test_sync_client_shared_by_threads(py_addr: str) -> None:
    errors: list[BaseException] = []
    with rpcx.Client(py_addr) as c:

        def work(n: int) -> None:
            try:
                for i in range(200):
                    assert c.call("Arith", "Mul", Args(i, n)) == {"C": i * n}
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors


def test_clients_on_several_loops(py_addr: str) -> None:
    results: list[object] = []

    def in_thread() -> None:
        async def main() -> None:
            async with rpcx.AsyncClient(py_addr) as c:
                results.append(await c.call("Arith", "Mul", Args(3, 3)))

        asyncio.run(main())

    threads = [threading.Thread(target=in_thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"C": 9}] * 4


def test_async_server_in_running_loop() -> None:
    """await start_async() binds the async handlers to the running loop."""

    async def main() -> None:
        server = rpcx.Server(workers=2)
        loop = asyncio.get_running_loop()
        seen_loops = []

        @server.register("Loop.Which")
        async def which(_: object) -> bool:
            seen_loops.append(asyncio.get_running_loop())
            return True

        async with server:
            port = await server.start_async("tcp@127.0.0.1:0")
            assert port == server.port and server.running
            async with rpcx.AsyncClient(f"tcp@127.0.0.1:{port}") as c:
                assert await c.call("Loop", "Which", None) is True
        assert seen_loops == [loop]
        assert not server.running

    asyncio.run(main())


def _handler_loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rpcx-async-handlers"]


def test_start_inside_a_running_loop_uses_the_servers_own_loop() -> None:
    """Plain start() never borrows the running loop (a notebook's, say): a blocking call made
    from that loop's thread to an async handler is served on the server's own loop thread."""
    before = _handler_loop_threads()

    async def main() -> None:
        server = rpcx.Server(workers=2)
        seen: list[tuple[int, asyncio.AbstractEventLoop]] = []

        @server.register("Loop.Which")
        async def which(_: object) -> bool:
            seen.append((threading.get_ident(), asyncio.get_running_loop()))
            return True

        port = server.start("tcp@127.0.0.1:0")
        try:
            # Bounded: before the fix the handler waited for this (blocked) loop forever.
            with rpcx.Client(f"tcp@127.0.0.1:{port}", timeout=10) as c:
                assert c.call("Loop", "Which", None) is True
            async with rpcx.AsyncClient(f"tcp@127.0.0.1:{port}", timeout=10) as ac:
                assert await ac.call("Loop", "Which", None) is True
        finally:
            server.stop(grace=1)
        me, loop = threading.get_ident(), asyncio.get_running_loop()
        assert len(seen) == 2
        assert all(t != me and lp is not loop for t, lp in seen)
        assert seen[0][1] is seen[1][1]

    asyncio.run(main())
    # The server's loop thread was started by start() and ended by stop().
    assert _handler_loop_threads() == before


def test_start_async_needs_a_running_loop() -> None:
    server = rpcx.Server()
    server.register("A.B", lambda a: a)
    coro = server.start_async("tcp@127.0.0.1:0")
    with pytest.raises(RuntimeError):
        coro.send(None)
    coro.close()
    assert not server.running
