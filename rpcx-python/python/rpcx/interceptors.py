"""Interceptors: hooks around calls, as Go's rpcx plugins (``PreCall``/``PostCall`` on the
client, ``PreCall``/``PostCall`` on the server).

A **server interceptor** sees every call before its handler runs — its :class:`~rpcx.Context`
(service, method, metadata, peer) — and may refuse it by raising (a
:class:`~rpcx.ServiceError`'s text goes to the caller verbatim, other exceptions as
``"<type>: <text>"``); after the handler it sees the error text the caller receives (``None``
on success). Both hooks may add reply metadata with ``ctx.set_reply_meta``. They run on the
server's worker thread, in the same visit as the call; ``async def`` hooks run on the
server's handler loop (the worker waits for them, or — after an ``async def`` handler — the
loop runs them before the answer goes out).

A **client interceptor** sees every call before it is handed to the core — a
:class:`ClientCall` whose ``metadata`` it may change (trace ids, tokens) — and may refuse it
by raising: the exception reaches the caller as it is, and nothing is sent. After the call
it sees the exception (``None`` on success; ``call.reply_metadata`` then holds the response
metadata). Hooks run on the caller's thread (for :class:`~rpcx.AsyncClient` and
:class:`~rpcx.AsyncXClient`, in the calling task, where ``async def`` hooks are awaited);
blocking clients take plain functions only.

For both, ``before_call`` hooks run in the order given and the first refusal stops the
call; ``after_call`` then runs for every interceptor whose ``before_call`` ran (the refusing
one included), in the same order. An exception raised by ``after_call`` is logged on the
``rpcx`` logger and does not change the call's outcome.

An interceptor is an object with ``before_call`` and/or ``after_call`` methods (subclass
:class:`ServerInterceptor` / :class:`ClientInterceptor` to inherit no-op defaults), or a
plain callable, used as ``before_call``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Iterable, Optional, TypeVar

from . import _otel
from ._rpcx import IpFilter, RateLimit

__all__ = [
    "ClientCall",
    "ClientInterceptor",
    "IpFilter",
    "RateLimit",
    "ServerInterceptor",
]

log = logging.getLogger("rpcx")

T = TypeVar("T")

#: A hook: ``before_call(x)`` or ``after_call(x, error)``, sync or ``async def``.
_Hook = Callable[..., Any]


class ClientCall:
    """A call as a client interceptor sees it. ``metadata`` is the request metadata, a dict
    the ``before_call`` hooks may change; ``reply_metadata`` is set after a successful call.
    ``kind`` is ``"call"``, ``"oneway"``, ``"broadcast"``, ``"fork"`` or ``"inform"``; ``address`` is the
    :class:`~rpcx.Client`'s server address, ``None`` for an XClient (its server is chosen
    later, per attempt)."""

    __slots__ = ("service", "method", "metadata", "kind", "address", "reply_metadata")

    def __init__(
        self,
        service: str,
        method: str,
        metadata: Optional[dict[str, str]],
        kind: str,
        address: Optional[str],
    ) -> None:
        self.service = service
        self.method = method
        self.metadata: dict[str, str] = dict(metadata or {})
        self.kind = kind
        self.address = address
        self.reply_metadata: Optional[dict[str, str]] = None

    @property
    def oneway(self) -> bool:
        """``True`` for a oneway send (no reply comes back)."""
        return self.kind == "oneway"

    def __repr__(self) -> str:
        return f"<rpcx.ClientCall {self.kind} {self.service}.{self.method}>"


class ClientInterceptor:
    """Base class of client interceptors: override either hook (each may be ``async def``
    for the asyncio clients)."""

    def before_call(self, call: ClientCall) -> Any:
        """Before the call: change ``call.metadata``, or raise to refuse the call."""

    def after_call(self, call: ClientCall, error: Optional[BaseException]) -> Any:
        """After the call: ``error`` is its exception, ``None`` on success."""


class ServerInterceptor:
    """Base class of server interceptors: override either hook (each may be
    ``async def``)."""

    def before_call(self, ctx: Any) -> Any:
        """Before the handler: raise to refuse the call; ``ctx.set_reply_meta`` adds reply
        metadata."""

    def after_call(self, ctx: Any, error: Optional[str]) -> Any:
        """After the handler: ``error`` is the error text the caller receives, ``None`` on
        success."""


def _hooks_of(obj: Any) -> tuple[Optional[_Hook], Optional[_Hook]]:
    before = getattr(obj, "before_call", None)
    after = getattr(obj, "after_call", None)
    if before is None and after is None:
        if callable(obj):
            return obj, None
        raise TypeError(
            "an interceptor needs before_call/after_call methods or must be callable, got "
            f"{type(obj).__name__}"
        )
    for h in (before, after):
        if h is not None and not callable(h):
            raise TypeError(f"{type(obj).__name__}.before_call/after_call must be callable")
    return before, after


def _is_async(f: Optional[_Hook]) -> bool:
    return f is not None and (
        inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(getattr(f, "__call__", None))
    )


class _Hooks:
    """The interceptors of one client or server: ``(before, after)`` pairs, in order."""

    def __init__(self, interceptors: Optional[Iterable[Any]]) -> None:
        if interceptors is None:
            interceptors = ()
        if isinstance(interceptors, (str, bytes)) or not isinstance(interceptors, Iterable):
            raise TypeError("interceptors must be a list of interceptors")
        self.pairs = [_hooks_of(i) for i in interceptors]
        self.has_async = any(_is_async(h) for pair in self.pairs for h in pair)

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def _after_failed(self, e: BaseException) -> None:
        log.error("rpcx: an interceptor's after_call raised", exc_info=e)


class _ClientHooks(_Hooks):
    def __init__(self, interceptors: Optional[Iterable[Any]], *, allow_async: bool) -> None:
        super().__init__(interceptors)
        if self.has_async and not allow_async:
            raise TypeError(
                "async def interceptor hooks need an asyncio client (AsyncClient, AsyncXClient)"
            )

    def idle(self, metadata: Optional[dict[str, str]]) -> bool:
        """True when :meth:`run` would only call ``send(metadata)``: no interceptors, and no
        client span to start (OpenTelemetry off, no tracer provider installed, or the caller
        already set a ``traceparent``)."""
        if self.pairs:
            return False
        return (
            not _otel.enabled
            or _otel.tracer() is None
            or bool(metadata and "traceparent" in metadata)
        )

    def run(
        self,
        service: str,
        method: str,
        metadata: Optional[dict[str, str]],
        kind: str,
        address: Optional[str],
        send: Callable[[Optional[dict[str, str]]], T],
    ) -> T:
        """``send(metadata)`` between the hooks (at once when there are none), in a client
        span when OpenTelemetry is on (:mod:`rpcx._otel`)."""
        tracer = _otel.tracer() if _otel.enabled else None
        if tracer is None or (metadata and "traceparent" in metadata):
            return self._run(service, method, metadata, kind, address, send)
        span, metadata = _otel.client_start(tracer, service, method, metadata)
        try:
            result = self._run(service, method, metadata, kind, address, send)
        except BaseException as e:
            _otel.end(span, e)
            raise
        _otel.end(span, None)
        return result

    def _run(
        self,
        service: str,
        method: str,
        metadata: Optional[dict[str, str]],
        kind: str,
        address: Optional[str],
        send: Callable[[Optional[dict[str, str]]], T],
    ) -> T:
        if not self.pairs:
            return send(metadata)
        call = ClientCall(service, method, metadata, kind, address)
        ran = 0
        try:
            for before, _ in self.pairs:
                ran += 1
                if before is not None:
                    before(call)
            result = send(call.metadata or None)
        except BaseException as e:
            self._after(ran, call, e)
            raise
        if isinstance(result, tuple):
            call.reply_metadata = result[1]
        self._after(ran, call, None)
        return result

    def _after(self, ran: int, call: ClientCall, error: Optional[BaseException]) -> None:
        for _, after in self.pairs[:ran]:
            if after is not None:
                try:
                    after(call, error)
                except Exception as e:
                    self._after_failed(e)

    async def arun(
        self,
        service: str,
        method: str,
        metadata: Optional[dict[str, str]],
        kind: str,
        address: Optional[str],
        send: Callable[[Optional[dict[str, str]]], Awaitable[T]],
    ) -> T:
        """:meth:`run` for the asyncio clients: ``async def`` hooks are awaited."""
        tracer = _otel.tracer() if _otel.enabled else None
        if tracer is None or (metadata and "traceparent" in metadata):
            return await self._arun(service, method, metadata, kind, address, send)
        span, metadata = _otel.client_start(tracer, service, method, metadata)
        try:
            result = await self._arun(service, method, metadata, kind, address, send)
        except BaseException as e:
            _otel.end(span, e)
            raise
        _otel.end(span, None)
        return result

    async def _arun(
        self,
        service: str,
        method: str,
        metadata: Optional[dict[str, str]],
        kind: str,
        address: Optional[str],
        send: Callable[[Optional[dict[str, str]]], Awaitable[T]],
    ) -> T:
        if not self.pairs:
            return await send(metadata)
        call = ClientCall(service, method, metadata, kind, address)
        ran = 0
        try:
            for before, _ in self.pairs:
                ran += 1
                if before is not None:
                    r = before(call)
                    if inspect.isawaitable(r):
                        await r
            result = await send(call.metadata or None)
        except BaseException as e:
            await self._aafter(ran, call, e)
            raise
        if isinstance(result, tuple):
            call.reply_metadata = result[1]
        await self._aafter(ran, call, None)
        return result

    async def _aafter(self, ran: int, call: ClientCall, error: Optional[BaseException]) -> None:
        for _, after in self.pairs[:ran]:
            if after is not None:
                try:
                    r = after(call, error)
                    if inspect.isawaitable(r):
                        await r
                except Exception as e:
                    self._after_failed(e)


class _ServerHooks(_Hooks):
    """Server interceptors, run by :meth:`enter` around one job of the worker pool."""

    def __init__(
        self, interceptors: Optional[Iterable[Any]], rejection: Callable[[BaseException], str]
    ) -> None:
        super().__init__(interceptors)
        #: The error text a refusing exception sends (the server's own rule).
        self.rejection = rejection

    def enter(
        self,
        job: Any,
        ctx: Any,
        loop: Callable[[], Optional[asyncio.AbstractEventLoop]],
    ) -> Optional[Any]:
        """Runs the ``before_call`` hooks on this (worker) thread. Returns the job wrapped so
        that answering it runs the ``after_call`` hooks first, or ``None`` when a hook
        refused the call (it is then answered with the refusal)."""
        wrapped = _InterceptedJob(job, ctx, self, loop)
        for before, _ in self.pairs:
            wrapped.ran += 1
            if before is None:
                continue
            try:
                r = before(ctx)
                if inspect.isawaitable(r):
                    _await_on(loop(), r)
            except Exception as e:
                log.debug("rpcx: an interceptor refused %s.%s: %r", ctx.service, ctx.method, e)
                wrapped.fail(self.rejection(e))
                return None
        return wrapped


def _await_on(loop: Optional[asyncio.AbstractEventLoop], aw: Any) -> Any:
    """Runs an awaitable on the handler loop from a worker thread and waits for it."""
    if loop is None:
        if inspect.iscoroutine(aw):
            aw.close()
        raise RuntimeError("rpcx: the server is stopping")
    return asyncio.run_coroutine_threadsafe(_awaited(aw), loop).result()


async def _awaited(aw: Any) -> Any:
    return await aw


class _InterceptedJob:
    """A job whose answer first runs the ``after_call`` hooks of the interceptors whose
    ``before_call`` ran; everything else is the job's."""

    def __init__(
        self,
        job: Any,
        ctx: Any,
        hooks: _ServerHooks,
        loop: Callable[[], Optional[asyncio.AbstractEventLoop]],
    ) -> None:
        self._job = job
        self._ctx = ctx
        self._hooks = hooks
        self._loop = loop
        self._answered = False
        self.ran = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def reply(self, payload: bytes) -> bool:
        return self._answer(None, lambda: self._job.reply(payload))

    def fail(self, message: str, payload: Optional[bytes] = None) -> bool:
        if payload is None:
            return self._answer(message, lambda: self._job.fail(message))
        return self._answer(message, lambda: self._job.fail(message, payload))

    def _answer(self, error: Optional[str], forward: Callable[[], bool]) -> bool:
        if self._answered:
            return bool(forward())
        self._answered = True
        afters = [a for _, a in self._hooks.pairs[: self.ran] if a is not None]
        if not any(_is_async(a) for a in afters):
            self._run_afters(afters, error)
            return bool(forward())
        loop = self._loop()
        try:
            running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is loop:
            # An async handler's completion, on the loop's thread: the answer goes out once
            # the hooks have run.
            async def then_answer() -> None:
                await self._arun_afters(afters, error)
                forward()

            loop.create_task(then_answer())
            return True
        try:
            _await_on(loop, self._arun_afters(afters, error))
        except RuntimeError as e:
            log.warning("rpcx: interceptors' after_call skipped: %s", e)
        return bool(forward())

    def _run_afters(self, afters: list[_Hook], error: Optional[str]) -> None:
        for after in afters:
            try:
                after(self._ctx, error)
            except Exception as e:
                self._hooks._after_failed(e)

    async def _arun_afters(self, afters: list[_Hook], error: Optional[str]) -> None:
        for after in afters:
            try:
                r = after(self._ctx, error)
                if inspect.isawaitable(r):
                    await r
            except Exception as e:
                self._hooks._after_failed(e)
