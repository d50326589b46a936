"""The context a handler (or the auth callable) gets: what it knows about the call it serves,
the reply metadata it may add, and pushes to the caller's connection."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping, Optional, Union

from . import _aio, _codec, _rpcx
from ._codec import Serializer
from ._request import check_metadata, check_serializer

__all__ = ["Context"]

_BYTES = (bytes, bytearray, memoryview)

log = logging.getLogger("rpcx")


class _CallState:
    """What every ``Context`` of one call shares: its done-callbacks, run once when the call
    is over (answered, or cancelled first)."""

    __slots__ = ("_lock", "_callbacks", "_over", "_start_watch", "_stop_watch", "ctx")

    def __init__(self, start_watch: Callable[[_CallState], bool]) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Context], Any]] = []
        self._over = False
        #: Starts the cancellation watch (once); ``False`` when the call is already over.
        self._start_watch: Optional[Callable[[_CallState], bool]] = start_watch
        #: Forgets the watch once the call is over.
        self._stop_watch: Optional[Callable[[], None]] = None
        self.ctx: Optional[Context] = None

    def set_stop_watch(self, stop: Callable[[], None]) -> None:
        with self._lock:
            if not self._over:
                self._stop_watch = stop
                return
        stop()

    def add(self, fn: Callable[[Context], Any]) -> None:
        with self._lock:
            over = self._over
            start = None
            if not over:
                self._callbacks.append(fn)
                start, self._start_watch = self._start_watch, None
        if over:
            _run_callback(fn, self.ctx)
        elif start is not None and not start(self):
            self.finish()

    def finish(self) -> None:
        """The call is over: runs the callbacks added so far, once."""
        with self._lock:
            if self._over:
                return
            self._over = True
            callbacks, self._callbacks = self._callbacks, []
            stop, self._stop_watch = self._stop_watch, None
        if stop is not None:
            stop()
        for fn in callbacks:
            _run_callback(fn, self.ctx)


def _run_callback(fn: Callable[[Context], Any], ctx: Optional[Context]) -> None:
    if ctx is None:  # set before the handler gets the context: cannot happen
        return
    try:
        fn(ctx)
    except Exception:
        log.exception("rpcx: a done callback raised")


class Context:
    """What a handler (or the auth callable) knows about the call it serves.

    Handlers taking two parameters get it as ``handler(args, ctx)``; the auth callable always
    does. It is valid for the duration of the call.
    """

    __slots__ = ("_raw", "_state")

    def __init__(self, raw: _rpcx.RawContext, state: Optional[_CallState] = None) -> None:
        self._raw = raw
        self._state = state

    def is_active(self) -> bool:
        """``True`` while the caller still waits for the reply; ``False`` once its connection
        closed (the client went away), its deadline passed, or the server closed. A long
        handler should check it and give up: its reply would be dropped."""
        return not self._raw.is_cancelled()

    def wait_cancelled(self, timeout: Optional[float] = None) -> bool:
        """Blocks (the GIL released) until the call is cancelled — see :meth:`is_active` —
        or ``timeout`` seconds pass; returns ``True`` if it was cancelled. A sync handler can
        use it in place of ``time.sleep`` to wait and still notice the caller leaving."""
        return self._raw.wait_cancelled(timeout)

    def add_done_callback(self, fn: Callable[[Context], Any]) -> None:
        """Calls ``fn(ctx)`` once, when the call is over: right after the handler's answer
        was handed over (on the thread that answered), or as soon as the call is cancelled
        while the handler still runs — the caller went away, its deadline passed, the server
        closed — on a thread of the server's worker pool. Added after the call is over, it
        runs at once. Exceptions it raises are logged on the ``rpcx`` logger."""
        if not callable(fn):
            raise TypeError("add_done_callback needs a callable fn(ctx)")
        if self._state is None:
            raise RuntimeError("only the context of a call (not of an auth check) has callbacks")
        self._state.add(fn)

    @property
    def service(self) -> str:
        """The service name (``Arith``)."""
        return self._raw.service

    @property
    def method(self) -> str:
        """The method name (``Mul``)."""
        return self._raw.method

    @property
    def metadata(self) -> dict[str, str]:
        """The request metadata (a new dict on each access)."""
        return self._raw.metadata

    @property
    def peer(self) -> str:
        """The caller's address (``tcp@127.0.0.1:50123``)."""
        return self._raw.peer

    @property
    def serialize_type(self) -> int:
        """The caller's serialize type (see :class:`rpcx.Serializer`)."""
        return self._raw.serialize_type

    def remaining(self) -> Optional[float]:
        """Seconds left before the caller's deadline (``None`` when it sent none)."""
        return self._raw.remaining()

    def set_reply_meta(self, key: str, value: str) -> None:
        """Adds ``key: value`` to the reply's metadata."""
        self._raw.set_reply_meta(key, value)

    def push(
        self,
        service: str,
        method: str,
        payload: Any,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> None:
        """Pushes a message to the caller's connection (a oneway request the client receives
        with ``recv_push()``); returns once it is queued for writing.

        ``payload`` is encoded with ``serializer``, by default the caller's; ``bytes`` are
        sent as they are unless a ``serializer`` is given. Raises
        :class:`~rpcx.SerializationError` when it cannot be encoded. From an ``async def``
        handler use :meth:`push_async`.
        """
        self._raw.push(service, method, self._encode(payload, serializer), check_metadata(metadata))

    async def push_async(
        self,
        service: str,
        method: str,
        payload: Any,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> None:
        """:meth:`push` for ``async def`` handlers: awaits the push being queued without
        blocking the event loop."""
        data = self._encode(payload, serializer)
        md = check_metadata(metadata)
        raw = self._raw
        await _aio.bridge().run(lambda q, t: raw.start_push(q, t, service, method, data, md))

    def _encode(self, payload: Any, serializer: Optional[Union[Serializer, int]]) -> bytes:
        if serializer is None:
            if isinstance(payload, _BYTES):
                return bytes(payload)
            return _codec.encode(self._raw.serialize_type, payload)
        return _codec.encode(check_serializer(serializer), payload)

    def __repr__(self) -> str:
        return f"<rpcx.Context {self.service}.{self.method} from {self.peer}>"
