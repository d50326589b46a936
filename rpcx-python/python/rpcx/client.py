"""rpcx clients: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio), twins with
the same methods."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
    Union,
)

from . import _aio, _rpcx
from . import transfer as _transfer
from ._codec import Serializer
from .compress import DEFAULT_THRESHOLD, client_option
from ._request import Request, check_max_unsent_bytes, check_serializer, check_timeout
from .errors import ClosedError
from .interceptors import _ClientHooks
from .limits import Limits
from .tls import TLSConfig
from .tls import material as tls_material

__all__ = ["Client", "AsyncClient", "Push"]


class Push(NamedTuple):
    """A message a server pushed (a oneway request, raw payload). ``server`` is the address
    of the server it came from: the :class:`Client`'s address, or for an
    :class:`~rpcx.XClient` the server's address in its discovery."""

    service: str
    method: str
    metadata: dict[str, str]
    payload: bytes
    server: str = ""


def _push(got: tuple[str, str, dict[str, str], bytes], server: str) -> Push:
    """A client's push (the raw 4-tuple) with the server it came from."""
    service, method, metadata, payload = got
    return Push(service, method, metadata, payload, server)


async def _pushes(recv: Callable[[], Awaitable[Optional[Push]]]) -> AsyncIterator[Push]:
    """The pushes ``recv`` returns until it raises :class:`~rpcx.ClosedError` (the
    ``pushes()`` of :class:`AsyncClient` and :class:`~rpcx.AsyncXClient`)."""
    while True:
        try:
            push = await recv()
        except ClosedError:
            return
        if push is not None:
            yield push


def _names(service: Any, method: Any) -> None:
    if not isinstance(service, str) or not isinstance(method, str):
        raise TypeError(
            "service and method must be str, got "
            f"{type(service).__name__} and {type(method).__name__}"
        )


class _Options:
    """Connection options shared by the twins."""

    def __init__(
        self,
        address: str,
        serializer: Union[Serializer, int],
        timeout: Optional[float],
        auth: Optional[str],
        gzip: bool,
        heartbeat: Optional[float],
        connect_timeout: float,
        limits: Optional[Limits],
        tls: Optional[TLSConfig] = None,
        heartbeat_timeout: float = 30.0,
        max_unsent_bytes: Optional[int] = None,
        compress: Optional[Union[int, str]] = None,
        compress_threshold: int = DEFAULT_THRESHOLD,
    ) -> None:
        if not isinstance(address, str):
            raise TypeError(f"address must be str, got {type(address).__name__}")
        if auth is not None and not isinstance(auth, str):
            raise TypeError(f"auth must be a str token, got {type(auth).__name__}")
        self.address = address
        self.serializer = check_serializer(serializer)
        self.kwargs: dict[str, Any] = dict(
            serialize_type=int(self.serializer),
            timeout=check_timeout(timeout),
            connect_timeout=float(connect_timeout),
            auth=auth,
            compress=client_option(bool(gzip), compress, compress_threshold),
            heartbeat=None if heartbeat is None else float(heartbeat),
            heartbeat_timeout=float(heartbeat_timeout),
            limits=None if limits is None else limits.as_tuple(),
            tls=tls_material(tls, "client"),
            max_unsent_bytes=check_max_unsent_bytes(max_unsent_bytes),
        )


