"""The bridge from runtime completions to asyncio futures.

Each event loop gets one :class:`_rpcx.CompletionQueue`. Runtime tasks queue their outcome
and poke a socket; the loop's reader callback drains the queue on the loop thread and
resolves the futures. The runtime never takes the GIL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import weakref
from typing import Any, Callable, cast

from . import _rpcx

__all__ = ["bridge", "Bridge"]


class Bridge:
    """Futures of one event loop waiting for runtime completions."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pid = os.getpid()
        self.queue = _rpcx.CompletionQueue()
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self._tokens = itertools.count(1)
        loop.add_reader(self.queue.fileno(), self._drain)

    def _drain(self) -> None:
        for token, ok, value in self.queue.drain():
            fut = self.pending.pop(token, None)
            if fut is None or fut.done():
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(cast(BaseException, value))

    async def run(self, start: Callable[[_rpcx.CompletionQueue, int], _rpcx.CallHandle]) -> Any:
        """Starts an operation with ``start(queue, token)`` and awaits its outcome;
        cancelling the awaiting task aborts the operation."""
        token = next(self._tokens)
        fut: asyncio.Future[Any] = self.loop.create_future()
        self.pending[token] = fut
        try:
            handle = start(self.queue, token)
        except BaseException:
            self.pending.pop(token, None)
            raise
        try:
            return await fut
        except asyncio.CancelledError:
            handle.cancel()
            raise
        finally:
            self.pending.pop(token, None)

    def close(self) -> None:
        try:
            self.loop.remove_reader(self.queue.fileno())
        except Exception:
            pass


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Bridge] = weakref.WeakKeyDictionary()


def bridge() -> Bridge:
    """The bridge of the running event loop (made on first use; remade in a forked child)."""
    loop = asyncio.get_running_loop()
    b = _bridges.get(loop)
    if b is None or b.pid != os.getpid():
        b = Bridge(loop)
        _bridges[loop] = b
    return b
