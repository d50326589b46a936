"""Discovery-aware clients: :class:`XClient` (blocking) and :class:`AsyncXClient` (asyncio),
bound to one service path like Go's ``client.NewXClient``, over the servers of a discovery
(:class:`Peer`, :class:`MultipleServers`, :class:`Etcd`, :class:`Consul`, :class:`Redis`,
:class:`Zookeeper`, :class:`Dns`) with
a select mode (or a custom selector) and a fail mode."""

from __future__ import annotations

import asyncio
import enum
import os
import socket
import threading
from typing import (
    Any,
    AsyncIterator,
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
from ._request import Request, check_max_unsent_bytes, check_serializer, check_timeout
from ._rpcx import Consul, Dns, Etcd, MultipleServers, Peer, Redis, SelectRequest, Zookeeper
from .client import Push, _pushes
from .compress import DEFAULT_THRESHOLD, client_option
from .errors import ClosedError, RpcError
from .interceptors import _ClientHooks
from .limits import Limits
from .tls import TLSConfig
from .tls import material as tls_material

__all__ = [
    "AsyncXClient",
    "Consul",
    "Dns",
    "Etcd",
    "FailMode",
    "MultipleServers",
    "Peer",
    "Redis",
    "Receipt",
    "SelectMode",
    "SelectRequest",
    "Selector",
    "XClient",
    "Zookeeper",
]

#: A custom selector: called as ``selector(servers, request)`` with the sorted server
#: addresses and a :class:`SelectRequest`; returns one of the addresses (or ``None``: no
#: server).
Selector = Callable[[list[str], SelectRequest], Optional[str]]

Discovery = Union[Peer, MultipleServers, Etcd, Consul, Redis, Zookeeper, Dns]
_DISCOVERIES = (Peer, MultipleServers, Etcd, Consul, Redis, Zookeeper, Dns)


class Receipt(NamedTuple):
    """One server's outcome of :meth:`XClient.inform`: its ``reply`` (decoded) and response
    ``metadata`` when it answered, else the ``error`` it failed with (an
    :class:`rpcx.RpcError`: the server's own :class:`rpcx.ServiceError`, a connection error,
    a timeout, or a :class:`rpcx.SerializationError` for a reply that did not decode)."""

    server: str
    reply: Any
    metadata: Optional[dict[str, str]]
    error: Optional[RpcError]

    @property
    def ok(self) -> bool:
        return self.error is None


def _receipts(r: Request, raw: list[Any], reply_type: Any) -> list[Receipt]:
    out = []
    for server, answer, error in raw:
        if answer is None:
            out.append(Receipt(server, None, None, error))
            continue
        data, md = answer
        try:
            out.append(Receipt(server, r.decode(data, reply_type), md, None))
        except RpcError as e:
            out.append(Receipt(server, None, md, e))
    return out


class SelectMode(enum.IntEnum):
    """How an XClient picks the server of each call (Go's numbers)."""

    #: Uniformly random.
    RANDOM = 0
    #: In turn, over the servers sorted by address (the default).
    ROUND_ROBIN = 1
    #: Smooth weighted round robin on the ``weight`` metadata.
    WEIGHTED_ROUND_ROBIN = 2
    #: Weighted by measured round-trip time.
    WEIGHTED_ICMP = 3
    #: Hash of service, method and arguments over the sorted servers.
    CONSISTENT_HASH = 4
    #: Nearest by ``latitude``/``longitude`` metadata to ``location=(lat, lon)``.
    CLOSEST = 5
    #: Weighted by the round trip of a heartbeat on the live connection to each server,
    #: measured every 0.5 s (not in Go).
    HEARTBEAT_RTT = 6


class FailMode(enum.IntEnum):
    """What an XClient does when a call fails with a transport error (Go's numbers). Errors
    answered by the server and timeouts are never retried."""

    #: Retry on another server (the default).
    FAILOVER = 0
    #: Return the first error.
    FAILFAST = 1
    #: Retry the same server.
    FAILTRY = 2
    #: Without a reply after ``backup_latency``, send the call to a second server too and
    #: take the first answer.
    FAILBACKUP = 3


def _enum(cls: Any, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an rpcx.{cls.__name__}, got {type(value).__name__}")
    try:
        return int(cls(value))
    except ValueError:
        names = ", ".join(f"rpcx.{cls.__name__}.{m.name}" for m in cls)
        raise ValueError(f"unknown {what} {value!r}; use {names}") from None


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {type(value).__name__}")
    return float(value)


def _method(method: Any) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method must be str, got {type(method).__name__}")
    if not method:
        raise ValueError("method must not be empty")
    return method


class _XOptions:
    """Construction shared by the twins."""

    def __init__(self, service: Any, discovery: Any, serializer: Any, **kw: Any) -> None:
        if not isinstance(service, str):
            raise TypeError(f"service must be str, got {type(service).__name__}")
        if not isinstance(discovery, _DISCOVERIES):
            raise TypeError(
                "discovery must be rpcx.Peer, rpcx.MultipleServers, rpcx.Etcd, rpcx.Consul, "
                "rpcx.Redis, rpcx.Zookeeper or rpcx.Dns, "
                f"got {type(discovery).__name__}"
            )
        selector = kw["selector"]
        if selector is not None and not callable(selector):
            raise TypeError(
                "selector must be callable as selector(servers, request), "
                f"got {type(selector).__name__}"
            )
        auth = kw["auth"]
        if auth is not None and not isinstance(auth, str):
            raise TypeError(f"auth must be a str token, got {type(auth).__name__}")
        limits = kw["limits"]
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError("limits must be an rpcx.Limits")
        group = kw["group"]
        if group is not None and not isinstance(group, str):
            raise TypeError(f"group must be str, got {type(group).__name__}")
        retries = kw["retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        breaker = kw["breaker"]
        if breaker is not None:
            try:
                failures, open_for = breaker
            except (TypeError, ValueError):
                raise TypeError(
                    "breaker must be a (failures, open_seconds) pair, "
                    f"got {type(breaker).__name__}"
                ) from None
            if isinstance(failures, bool) or not isinstance(failures, int):
                raise TypeError("breaker failures must be an int")
            breaker = (failures, _seconds(open_for, "breaker open_seconds"))
        health = kw["health"]
        if health is not None:
            try:
                probe, backoff = health
            except (TypeError, ValueError):
                raise TypeError(
                    "health must be a (probe_timeout, max_backoff) pair of seconds or None, "
                    f"got {type(health).__name__}"
                ) from None
            health = (_seconds(probe, "health probe_timeout"),
                      _seconds(backoff, "health max_backoff"))
        location = kw["location"]
        if location is not None:
            try:
                lat, lon = location
                location = (float(lat), float(lon))
            except (TypeError, ValueError):
                raise TypeError("location must be a (latitude, longitude) pair of numbers") from None
        self.service = service
        self.discovery = discovery
        self.serializer = check_serializer(serializer)
        self.raw = _rpcx.RawXClient(
            service,
            discovery,
            fail_mode=_enum(FailMode, kw["fail_mode"], "fail_mode"),
            select_mode=_enum(SelectMode, kw["select_mode"], "select_mode"),
            selector=selector,
            location=location,
            retries=retries,
            retry_interval=_seconds(kw["retry_interval"], "retry_interval"),
            group=group,
            backup_latency=_seconds(kw["backup_latency"], "backup_latency"),
            breaker=breaker,
            health=health,
            broadcast_timeout=_seconds(kw["broadcast_timeout"], "broadcast_timeout"),
            serialize_type=int(self.serializer),
            timeout=check_timeout(kw["timeout"]),
            connect_timeout=_seconds(kw["connect_timeout"], "connect_timeout"),
            auth=auth,
            compress=client_option(
                bool(kw["gzip"]), kw["compress"], kw["compress_threshold"]
            ),
            heartbeat=None if kw["heartbeat"] is None else _seconds(kw["heartbeat"], "heartbeat"),
            heartbeat_timeout=_seconds(kw["heartbeat_timeout"], "heartbeat_timeout"),
            limits=None if limits is None else limits.as_tuple(),
            tls=tls_material(kw["tls"], "client"),
            max_unsent_bytes=check_max_unsent_bytes(kw["max_unsent_bytes"]),
        )


class _Twin:
    """What :class:`XClient` and :class:`AsyncXClient` share: the constructor (checked by
    :class:`_XOptions`), the properties and ``repr``."""

    #: The public class name, for ``repr``.
    _name = ""

    def __init__(
        self,
        service: str,
        discovery: Discovery,
        *,
        fail_mode: FailMode = FailMode.FAILOVER,
        select_mode: SelectMode = SelectMode.ROUND_ROBIN,
        selector: Optional[Selector] = None,
        location: Optional[Tuple[float, float]] = None,
        retries: int = 3,
        retry_interval: float = 0.0,
        group: Optional[str] = None,
        backup_latency: float = 0.01,
        breaker: Optional[Tuple[int, float]] = None,
        health: Optional[Tuple[float, float]] = (1.0, 2.0),
        broadcast_timeout: float = 60.0,
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
        self._hooks = _ClientHooks(interceptors, allow_async=isinstance(self, AsyncXClient))
        self._pushes: Optional[_rpcx.RawPushes] = None
        self._pushes_lock = threading.Lock()
        self._opts = _XOptions(
            service,
            discovery,
            serializer,
            fail_mode=fail_mode,
            select_mode=select_mode,
            selector=selector,
            location=location,
            retries=retries,
            retry_interval=retry_interval,
            group=group,
            backup_latency=backup_latency,
            breaker=breaker,
            health=health,
            broadcast_timeout=broadcast_timeout,
            timeout=timeout,
            auth=auth,
            gzip=gzip,
            heartbeat=heartbeat,
            heartbeat_timeout=heartbeat_timeout,
            connect_timeout=connect_timeout,
            limits=limits,
            tls=tls,
            max_unsent_bytes=max_unsent_bytes,
            compress=compress,
            compress_threshold=compress_threshold,
        )
        self._raw = self._opts.raw

    @property
    def service(self) -> str:
        return self._opts.service

    @property
    def discovery(self) -> Discovery:
        return self._opts.discovery

    @property
    def serializer(self) -> Serializer:
        return self._opts.serializer

    @property
    def servers(self) -> list[tuple[str, str]]:
        """The servers in use, ``[(address, metadata)]`` (after group filtering)."""
        return self._raw.servers

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def _push_stream(self) -> _rpcx.RawPushes:
        """The XClient's push stream (taken from the core once)."""
        with self._pushes_lock:
            if self._pushes is None:
                stream = self._raw.take_pushes()
                if stream is None:  # cannot happen: only this object takes it
                    raise ClosedError("the XClient's pushes were taken elsewhere")
                self._pushes = stream
            return self._pushes

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self.servers)} servers"
        return f"<rpcx.{self._name} {self.service} {self.serializer.name} {state}>"


class XClient(_Twin):
    """A blocking client of one service over many servers, safe to share between threads.

    ``discovery`` is an :class:`rpcx.Peer`, :class:`rpcx.MultipleServers` (its
    ``update()`` takes effect at once), :class:`rpcx.Etcd`, :class:`rpcx.Consul` or
    :class:`rpcx.Dns`.
    ``select_mode`` picks the server of each call (:class:`rpcx.SelectMode`; ``CLOSEST``
    needs ``location=(lat, lon)``); ``selector``, any callable
    ``selector(servers, request) -> address``, replaces it. ``fail_mode``
    (:class:`rpcx.FailMode`) with ``retries`` (at most 1000), ``retry_interval`` (seconds) and
    ``backup_latency`` (seconds, FAILBACKUP) decides what happens when a server cannot be
    reached; ``group`` keeps only servers whose metadata lists that group; ``breaker=(failures,
    open_seconds)`` turns on a circuit breaker per server; ``health=(probe_timeout,
    max_backoff)`` (seconds; on by default with ``(1.0, 2.0)``, ``None`` turns it off) is the
    dead-server detector: a server whose call got no answer leaves the rotation until a probe
    on a fresh connection gets a heartbeat answered, probes pausing 0.2 s doubling to
    ``max_backoff``. The connection options
    (``serializer``, ``timeout``, ``auth``, ``gzip``, ``compress``, ``compress_threshold``,
    ``heartbeat``, ``heartbeat_timeout``, ``connect_timeout``, ``limits``, ``tls``,
    ``max_unsent_bytes``) are :class:`rpcx.Client`'s and apply to each server's connection,
    made on first use (with ``tls``, each server's certificate is checked against its own
    host unless the :class:`rpcx.TLSConfig` names a ``server_name``).

    A custom selector runs on the thread that placed the call (for :class:`AsyncXClient`,
    the event loop's thread), never on a runtime thread, for retries too; if it raises, the
    call fails with an :class:`rpcx.RpcError` (``code == "selector"``) whose ``__cause__``
    is the selector's exception.

    ``interceptors`` run around every call on the calling thread, once per call whatever
    the retries (see :mod:`rpcx.interceptors`). :meth:`recv_push` receives what any server
    pushes on any of the XClient's connections (Go's ``NewBidirectionalXClient``).
    """

    _name = "XClient"

    def _invoke(
        self,
        kind: str,
        method: str,
        args: Any,
        metadata: Optional[Mapping[str, str]],
        timeout: Optional[float],
        reply_type: Any,
        serializer: Optional[Union[Serializer, int]],
    ) -> Tuple[Any, dict[str, str]]:
        _method(method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        data, md = self._hooks.run(
            self.service, method, r.metadata, kind, None,
            lambda meta: self._raw.call(kind, method, *r._replace(metadata=meta)),
        )
        return r.decode(data, reply_type), md

    def call(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """Calls ``<service>.method`` on a selected server, with the fail mode, and returns
        the decoded reply (``reply_type`` as in :meth:`rpcx.Client.call`)."""
        return self._invoke("call", method, args, metadata, timeout, reply_type, serializer)[0]

    def call_with_metadata(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Tuple[Any, dict[str, str]]:
        """Like :meth:`call`, returning ``(reply, response_metadata)``."""
        return self._invoke("call", method, args, metadata, timeout, reply_type, serializer)

    def broadcast(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """Calls every server; returns one reply if all succeed, raises the first error
        otherwise (Go's ``Broadcast``). Bounded by ``broadcast_timeout``."""
        return self._invoke(
            "broadcast", method, args, metadata, timeout, reply_type, serializer
        )[0]

    def fork(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """Calls every server; returns the first successful reply, raises only if all fail
        (Go's ``Fork``). Bounded by ``broadcast_timeout``."""
        return self._invoke("fork", method, args, metadata, timeout, reply_type, serializer)[0]

    def inform(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> list[Receipt]:
        """Calls every server and returns each one's :class:`Receipt`, in the order of their
        addresses (Go's ``Inform``): a failed server does not fail the others. Raises only
        when the call cannot be made (no server: :class:`rpcx.RpcConnectionError`; closed).
        Bounded by ``broadcast_timeout``."""
        _method(method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        raw = self._hooks.run(
            self.service, method, r.metadata, "inform", None,
            lambda meta: self._raw.inform(method, *r._replace(metadata=meta)),
        )
        return _receipts(r, raw, reply_type)

    def call_oneway(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> None:
        """Sends a oneway request to one selected server (no fail mode, like Go's
        ``Oneshot``); the server runs it and never answers."""
        _method(method)
        r = Request.encode(self._opts.serializer, args, metadata, None, serializer)
        self._hooks.run(
            self.service, method, r.metadata, "oneway", None,
            lambda meta: self._raw.send(method, r.serialize_type, r.payload, meta),
        )

    def recv_push(self, timeout: Optional[float] = None) -> Optional[Push]:
        """Waits for the next message any server pushed on any of this XClient's connections
        (``Push.server`` says which); ``None`` if ``timeout`` seconds passed first. Raises
        :class:`~rpcx.ClosedError` once the XClient is closed and its pushes are drained."""
        got = self._push_stream().recv(check_timeout(timeout))
        return None if got is None else Push(*got)

    def send_file(
        self,
        path: Union[str, "os.PathLike[str]"],
        rate: Optional[int] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> int:
        """Uploads the local file at ``path`` (Go's ``SendFile``; this XClient's service is
        ``"_filetransfer"``): calls ``TransferFile`` with the file's base name, size and
        ``metadata``, then sends the bytes to the server's side listener, at most ``rate``
        bytes per second (``None``: no limit). Returns the bytes sent once the server has the
        file; a refused file (too large, a bad name) raises :class:`~rpcx.ServiceError`, an
        aborted transfer :class:`~rpcx.RpcError`. Interceptors do not run (the transfer is
        not an ordinary call); Ctrl-C aborts it."""
        up = self._raw.send_file(_transfer._path(path), _transfer._rate(rate), _transfer._meta(metadata))
        try:
            return up.wait()
        finally:
            up.close()

    def download_file(
        self,
        name: str,
        dest: _transfer.Destination,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> int:
        """Downloads ``name`` (relative to the server's download directory; Go's
        ``DownloadFile``) into ``dest`` and returns the byte count. ``dest`` is a path (the
        bytes go to a temporary file beside it, renamed into place once the server ended the
        file: a failed download leaves ``dest`` as it was) or a binary file object (written
        as the bytes arrive). A refused name raises :class:`~rpcx.ServiceError`; a reset or
        stalled transfer :class:`~rpcx.RpcError`."""
        raw = self._raw.download_file(_transfer._name(name), _transfer._meta(metadata))
        return _transfer._download(raw, dest)

    def stream(self, metadata: Optional[Mapping[str, str]] = None) -> socket.socket:
        """Opens a stream (Go's ``Stream``; this XClient's service is ``"_streamservice"``):
        calls ``Stream`` with ``metadata``, connects to the side listener and sends the
        token. Returns the connection as a blocking :class:`socket.socket`, both ways; close
        it (or use it in a ``with`` block) when done."""
        return _transfer._socket(self._raw.stream(_transfer._meta(metadata)))

    def close(self) -> None:
        """Closes every connection; later calls raise :class:`~rpcx.ClosedError`."""
        self._raw.close()

    def __enter__(self) -> XClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncXClient(_Twin):
    """The asyncio twin of :class:`XClient`: the same options, the same methods as
    coroutines. Cancelling an awaiting task abandons the call. A custom selector runs on the
    event loop's thread (the call waits for the loop to run it), so it must not block. Its
    ``interceptors`` run in the calling task; their hooks may be ``async def``."""

    _name = "AsyncXClient"

    async def _invoke(
        self,
        kind: str,
        method: str,
        args: Any,
        metadata: Optional[Mapping[str, str]],
        timeout: Optional[float],
        reply_type: Any,
        serializer: Optional[Union[Serializer, int]],
    ) -> Tuple[Any, dict[str, str]]:
        _method(method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        raw = self._raw
        data, md = await self._hooks.arun(
            self.service, method, r.metadata, kind, None,
            lambda meta: _aio.bridge().run(
                lambda q, tok: raw.start_call(q, tok, kind, method, *r._replace(metadata=meta))
            ),
        )
        return r.decode(data, reply_type), md

    async def call(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """See :meth:`XClient.call`."""
        reply, _ = await self._invoke(
            "call", method, args, metadata, timeout, reply_type, serializer
        )
        return reply

    async def call_with_metadata(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Tuple[Any, dict[str, str]]:
        """See :meth:`XClient.call_with_metadata`."""
        return await self._invoke(
            "call", method, args, metadata, timeout, reply_type, serializer
        )

    async def broadcast(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """See :meth:`XClient.broadcast`."""
        reply, _ = await self._invoke(
            "broadcast", method, args, metadata, timeout, reply_type, serializer
        )
        return reply

    async def fork(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> Any:
        """See :meth:`XClient.fork`."""
        reply, _ = await self._invoke(
            "fork", method, args, metadata, timeout, reply_type, serializer
        )
        return reply

    async def inform(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        reply_type: Any = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> list[Receipt]:
        """See :meth:`XClient.inform`."""
        _method(method)
        r = Request.encode(self._opts.serializer, args, metadata, timeout, serializer)
        raw = self._raw
        got = await self._hooks.arun(
            self.service, method, r.metadata, "inform", None,
            lambda meta: _aio.bridge().run(
                lambda q, tok: raw.start_inform(q, tok, method, *r._replace(metadata=meta))
            ),
        )
        return _receipts(r, got, reply_type)

    async def call_oneway(
        self,
        method: str,
        args: Any = None,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        serializer: Optional[Union[Serializer, int]] = None,
    ) -> None:
        """See :meth:`XClient.call_oneway`."""
        _method(method)
        r = Request.encode(self._opts.serializer, args, metadata, None, serializer)
        raw = self._raw
        await self._hooks.arun(
            self.service, method, r.metadata, "oneway", None,
            lambda meta: _aio.bridge().run(
                lambda q, tok: raw.start_send(q, tok, method, r.serialize_type, r.payload, meta)
            ),
        )

    async def recv_push(self, timeout: Optional[float] = None) -> Optional[Push]:
        """See :meth:`XClient.recv_push`."""
        stream = self._push_stream()
        t = check_timeout(timeout)
        got = await _aio.bridge().run(lambda q, tok: stream.start_recv(q, tok, t))
        return None if got is None else Push(*got)

    def pushes(self) -> AsyncIterator[Push]:
        """Iterates over the servers' pushes until the XClient is closed."""
        return _pushes(self.recv_push)

    async def send_file(
        self,
        path: Union[str, "os.PathLike[str]"],
        rate: Optional[int] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> int:
        """:meth:`XClient.send_file` as a coroutine; cancelling the awaiting task aborts the
        upload."""
        up = self._raw.send_file(_transfer._path(path), _transfer._rate(rate), _transfer._meta(metadata))
        return await _transfer._upload(up)

    async def download_file(
        self,
        name: str,
        dest: _transfer.Destination,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> int:
        """:meth:`XClient.download_file` as a coroutine (the bytes are written from a worker
        thread); cancelling the awaiting task aborts the download."""
        raw = self._raw.download_file(_transfer._name(name), _transfer._meta(metadata))
        return await _transfer._in_thread(lambda: _transfer._download(raw, dest), raw.close)

    async def stream(
        self, metadata: Optional[Mapping[str, str]] = None
    ) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """:meth:`XClient.stream` as asyncio streams: ``(reader, writer)`` on the
        connection; ``writer.close()`` ends it."""
        meta = _transfer._meta(metadata)
        raw = self._raw
        return await _transfer._stream_pair(lambda: raw.stream(meta))

    async def close(self) -> None:
        """Closes every connection; later calls raise :class:`~rpcx.ClosedError`."""
        self._raw.close()

    async def __aenter__(self) -> AsyncXClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

