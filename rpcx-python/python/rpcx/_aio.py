"""The bridge from runtime completions to asyncio futures.

Each event loop gets one :class:`_rpcx.CompletionQueue`. Runtime tasks queue their outcome
and poke a socket; the loop's reader callback drains the queue on the loop thread and
resolves the futures. The runtime never takes the GIL.

A bridge lives as long as its loop: it holds the loop weakly (the loop holds the bridge
through its reader callback), so a collected loop takes its bridge along, and a bridge whose
loop was closed is closed (sockets included) when the next bridge is made, or when the
loop is collected.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import weakref
from typing import Any, Callable, Optional, cast

from . import _rpcx

__all__ = ["bridge", "Bridge"]


class Bridge:
    """Futures of one event loop waiting for runtime completions."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        #: The fork generation it was made in (a forked child makes its own bridges).
        self.generation = _generation
        self.queue = _rpcx.CompletionQueue()
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self._tokens = itertools.count(1)
        self._fd = self.queue.fileno()
        loop.add_reader(self._fd, self._drain)
        # Closes the sockets at once when the loop is collected, even while runtime tasks
        # still hold the queue.
        weakref.finalize(loop, self.queue.close)

    @property
    def loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The loop, while it exists."""
        return self._loop()

    @property
    def closed(self) -> bool:
        return self.queue.closed

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
        # The bridge's own loop (``bridge()`` found it running): no second
        # ``get_running_loop``, which on Python 3.11 makes a getpid system call.
        fut: asyncio.Future[Any] = cast(asyncio.AbstractEventLoop, self._loop()).create_future()
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
        """Stops watching the queue and closes it. Idempotent."""
        if self.queue.closed:
            return
        loop = self._loop()
        if loop is not None and not loop.is_closed():
            try:
                loop.remove_reader(self._fd)
            except Exception:
                pass
        self.queue.close()


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Bridge] = weakref.WeakKeyDictionary()
#: Serialises making bridges: loops on several threads may make theirs at once, and the sweep
#: walks every loop's entry (with free-threaded CPython nothing else keeps that walk from
#: racing another thread's insertion). Remade in a forked child, where a thread of the parent
#: may have held it.
_lock = threading.Lock()


#: Bumped in a forked child: bridges of an earlier generation belong to the parent's loops.
#: (Compared per call instead of ``os.getpid()``, a system call.)
_generation = 0


def _new_lock_in_child() -> None:
    global _lock, _generation
    _lock = threading.Lock()
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def _usable(b: Optional[Bridge]) -> bool:
    return b is not None and b.generation == _generation and not b.closed


#: The bridge this thread used last: found again without ``asyncio.get_running_loop()``,
#: which on Python 3.11 makes a getpid system call each time.
_last = threading.local()


def _running_here(loop: asyncio.AbstractEventLoop) -> bool:
    """True when ``loop`` runs on this thread now, so it is the running loop (a thread runs
    one loop at a time). Asyncio's own loops record the thread that runs them; a loop that
    does not (``_thread_id`` missing) is looked up the slow way every time."""
    return getattr(loop, "_thread_id", None) == threading.get_ident()


def bridge() -> Bridge:
    """The bridge of the running event loop (made on first use; remade in a forked child)."""
    b = getattr(_last, "bridge", None)
    if _usable(b):
        loop = cast(Bridge, b).loop
        if loop is not None and _running_here(loop):
            return cast(Bridge, b)
    loop = asyncio.get_running_loop()
    b = _bridges.get(loop)
    if not _usable(b):
        with _lock:
            b = _bridges.get(loop)
            if not _usable(b):
                if b is not None:
                    b.close()
                _sweep()
                b = Bridge(loop)
                _bridges[loop] = b
    _last.bridge = b
    return cast(Bridge, b)


def _sweep() -> None:
    """Closes and forgets the bridges of closed loops (with ``_lock`` held)."""
    for loop, b in list(_bridges.items()):
        if loop.is_closed():
            b.close()
            _bridges.pop(loop, None)