class _Twin:
    """What :class:`Client` and :class:`AsyncClient` share: the constructor (connection
    options) and the properties made from it."""

    def __init__(
        self,
        address: str,
        *,
        serializer: Union[Serializer, int] = Serializer.MSGPACK,
        timeout: Optional[float] = None,
        auth: Optional[str] = None,
        gzip: bool = False,
        heartbeat: Optional[float] = None,
        heartbeat_timeout: float = 30.0,
        connect_timeout: float = 1.0,
        limits: Optional[Limits] = None,
        tls: Optional[TLSConfig] = None,
        interceptors: Optional[Iterable[Any]] = None,
        max_unsent_bytes: Optional[int] = None,
        compress: Optional[Union[int, str]] = None,
        compress_threshold: int = DEFAULT_THRESHOLD,
    ) -> None:
        self._opts = _Options(
            address, serializer, timeout, auth, gzip, heartbeat, connect_timeout, limits, tls,
            heartbeat_timeout, max_unsent_bytes, compress, compress_threshold,
        )
        self._hooks = _ClientHooks(interceptors, allow_async=isinstance(self, AsyncClient))
        self._open()

    def _open(self) -> None:
        """Connects (:class:`Client`) or gets ready to connect on first use
        (:class:`AsyncClient`)."""
        raise NotImplementedError

    @property
    def address(self) -> str:
        return self._opts.address

    @property
    def serializer(self) -> Serializer:
        return self._opts.serializer


