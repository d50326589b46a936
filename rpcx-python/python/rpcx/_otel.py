"""OpenTelemetry for rpcx calls, on when ``opentelemetry-api`` is installed (it is not a
dependency): a client call runs in a span ``rpcx.client.<Service>.<Method>`` (kind client,
child of the caller's current span) whose context is injected into the request metadata by
the global propagator (W3C ``traceparent``/``tracestate`` by default); a served call runs
in a span ``rpcx.service.<Service>.<Method>`` (kind server, as Go's rpcx-plugins name it)
whose parent is the context extracted from the request metadata, and which is the current
span while the handler runs (sync or ``async def``), so that calls made from the handler are
its children. Attributes ``rpc.system=rpcx``, ``rpc.service``, ``rpc.method``; a failed call
or handler sets the span's status to error with the message the caller gets.

Spans go to whatever tracer provider the application installed; while it has installed none
(the API alone makes no spans and carries no context) calls skip all of it at the cost of
one check. Off with
:func:`rpcx.set_opentelemetry` ``(False)`` or ``RPCX_OTEL=off`` in the environment.
"""

from __future__ import annotations

import os
from typing import Any, Optional

try:  # opentelemetry-api is optional
    from opentelemetry import context as _context
    from opentelemetry import propagate as _propagate
    from opentelemetry import trace as _trace
    from opentelemetry.trace import SpanKind as _SpanKind
    from opentelemetry.trace import Status as _Status
    from opentelemetry.trace import StatusCode as _StatusCode

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised by a subprocess test
    AVAILABLE = False

_INSTRUMENTATION = "rpcx"

#: Whether calls are traced now (read on every call).
enabled: bool = AVAILABLE and os.environ.get("RPCX_OTEL", "on").strip().lower() not in (
    "0",
    "off",
    "false",
    "no",
)


def set_opentelemetry(on: bool) -> bool:
    """Turns the OpenTelemetry integration of every client and server on or off (it is on
    when ``opentelemetry-api`` can be imported, unless ``RPCX_OTEL=off``). Returns whether
    it is on now: turning it on without ``opentelemetry-api`` installed leaves it off."""
    global enabled
    if not isinstance(on, bool):
        raise TypeError(f"set_opentelemetry takes a bool, got {type(on).__name__}")
    enabled = on and AVAILABLE
    return enabled


def opentelemetry_enabled() -> bool:
    """Whether client calls and served calls join the current OpenTelemetry trace."""
    return enabled


def _attributes(service: str, method: str) -> dict[str, str]:
    return {"rpc.system": "rpcx", "rpc.service": service, "rpc.method": method}


def _no_provider_check() -> Any:
    """A cheap test for "no tracer provider installed yet", run before
    ``get_tracer_provider()`` (which looks ``OTEL_PYTHON_TRACER_PROVIDER`` up in the
    environment on every call until a provider is set): the API module's global provider,
    when this version of the API has it and the environment names no provider. Otherwise a
    test that never answers yes, and every call asks the API."""
    if AVAILABLE and hasattr(_trace, "_TRACER_PROVIDER"):
        if "OTEL_PYTHON_TRACER_PROVIDER" not in os.environ:
            return lambda: _trace._TRACER_PROVIDER is None
    return lambda: False


_NO_PROVIDER_YET = _no_provider_check()

#: The tracer of the provider it came from (one per provider, not one per call).
_tracer_of: tuple[Any, Any] = (None, None)


def tracer() -> Any:
    """rpcx's tracer from the global provider, or ``None`` while the application has
    installed none: the API's no-op tracer would make invalid spans that carry no context, so
    a call then skips tracing at the cost of this check."""
    global _tracer_of
    if _NO_PROVIDER_YET():
        return None
    provider = _trace.get_tracer_provider()
    if isinstance(provider, _trace.ProxyTracerProvider):
        return None
    if _tracer_of[0] is not provider:
        _tracer_of = (provider, provider.get_tracer(_INSTRUMENTATION))
    return _tracer_of[1]


def client_start(
    tracer: Any, service: str, method: str, metadata: Optional[dict[str, str]]
) -> tuple[Any, Optional[dict[str, str]]]:
    """Starts a client span (child of the current context) and returns it with the request
    metadata carrying its context (a new dict; the caller's is not changed)."""
    span = tracer.start_span(
        f"rpcx.client.{service}.{method}",
        kind=_SpanKind.CLIENT,
        attributes=_attributes(service, method),
    )
    carrier: dict[str, str] = dict(metadata) if metadata else {}
    _propagate.inject(carrier, context=_trace.set_span_in_context(span))
    return span, (carrier or None)


def end(span: Any, error: Optional[object]) -> None:
    """Ends a span; a non-``None`` ``error`` (an exception or the error text) marks it
    failed with that message."""
    if error is not None:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        span.set_status(_Status(_StatusCode.ERROR, message))
    span.end()


def server_start(tracer: Any, service: str, method: str, metadata: dict[str, str]) -> Any:
    """Starts the server span of a served call, child of the context in its metadata."""
    return tracer.start_span(
        f"rpcx.service.{service}.{method}",
        context=_propagate.extract(metadata),
        kind=_SpanKind.SERVER,
        attributes=_attributes(service, method),
    )


def attach(span: Any) -> object:
    """Makes ``span`` current in this thread or task; pass the token to :func:`detach`."""
    return _context.attach(_trace.set_span_in_context(span))


def detach(token: object) -> None:
    _context.detach(token)  # type: ignore[arg-type]


async def run_in_span(aw: Any, span: Any) -> Any:
    """Awaits ``aw`` with ``span`` current (in the task that runs this coroutine)."""
    token = attach(span)
    try:
        return await aw
    finally:
        detach(token)
