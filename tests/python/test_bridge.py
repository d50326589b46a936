"""The event-loop bridge (rpcx._aio): one per loop, gone with its loop."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import weakref
from typing import Any

import pytest

import rpcx
from rpcx import _aio


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_bridges_end_with_their_loops(py_addr: str) -> None:
    bridges: list[weakref.ReferenceType[Any]] = []

    async def main() -> None:
        async with rpcx.AsyncClient(py_addr) as c:
            assert await c.call("Echo", "Echo", 1) == 1
        bridges.append(weakref.ref(_aio.bridge()))

    asyncio.run(main())  # the runtime, its threads and first sockets exist from here on
    gc.collect()
    baseline = _open_fds()
    for _ in range(500):
        asyncio.run(main())
    gc.collect()
    # The clients' sockets close on the runtime a moment after close(): allow for that.
    deadline = time.monotonic() + 10
    while _open_fds() > baseline + 8 and time.monotonic() < deadline:
        time.sleep(0.05)
        gc.collect()
    assert _open_fds() <= baseline + 8, f"{_open_fds() - baseline} descriptors leaked"
    alive = [r for r in bridges if r() is not None]
    assert len(alive) <= 1, f"{len(alive)} bridges outlived their loops"


def test_bridge_of_a_closed_loop_is_closed(py_addr: str) -> None:
    loop = asyncio.new_event_loop()

    async def main() -> _aio.Bridge:
        async with rpcx.AsyncClient(py_addr) as c:
            assert await c.call("Echo", "Echo", 2) == 2
        return _aio.bridge()

    b = loop.run_until_complete(main())
    assert not b.closed
    loop.close()  # the loop object is still referenced here
    # The next bridge made notices that the old loop is closed and ends its bridge.
    asyncio.run(main())
    assert b.closed
