"""HTTP on the rpcx port from Python: a Python server (sync and ``async def`` handlers) called
through the HTTP gateway and JSON-RPC 2.0 (single calls, errors, a batch) with urllib;
``rpcx.Client``, ``AsyncClient`` and ``XClient`` through ``ws@``/``http@`` (and ``wss@``)
addresses; servers started at ``ws@`` addresses; the options that turn each HTTP service
off; CORS; the request limits; wrong option types and values; and the CLI calling through
``ws@``/``http@``."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

import rpcx
from test_cli import cli  # noqa: F401  (the module-scoped fixture building the CLI)
from test_tls import pki  # noqa: F401  (the module-scoped fixture writing the test PKI)

#: Every wait on a socket or an HTTP exchange is bounded by this (seconds).
WAIT = 30


def arith_server(**kwargs: Any) -> rpcx.Server:
    """Arith.Mul (a plain handler), Arith.AsyncMul (``async def``), Arith.Meta (echoes the
    request metadata as reply metadata) and Arith.Fail (raises)."""
    server = rpcx.Server(workers=4, **kwargs)

    @server.register("Arith.Mul")
    def mul(args: Any) -> dict[str, int]:
        return {"C": args["A"] * args["B"]}

    @server.register("Arith.AsyncMul")
    async def async_mul(args: Any) -> dict[str, int]:
        await asyncio.sleep(0.001)
        return {"C": args["A"] * args["B"]}

    @server.register("Arith.Meta")
    def meta(args: Any, ctx: rpcx.Context) -> dict[str, int]:
        for k, v in ctx.metadata.items():
            ctx.set_reply_meta(f"echo-{k}", v)
        return {"C": len(ctx.metadata)}

    @server.register("Arith.Fail")
    def fail(args: Any) -> None:
        raise ValueError("no such luck")

    return server


@pytest.fixture(scope="module")
def served() -> Iterator[int]:
    """A server with the default options; yields its port."""
    server = arith_server()
    with server:
        yield server.start("tcp@127.0.0.1:0")


class Reply:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> Optional[str]:
        v = self.headers.get(name)
        return None if v is None else str(v)

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int, body: bytes, headers: dict[str, str], method: str = "POST", path: str = "/"
) -> Reply:
    """One HTTP request with urllib; error statuses are replies too."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(req, timeout=WAIT) as resp:
            return Reply(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read())


def gateway(port: int, service: str, method: str, args: Any, **headers: str) -> Reply:
    h = {
        "X-RPCX-SerializeType": "1",
        "X-RPCX-ServicePath": service,
        "X-RPCX-ServiceMethod": method,
    }
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return request(port, json.dumps(args).encode(), h)


def jsonrpc(port: int, payload: Any) -> Reply:
    return request(port, json.dumps(payload).encode(), {"X-JSONRPC-2.0": "true"})