class Client(_Twin):
    """A blocking client on one multiplexed connection, safe to share between threads.

    ``address`` is ``"tcp@host:port"``, ``"host:port"`` or ``"unix@/path"``, or rpcx
    tunnelled as Go's clients do: ``"http@host:port"`` (HTTP ``CONNECT``), ``"ws@host:port"``
    (a WebSocket) or ``"wss@host:port"`` (a WebSocket over TLS; needs ``tls``). ``serializer``
    is :data:`rpcx.MSGPACK` (default), :data:`rpcx.JSON`, :data:`rpcx.PROTOBUF` or
    :data:`rpcx.RAW`; ``timeout`` (seconds) applies to calls that set none; ``auth`` is sent
    as the ``__AUTH`` token; ``compress`` (``"gzip"``, ``"snappy"``, :data:`rpcx.COMPRESS_GZIP`
    or another compress type, see :mod:`rpcx.compress`) compresses requests larger than
    ``compress_threshold`` bytes (default 1024, Go's) and the server answers large replies
    the same way; ``gzip=True`` is ``compress="gzip"``; ``heartbeat`` (seconds)
    sends heartbeats and drops the connection when one goes unanswered for
    ``heartbeat_timeout`` seconds; ``tls`` (an
    :class:`~rpcx.TLSConfig`) connects over TLS, with a client certificate for mutual TLS.
    ``interceptors`` run around every call on the calling thread (see
    :mod:`rpcx.interceptors`): they may add metadata (trace ids, tokens) or refuse a call.
    ``max_unsent_bytes`` (default 16 MiB) bounds the requests waiting to be written: when
    the server stops reading, calls wait for room (within their timeout) instead of piling
    up.

    Every wait releases the GIL and can be interrupted with Ctrl-C.
    """

    def _open(self) -> None:
        self._raw = _rpcx.RawClient.connect(self._opts.address, **self._opts.kwargs)

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def call(
        self,
        service: str,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """Calls ``service.method`` with ``args`` and returns the decoded reply.

        ``reply_type`` is required with PROTOBUF (the reply message class); with MSGPACK or
        JSON a dataclass ``reply_type`` turns the reply map into an instance.
        """
        _names(service, method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        if self._hooks.idle(r.metadata):
            # No interceptor and no span to start: straight to the wire, without the
            # response-metadata dict nobody reads.
            return r.decode(self._raw.call_payload(service, method, *r), reply_type)
        data, _ = self._hooks.run(
            service, method, r.metadata, "call", self.address,
            lambda meta: self._raw.call(service, method, *r._replace(metadata=meta)),
        )
        return r.decode(data, reply_type)

    def call_with_metadata(
        self,
        service: str,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Tuple[Any, dict[str, str]]:
        """Like :meth:`call`, returning ``(reply, response_metadata)``."""
        _names(service, method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        data, md = self._hooks.run(
            service, method, r.metadata, "call", self.address,
            lambda meta: self._raw.call(service, method, *r._replace(metadata=meta)),
        )
        return r.decode(data, reply_type), md

    def call_oneway(
        self,
        service: str,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> None:
        """Sends a oneway request: the server runs it and never answers."""
        _names(service, method)
        r = Request.encode(self._opts.serializer, args, metadata, None, serializer)
        self._hooks.run(
            service, method, r.metadata, "oneway", self.address,
            lambda meta: self._raw.send(service, method, r.serialize_type, r.payload, meta),
        )

    def recv_push(self, timeout: Optional[float] = None) -> Optional[Push]:
        """Waits for the next server push; ``None`` if ``timeout`` seconds passed first.
        Raises :class:`~rpcx.ClosedError` once the connection has ended."""
        got = self._raw.recv_push(check_timeout(timeout))
        return None if got is None else _push(got, self.address)

    def send_file(
        self,
        path: Union[str, "os.PathLike[str]"],
        rate: Optional[int] = None,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        service: str = _transfer.FILE_TRANSFER_SERVICE,
    ) -> int:
        """:meth:`XClient.send_file <rpcx.XClient.send_file>` on this connection, calling
        ``service.TransferFile``."""
        _names(service, "TransferFile")
        up = self._raw.send_file(
            service, _transfer._path(path), _transfer._rate(rate), _transfer._meta(metadata)
        )
        try:
            return up.wait()
        finally:
            up.close()

    def download_file(
        self,
        name: str,
        dest: _transfer.Destination,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        service: str = _transfer.FILE_TRANSFER_SERVICE,
    ) -> int:
        """:meth:`XClient.download_file <rpcx.XClient.download_file>` on this connection,
        calling ``service.DownloadFile``."""
        _names(service, "DownloadFile")
        raw = self._raw.download_file(service, _transfer._name(name), _transfer._meta(metadata))
        return _transfer._download(raw, dest)

    def stream(
        self,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        service: str = _transfer.STREAM_SERVICE,
    ) -> socket.socket:
        """:meth:`XClient.stream <rpcx.XClient.stream>` on this connection, calling
        ``service.Stream``: the connection as a blocking :class:`socket.socket`."""
        _names(service, "Stream")
        return _transfer._socket(self._raw.stream(service, _transfer._meta(metadata)))

    def close(self) -> None:
        """Closes the connection; pending calls fail with :class:`~rpcx.ClosedError`."""
        self._raw.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<rpcx.Client {self._opts.address} {self.serializer.name} {state}>"


class AsyncClient(_Twin):
    """The asyncio twin of :class:`Client`, with the same options and methods (as
    coroutines). It connects on first use, on ``async with``, or with :meth:`connect`.
    Cancelling an awaiting task abandons the call. Its ``interceptors`` run in the calling
    task; their hooks may be ``async def``."""

    def _open(self) -> None:
        self._raw: Optional[_rpcx.RawClient] = None
        self._connecting: Optional[asyncio.Future[_rpcx.RawClient]] = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed or (self._raw is not None and self._raw.closed)

    async def connect(self) -> None:
        """Connects now (otherwise the first call does)."""
        await self._client()

    async def _client(self) -> _rpcx.RawClient:
        if self._raw is not None:
            return self._raw
        if self._closed:
            raise ClosedError("client is closed")
        if self._connecting is None or self._connecting.get_loop() is not asyncio.get_running_loop():
            self._connecting = asyncio.ensure_future(self._dial())
        raw: _rpcx.RawClient = await asyncio.shield(self._connecting)
        return raw

    async def _dial(self) -> _rpcx.RawClient:
        try:
            raw: _rpcx.RawClient = await _aio.bridge().run(
                lambda q, t: _rpcx.RawClient.connect_async(
                    q, t, self._opts.address, **self._opts.kwargs
                )
            )
        except BaseException:
            self._connecting = None
            raise
        if self._closed:
            raw.close()
            raise ClosedError("client is closed")
        self._raw = raw
        return raw

    async def call(
        self,
        service: str,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """Calls ``service.method`` with ``args`` and returns the decoded reply (see
        :meth:`Client.call`)."""
        _names(service, method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        raw = await self._client()
        if self._hooks.idle(r.metadata):
            # No interceptor and no span: straight to the wire, the payload alone back
            # (payload_only=True, passed by position: no kwargs dict per call).
            data = await _aio.bridge().run(
                lambda q, tok: raw.start_call(q, tok, service, method, *r, True)
            )
            return r.decode(data, reply_type)
        return (await self._call(raw, service, method, r, reply_type))[0]

    async def call_with_metadata(
        self,
        service: str,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Tuple[Any, dict[str, str]]:
        """Like :meth:`call`, returning ``(reply, response_metadata)``."""
        _names(service, method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        return await self._call(await self._client(), service, method, r, reply_type)

    async def _call(
        self, raw: Any, service: str, method: str, r: Request, reply_type: Any
    ) -> Tuple[Any, dict[str, str]]:
        """One encoded call through the interceptors (and the client span)."""
        data, md = await self._hooks.arun(
            service, method, r.metadata, "call", self.address,
            lambda meta: _aio.bridge().run(
                lambda q, tok: raw.start_call(q, tok, service, method, *r._replace(metadata=meta))
            ),
        )
        return r.decode(data, reply_type), md

    async def call_oneway(
        self,
        service: str,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> None:
        """Sends a oneway request: the server runs it and never answers."""
        _names(service, method)
        r = Request.encode(self._opts.serializer, args, metadata, None, serializer)
        raw = await self._client()
        await self._hooks.arun(
            service, method, r.metadata, "oneway", self.address,
            lambda meta: _aio.bridge().run(
                lambda q, tok: raw.start_send(
                    q, tok, service, method, r.serialize_type, r.payload, meta
                )
            ),
        )

    async def recv_push(self, timeout: Optional[float] = None) -> Optional[Push]:
        """Waits for the next server push; ``None`` if ``timeout`` seconds passed first.
        Raises :class:`~rpcx.ClosedError` once the connection has ended."""
        raw = await self._client()
        t = check_timeout(timeout)
        got = await _aio.bridge().run(lambda q, tok: raw.start_recv_push(q, tok, t))
        return None if got is None else _push(got, self.address)

    def pushes(self) -> AsyncIterator[Push]:
        """Iterates over server pushes until the connection ends."""
        return _pushes(self.recv_push)

    async def send_file(
        self,
        path: Union[str, "os.PathLike[str]"],
        rate: Optional[int] = None,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        service: str = _transfer.FILE_TRANSFER_SERVICE,
    ) -> int:
        """:meth:`Client.send_file` as a coroutine; cancelling the awaiting task aborts the
        upload."""
        _names(service, "TransferFile")
        raw = await self._client()
        up = raw.send_file(
            service, _transfer._path(path), _transfer._rate(rate), _transfer._meta(metadata)
        )
        return await _transfer._upload(up)

    async def download_file(
        self,
        name: str,
        dest: _transfer.Destination,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        service: str = _transfer.FILE_TRANSFER_SERVICE,
    ) -> int:
        """:meth:`Client.download_file` as a coroutine (the bytes are written from a worker
        thread); cancelling the awaiting task aborts the download."""
        _names(service, "DownloadFile")
        raw = await self._client()
        dl = raw.download_file(service, _transfer._name(name), _transfer._meta(metadata))
        return await _transfer._in_thread(lambda: _transfer._download(dl, dest), dl.close)

    async def stream(
        self,
        metadata: Optional[Mapping[str, str]] = None,
        *,
        service: str = _transfer.STREAM_SERVICE,
    ) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """:meth:`Client.stream` as asyncio streams: ``(reader, writer)``."""
        _names(service, "Stream")
        raw = await self._client()
        meta = _transfer._meta(metadata)
        return await _transfer._stream_pair(lambda: raw.stream(service, meta))

    async def close(self) -> None:
        """Closes the connection; pending calls fail with :class:`~rpcx.ClosedError`."""
        self._closed = True
        if self._raw is not None:
            self._raw.close()

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("open" if self._raw is not None else "not connected")
        return f"<rpcx.AsyncClient {self._opts.address} {self.serializer.name} {state}>"
