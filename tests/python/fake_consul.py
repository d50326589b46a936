"""A fake of Consul's HTTP API (KV with blocking queries, ``?acquire=`` and sessions), enough
for the rpcx Consul discovery and registry: used by the Python tests (through registries.py)
and, run as a program, by the C tests (tests/c/with_consul.sh). Standard library only.

    python3 fake_consul.py [--tls PKI_DIR]
        prints "LISTENING 127.0.0.1:<port>", serves until stdin closes
"""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import sys
import threading
import urllib.parse
from typing import Any, Optional


class _Server(http.server.ThreadingHTTPServer):
    """Quiet about clients that hang up mid-answer (a watch cancelled, a refused TLS peer)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class FakeConsul:
    """Consul's HTTP API over an in-memory KV: ``GET /v1/kv/<prefix>?recurse`` with blocking
    queries (``index``), ``PUT /v1/kv/<key>[?acquire=<session>]``, ``DELETE /v1/kv/<key>``,
    ``PUT /v1/session/create`` and ``PUT /v1/session/renew/<id>``. With ``tls`` (a server
    ``ssl.SSLContext``) it serves HTTPS, as an agent with ``verify_incoming`` would."""

    def __init__(self, tls: Optional[ssl.SSLContext] = None) -> None:
        #: key → (value, session holding it or None)
        self.kv: dict[str, tuple[bytes, Optional[str]]] = {}
        #: session id → its create request (Name, Behavior, TTL…)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.index = 1
        self.cond = threading.Condition()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: bytes, index: Optional[int] = None) -> None:
                self.send_response(status)
                if index is not None:
                    self.send_header("X-Consul-Index", str(index))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def target(self) -> tuple[str, dict[str, list[str]]]:
                url = urllib.parse.urlsplit(self.path)
                return urllib.parse.unquote(url.path), urllib.parse.parse_qs(url.query)

            def do_GET(self) -> None:
                path, query = self.target()
                prefix = path[len("/v1/kv/"):]
                if "index" in query:
                    want = int(query["index"][0])
                    with fake.cond:
                        fake.cond.wait_for(lambda: fake.index > want, timeout=2.0)
                with fake.cond:
                    items = [
                        {"Key": k, "Value": base64.b64encode(v).decode(),
                         "Session": s or "", "ModifyIndex": fake.index}
                        for k, (v, s) in sorted(fake.kv.items())
                        if k.startswith(prefix)
                    ]
                    index = fake.index
                self.answer(200 if items else 404, json.dumps(items).encode(), index)

            def do_PUT(self) -> None:
                path, query = self.target()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if path == "/v1/session/create":
                    with fake.cond:
                        sid = f"sess-{len(fake.sessions) + 1}"
                        fake.sessions[sid] = json.loads(body or b"{}")
                    self.answer(200, json.dumps({"ID": sid}).encode())
                    return
                if path.startswith("/v1/session/renew/"):
                    sid = path[len("/v1/session/renew/"):]
                    with fake.cond:
                        known = sid in fake.sessions
                    self.answer(200 if known else 404, b"[]" if known else b"session not found")
                    return
                key = path[len("/v1/kv/"):]
                session = query.get("acquire", [None])[0]
                with fake.cond:
                    if session is not None and session not in fake.sessions:
                        self.answer(500, b"invalid session")
                        return
                    held = fake.kv.get(key, (b"", None))[1]
                    if session is not None and held not in (None, session):
                        self.answer(200, b"false")
                        return
                    fake.kv[key] = (body, session if session is not None else held)
                    fake.bump()
                self.answer(200, b"true")

            def do_DELETE(self) -> None:
                path, _ = self.target()
                with fake.cond:
                    fake.kv.pop(path[len("/v1/kv/"):], None)
                    fake.bump()
                self.answer(200, b"true")

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def bump(self) -> None:
        """A change (lock held): wakes blocking queries."""
        self.index += 1
        self.cond.notify_all()

    def put(self, key: str, value: bytes = b"") -> None:
        with self.cond:
            self.kv[key] = (value, None)
            self.bump()

    def delete(self, key: str) -> None:
        with self.cond:
            self.kv.pop(key, None)
            self.bump()

    def get(self, key: str) -> Optional[tuple[bytes, Optional[str]]]:
        """A key's value and the session holding it (``None`` when absent)."""
        with self.cond:
            return self.kv.get(key)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def mutual_tls_context(pki: str) -> ssl.SSLContext:
    """A server context from a test PKI directory (server.pem/.key, clients signed by ca.pem
    required), as an agent with ``verify_incoming`` has."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{pki}/server.pem", f"{pki}/server.key")
    ctx.load_verify_locations(f"{pki}/ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


if __name__ == "__main__":
    # `--tls DIR`: serve HTTPS with the test PKI in DIR, client certificates required.
    args = sys.argv[1:]
    fake = FakeConsul(mutual_tls_context(args[1]) if args[:1] == ["--tls"] else None)
    print(f"LISTENING {fake.address}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or exits)
    fake.close()