def raw_exchange(port: int, data: bytes) -> bytes:
    """Sends `data` on a new connection and returns everything until the server closes it
    (a reset counts as a close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk


def post_bytes(headers: str, body: bytes = b"{}") -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


GATEWAY_MUL = "X-RPCX-SerializeType: 1\r\nX-RPCX-ServicePath: Arith\r\nX-RPCX-ServiceMethod: Mul\r\n"


# -- the gateway and JSON-RPC ---------------------------------------------------------------


def test_gateway_calls_sync_and_async_handlers(served: int) -> None:
    for method in ("Mul", "AsyncMul"):
        r = gateway(served, "Arith", method, {"A": 7, "B": 8}, X_RPCX_MessageID="12")
        assert r.status == 200, (r.status, r.body)
        assert r.json() == {"C": 56}
        assert r.header("X-RPCX-ServiceMethod") == method
        assert r.header("X-RPCX-MessageID") == "12"
        assert r.header("X-RPCX-MessageStatusType") is None

    # Metadata both ways; Authorization arrives as __AUTH.
    r = gateway(served, "Arith", "Meta", {}, X_RPCX_Meta="k=a+b", Authorization="tok")
    assert r.json() == {"C": 2}
    assert r.header("X-RPCX-Meta") == "echo-__AUTH=tok&echo-k=a+b"

    # A handler's exception and an unknown method: Go's error headers, status 500.
    r = gateway(served, "Arith", "Fail", {})
    assert r.status == 500
    assert r.header("X-RPCX-MessageStatusType") == "Error"
    assert r.header("X-RPCX-ErrorMessage") == "ValueError: no such luck"
    r = gateway(served, "Arith", "Nope", {})
    assert (r.status, r.header("X-RPCX-ErrorMessage")) == (500, "rpcx: can't find method Nope")


def test_jsonrpc_single_errors_and_batch(served: int) -> None:
    r = jsonrpc(served, {"jsonrpc": "2.0", "method": "Arith.Mul", "params": {"A": 3, "B": 4}, "id": 1})
    assert r.status == 200 and r.header("Content-Type") == "application/json"
    assert r.json() == {"jsonrpc": "2.0", "result": {"C": 12}, "id": 1}
    r = jsonrpc(served, {"jsonrpc": "2.0", "method": "Arith.AsyncMul", "params": {"A": 5, "B": 4}, "id": "a"})
    assert r.json() == {"jsonrpc": "2.0", "result": {"C": 20}, "id": "a"}

    r = jsonrpc(served, {"jsonrpc": "2.0", "method": "Arith.Fail", "params": {}, "id": 2})
    assert r.json()["error"] == {"code": -32603, "message": "ValueError: no such luck", "data": None}
    r = jsonrpc(served, {"jsonrpc": "2.0", "method": "Mul", "id": 3})
    assert r.json()["error"]["code"] == -32601

    # A batch: one answer per request with an id, in order; the notification runs unanswered.
    r = jsonrpc(
        served,
        [
            {"jsonrpc": "2.0", "method": "Arith.Mul", "params": {"A": 1, "B": 2}, "id": 1},
            {"jsonrpc": "2.0", "method": "Arith.Mul", "params": {"A": 9, "B": 9}},
            {"jsonrpc": "2.0", "method": "Arith.AsyncMul", "params": {"A": 5, "B": 6}, "id": 2},
            {"jsonrpc": "2.0", "method": "Arith.Fail", "params": {}, "id": 3},
        ],
    )
    got = r.json()
    assert got[:2] == [
        {"jsonrpc": "2.0", "result": {"C": 2}, "id": 1},
        {"jsonrpc": "2.0", "result": {"C": 30}, "id": 2},
    ]
    assert got[2]["id"] == 3 and got[2]["error"]["code"] == -32603
    assert len(got) == 3


# -- rpcx through the tunnels -----------------------------------------------------------------


def test_clients_through_ws_and_http_addresses(served: int) -> None:
    for network in ("ws", "http", "tcp"):
        addr = f"{network}@127.0.0.1:{served}"
        with rpcx.Client(addr, timeout=WAIT, connect_timeout=WAIT) as c:
            assert c.call("Arith", "Mul", {"A": 6, "B": 7}) == {"C": 42}
            assert c.call("Arith", "AsyncMul", {"A": 2, "B": 7}) == {"C": 14}
            # Larger than a WebSocket frame's 16-bit length: an extended-length frame.
            assert c.call("Arith", "Mul", {"A": 1, "B": 5, "Pad": "x" * 300_000}) == {"C": 5}
            _, md = c.call_with_metadata("Arith", "Meta", {}, metadata={"k": "v"})
            assert md["echo-k"] == "v"
    with rpcx.XClient("Arith", rpcx.Peer(f"ws@127.0.0.1:{served}"), timeout=WAIT) as xc:
        assert xc.call("Mul", {"A": 3, "B": 3}) == {"C": 9}


def test_async_client_through_ws_and_a_server_started_at_ws() -> None:
    server = arith_server()

    async def main() -> None:
        port = await server.start_async("ws@127.0.0.1:0")
        try:
            assert server.address == f"ws@127.0.0.1:{port}"
            async with rpcx.AsyncClient(server.address, timeout=WAIT, connect_timeout=WAIT) as c:
                replies = await asyncio.gather(
                    *(c.call("Arith", "AsyncMul", {"A": i, "B": 2}) for i in range(50))
                )
                assert replies == [{"C": 2 * i} for i in range(50)]
            async with rpcx.AsyncClient(f"http@127.0.0.1:{port}", timeout=WAIT) as c:
                assert await c.call("Arith", "Mul", {"A": 4, "B": 4}) == {"C": 16}
            r = await asyncio.get_running_loop().run_in_executor(
                None, lambda: gateway(port, "Arith", "AsyncMul", {"A": 2, "B": 21})
            )
            assert r.json() == {"C": 42}
        finally:
            await server.stop_async(grace=1)

    asyncio.run(main())


def test_wss_needs_tls_on_both_sides(pki: Path) -> None:  # noqa: F811
    server = arith_server(
        tls=rpcx.TLSConfig(cert_file=pki / "server.pem", key_file=pki / "server.key")
    )
    with server:
        port = server.start("wss@127.0.0.1:0")
        assert server.address == f"wss@127.0.0.1:{port}"
        tls = rpcx.TLSConfig(ca_file=pki / "ca.pem")
        with rpcx.Client(server.address, tls=tls, timeout=WAIT, connect_timeout=WAIT) as c:
            assert c.call("Arith", "Mul", {"A": 5, "B": 5}) == {"C": 25}
        with pytest.raises(rpcx.RpcError, match="wss@"):
            with rpcx.Client(server.address, timeout=WAIT) as c:
                c.call("Arith", "Mul", {"A": 5, "B": 5})
    # A wss@ server needs TLS options.
    with pytest.raises(ValueError, match="needs TLS options"):
        arith_server().start("wss@127.0.0.1:0")


# -- options --------------------------------------------------------------------------------


def test_http_services_turned_off() -> None:
    server = arith_server(http_gateway=False, jsonrpc=False, http_connect=False, websocket=False)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        # HTTP is closed unanswered; the tunnels are refused; rpcx goes on.
        assert raw_exchange(port, post_bytes(GATEWAY_MUL, b'{"A":1,"B":2}')) == b""
        assert raw_exchange(port, post_bytes("X-JSONRPC-2.0: true\r\n")) == b""
        for network in ("ws", "http"):
            with pytest.raises(rpcx.RpcConnectionError):
                with rpcx.Client(f"{network}@127.0.0.1:{port}", connect_timeout=WAIT) as c:
                    c.call("Arith", "Mul", {"A": 1, "B": 2})
        with rpcx.Client(server.address, timeout=WAIT) as c:
            assert c.call("Arith", "Mul", {"A": 2, "B": 2}) == {"C": 4}

    # Each switch alone.
    server = arith_server(jsonrpc=False, websocket=False)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        r = jsonrpc(port, {"jsonrpc": "2.0", "method": "Arith.Mul", "params": {}, "id": 1})
        assert r.header("X-RPCX-ErrorMessage") == "empty servicepath", "the gateway answered"
        assert gateway(port, "Arith", "Mul", {"A": 2, "B": 3}).json() == {"C": 6}
        with pytest.raises(rpcx.RpcConnectionError):
            with rpcx.Client(f"ws@127.0.0.1:{port}", connect_timeout=WAIT) as c:
                c.call("Arith", "Mul", {"A": 1, "B": 2})
        with rpcx.Client(f"http@127.0.0.1:{port}", timeout=WAIT) as c:
            assert c.call("Arith", "Mul", {"A": 2, "B": 5}) == {"C": 10}

    server = arith_server(http_gateway=False, http_connect=False)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        assert gateway(port, "Arith", "Mul", {"A": 2, "B": 3}).status == 404
        r = jsonrpc(port, {"jsonrpc": "2.0", "method": "Arith.Mul", "params": {"A": 2, "B": 3}, "id": 1})
        assert r.json()["result"] == {"C": 6}
        assert raw_exchange(port, b"CONNECT /_rpcx_ HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 405")
        with rpcx.Client(f"ws@127.0.0.1:{port}", timeout=WAIT) as c:
            assert c.call("Arith", "Mul", {"A": 2, "B": 5}) == {"C": 10}


def preflight(port: int, origin: str) -> Reply:
    return request(
        port,
        b"",
        {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-rpcx-servicepath",
        },
        method="OPTIONS",
    )


def test_cors(served: int) -> None:
    # Off by default.
    assert preflight(served, "https://a.test").header("Access-Control-Allow-Origin") is None

    allow_all = rpcx.CorsOptions.allow_all()
    assert allow_all.allowed_origins == ("*",)
    assert allow_all.allowed_methods == ("HEAD", "GET", "POST", "PUT", "PATCH", "DELETE")
    assert allow_all.allowed_headers == ("*",)
    with arith_server(cors=allow_all) as server:
        port = server.start("tcp@127.0.0.1:0")
        r = preflight(port, "https://a.test")
        assert r.status == 204
        assert r.header("Access-Control-Allow-Origin") == "*"
        assert r.header("Access-Control-Allow-Headers") == "x-rpcx-servicepath"
        r = gateway(port, "Arith", "Mul", {"A": 2, "B": 2}, Origin="https://a.test")
        assert r.json() == {"C": 4} and r.header("Access-Control-Allow-Origin") == "*"

    cors = rpcx.CorsOptions(
        allowed_origins=["https://*.example.com"],
        allowed_methods=("POST",),
        allowed_headers=["X-RPCX-ServicePath"],
        exposed_headers=["X-RPCX-Meta"],
        allow_credentials=True,
        max_age=60,
    )
    assert cors.allowed_origins == ("https://*.example.com",)
    with arith_server(cors=cors) as server:
        port = server.start("tcp@127.0.0.1:0")
        r = preflight(port, "https://app.example.com")
        assert r.header("Access-Control-Allow-Origin") == "https://app.example.com"
        assert r.header("Access-Control-Allow-Credentials") == "true"
        assert r.header("Access-Control-Max-Age") == "60"
        assert preflight(port, "https://evil.test").header("Access-Control-Allow-Origin") is None
        # A request header outside the list: no CORS answer (rs/cors).
        r = request(
            port,
            b"",
            {
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-other",
            },
            method="OPTIONS",
        )
        assert r.header("Access-Control-Allow-Origin") is None
        r = jsonrpc_with_origin(port, "https://app.example.com")
        assert r.json()["result"] == {"C": 9}
        assert r.header("Access-Control-Expose-Headers") == "X-RPCX-Meta"


def jsonrpc_with_origin(port: int, origin: str) -> Reply:
    body = {"jsonrpc": "2.0", "method": "Arith.Mul", "params": {"A": 3, "B": 3}, "id": 1}
    return request(
        port, json.dumps(body).encode(), {"X-JSONRPC-2.0": "true", "Origin": origin}
    )


def test_request_limits(served: int) -> None:
    many = post_bytes(GATEWAY_MUL + "".join(f"X-Filler-{i}: v\r\n" for i in range(20)), b'{"A":5,"B":5}')
    long = post_bytes(GATEWAY_MUL + "X-Filler: " + "v" * 20_000 + "\r\n", b'{"A":5,"B":5}')
    # The default limits let both through.
    for req in (many, long):
        assert raw_exchange(served, req).startswith(b"HTTP/1.1 200")

    server = arith_server(http_max_headers=10, http_max_header_bytes=8192, http_request_timeout=0.5)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        for req in (many, long):
            got = raw_exchange(port, req)  # refused (431 or 400, maybe cut by a reset), closed
            assert got == b"" or got[:12] in (b"HTTP/1.1 431", b"HTTP/1.1 400"), got[:80]
        # A head never finished is closed once the request timeout passes.
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nX-RPCX-Ser")
            try:
                while s.recv(4096):  # a timeout (WAIT) fails the test
                    pass
            except ConnectionResetError:
                pass
        with rpcx.Client(server.address, timeout=WAIT) as c:
            assert c.call("Arith", "Mul", {"A": 2, "B": 2}) == {"C": 4}


@pytest.mark.parametrize(
    "kwargs,error,text",
    [
        ({"http_gateway": "yes"}, TypeError, "http_gateway must be a bool"),
        ({"jsonrpc": 1}, TypeError, "jsonrpc must be a bool"),
        ({"http_connect": None}, TypeError, "http_connect must be a bool"),
        ({"websocket": "off"}, TypeError, "websocket must be a bool"),
        ({"cors": {"allowed_origins": ["*"]}}, TypeError, "cors must be an rpcx.CorsOptions"),
        ({"http_request_timeout": "5"}, TypeError, "http_request_timeout must be a number"),
        ({"http_request_timeout": True}, TypeError, "http_request_timeout must be a number"),
        ({"http_request_timeout": 0}, ValueError, "http_request_timeout"),
        ({"http_request_timeout": -1.0}, ValueError, "http_request_timeout"),
        ({"http_request_timeout": float("nan")}, ValueError, "http_request_timeout"),
        ({"http_request_timeout": 1e300}, ValueError, "http_request_timeout"),
        ({"http_max_header_bytes": 1.5}, TypeError, "http_max_header_bytes must be an int"),
        ({"http_max_header_bytes": 0}, ValueError, "http_max_header_bytes must be at least 1"),
        ({"http_max_headers": True}, TypeError, "http_max_headers must be an int"),
        ({"http_max_headers": 0}, ValueError, "http_max_headers must be at least 1"),
    ],
)
def test_wrong_server_options_raise(kwargs: dict[str, Any], error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        rpcx.Server(**kwargs)


@pytest.mark.parametrize(
    "kwargs,error,text",
    [
        ({"allowed_origins": "https://a.test"}, TypeError, "allowed_origins must be a list"),
        ({"allowed_methods": [b"GET"]}, TypeError, "entries must be str"),
        ({"allowed_methods": ["GET POST"]}, ValueError, "'GET POST' is not an HTTP token"),
        ({"allowed_headers": ["Content Type"]}, ValueError, "not an HTTP token"),
        ({"exposed_headers": [""]}, ValueError, "an entry is empty"),
        ({"allowed_origins": ["https://a.test\r\nX: y"]}, ValueError, "visible ASCII"),
        ({"allow_credentials": "yes"}, TypeError, "allow_credentials must be a bool"),
        ({"max_age": 1.5}, TypeError, "max_age must be an int"),
        ({"max_age": -1}, ValueError, "max_age must be in"),
        ({"max_age": 2**32}, ValueError, "max_age must be in"),
    ],
)
def test_wrong_cors_options_raise(kwargs: dict[str, Any], error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        rpcx.CorsOptions(**kwargs)


def test_good_options_are_accepted() -> None:
    cors = rpcx.CorsOptions(allowed_headers=["*", "X-Trace"], allowed_methods=["PATCH"])
    server = arith_server(
        http_request_timeout=2, http_max_header_bytes=1 << 20, http_max_headers=500, cors=cors
    )
    with server:
        port = server.start("tcp@127.0.0.1:0")
        assert gateway(port, "Arith", "Mul", {"A": 2, "B": 8}).json() == {"C": 16}


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_calls_through_ws_and_http(cli: Path, served: int) -> None:  # noqa: F811
    for network in ("ws", "http"):
        r = subprocess.run(
            [str(cli), "call", f"{network}@127.0.0.1:{served}", "Arith.Mul", '{"A":2,"B":3}'],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"C": 6}
    # A server that refuses the tunnel: the CLI fails with the reason (3: could not connect).
    server = arith_server(websocket=False)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        r = subprocess.run(
            [str(cli), "call", f"ws@127.0.0.1:{port}", "Arith.Mul", '{"A":2,"B":3}'],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 3 and "ws@127.0.0.1" in r.stderr, r.stderr
    helptext = subprocess.run(
        [str(cli), "call", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    for form in ("http@host:port", "ws@host:port", "wss@host:port"):
        assert form in helptext
