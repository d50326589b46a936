"""OpenTelemetry in the Python binding: with opentelemetry-api installed, client calls and
served calls join the current trace (W3C traceparent in the request metadata, as Go's
rpcxio/rpcx-plugins otel plugins carry it), with spans named and attributed as Go names
them; ``rpcx.set_opentelemetry(False)`` turns it off; without the API installed nothing
changes. Spans are collected by the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

import rpcx

from conftest import REPO, build_example, run_python

otel_trace = pytest.importorskip("opentelemetry.trace")
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

_EXPORTER = InMemorySpanExporter()


class _WhileRecording(SimpleSpanProcessor):
    """Exports only while a test of this module runs: the provider stays installed for the
    rest of the session, whose spans are not kept."""

    recording = False

    def on_end(self, span: ReadableSpan) -> None:
        if _WhileRecording.recording:
            super().on_end(span)


_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(_WhileRecording(_EXPORTER))


def _install_provider() -> None:
    """The global tracer provider can be set once per process: this module's, with the
    in-memory exporter (a provider set by someone else first would not see our spans)."""
    if otel_trace.get_tracer_provider() is not _PROVIDER:
        otel_trace.set_tracer_provider(_PROVIDER)
    if otel_trace.get_tracer_provider() is not _PROVIDER:
        pytest.fail("another global tracer provider was installed first")


@pytest.fixture(scope="module", autouse=True)
def _untraced_afterwards() -> Iterator[None]:
    """The global tracer provider cannot be uninstalled: the tests after this module run
    with rpcx's integration off, as they ran before it (their metadata stays their own)."""
    yield
    rpcx.set_opentelemetry(False)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _install_provider()
    assert rpcx.set_opentelemetry(True)
    _EXPORTER.clear()
    _WhileRecording.recording = True
    yield _EXPORTER
    _WhileRecording.recording = False
    _EXPORTER.clear()
    rpcx.set_opentelemetry(True)


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def _by_name(spans: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    got: dict[str, ReadableSpan] = {}
    for s in spans.get_finished_spans():
        assert s.name not in got, f"two spans named {s.name}"
        got[s.name] = s
    return got


def _server() -> rpcx.Server:
    server = rpcx.Server()

    @server.register("Trace.Seen")
    def seen(_: Any, ctx: rpcx.Context) -> dict[str, Any]:
        sc = otel_trace.get_current_span().get_span_context()
        return {
            "traceparent": ctx.metadata.get("traceparent"),
            "current_trace": _hex(sc.trace_id, 32),
            "current_span": _hex(sc.span_id, 16),
        }

    @server.register("Trace.AsyncSeen")
    async def async_seen(_: Any, ctx: rpcx.Context) -> dict[str, Any]:
        await asyncio.sleep(0)
        sc = otel_trace.get_current_span().get_span_context()
        return {
            "traceparent": ctx.metadata.get("traceparent"),
            "current_trace": _hex(sc.trace_id, 32),
            "current_span": _hex(sc.span_id, 16),
        }

    @server.register("Trace.Fail")
    def fail(message: str) -> None:
        raise rpcx.ServiceError(message)

    @server.register("Trace.AsyncNested")
    async def async_nested(_: Any) -> Any:
        async with rpcx.AsyncClient(server.address or "") as c:
            return await c.call("Trace", "AsyncSeen", None)

    @server.register("Trace.Nested")
    def nested(_: Any) -> Any:
        # A call made inside a handler is a child of the handler's server span.
        with rpcx.Client(server.address or "") as c:
            return c.call("Trace", "Seen", None)

    server.start("tcp@127.0.0.1:0")
    return server


@pytest.fixture
def traced_server() -> Iterator[rpcx.Server]:
    server = _server()
    yield server
    server.stop()


def _check_pair(spans: InMemorySpanExporter, method: str, reply: dict[str, Any]) -> None:
    got = _by_name(spans)
    client = got[f"rpcx.client.Trace.{method}"]
    server = got[f"rpcx.service.Trace.{method}"]
    assert client.kind == SpanKind.CLIENT and server.kind == SpanKind.SERVER
    cc, sc = client.get_span_context(), server.get_span_context()
    assert sc.trace_id == cc.trace_id, "one trace"
    assert server.parent is not None and server.parent.span_id == cc.span_id
    assert server.parent.is_remote
    for s in (client, server):
        assert s.attributes is not None
        assert dict(s.attributes) == {
            "rpc.system": "rpcx",
            "rpc.service": "Trace",
            "rpc.method": method,
        }
        assert s.status.status_code != StatusCode.ERROR
    # What went on the wire, and the span current inside the handler.
    flags = _hex(int(cc.trace_flags), 2)
    assert reply["traceparent"] == f"00-{_hex(cc.trace_id, 32)}-{_hex(cc.span_id, 16)}-{flags}"
    assert reply["current_trace"] == _hex(sc.trace_id, 32)
    assert reply["current_span"] == _hex(sc.span_id, 16)


def test_sync_call_and_handler_share_a_trace(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    tracer = otel_trace.get_tracer("test")
    with tracer.start_as_current_span("caller") as caller:
        with rpcx.Client(traced_server.address or "") as c:
            reply = c.call("Trace", "Seen", None)
    _check_pair(spans, "Seen", reply)
    client = _by_name(spans)["rpcx.client.Trace.Seen"]
    assert client.parent is not None
    assert client.parent.span_id == caller.get_span_context().span_id


def test_async_client_and_async_handler_share_a_trace(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    async def main() -> dict[str, Any]:
        async with rpcx.AsyncClient(traced_server.address or "") as c:
            return await c.call("Trace", "AsyncSeen", None)

    reply = asyncio.run(main())
    _check_pair(spans, "AsyncSeen", reply)


def test_xclient_calls_are_traced(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    with rpcx.XClient("Trace", rpcx.Peer(traced_server.address or "")) as xc:
        reply = xc.call("Seen", None)
    _check_pair(spans, "Seen", reply)


def test_a_call_inside_a_handler_is_its_child(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    with rpcx.Client(traced_server.address or "") as c:
        c.call("Trace", "Nested", None)
    got = _by_name(spans)
    outer = got["rpcx.service.Trace.Nested"]
    inner_client = got["rpcx.client.Trace.Seen"]
    inner_server = got["rpcx.service.Trace.Seen"]
    trace_id = got["rpcx.client.Trace.Nested"].get_span_context().trace_id
    assert {s.get_span_context().trace_id for s in got.values()} == {trace_id}
    assert inner_client.parent is not None
    assert inner_client.parent.span_id == outer.get_span_context().span_id
    assert inner_server.parent is not None
    assert inner_server.parent.span_id == inner_client.get_span_context().span_id


def test_an_async_handlers_calls_are_its_children(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    async def main() -> Any:
        async with rpcx.AsyncClient(traced_server.address or "") as c:
            return await c.call("Trace", "AsyncNested", None)

    reply = asyncio.run(main())
    got = _by_name(spans)
    outer = got["rpcx.service.Trace.AsyncNested"]
    inner_client = got["rpcx.client.Trace.AsyncSeen"]
    inner_server = got["rpcx.service.Trace.AsyncSeen"]
    assert inner_client.parent is not None
    assert inner_client.parent.span_id == outer.get_span_context().span_id
    assert inner_server.parent is not None
    assert inner_server.parent.span_id == inner_client.get_span_context().span_id
    assert reply["current_span"] == _hex(inner_server.get_span_context().span_id, 16)


def test_errors_mark_both_spans(spans: InMemorySpanExporter, traced_server: rpcx.Server) -> None:
    with rpcx.Client(traced_server.address or "") as c:
        with pytest.raises(rpcx.RpcError, match="no such order"):
            c.call("Trace", "Fail", "no such order")
    got = _by_name(spans)
    server, client = got["rpcx.service.Trace.Fail"], got["rpcx.client.Trace.Fail"]
    assert server.status.status_code == StatusCode.ERROR
    assert server.status.description == "no such order"
    assert client.status.status_code == StatusCode.ERROR
    assert client.status.description is not None
    assert "no such order" in client.status.description


def test_a_traceparent_the_caller_set_is_sent_as_it_is(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with rpcx.Client(traced_server.address or "") as c:
        reply = c.call("Trace", "Seen", None, metadata={"traceparent": mine})
    assert reply["traceparent"] == mine
    got = _by_name(spans)
    assert "rpcx.client.Trace.Seen" not in got, "no client span over the caller's own context"
    server = got["rpcx.service.Trace.Seen"]
    assert _hex(server.get_span_context().trace_id, 32) == "0af7651916cd43dd8448eb211c80319c"
    assert server.parent is not None
    assert _hex(server.parent.span_id, 16) == "b7ad6b7169203331"


def test_async_a_traceparent_the_caller_set_is_sent_as_it_is(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    mine = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    async def main() -> Any:
        async with rpcx.AsyncClient(traced_server.address or "") as c:
            return await c.call("Trace", "AsyncSeen", None, metadata={"traceparent": mine})

    reply = asyncio.run(main())
    assert reply["traceparent"] == mine
    server = _by_name(spans)["rpcx.service.Trace.AsyncSeen"]
    assert _hex(server.get_span_context().trace_id, 32) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert reply["current_trace"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_turned_off_nothing_is_traced_or_sent(
    spans: InMemorySpanExporter, traced_server: rpcx.Server
) -> None:
    assert rpcx.set_opentelemetry(False) is False
    assert not rpcx.opentelemetry_enabled()
    with rpcx.Client(traced_server.address or "") as c:
        reply = c.call("Trace", "Seen", None)
    assert reply["traceparent"] is None
    assert spans.get_finished_spans() == ()
    with pytest.raises(TypeError):
        rpcx.set_opentelemetry("yes")  # type: ignore[arg-type]


def test_without_the_api_rpcx_works_untraced() -> None:
    code = """
import sys
sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
import rpcx
assert not rpcx.opentelemetry_enabled()
assert rpcx.set_opentelemetry(True) is False
server = rpcx.Server()
server.register("Echo.Meta")(lambda _, ctx: ctx.metadata)
server.start("tcp@127.0.0.1:0")
with rpcx.Client(server.address) as c:
    assert "traceparent" not in c.call("Echo", "Meta", None)
server.stop()
print("OK")
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_rpcx_otel_off_in_the_environment() -> None:
    proc = run_python(
        "import rpcx; print(rpcx.opentelemetry_enabled())",
        env={**os.environ, "RPCX_OTEL": "off"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    proc = run_python("import rpcx; print(rpcx.opentelemetry_enabled())")
    env = {k: v for k, v in os.environ.items() if k != "RPCX_OTEL"}
    proc = run_python("import rpcx; print(rpcx.opentelemetry_enabled())", env=env)
    assert proc.stdout.strip() == "True", proc.stderr


# -- Python -> Rust -> Go: one trace across three languages --------------------------------


def _read_listening(proc: subprocess.Popen[str], who: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("LISTENING "), f"{who} said {line!r}"
    return line.split(" ", 1)[1]


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin:
        proc.stdin.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def gootel() -> Iterator[Path]:
    """tests/interop/go/cmd/gootel, built: a Go client that injects its span into the rpcx
    metadata, and a Go server that reports the context it extracted."""
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        pytest.skip("go is not installed: the Go otel peer cannot be built")
    out = Path(tempfile.mkdtemp(prefix="rpcx-py-otel-"))
    try:
        built = subprocess.run(
            [go, "build", "-buildvcs=false", "-o", str(out) + "/", "./cmd/gootel"],
            cwd=REPO / "tests" / "interop" / "go",
            capture_output=True,
            text=True,
            timeout=900,
        )
        if built.returncode != 0:
            pytest.fail(f"go build of gootel failed:\n{built.stderr[-4000:]}")
        yield out / "gootel"
    finally:
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def go_server(gootel: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [str(gootel), "-mode", "server", "-addr", "tcp@127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield _read_listening(proc, "gootel")
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def relay(go_server: str) -> Iterator[str]:
    """otel_relay: a Rust server with ServerTracing whose handler calls the Go server through
    ClientTracing."""
    exe = build_example("otel_relay", features="otel")
    proc = subprocess.Popen(
        [str(exe), go_server], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield _read_listening(proc, "otel_relay")
    finally:
        _stop(proc)


def test_a_go_server_extracts_the_python_client_span(
    spans: InMemorySpanExporter, go_server: str
) -> None:
    with rpcx.Client(go_server, serializer=rpcx.JSON) as c:
        seen = c.call("Trace", "Seen", {"A": 1, "B": 2})
    client = _by_name(spans)["rpcx.client.Trace.Seen"]
    cc = client.get_span_context()
    assert seen["trace_id"] == _hex(cc.trace_id, 32)
    assert seen["parent_id"] == _hex(cc.span_id, 16)
    assert seen["remote"] is True
    assert seen["server_parent_id"] == _hex(cc.span_id, 16)


def test_async_a_go_server_extracts_the_python_client_span(
    spans: InMemorySpanExporter, go_server: str
) -> None:
    async def main() -> Any:
        async with rpcx.AsyncClient(go_server, serializer=rpcx.JSON) as c:
            return await c.call("Trace", "Seen", {"A": 1, "B": 2})

    seen = asyncio.run(main())
    cc = _by_name(spans)["rpcx.client.Trace.Seen"].get_span_context()
    assert (seen["trace_id"], seen["parent_id"]) == (_hex(cc.trace_id, 32), _hex(cc.span_id, 16))


def test_a_go_client_span_is_the_python_server_span_parent(
    spans: InMemorySpanExporter, gootel: Path
) -> None:
    server = rpcx.Server()

    @server.register("Arith.Mul")
    def mul(args: dict[str, int]) -> dict[str, int]:
        return {"C": args["A"] * args["B"]}

    server.start("tcp@127.0.0.1:0")
    try:
        out = subprocess.run(
            [str(gootel), "-mode", "client", "-addr", server.address or ""],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "REPLY 42" in out.stdout
    line = next(l for l in out.stdout.splitlines() if l.startswith("GO_CLIENT_SPAN "))
    go_trace, go_span = line.split()[1:3]
    span = _by_name(spans)["rpcx.service.Arith.Mul"]
    assert _hex(span.get_span_context().trace_id, 32) == go_trace
    assert span.parent is not None and span.parent.is_remote
    assert _hex(span.parent.span_id, 16) == go_span
    assert span.kind == SpanKind.SERVER


def test_python_to_rust_to_go_is_one_trace(spans: InMemorySpanExporter, relay: str) -> None:
    with rpcx.Client(relay, serializer=rpcx.JSON) as c:
        seen = c.call("Relay", "Via", 1)
        rust_spans = c.call("Relay", "Spans", 0)
    py_client = _by_name(spans)["rpcx.client.Relay.Via"]
    trace_id = _hex(py_client.get_span_context().trace_id, 32)
    rust = {s["name"]: s for s in rust_spans}
    rust_server = rust["rpcx.service.Relay.Via"]
    rust_client = rust["rpcx.client.Trace.Seen"]
    # One trace id everywhere.
    assert rust_server["trace_id"] == trace_id
    assert rust_client["trace_id"] == trace_id
    assert seen["trace_id"] == trace_id and seen["server_trace_id"] == trace_id
    # The parent chain: Python client -> Rust server -> Rust client -> Go server.
    assert rust_server["parent_id"] == _hex(py_client.get_span_context().span_id, 16)
    assert rust_client["parent_id"] == rust_server["span_id"]
    assert seen["parent_id"] == rust_client["span_id"]
    assert seen["server_parent_id"] == rust_client["span_id"]
    assert seen["remote"] is True
    assert (rust_server["kind"], rust_client["kind"]) == ("Server", "Client")
