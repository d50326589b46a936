"""The `rpcx` command line (rpcx-cli) against a Python server: every serialization, request
metadata, auth, gzip, timeouts and the server's error text, each checked on the server side
too."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import rpcx
from conftest import REPO, _cargo


@pytest.fixture(scope="module")
def cli() -> Path:
    """`cargo build -p rpcx-cli`: the `rpcx` executable."""
    cargo = _cargo()
    if cargo is None:
        pytest.skip("cargo not found: cannot build the rpcx CLI")
    proc = subprocess.run(
        [cargo, "build", "-q", "-p", "rpcx-cli"], cwd=REPO, capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.fail(f"cargo build -p rpcx-cli failed:\n{proc.stderr[-4000:]}")
    exe = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "rpcx"
    assert exe.exists(), exe
    return exe


class _Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []

    def add(self, **kw: Any) -> None:
        with self.lock:
            self.calls.append(kw)

    def last(self) -> dict[str, Any]:
        with self.lock:
            return self.calls[-1]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, _Seen]]:
    seen = _Seen()

    def mul(args: Any, ctx: rpcx.Context) -> dict[str, int]:
        seen.add(serialize_type=ctx.serialize_type, metadata=ctx.metadata)
        ctx.set_reply_meta("served-by", "python")
        return {"C": args["A"] * args["B"]}

    def echo(args: bytes, ctx: rpcx.Context) -> bytes:
        seen.add(serialize_type=ctx.serialize_type, size=len(args))
        return args

    def sleep(args: Any, ctx: rpcx.Context) -> dict[str, int]:
        ctx.wait_cancelled(30)
        return {"C": 0}

    def div(args: Any) -> dict[str, int]:
        if args["B"] == 0:
            raise rpcx.ServiceError("divide by zero")
        return {"C": args["A"] // args["B"]}

    def auth(ctx: rpcx.Context, token: str) -> bool:
        return token in ("", "s3cret")  # empty: the tests without --auth

    server = rpcx.Server(workers=4, auth=auth)
    server.register("Arith.Mul", mul)
    server.register("Arith.Echo", echo)
    server.register("Arith.Sleep", sleep)
    server.register("Arith.Div", div)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        yield f"tcp@127.0.0.1:{port}", seen


def run(cli: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("codec,st", [("json", rpcx.JSON), ("msgpack", rpcx.MSGPACK)])
def test_call_with_each_structured_codec(cli: Path, served: tuple[str, _Seen], codec: str, st: int) -> None:
    addr, seen = served
    r = run(cli, "call", "--codec", codec, addr, "Arith.Mul", '{"A":7,"B":8}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"C": 56}
    assert seen.last()["serialize_type"] == st


def test_call_raw(cli: Path, served: tuple[str, _Seen]) -> None:
    addr, seen = served
    r = run(cli, "call", "--codec", "raw", addr, "Arith.Echo", "hello")
    assert r.returncode == 0, r.stderr
    assert "hello" in r.stdout
    assert seen.last()["serialize_type"] == rpcx.RAW


def test_metadata_goes_out_and_reply_metadata_comes_back(cli: Path, served: tuple[str, _Seen]) -> None:
    addr, seen = served
    r = run(cli, "call", "-v", "--meta", "trace=abc", "--meta", "k=v", addr, "Arith.Mul", '{"A":1,"B":2}')
    assert r.returncode == 0, r.stderr
    md = seen.last()["metadata"]
    assert md["trace"] == "abc" and md["k"] == "v"
    assert "served-by" in r.stderr and "python" in r.stderr


def test_gzip_request(cli: Path, served: tuple[str, _Seen]) -> None:
    addr, seen = served
    big = "x" * 8192
    r = run(cli, "call", "--gzip", "--codec", "raw", addr, "Arith.Echo", big)
    assert r.returncode == 0, r.stderr
    assert seen.last()["size"] == 8192


def test_auth_token_is_sent_and_a_bad_one_refused(cli: Path, served: tuple[str, _Seen]) -> None:
    addr, _ = served
    ok = run(cli, "call", "--auth", "s3cret", addr, "Arith.Mul", '{"A":2,"B":3}')
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"C": 6}
    bad = run(cli, "call", "--auth", "wrong", addr, "Arith.Mul", '{"A":2,"B":3}')
    assert bad.returncode != 0
    assert "authentication failed" in bad.stderr


def test_server_error_text_reaches_stderr(cli: Path, served: tuple[str, _Seen]) -> None:
    addr, _ = served
    r = run(cli, "call", addr, "Arith.Div", '{"A":1,"B":0}')
    assert r.returncode != 0
    assert "divide by zero" in r.stderr


def test_timeout_ends_the_call(cli: Path, served: tuple[str, _Seen]) -> None:
    addr, _ = served
    started = time.monotonic()
    r = run(cli, "call", "--timeout", "0.3", addr, "Arith.Sleep", "{}")
    assert r.returncode != 0
    assert "timed out" in r.stderr
    assert time.monotonic() - started < 20
