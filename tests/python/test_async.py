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
    """A server started inside a running loop runs its async handlers on that loop."""

    async def main() -> None:
        server = rpcx.Server(workers=2)
        loop = asyncio.get_running_loop()
        seen_loops = []

        @server.register("Loop.Which")
        async def which(_: object) -> bool:
            seen_loops.append(asyncio.get_running_loop())
            return True

        async with server:
            port = server.start("tcp@127.0.0.1:0")
            async with rpcx.AsyncClient(f"tcp@127.0.0.1:{port}") as c:
                assert await c.call("Loop", "Which", None) is True
        assert seen_loops == [loop]
        assert not server.running

    asyncio.run(main())
