"""The context a handler (or the auth callable) gets: what it knows about the call it serves,
the reply metadata it may add, and pushes to the caller's connection."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from . import _aio, _codec, _rpcx
from ._codec import Serializer
from ._request import check_metadata, check_serializer

__all__ = ["Context"]

_BYTES = (bytes, bytearray, memoryview)


class Context:
    """What a handler (or the auth callable) knows about the call it serves.

    Handlers taking two parameters get it as ``handler(args, ctx)``; the auth callable always
    does. It is valid for the duration of the call.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: _rpcx.RawContext) -> None:
        self._raw = raw

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
