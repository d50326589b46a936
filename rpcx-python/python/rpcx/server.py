"""The rpcx server: Python functions and objects served on the Rust core.

Calls arrive on the Rust runtime and wait in a queue; a pool of Python threads (``workers``)
takes them, decodes the arguments with the caller's serialization, runs the handler and
encodes the reply. ``async def`` handlers run on the server's own event loop thread (started
by :meth:`Server.start`, stopped by :meth:`Server.stop`), or on the running loop of
:meth:`Server.start_async`.

Exceptions raised by handlers are logged with their traceback on the ``rpcx`` logger and
reach the caller as ``"<type>: <text>"``; a :class:`~rpcx.ServiceError` is the handler's
answer and goes out verbatim.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import dataclasses
import inspect
import logging
import math
import os
import socket
import threading
import time
import urllib.parse
import weakref
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional, TypeVar, Union, overload

from . import _codec, _otel, _reflect, _rpcx
from . import transfer as _transfer
from .context import Context, _CallState
from .cors import CorsOptions
from .errors import ServiceError
from .interceptors import IpFilter, RateLimit, _ServerHooks
from .limits import Limits
from .tls import TLSConfig
from .tls import material as tls_material

__all__ = ["Server", "Context"]

F = TypeVar("F", bound=Callable[..., Any])

#: Service metadata for registries: a URL query string (``"weight=2&group=blue"``) or a
#: mapping turned into one.
Meta = Union[str, Mapping[str, Any]]

#: A registry plugin: :class:`rpcx.EtcdRegistry`, :class:`rpcx.ConsulRegistry`,
#: :class:`rpcx.RedisRegistry` or :class:`rpcx.ZookeeperRegistry`.
Registry = Union[
    _rpcx.EtcdRegistry, _rpcx.ConsulRegistry, _rpcx.RedisRegistry, _rpcx.ZookeeperRegistry
]
_REGISTRIES = (
    _rpcx.EtcdRegistry, _rpcx.ConsulRegistry, _rpcx.RedisRegistry, _rpcx.ZookeeperRegistry
)

log = logging.getLogger("rpcx")

_live: weakref.WeakSet[Server] = weakref.WeakSet()

#: The server whose handler is running in this thread (sync handlers) or task (async ones).
_serving: contextvars.ContextVar[Optional[Server]] = contextvars.ContextVar(
    "rpcx_serving", default=None
)

#: How long stop() waits, in all, for worker threads to exit once the server is down (those
#: still running an abandoned handler are left behind: they are daemon threads).
_JOIN_TIME = 1.0


@dataclasses.dataclass
class _Method:
    service: str
    method: str
    func: Callable[..., Any]
    arity: int  # 0: f(), 1: f(args), 2: f(args, ctx)
    is_async: bool
    arg_type: Any
    #: For the reflection service: (args type, args definition, reply type, reply definition).
    description: tuple[str, str, str, str] = ("any", "", "any", "")


def _arity(func: Callable[..., Any]) -> int:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return 2
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return min(len(positional), 2)


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)
    )


def _meta_text(meta: Meta) -> str:
    if isinstance(meta, str):
        return meta
    if isinstance(meta, Mapping):
        return urllib.parse.urlencode({str(k): str(v) for k, v in meta.items()})
    raise TypeError(f"meta must be a str or a mapping, got {type(meta).__name__}")


def _http_options(
    *,
    http_gateway: Any,
    jsonrpc: Any,
    http_connect: Any,
    websocket: Any,
    cors: Any,
    http_request_timeout: Any,
    http_max_header_bytes: Any,
    http_max_headers: Any,
) -> dict[str, Any]:
    """The HTTP keyword arguments of :class:`Server`, checked, as ``RawServer.start``
    takes them."""
    for name, on in (
        ("http_gateway", http_gateway),
        ("jsonrpc", jsonrpc),
        ("http_connect", http_connect),
        ("websocket", websocket),
    ):
        if not isinstance(on, bool):
            raise TypeError(f"{name} must be a bool, got {type(on).__name__}")
    if cors is not None and not isinstance(cors, CorsOptions):
        raise TypeError(f"cors must be an rpcx.CorsOptions or None, got {type(cors).__name__}")
    if http_request_timeout is not None:
        t = http_request_timeout
        if not isinstance(t, (int, float)) or isinstance(t, bool):
            raise TypeError(
                f"http_request_timeout must be a number of seconds, got {type(t).__name__}"
            )
        if not math.isfinite(t) or t <= 0 or t > 1e9:
            raise ValueError(
                f"http_request_timeout must be a number of seconds > 0 and <= 1e9, got {t!r}"
            )
    for name, n in (
        ("http_max_header_bytes", http_max_header_bytes),
        ("http_max_headers", http_max_headers),
    ):
        if n is None:
            continue
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"{name} must be an int, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"{name} must be at least 1, got {n}")
    return {
        "http_gateway": http_gateway,
        "jsonrpc": jsonrpc,
        "http_connect": http_connect,
        "websocket": websocket,
        "cors": None if cors is None else cors._as_tuple(),
        "http_request_timeout": None if http_request_timeout is None else float(http_request_timeout),
        "http_max_header_bytes": http_max_header_bytes,
        "http_max_headers": http_max_headers,
    }


def _error_text(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _describe(e: BaseException) -> str:
    """``"KeyError: 'missing'"``: the exception as the last line of its traceback."""
    t = type(e)
    name = t.__qualname__
    if t.__module__ not in ("builtins", "__main__"):
        name = f"{t.__module__}.{name}"
    text = str(e)
    return f"{name}: {text}" if text else name


class _LoopThread:
    """The server's own event loop for ``async def`` handlers (servers started with
    :meth:`Server.start`), on a thread of its own, draining the server's queue of async
    calls (``feed``) when it has one."""

    def __init__(self, feed: Optional[_rpcx.CompletionQueue] = None) -> None:
        self.loop = asyncio.new_event_loop()
        if feed is not None and not feed.closed:
            self.loop.add_reader(feed.fileno(), feed.drain)
        self.thread = threading.Thread(
            target=self._run, name="rpcx-async-handlers", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _cancel_handlers(self) -> None:
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        """Cancels handlers still running (their calls were already answered or abandoned
        by the server), then stops and closes the loop."""
        if self.loop.is_closed():
            return
        if self.thread is not threading.current_thread():
            try:
                asyncio.run_coroutine_threadsafe(self._cancel_handlers(), self.loop).result(2.0)
            except Exception:
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=2.0)
            if not self.thread.is_alive():
                self.loop.close()


class MethodStats(NamedTuple):
    """Call metrics of one method: ``latency_buckets`` are ``(upper bound in seconds,
    cumulative count)`` pairs, the last bound ``inf`` (its count equals ``calls``)."""

    service: str
    method: str
    calls: int
    errors: int
    latency_sum_seconds: float
    latency_buckets: list[tuple[float, int]]


class Server:
    """An rpcx server.

    ``workers`` is the size of the Python thread pool running handlers; ``auth``, if given,
    is called as ``auth(ctx, token)`` (``token`` is the ``__AUTH`` metadata, ``""`` when
    absent) for the first request of each token on each connection, and its answer holds for
    the rest of that connection; it refuses by returning ``False`` or raising (the text
    reaches the caller and the connection is closed, as in Go). ``limits`` bounds what is
    read from clients; ``max_connections``, ``max_inflight_per_conn`` and ``idle_timeout``
    (seconds) tune the core. ``metrics=True`` collects calls, errors and a latency
    histogram per method (:meth:`metrics`, :meth:`metrics_text`). ``tls`` (an
    :class:`~rpcx.TLSConfig` with ``cert_file`` and ``key_file``, and ``ca_file`` for
    mutual TLS) serves TLS. ``reflection=True`` serves Go rpcx's reflection service
    (``Reflection.GetServices`` and ``Reflection.GetService(name)``, as ``rpcx list`` and
    ``rpcx describe`` query it): Go source-like text of every service and method, the
    argument and reply described from the handler's annotations (dataclasses and protobuf
    message classes as Go structs, ``any`` when unannotated).

    **HTTP on the rpcx port.** Every TCP port (``tcp@``, and ``http@``/``ws@``/``wss@``
    addresses, which bind TCP too) also serves, told apart by the first byte of each
    connection: the HTTP gateway (``X-RPCX-*`` headers, the payload as the body;
    ``http_gateway``), JSON-RPC 2.0 (POSTs with ``X-JSONRPC-2.0: true``; ``jsonrpc``), rpcx
    tunnelled in ``CONNECT /_rpcx_`` (clients' ``http@`` addresses; ``http_connect``) and in a
    WebSocket at ``/_rpcx_`` (``ws@``/``wss@``; ``websocket``); each is on by default, ``False``
    turns it off (all off: the port speaks rpcx only). ``cors`` (a
    :class:`~rpcx.CorsOptions`) adds CORS to the gateway and JSON-RPC.
    ``http_request_timeout`` (seconds, default 30) bounds how long an HTTP request's head and
    body may take to arrive, ``http_max_header_bytes`` (default 64 KiB; at least 8 KiB is
    read) and ``http_max_headers`` (default 100) bound its head; request bodies are bounded
    by ``limits.max_frame_len``.

    ``interceptors`` run around every call (see :mod:`rpcx.interceptors`): each may refuse
    a call before its handler runs and add reply metadata. ``plugins`` are
    :class:`~rpcx.IpFilter` (refuses connections by IP) and :class:`~rpcx.RateLimit` (a
    server-wide token bucket on requests) objects.

    Register handlers, then :meth:`start` (or ``await`` :meth:`start_async`); :meth:`stop`
    (or leaving a ``with``/``async with`` block) shuts down gracefully, and
    :meth:`wait_for_termination` waits for that. Servers still running at interpreter exit
    are stopped by an ``atexit`` hook. Handlers may also be registered and unregistered
    while the server runs (:meth:`register`, :meth:`unregister`, :meth:`unregister_all`),
    and :meth:`add_registry` publishes the services in etcd or Consul.

    A handler's exception is logged with its traceback on the ``rpcx`` logger and reaches
    the caller as a :class:`~rpcx.ServiceError` reading ``"<type>: <text>"``; raise
    :class:`~rpcx.ServiceError` to answer with a text of your own.
    """

    def __init__(
        self,
        *,
        workers: Optional[int] = None,
        auth: Optional[Callable[[Context, str], Any]] = None,
        limits: Optional[Limits] = None,
        max_connections: Optional[int] = None,
        max_inflight_per_conn: Optional[int] = None,
        idle_timeout: Optional[float] = None,
        metrics: bool = False,
        max_pending_bytes_per_conn: Optional[int] = None,
        max_pending_bytes: Optional[int] = None,
        tls: Optional[TLSConfig] = None,
        interceptors: Optional[Iterable[Any]] = None,
        plugins: Optional[Iterable[Any]] = None,
        http_gateway: bool = True,
        jsonrpc: bool = True,
        http_connect: bool = True,
        websocket: bool = True,
        cors: Optional[CorsOptions] = None,
        http_request_timeout: Optional[float] = None,
        http_max_header_bytes: Optional[int] = None,
        http_max_headers: Optional[int] = None,
        file_transfer: Optional[_transfer.FileTransferOptions] = None,
        reflection: bool = False,
    ) -> None:
        if workers is None:
            workers = min(32, (os.cpu_count() or 1) + 4)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}")
        if auth is not None and not callable(auth):
            raise TypeError("auth must be callable as auth(ctx, token)")
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError("limits must be an rpcx.Limits")
        self._workers = workers
        self._auth = auth
        self._limits = limits
        self._max_connections = max_connections
        self._max_inflight_per_conn = max_inflight_per_conn
        self._idle_timeout = idle_timeout
        self._metrics = bool(metrics)
        self._max_pending_bytes_per_conn = max_pending_bytes_per_conn
        self._max_pending_bytes = max_pending_bytes
        self._tls = tls_material(tls, "server")
        self._http = _http_options(
            http_gateway=http_gateway,
            jsonrpc=jsonrpc,
            http_connect=http_connect,
            websocket=websocket,
            cors=cors,
            http_request_timeout=http_request_timeout,
            http_max_header_bytes=http_max_header_bytes,
            http_max_headers=http_max_headers,
        )
        if file_transfer is not None and not isinstance(
            file_transfer, _transfer.FileTransferOptions
        ):
            raise TypeError("file_transfer must be an rpcx.FileTransferOptions")
        self._file_transfer = file_transfer
        self._reflection = bool(reflection)
        #: The stream handler and its side listener options (register_stream).
        self._stream: Optional[tuple[Callable[..., Any], _transfer.StreamOptions]] = None
        #: Decides which stream calls get a token (register_stream's acceptor).
        self._stream_acceptor: Optional[Callable[..., Any]] = None
        #: Sockets of the streams whose handlers are running (shut down by stop).
        self._stream_socks: set[socket.socket] = set()
        self._hooks = _ServerHooks(interceptors, _rejection_text)
        self._plugins = list(plugins or ())
        for p in self._plugins:
            if not isinstance(p, (IpFilter, RateLimit)):
                raise TypeError(
                    f"plugins must be rpcx.IpFilter or rpcx.RateLimit objects, got {type(p).__name__}"
                )
        #: Calls whose done-callbacks wait for a cancellation notice, by watch id.
        self._watches: dict[int, _CallState] = {}
        self._watch_ids = 0
        self._methods: dict[tuple[str, str], _Method] = {}
        #: service → registry metadata, until start (then the core keeps it).
        self._metadata: dict[str, str] = {}
        #: Registries added before start.
        self._registries: list[Registry] = []
        #: What a job's index names: methods at start, then those registered later (append
        #: only: a call in flight keeps its entry after an unregister or a replacement).
        self._table: list[_Method] = []
        self._raw: Optional[_rpcx.RawServer] = None
        self._threads: list[threading.Thread] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_thread: Optional[_LoopThread] = None
        #: The queue that hands calls of ``async def`` handlers to the handler loop (no
        #: worker thread in between); none with interceptors, whose hooks run on workers.
        self._feed: Optional[_rpcx.CompletionQueue] = None
        #: The tasks of async handlers fed by it (held until they end).
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._terminated = threading.Event()
        self._on_terminated: list[Callable[[], None]] = []
        self._pid = os.getpid()

    # -- registration -------------------------------------------------------------------

    @overload
    def register(
        self, name: str, func: None = None, *, arg_type: Any = None, meta: Optional[Meta] = None
    ) -> Callable[[F], F]: ...

    @overload
    def register(
        self, name: str, func: F, *, arg_type: Any = None, meta: Optional[Meta] = None
    ) -> F: ...

    def register(
        self,
        name: str,
        func: Optional[F] = None,
        *,
        arg_type: Any = None,
        meta: Optional[Meta] = None,
    ) -> Any:
        """Registers ``func`` as ``"Service.Method"``; usable as a decorator.

        ``func`` is called as ``func(args)`` or ``func(args, ctx)`` (sync or ``async def``).
        The arguments are decoded with the caller's serialization; for PROTOBUF callers into
        ``arg_type`` or the annotation of the first parameter (a message class), for MSGPACK
        and JSON a dataclass annotation turns the map into an instance.

        Works before :meth:`start` and while the server runs (Go's ``Register`` after
        ``Serve``): then requests read from now on reach it, and registries
        (:meth:`add_registry`) publish the service. Registering a name again replaces its
        handler. ``meta`` sets the service's registry metadata, as
        :meth:`set_service_metadata` does (``"weight=2&group=blue"`` or a mapping).
        """
        if not isinstance(name, str) or "." not in name.strip("."):
            raise ValueError(f"name must look like 'Service.Method', got {name!r}")
        service, method = name.rsplit(".", 1)

        def add(f: F) -> F:
            self._add([(service, method, f, arg_type)], meta)
            return f

        return add if func is None else add(func)

    def register_object(
        self,
        service: str,
        obj: Any,
        *,
        arg_types: Optional[Mapping[str, Any]] = None,
        meta: Optional[Meta] = None,
    ) -> list[str]:
        """Registers every public method of ``obj`` (names not starting with ``_``) as
        ``service.<method name>``; returns the names registered. Before or after
        :meth:`start`, with the service's registry metadata ``meta``, as :meth:`register`."""
        if not isinstance(service, str) or not service:
            raise ValueError(f"service must be a non-empty str, got {service!r}")
        found: list[tuple[str, str, Callable[..., Any], Any]] = []
        for attr in dir(obj):
            if attr.startswith("_"):
                continue
            f = getattr(obj, attr)
            if not (inspect.ismethod(f) or inspect.isfunction(f) or inspect.isbuiltin(f)):
                continue
            found.append((service, attr, f, (arg_types or {}).get(attr)))
        if not found:
            raise ValueError(f"{type(obj).__name__} has no public methods to register")
        self._add(found, meta)
        return [attr for _, attr, _, _ in found]

    def set_service_metadata(self, service: str, meta: Meta) -> None:
        """Sets the metadata registries publish for ``service``: a URL query string
        (``"weight=2&group=blue"``; XClients read ``weight``, ``group``, ``state``…) or a
        mapping encoded as one. On a running server the registries rewrite the service's
        key with it."""
        if not isinstance(service, str) or not service:
            raise ValueError(f"service must be a non-empty str, got {service!r}")
        text = _meta_text(meta)
        with self._lock:
            if self._raw is None:
                self._metadata[service] = text
            else:
                self._raw.set_service_metadata(service, text)

    def _add(
        self, entries: list[tuple[str, str, Callable[..., Any], Any]], meta: Optional[Meta]
    ) -> None:
        methods = []
        for service, method, func, arg_type in entries:
            if not callable(func):
                raise TypeError(f"handler for {service}.{method} is not callable")
            if arg_type is None:
                arg_type = _codec.arg_type_of(func)
            arity = _arity(func)
            m = _Method(service, method, func, arity, _is_async(func), arg_type)
            if self._reflection:  # only the reflection service reads it
                m.description = _reflect.describe(func, arg_type, arity)
            methods.append(m)
        text = None if meta is None else _meta_text(meta)
        with self._lock:
            raw = self._raw
            if text is not None:  # first: the registries publish the methods with it
                service = methods[0].service
                if raw is None:
                    self._metadata[service] = text
                else:
                    raw.set_service_metadata(service, text)
            for m in methods:
                if raw is not None:
                    # Its jobs name it by its place in the table: there before they can come.
                    self._table.append(m)
                    if self._reflection:
                        raw.describe(m.service, m.method, *m.description)
                    fed = self._fed(m)
                    if fed and self._loop is None and self._loop_thread is None:
                        # The loop that drains the queue, before the calls can come.
                        self._loop_thread = _LoopThread(self._feed)
                    raw.register(m.service, m.method, len(self._table) - 1, is_async=fed)
                self._methods[(m.service, m.method)] = m

    def unregister(self, service: str) -> bool:
        """Unregisters every method of ``service`` and its metadata; registries delete its
        key. On a running server calls already running finish, and new ones get Go's
        ``rpcx: can't find service <name>``. ``False`` when nothing of it was registered."""
        with self._lock:
            live = None if self._raw is None else self._raw.unregister(service)
            found = self._forget(lambda s: s == service)
            return bool(found) if live is None else live

    def unregister_all(self) -> list[str]:
        """:meth:`unregister` for every service (the server keeps running and takes new
        registrations); returns their names, sorted. Unlike Go's ``UnregisterAll``, which
        only tells the registries, the services also stop answering."""
        with self._lock:
            live = None if self._raw is None else self._raw.unregister_all()
            found = self._forget(lambda s: True)
            return sorted(found) if live is None else live

    def _forget(self, which: Callable[[str], bool]) -> set[str]:
        """Drops the methods and metadata of the services ``which`` selects (lock held)."""
        found = {s for s, _ in self._methods if which(s)} | {
            s for s in self._metadata if which(s)
        }
        self._methods = {k: m for k, m in self._methods.items() if not which(k[0])}
        self._metadata = {s: t for s, t in self._metadata.items() if not which(s)}
        return found

    def add_registry(self, registry: Registry) -> None:
        """Publishes this server's services in a registry (:class:`rpcx.EtcdRegistry`,
        :class:`rpcx.ConsulRegistry`, :class:`rpcx.RedisRegistry`,
        :class:`rpcx.ZookeeperRegistry`), before or after :meth:`start`: every service at
        once, then every registration and unregistration. :meth:`stop` deletes the keys
        (waiting at most 5 s per registry) and closes the registry; a server that dies
        leaves them to expire with the registry's lease or session."""
        if not isinstance(registry, _REGISTRIES):
            raise TypeError(
                "registry must be rpcx.EtcdRegistry, rpcx.ConsulRegistry, rpcx.RedisRegistry "
                f"or rpcx.ZookeeperRegistry, got {type(registry).__name__}"
            )
        with self._lock:
            if self._raw is None:
                if registry.closed:
                    raise RuntimeError("this registry is closed")
                self._registries.append(registry)
            else:
                self._raw.add_registry(registry)

    # -- streams ------------------------------------------------------------------------

    def register_stream(
        self,
        handler: Callable[..., Any],
        options: Optional[_transfer.StreamOptions] = None,
        *,
        acceptor: Optional[Callable[[Context, dict[str, str]], Any]] = None,
    ) -> None:
        """Serves streams (Go's ``StreamService``: ``_streamservice.Stream``) with
        ``handler``, before :meth:`start`. Each accepted stream calls
        ``handler(sock, metadata)`` on a thread of its own, ``sock`` being the connection as
        a blocking :class:`socket.socket` (both ways; closed when the handler returns) and
        ``metadata`` the client's dict. An ``async def`` handler is awaited as
        ``handler(reader, writer, metadata)`` (asyncio streams) on the server's event loop
        (see :meth:`start`/:meth:`start_async`). ``options`` (a
        :class:`~rpcx.StreamOptions`) sets the side listener; :meth:`stop` shuts down the
        streams still open. Exceptions are logged on the ``rpcx`` logger.

        ``acceptor`` (Go's ``StreamAcceptor``) decides which ``Stream`` calls get a token:
        it is called as ``acceptor(ctx, metadata)`` with the call's :class:`~rpcx.Context`
        (the request metadata as ``ctx.metadata``, the caller's address as ``ctx.peer``) and
        the client's stream metadata, on a worker thread of the pool (an ``async def``
        acceptor is awaited on the server's event loop, like ``async def`` handlers). It
        returns ``True`` to accept; ``False``, any other value and an exception (logged on
        the ``rpcx`` logger) refuse, and the client's call fails with Go's error text
        ``server refused the connection``. Without an acceptor every stream is accepted."""
        _transfer._check_handler(handler)
        if acceptor is not None and not callable(acceptor):
            raise TypeError("acceptor must be callable as acceptor(ctx, metadata)")
        if options is None:
            options = _transfer.StreamOptions()
        if not isinstance(options, _transfer.StreamOptions):
            raise TypeError("options must be an rpcx.StreamOptions")
        with self._lock:
            if self._raw is not None:
                raise RuntimeError("register_stream must be called before start")
            self._stream = (handler, options)
            self._stream_acceptor = acceptor

    @property
    def file_transfer_address(self) -> Optional[str]:
        """The file transfer side listener's address as replies give it (``host:port``),
        once started with ``file_transfer``."""
        return None if self._raw is None else self._raw.file_transfer_address

    @property
    def stream_address(self) -> Optional[str]:
        """The stream side listener's address as replies give it (``host:port``), once
        started with a stream handler."""
        return None if self._raw is None else self._raw.stream_address

    def _side_loop(self, raw: _rpcx.RawServer) -> None:
        """The side thread: streams, and uploads and downloads for Python handlers."""
        handler = None if self._stream is None else self._stream[0]
        is_async = handler is not None and _is_async(handler)
        ft = self._file_transfer
        while True:
            job = raw.next_side_job()
            if job is None:
                if raw.stopping:
                    return
                continue
            if isinstance(job, (_rpcx.UploadJob, _rpcx.DownloadJob)):
                if _transfer_async(ft, job):
                    self._schedule_transfer(ft, job)
                    continue
                threading.Thread(
                    target=self._serve_transfer,
                    args=(ft, job),
                    name=f"rpcx-transfer-{job.peer}",
                    daemon=True,
                ).start()
                continue
            if handler is None:  # not registered: cannot happen
                job.done()
                continue
            try:
                sock = _transfer._socket(job.take_fd())
            except Exception:
                log.exception("rpcx: cannot take a stream's connection")
                job.done()
                continue
            with self._lock:
                self._stream_socks.add(sock)
            if is_async:
                loop = self._handler_loop()
                if loop is None:
                    self._stream_over(sock, job)
                    continue
                asyncio.run_coroutine_threadsafe(
                    self._serve_stream_async(handler, sock, job), loop
                )
            else:
                threading.Thread(
                    target=self._serve_stream,
                    args=(handler, sock, job),
                    name=f"rpcx-stream-{job.peer}",
                    daemon=True,
                ).start()

    def _serve_transfer(
        self,
        ft: Optional[_transfer.FileTransferOptions],
        job: Union[_rpcx.UploadJob, _rpcx.DownloadJob],
    ) -> None:
        _serving.set(self)
        kind = "upload" if isinstance(job, _rpcx.UploadJob) else "download"
        try:
            assert ft is not None
            if isinstance(job, _rpcx.UploadJob):
                assert ft.upload_handler is not None
                ft.upload_handler(_transfer.Upload(job))
            else:
                assert ft.download_handler is not None
                ft.download_handler(_transfer.Download(job))
        except Exception as e:
            log.exception("rpcx: %s handler failed (%r from %s)", kind, job.name, job.peer)
            job.finish(_describe(e))
        except BaseException as e:
            job.finish(_describe(e))
            raise
        else:
            job.finish(None)

    def _schedule_transfer(
        self,
        ft: Optional[_transfer.FileTransferOptions],
        job: Union[_rpcx.UploadJob, _rpcx.DownloadJob],
    ) -> None:
        """Runs an ``async def`` upload or download handler on the handler loop."""
        loop = self._handler_loop()
        coro = self._serve_transfer_async(ft, job)
        try:
            if loop is None:
                raise RuntimeError("the server is stopping")
            asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError as e:  # stopping, or the loop is closed
            coro.close()
            job.finish(f"rpcx: cannot run the async handler: {e}")

    async def _serve_transfer_async(
        self,
        ft: Optional[_transfer.FileTransferOptions],
        job: Union[_rpcx.UploadJob, _rpcx.DownloadJob],
    ) -> None:
        _serving.set(self)
        kind = "upload" if isinstance(job, _rpcx.UploadJob) else "download"
        try:
            assert ft is not None
            if isinstance(job, _rpcx.UploadJob):
                assert ft.upload_handler is not None
                await ft.upload_handler(_transfer.Upload(job))
            else:
                assert ft.download_handler is not None
                await ft.download_handler(_transfer.Download(job))
        except asyncio.CancelledError:
            job.finish(f"rpcx: the {kind} handler was cancelled")
        except Exception as e:
            log.exception("rpcx: %s handler failed (%r from %s)", kind, job.name, job.peer)
            job.finish(_describe(e))
        except BaseException as e:
            job.finish(_describe(e))
            raise
        else:
            job.finish(None)

    def _stream_over(self, sock: socket.socket, job: _rpcx.StreamJob) -> None:
        with self._lock:
            self._stream_socks.discard(sock)
        try:
            sock.close()
        finally:
            job.done()

    def _serve_stream(
        self, handler: Callable[..., Any], sock: socket.socket, job: _rpcx.StreamJob
    ) -> None:
        _serving.set(self)
        try:
            handler(sock, job.metadata)
        except Exception:
            log.exception("rpcx: stream handler failed (stream from %s)", job.peer)
        finally:
            self._stream_over(sock, job)

    async def _serve_stream_async(
        self, handler: Callable[..., Any], sock: socket.socket, job: _rpcx.StreamJob
    ) -> None:
        _serving.set(self)
        writer: Optional[asyncio.StreamWriter] = None
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
            await handler(reader, writer, job.metadata)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("rpcx: stream handler failed (stream from %s)", job.peer)
        finally:
            if writer is not None:
                writer.close()
                try:
                    await writer.wait_closed()
                except (Exception, asyncio.CancelledError):
                    pass
            self._stream_over(sock, job)

    def _shut_streams(self) -> None:
        """Shuts down the connections of the streams still open (their handlers see the
        end of the stream or an error)."""
        with self._lock:
            socks = list(self._stream_socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, address: str = "tcp@127.0.0.1:0") -> int:
        """Binds ``address`` (``tcp@host:port``, port 0 for a free one, or
        ``unix@/path``) and starts serving; returns the bound TCP port (0 for Unix
        sockets). ``http@``, ``ws@`` and ``wss@host:port`` bind TCP the same way (every TCP
        port serves rpcx, its tunnels and HTTP): :attr:`address` then reports that form, and
        registries publish it.

        ``async def`` handlers run on the server's own event loop thread, started here and
        stopped by :meth:`stop`, even when called inside a running loop (a blocking call to
        this server from that loop's thread then still works). To run them on the running
        loop instead, use :meth:`start_async`.
        """
        return self._start(address, None)

    async def start_async(self, address: str = "tcp@127.0.0.1:0") -> int:
        """:meth:`start`, with the ``async def`` handlers bound to the running event loop
        (which must keep running while the server serves; stop with :meth:`stop_async`)."""
        return self._start(address, asyncio.get_running_loop())

    def _start(self, address: str, loop: Optional[asyncio.AbstractEventLoop]) -> int:
        if not isinstance(address, str):
            raise TypeError(f"address must be str, got {type(address).__name__}")
        with self._lock:
            if self._raw is not None:
                raise RuntimeError("server already started")
            self._table = list(self._methods.values())
            # Interceptors' hooks run on workers (they may block on the loop): with them,
            # async calls go through the pool as sync ones do.
            self._feed = None if self._hooks else _rpcx.CompletionQueue()
            feed = self._feed
            raw = _rpcx.RawServer.start(
                address,
                [(m.service, m.method) for m in self._table],
                auth=self._auth is not None,
                limits=None if self._limits is None else self._limits.as_tuple(),
                max_connections=self._max_connections,
                max_inflight_per_conn=self._max_inflight_per_conn,
                idle_timeout=self._idle_timeout,
                metrics=self._metrics,
                max_pending_bytes_per_conn=self._max_pending_bytes_per_conn,
                max_pending_bytes=self._max_pending_bytes,
                tls=self._tls,
                metadata=list(self._metadata.items()),
                plugins=self._plugins,
                file_transfer=None if self._file_transfer is None else self._file_transfer._tuple(),
                streams=None if self._stream is None else self._stream[1]._side(),
                stream_acceptor=self._stream is not None and self._stream_acceptor is not None,
                reflection=self._reflection,
                async_queue=feed,
                async_dispatch=None if feed is None else self._dispatch_async,
                async_methods=[i for i, m in enumerate(self._table) if self._fed(m)],
                **self._http,
            )
            try:
                if self._reflection:
                    for m in self._table:
                        raw.describe(m.service, m.method, *m.description)
                for registry in self._registries:
                    raw.add_registry(registry)
            except BaseException:
                raw.close()
                if feed is not None:
                    feed.close()
                raise
            self._registries = []
            self._metadata = {}
            self._raw = raw
            self._pid = os.getpid()
            self._loop = loop
            ft = self._file_transfer
            stream_async = (
                self._stream is not None
                and (
                    _is_async(self._stream[0])
                    or (self._stream_acceptor is not None and _is_async(self._stream_acceptor))
                )
            ) or (
                ft is not None
                and any(
                    h is not None and _is_async(h)
                    for h in (ft.upload_handler, ft.download_handler)
                )
            )
            if loop is None and (stream_async or any(m.is_async for m in self._table)):
                self._loop_thread = _LoopThread(feed)
            elif loop is not None and feed is not None:
                # start_async runs on the loop's thread.
                loop.add_reader(feed.fileno(), feed.drain)
            handlers = ft is not None and (
                ft.upload_handler is not None or ft.download_handler is not None
            )
            if self._stream is not None or handlers:
                t = threading.Thread(
                    target=self._side_loop,
                    args=(raw,),
                    name="rpcx-side",
                    daemon=True,
                )
                t.start()
                self._threads.append(t)
            for i in range(self._workers):
                t = threading.Thread(
                    target=self._work, args=(raw,), name=f"rpcx-handler-{i}", daemon=True
                )
                t.start()
                self._threads.append(t)
            _live.add(self)
            return raw.port

    @property
    def address(self) -> Optional[str]:
        """The bound address (``tcp@127.0.0.1:8972``), once started."""
        return None if self._raw is None else self._raw.address

    @property
    def port(self) -> Optional[int]:
        """The bound TCP port, once started."""
        return None if self._raw is None else self._raw.port

    @property
    def running(self) -> bool:
        return self._raw is not None and not self._raw.stopping

    def metrics_text(self) -> str:
        """The call metrics (calls, errors, latency histogram per service and method) in
        the Prometheus text exposition format, for a ``/metrics`` endpoint. Needs
        ``Server(metrics=True)`` and a started server."""
        text = self._require_started().metrics_text()
        if text is None:
            raise RuntimeError("metrics are off: create the server with rpcx.Server(metrics=True)")
        return text

    def metrics(self) -> list[MethodStats]:
        """The call metrics per method (see :class:`MethodStats`). Needs
        ``Server(metrics=True)`` and a started server."""
        rows = self._require_started().metrics()
        if rows is None:
            raise RuntimeError("metrics are off: create the server with rpcx.Server(metrics=True)")
        return [MethodStats(*row) for row in rows]

    def serve_forever(self) -> None:
        """Blocks until the server stops (from another thread, a handler or a signal
        handler). Ctrl-C raises ``KeyboardInterrupt`` here; leaving the ``with`` block, or
        :meth:`stop`, then shuts down."""
        raw = self._require_started()
        raw.wait_stopped()

    def stop(self, grace: float = 5.0) -> None:
        """Graceful shutdown: stop accepting, let calls in flight finish for up to
        ``grace`` seconds, then close every connection; returns once the server is down.
        Idempotent.

        Called from one of this server's handlers, it cannot wait for the calls in flight
        (its own is one of them): it starts the shutdown and returns at once, and the
        handler's call completes normally. :meth:`wait_for_termination` waits for the end.
        """
        if self._raw is None or self._pid != os.getpid():
            return
        if _serving.get() is self:
            self._stop_in_background(grace)
        else:
            self._stop(grace)

    async def stop_async(self, grace: float = 5.0) -> None:
        """:meth:`stop` without blocking the event loop (which may be running this
        server's ``async def`` handlers)."""
        if self._raw is None or self._pid != os.getpid():
            return
        if _serving.get() is self:
            self._stop_in_background(grace)
            return
        await asyncio.get_running_loop().run_in_executor(None, self._stop, grace)

    def wait_for_termination(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the server has stopped (:meth:`stop` finished, from any thread or
        handler); ``False`` if ``timeout`` seconds passed first. As grpcio's."""
        self._require_started()
        if self._pid != os.getpid():
            return True  # nothing of it runs in a forked child
        return self._terminated.wait(timeout)

    async def wait_for_termination_async(self, timeout: Optional[float] = None) -> bool:
        """:meth:`wait_for_termination` for coroutines: awaits without blocking the loop."""
        self._require_started()
        if self._pid != os.getpid() or self._terminated.is_set():
            return True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(resolve)
            except RuntimeError:  # the loop is closed
                pass

        with self._lock:
            terminated = self._terminated.is_set()
            if not terminated:
                self._on_terminated.append(wake)
        if terminated:
            return True
        try:
            await asyncio.wait_for(done, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                if wake in self._on_terminated:
                    self._on_terminated.remove(wake)

    def _stop_in_background(self, grace: float) -> None:
        threading.Thread(
            target=self._stop, args=(grace,), name="rpcx-server-stop", daemon=True
        ).start()

    def _stop(self, grace: float) -> None:
        raw = self._raw
        if raw is None:
            return
        with self._stop_lock:
            if self._terminated.is_set():
                return
            try:
                raw.stop(float(grace))
            finally:
                self._release()

    def _release(self) -> None:
        _live.discard(self)
        self._shut_streams()
        me = threading.current_thread()
        deadline = time.monotonic() + _JOIN_TIME
        for t in self._threads:
            if t is not me:
                t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._loop_thread is not None:
            self._loop_thread.stop()
            self._loop_thread = None
        self._close_feed()
        with self._lock:
            self._terminated.set()
            waiters, self._on_terminated = self._on_terminated, []
        for wake in waiters:
            wake()

    def _require_started(self) -> _rpcx.RawServer:
        if self._raw is None:
            raise RuntimeError("server not started; call start(address) first")
        return self._raw

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    def __repr__(self) -> str:
        where = self.address or "not started"
        return f"<rpcx.Server {where} methods={len(self._methods)}>"

    # -- the worker pool ----------------------------------------------------------------

    def _work(self, raw: _rpcx.RawServer) -> None:
        while True:
            job = raw.next_job()
            if job is None:
                if raw.stopping:
                    return
                continue
            try:
                if job.is_auth:
                    self._check_auth(job)
                elif job.cancelled_watch is not None:
                    self._on_cancelled(job.cancelled_watch)
                elif job.index < 0:  # neither a call nor an auth check: a stream accept check
                    self._check_accept(job)
                else:
                    self._serve(job)
            except BaseException as e:  # a worker never dies with a call unanswered
                log.error("rpcx: a handler worker failed", exc_info=e)
                job.fail(_describe(e))

    def _check_auth(self, job: _rpcx.Job) -> None:
        assert self._auth is not None
        try:
            ok = self._auth(Context(job.context()), job.token or "")
        except Exception as e:
            # Raising is a documented way to refuse: the text goes out as it is.
            log.debug("rpcx: auth refused with %r", e, exc_info=e)
            job.fail(_error_text(e))
            return
        if ok is False:
            job.fail("rpcx: authentication failed")
        else:
            job.reply(b"")

    def _check_accept(self, job: _rpcx.Job) -> None:
        """Asks the stream acceptor whether a ``Stream`` call gets a token."""
        acceptor = self._stream_acceptor
        meta = job.stream_metadata or {}
        ctx = Context(job.context())
        if acceptor is None:  # cannot happen: the core asks only when one was given
            job.reply(b"")
            return
        if not _is_async(acceptor):
            try:
                ok = acceptor(ctx, meta)
            except Exception as e:
                log.exception("rpcx: stream acceptor failed (stream call from %s)", ctx.peer)
                job.fail(_error_text(e))
                return
            _accept_answer(job, ok, ctx.peer)
            return
        loop = self._handler_loop()
        try:
            if loop is None:
                raise RuntimeError("the server is stopping")
            coro = acceptor(ctx, meta)
            try:
                fut = asyncio.run_coroutine_threadsafe(coro, loop)
            except BaseException:
                coro.close()
                raise
        except Exception as e:
            log.exception("rpcx: stream acceptor failed (stream call from %s)", ctx.peer)
            job.fail(_error_text(e))
            return

        def finished(f: concurrent.futures.Future[Any]) -> None:
            if f.cancelled():
                log.warning("rpcx: stream acceptor cancelled (stream call from %s)", ctx.peer)
                job.fail("rpcx: the stream acceptor was cancelled")
                return
            e = f.exception()
            if e is not None:
                log.error(
                    "rpcx: stream acceptor failed (stream call from %s)", ctx.peer, exc_info=e
                )
                job.fail(_error_text(e))
                return
            _accept_answer(job, f.result(), ctx.peer)

        fut.add_done_callback(finished)

    def _watch(self, job: _rpcx.Job) -> Callable[[_CallState], bool]:
        """Starts a cancellation watch of ``job`` for its call state (when the first done
        callback is added); ``False`` when the call is already over."""

        def start(state: _CallState) -> bool:
            with self._lock:
                self._watch_ids += 1
                watch = self._watch_ids
                self._watches[watch] = state
            def forget() -> None:
                self._forget_watch(watch)

            state.set_stop_watch(forget)
            if job.context().watch_cancel(watch):
                return True
            forget()
            return False

        return start

    def _forget_watch(self, watch: int) -> Optional[_CallState]:
        with self._lock:
            return self._watches.pop(watch, None)

    def _on_cancelled(self, watch: int) -> None:
        state = self._forget_watch(watch)
        if state is not None:
            state.finish()

    def _serve(self, job: _rpcx.Job) -> None:
        if not job.pending:  # the caller left or its deadline passed while the call was queued
            return
        if self._hooks:  # before_call now; after_call when the job is answered
            intercepted = self._hooks.enter(job, Context(job.context()), self._handler_loop)
            if intercepted is None:  # refused
                return
            job = intercepted
        begun = self._begin(job)
        if begun is None:
            return
        m, st, span, state, call_args = begun
        token = _serving.set(self)
        span_token = _otel.attach(span) if span is not None else None
        try:
            result = m.func(*call_args)
        except Exception as e:
            self._fail(job, m, e, span)
            _over(state)
            return
        except BaseException as e:  # SystemExit, KeyboardInterrupt: the worker answers it
            if span is not None:
                _otel.end(span, _describe(e))
            raise
        finally:
            _serving.reset(token)
            if span_token is not None:
                _otel.detach(span_token)
        if inspect.isawaitable(result):
            self._schedule(job, m, st, result, state, span)
            return
        self._reply(job, m, st, result, span)
        _over(state)

    def _begin(
        self, job: _rpcx.Job
    ) -> Optional[tuple[_Method, int, Any, Optional[_CallState], tuple[Any, ...]]]:
        """What a call's handler is run with: its method, the payload's serialize type, the
        server span (OpenTelemetry installed and on; current while the handler runs), the
        call's state (handlers taking a context) and the arguments. ``None`` when the
        arguments did not decode: the call is answered with that error."""
        m = self._table[job.index]
        st = job.serialize_type
        tracer = _otel.tracer() if _otel.enabled else None
        span = (
            _otel.server_start(tracer, m.service, m.method, job.context().metadata)
            if tracer is not None
            else None
        )
        if m.arity == 0:
            args: Any = None
        else:
            try:
                args = _codec.decode(st, job.payload, m.arg_type)
            except Exception as e:  # the caller's mistake, answered to the caller
                log.debug("rpcx: %s.%s: bad arguments: %s", m.service, m.method, e)
                _fail_ended(job, span, _error_text(e))
                return None
        state: Optional[_CallState] = None
        if m.arity == 2:
            state = _CallState(self._watch(job))
            state.ctx = Context(job.context(), state)
            call_args: tuple[Any, ...] = (args, state.ctx)
        else:
            call_args = () if m.arity == 0 else (args,)
        return m, st, span, state, call_args

    def _schedule(
        self,
        job: _rpcx.Job,
        m: _Method,
        st: int,
        aw: Any,
        state: Optional[_CallState],
        span: Any,
    ) -> None:
        """Runs an async handler's awaitable on the handler loop; answers when it ends."""
        loop = self._handler_loop()
        try:
            if loop is None:
                raise RuntimeError("the server is stopping")
            fut = asyncio.run_coroutine_threadsafe(_awaited(aw, self, span), loop)
        except RuntimeError as e:  # the loop is closed
            if inspect.iscoroutine(aw):
                aw.close()
            _fail_ended(job, span, f"rpcx: cannot run async handler: {e}")
            _over(state)
            return

        def finished(f: concurrent.futures.Future[Any]) -> None:
            self._finish(job, m, st, f, span)
            _over(state)

        fut.add_done_callback(finished)

    def _finish(
        self,
        job: _rpcx.Job,
        m: _Method,
        st: int,
        fut: concurrent.futures.Future[Any],
        span: Any,
    ) -> None:
        try:
            result = fut.result()
        except concurrent.futures.CancelledError:
            _fail_ended(job, span, "rpcx: handler was cancelled")
            return
        except BaseException as e:
            self._fail(job, m, e, span)
            return
        self._reply(job, m, st, result, span)

    @staticmethod
    def _fail(job: _rpcx.Job, m: _Method, e: BaseException, span: Any = None) -> None:
        if isinstance(e, ServiceError):  # the handler's own answer: verbatim, not logged
            _fail_ended(job, span, _error_text(e), e.payload or None)
        else:
            log.error("rpcx: handler %s.%s raised %s", m.service, m.method,
                      type(e).__name__, exc_info=e)
            _fail_ended(job, span, _describe(e))

    @staticmethod
    def _reply(job: _rpcx.Job, m: _Method, st: int, result: Any, span: Any = None) -> None:
        try:
            payload = _codec.encode(st, result)
        except Exception as e:
            log.error("rpcx: handler %s.%s returned what cannot be encoded", m.service,
                      m.method, exc_info=e)
            _fail_ended(job, span, f"rpcx: cannot encode reply: {e}")
            return
        if span is not None:  # ended first: a caller holding its reply finds the span ended
            _otel.end(span, None)
        job.reply(payload)

    def _handler_loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The loop of ``start_async``, else the server's own loop thread's (made on first
        use when no handler is ``async def`` but one returned an awaitable); ``None`` once
        the server is stopping."""
        if self._loop is not None:
            return self._loop
        with self._lock:
            if self._loop_thread is None:
                if self._raw is None or self._raw.stopping:
                    return None
                self._loop_thread = _LoopThread(self._feed)
            return self._loop_thread.loop

    # -- async def handlers, fed to their loop ------------------------------------------

    def _fed(self, m: _Method) -> bool:
        """Whether calls of ``m`` go straight to the handler loop's queue."""
        return m.is_async and self._feed is not None

    def _close_feed(self) -> None:
        """Closes the async calls' queue (the calls still queued are dropped: the server
        already failed them), after the loop stopped watching it."""
        feed = self._feed
        if feed is None:
            return
        loop = self._loop
        fd = feed.fileno()

        def close() -> None:
            try:
                if loop is not None and fd >= 0:
                    loop.remove_reader(fd)
            finally:
                feed.close()

        if loop is None or loop.is_closed():
            # The server's own loop (already stopped, its handlers cancelled) or a closed
            # one: tasks still listed never end, let them go.
            feed.close()
            self._tasks.clear()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            close()
            return
        try:
            loop.call_soon_threadsafe(close)
        except RuntimeError:  # closed meanwhile
            feed.close()

    def _feed_loop(self) -> asyncio.AbstractEventLoop:
        """The loop draining the async calls' queue (this thread's; looked up without
        ``asyncio.get_running_loop``, which costs a ``getpid`` per call on Python 3.11)."""
        if self._loop is not None:
            return self._loop
        lt = self._loop_thread
        return lt.loop if lt is not None else asyncio.get_running_loop()

    def _dispatch_async(self, job: _rpcx.Job) -> None:
        """Starts the task of an ``async def`` handler's call (on the loop thread, as its
        queue is drained)."""
        try:
            if not job.pending:  # the caller left or its deadline passed while queued
                return
            begun = self._begin(job)
            if begun is None:
                return
            m, st, span, state, call_args = begun
            try:
                aw = m.func(*call_args)
            except Exception as e:
                self._fail(job, m, e, span)
                _over(state)
                return
            task = self._feed_loop().create_task(self._run_async(job, m, st, aw, state, span))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        except BaseException as e:  # a call is never left unanswered
            log.error("rpcx: dispatching an async handler failed", exc_info=e)
            job.fail(_describe(e))

    async def _run_async(
        self,
        job: _rpcx.Job,
        m: _Method,
        st: int,
        aw: Any,
        state: Optional[_CallState],
        span: Any,
    ) -> None:
        _serving.set(self)  # this task's own context
        try:
            result = await (aw if span is None else _otel.run_in_span(aw, span))
        except asyncio.CancelledError:
            _fail_ended(job, span, "rpcx: handler was cancelled")
        except GeneratorExit:  # the task is collected unfinished (its loop was closed)
            _fail_ended(job, span, "rpcx: handler was cancelled")
            raise
        except BaseException as e:
            self._fail(job, m, e, span)
        else:
            self._reply(job, m, st, result, span)
        finally:
            _over(state)


def _rejection_text(e: BaseException) -> str:
    """The error text of an interceptor's refusal: a ServiceError's own, else the
    exception described."""
    return _error_text(e) if isinstance(e, ServiceError) else _describe(e)


def _over(state: Optional[_CallState]) -> None:
    """The call was answered: runs its done callbacks (when the handler took a context)."""
    if state is not None:
        state.finish()


def _transfer_async(
    ft: Optional[_transfer.FileTransferOptions],
    job: Union[_rpcx.UploadJob, _rpcx.DownloadJob],
) -> bool:
    """Whether the handler of ``job`` is ``async def``."""
    if ft is None:
        return False
    h = ft.upload_handler if isinstance(job, _rpcx.UploadJob) else ft.download_handler
    return h is not None and _is_async(h)


def _accept_answer(job: _rpcx.Job, ok: Any, peer: str) -> None:
    """Answers a stream accept check with the acceptor's result (only ``True`` accepts)."""
    if ok is True:
        job.reply(b"")
        return
    if ok is not False:
        log.error(
            "rpcx: stream acceptor returned %r, not a bool: stream call from %s refused",
            ok,
            peer,
        )
    job.fail("rpcx: stream refused by the acceptor")


def _fail_ended(job: _rpcx.Job, span: Any, text: str, payload: Optional[bytes] = None) -> None:
    """Answers ``job`` with the error ``text`` (and ``payload``, if any), its server span (if
    any) ended with that status first: a caller holding its answer finds the span ended."""
    if span is not None:
        _otel.end(span, text)
    job.fail(text, payload)


async def _awaited(aw: Any, server: Server, span: Any = None) -> Any:
    _serving.set(server)  # this task's own context
    if span is not None:
        return await _otel.run_in_span(aw, span)
    return await aw


@atexit.register
def _stop_all_servers() -> None:
    """Stops servers still running when the interpreter exits, so it exits cleanly."""
    for server in list(_live):
        try:
            server.stop(grace=1.0)
        except BaseException:
            pass
