"""The rpcx server: Python functions and objects served on the Rust core.

Calls arrive on the Rust runtime and wait in a queue; a pool of Python threads (``workers``)
takes them, decodes the arguments with the caller's serialization, runs the handler and
encodes the reply. ``async def`` handlers run on the event loop that started the server (or,
when it was started outside any loop, on a private loop thread).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import dataclasses
import inspect
import os
import threading
import weakref
from typing import Any, Callable, Mapping, NamedTuple, Optional, TypeVar, overload

from . import _codec, _rpcx
from ._rpcx import Context
from .errors import ServiceError
from .limits import Limits

__all__ = ["Server", "Context"]

F = TypeVar("F", bound=Callable[..., Any])

_live: weakref.WeakSet[Server] = weakref.WeakSet()


@dataclasses.dataclass
class _Method:
    service: str
    method: str
    func: Callable[..., Any]
    arity: int  # 0: f(), 1: f(args), 2: f(args, ctx)
    is_async: bool
    arg_type: Any


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


def _error_text(e: BaseException) -> str:
    return str(e) or type(e).__name__


class _LoopThread:
    """A private event loop for ``async def`` handlers of a server started outside a loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
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
    is called as ``auth(ctx, token)`` for every request (``token`` is the ``__AUTH``
    metadata, ``""`` when absent) and refuses it by returning ``False`` or raising (the text
    reaches the caller and the connection is closed, as in Go). ``limits`` bounds what is
    read from clients; ``max_connections``, ``max_inflight_per_conn`` and ``idle_timeout``
    (seconds) tune the core. ``metrics=True`` collects calls, errors and a latency
    histogram per method (:meth:`metrics`, :meth:`metrics_text`).

    Register handlers, then :meth:`start`; :meth:`stop` (or leaving a ``with``/``async
    with`` block) shuts down gracefully. Servers still running at interpreter exit are
    stopped by an ``atexit`` hook.
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
        self._methods: dict[tuple[str, str], _Method] = {}
        self._table: list[_Method] = []
        self._raw: Optional[_rpcx.RawServer] = None
        self._threads: list[threading.Thread] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_thread: Optional[_LoopThread] = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    # -- registration -------------------------------------------------------------------

    @overload
    def register(self, name: str, func: None = None, *, arg_type: Any = None) -> Callable[[F], F]: ...

    @overload
    def register(self, name: str, func: F, *, arg_type: Any = None) -> F: ...

    def register(self, name: str, func: Optional[F] = None, *, arg_type: Any = None) -> Any:
        """Registers ``func`` as ``"Service.Method"``; usable as a decorator.

        ``func`` is called as ``func(args)`` or ``func(args, ctx)`` (sync or ``async def``).
        The arguments are decoded with the caller's serialization; for PROTOBUF callers into
        ``arg_type`` or the annotation of the first parameter (a message class), for MSGPACK
        and JSON a dataclass annotation turns the map into an instance.
        """
        if not isinstance(name, str) or "." not in name.strip("."):
            raise ValueError(f"name must look like 'Service.Method', got {name!r}")
        service, method = name.rsplit(".", 1)

        def add(f: F) -> F:
            self._add(service, method, f, arg_type)
            return f

        return add if func is None else add(func)

    def register_object(
        self, service: str, obj: Any, *, arg_types: Optional[Mapping[str, Any]] = None
    ) -> list[str]:
        """Registers every public method of ``obj`` (names not starting with ``_``) as
        ``service.<method name>``; returns the names registered."""
        if not isinstance(service, str) or not service:
            raise ValueError(f"service must be a non-empty str, got {service!r}")
        names = []
        for attr in dir(obj):
            if attr.startswith("_"):
                continue
            f = getattr(obj, attr)
            if not (inspect.ismethod(f) or inspect.isfunction(f) or inspect.isbuiltin(f)):
                continue
            self._add(service, attr, f, (arg_types or {}).get(attr))
            names.append(attr)
        if not names:
            raise ValueError(f"{type(obj).__name__} has no public methods to register")
        return names

    def _add(self, service: str, method: str, func: Callable[..., Any], arg_type: Any) -> None:
        if not callable(func):
            raise TypeError(f"handler for {service}.{method} is not callable")
        if self._raw is not None:
            raise RuntimeError("register handlers before start()")
        if arg_type is None:
            arg_type = _codec.arg_type_of(func)
        self._methods[(service, method)] = _Method(
            service, method, func, _arity(func), _is_async(func), arg_type
        )

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, address: str = "tcp@127.0.0.1:0") -> int:
        """Binds ``address`` (``tcp@host:port``, port 0 for a free one, or
        ``unix@/path``) and starts serving; returns the bound TCP port (0 for Unix
        sockets)."""
        if not isinstance(address, str):
            raise TypeError(f"address must be str, got {type(address).__name__}")
        with self._lock:
            if self._raw is not None:
                raise RuntimeError("server already started")
            if not self._methods:
                raise RuntimeError("no handlers registered")
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = None
            self._table = list(self._methods.values())
            raw = _rpcx.RawServer.start(
                address,
                [(m.service, m.method) for m in self._table],
                auth=self._auth is not None,
                limits=None if self._limits is None else self._limits.as_tuple(),
                max_connections=self._max_connections,
                max_inflight_per_conn=self._max_inflight_per_conn,
                idle_timeout=self._idle_timeout,
                metrics=self._metrics,
            )
            self._raw = raw
            self._pid = os.getpid()
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
        ``grace`` seconds, then close every connection. Idempotent."""
        raw = self._raw
        if raw is None or self._pid != os.getpid():
            return
        try:
            raw.stop(float(grace))
        finally:
            self._release(grace)

    async def stop_async(self, grace: float = 5.0) -> None:
        """:meth:`stop` without blocking the event loop (which may be running this
        server's ``async def`` handlers)."""
        await asyncio.get_running_loop().run_in_executor(None, self.stop, grace)

    def _release(self, grace: float) -> None:
        _live.discard(self)
        me = threading.current_thread()
        for t in self._threads:
            if t is not me:
                t.join(timeout=0.5)
        self._threads = [t for t in self._threads if t.is_alive()]
        if self._loop_thread is not None:
            self._loop_thread.stop()
            self._loop_thread = None

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
                else:
                    self._serve(job)
            except BaseException as e:  # a worker never dies with a call unanswered
                job.fail(_error_text(e))

    def _check_auth(self, job: _rpcx.Job) -> None:
        assert self._auth is not None
        try:
            ok = self._auth(job.context(), job.token or "")
        except Exception as e:
            job.fail(_error_text(e))
            return
        if ok is False:
            job.fail("rpcx: authentication failed")
        else:
            job.reply(b"")

    def _serve(self, job: _rpcx.Job) -> None:
        if not job.pending:  # the caller's deadline passed while the call was queued
            return
        m = self._table[job.index]
        st = job.serialize_type
        if m.arity == 0:
            args: Any = None
        else:
            try:
                args = _codec.decode(st, job.payload, m.arg_type)
            except Exception as e:
                job.fail(_error_text(e))
                return
        call_args: tuple[Any, ...] = () if m.arity == 0 else (args,) if m.arity == 1 else (args, job.context())
        try:
            result = m.func(*call_args)
        except Exception as e:
            self._fail(job, e)
            return
        if inspect.isawaitable(result):
            loop = self._handler_loop()
            try:
                fut = asyncio.run_coroutine_threadsafe(_awaited(result), loop)
            except RuntimeError as e:  # the loop is closed
                job.fail(f"rpcx: cannot run async handler: {e}")
                return
            fut.add_done_callback(lambda f: self._finish(job, st, f))
            return
        self._reply(job, st, result)

    def _finish(self, job: _rpcx.Job, st: int, fut: concurrent.futures.Future[Any]) -> None:
        try:
            result = fut.result()
        except concurrent.futures.CancelledError:
            job.fail("rpcx: handler was cancelled")
            return
        except BaseException as e:
            self._fail(job, e)
            return
        self._reply(job, st, result)

    @staticmethod
    def _fail(job: _rpcx.Job, e: BaseException) -> None:
        if isinstance(e, ServiceError) and e.payload:
            job.fail(_error_text(e), e.payload)
        else:
            job.fail(_error_text(e))

    @staticmethod
    def _reply(job: _rpcx.Job, st: int, result: Any) -> None:
        try:
            payload = _codec.encode(st, result)
        except Exception as e:
            job.fail(f"rpcx: cannot encode reply: {e}")
            return
        job.reply(payload)

    def _handler_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None and not self._loop.is_closed():
            return self._loop
        with self._lock:
            if self._loop_thread is None:
                self._loop_thread = _LoopThread()
            return self._loop_thread.loop


async def _awaited(aw: Any) -> Any:
    return await aw


@atexit.register
def _stop_all_servers() -> None:
    """Stops servers still running when the interpreter exits, so it exits cleanly."""
    for server in list(_live):
        try:
            server.stop(grace=1.0)
        except BaseException:
            pass
