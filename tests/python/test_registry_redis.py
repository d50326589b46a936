"""Python servers publishing themselves in a real redis-server with ``rpcx.RedisRegistry``
(the exact keys and libkv ``KVPair`` JSON values Go's ``RedisRegisterPlugin`` writes,
checked with redis-cli), found by ``rpcx.Redis`` discovery and by the ``rpcx`` CLI
(``rpcx list|call --redis``), and removed on a graceful stop. Skipped without
redis-server (scripts/bootstrap-etcd.sh installs it)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

import rpcx
from conftest import REPO, _cargo
from registries import free_port


def eventually(what: str, cond: Callable[[], bool], limit: float = 20.0) -> None:
    """Polls `cond` until it holds; fails after `limit` seconds (a hang guard)."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [shutil.which("redis-cli") or "redis-cli", "-h", "127.0.0.1", "-p", str(self.port),
             "--raw", *args],
            capture_output=True, text=True, timeout=10,
        )
        return done.stdout.rstrip("\n")

    def get(self, key: str) -> Optional[str]:
        v = self.cli("GET", key)
        return v or None

    def keys(self) -> list[str]:
        return sorted(k for k in self.cli("KEYS", "*").splitlines() if k)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port, no persistence (skips without one)."""
    exe = shutil.which("redis-server")
    if exe is None or shutil.which("redis-cli") is None:
        if os.environ.get("RPCX_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server not installed (scripts/bootstrap-etcd.sh installs it)")
        pytest.skip("redis-server not installed (scripts/bootstrap-etcd.sh installs it)")
    r = RedisServer(free_port())
    proc = subprocess.Popen(
        [exe, "--port", str(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while r.cli("PING") != "PONG":
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
        yield r
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def rpcx_cli() -> Path:
    """The ``rpcx`` command line tool (``cargo build -p rpcx-cli``)."""
    cargo = _cargo()
    if cargo is None:
        pytest.skip("cargo not found: cannot build the rpcx CLI")
    proc = subprocess.run([cargo, "build", "-q", "-p", "rpcx-cli"], cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"cargo build -p rpcx-cli failed:\n{proc.stderr[-4000:]}")
    exe = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "rpcx"
    assert exe.exists(), exe
    return exe


def pair(raw: Optional[str]) -> tuple[str, bytes]:
    """Key and value of a libkv KVPair JSON, checking it is exactly what Go writes."""
    assert raw is not None
    v = json.loads(raw)
    assert list(v) == ["Key", "Value", "LastIndex"], raw
    assert isinstance(v["LastIndex"], int)
    return v["Key"], base64.b64decode(v["Value"])


def test_redis_registry_discovery_and_cli(redis: RedisServer, rpcx_cli: Path) -> None:
    with pytest.raises(ValueError):
        rpcx.RedisRegistry("", "b")
    with pytest.raises(ValueError):
        rpcx.RedisRegistry(redis.address, "b", update_interval=0)
    with pytest.raises(rpcx.RpcError):
        rpcx.Redis(f"127.0.0.1:{free_port()}", "b", "Arith")

    registry = rpcx.RedisRegistry(redis.address, base_path="rpcx_pyr", update_interval=10)
    server = rpcx.Server(workers=2)
    server.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]}, meta="weight=7&group=g")
    server.add_registry(registry)
    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    node = f"/rpcx_pyr/Arith/{addr}"
    try:
        assert registry.flush()
        # libkv's layout: one leading '/', KVPair JSON values; node keys with a TTL of 2 x 10 s.
        assert redis.keys() == ["/rpcx_pyr", "/rpcx_pyr/Arith", node]
        assert pair(redis.get("/rpcx_pyr")) == ("rpcx_pyr", b"rpcx_path")
        assert pair(redis.get("/rpcx_pyr/Arith")) == ("rpcx_pyr/Arith", b"Arith")
        assert pair(redis.get(node)) == (node[1:], b"weight=7&group=g")
        assert 0 < int(redis.cli("PTTL", node)) <= 20_000
        assert redis.cli("PTTL", "/rpcx_pyr") == "-1"

        discovery = rpcx.Redis(redis.address, "rpcx_pyr", "Arith")
        assert discovery.prefix == "/rpcx_pyr/Arith"
        assert discovery.servers == [(addr, "weight=7&group=g")]
        with rpcx.XClient("Arith", discovery) as xc:
            assert xc.call("Mul", {"A": 6, "B": 7}) == {"C": 42}

        # The CLI over the same keys.
        listed = subprocess.run(
            [str(rpcx_cli), "list", "--redis", redis.address, "--base-path", "rpcx_pyr"],
            capture_output=True, text=True, timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == [
            f'Arith\t{addr}\t{{"group":"g","weight":"7"}}'
        ]
        called = subprocess.run(
            [str(rpcx_cli), "call", "--redis", redis.address, "--base-path", "rpcx_pyr",
             "--group", "g", "Arith.Mul", '{"A":7,"B":8}'],
            capture_output=True, text=True, timeout=60,
        )
        assert (called.returncode, called.stdout.strip()) == (0, '{"C":56}'), called.stderr
        bad = subprocess.run(
            [str(rpcx_cli), "list", "--redis", f"127.0.0.1:{free_port()}"],
            capture_output=True, text=True, timeout=60,
        )
        assert bad.returncode != 0 and "redis" in bad.stderr.lower()

        # A service registered while running appears; unregistered, it goes.
        server.register("Live.Echo", lambda a: a)
        assert registry.flush()
        eventually("Live registered", lambda: redis.get(f"/rpcx_pyr/Live/{addr}") is not None)
        assert server.unregister_all() == ["Arith", "Live"]
        assert registry.flush()
        assert redis.get(node) is None
        eventually("discovery follows the delete", lambda: discovery.servers == [])
        discovery.close()
        server.register("Arith.Mul", lambda a: {"C": 0})
        assert registry.flush()
        assert pair(redis.get(node)) == (node[1:], b"")
    finally:
        server.stop(grace=1.0)
    assert redis.get(node) is None
    assert registry.closed


def test_redis_discovery_with_asyncio(redis: RedisServer) -> None:
    """An asyncio server publishing itself with a RedisRegistry, found by an AsyncXClient."""
    registry = rpcx.RedisRegistry(redis.address, "/rpcx_pya", update_interval=5)

    async def main() -> int:
        server = rpcx.Server()

        @server.register("Arith.Mul")
        async def mul(a: dict) -> dict:
            return {"C": a["A"] * a["B"]}

        server.add_registry(registry)
        port = await server.start_async("tcp@127.0.0.1:0")
        try:
            assert registry.flush()
            # A base path with a leading '/' is kept, as Go's plugin writes it.
            key = f"//rpcx_pya/Arith/tcp@127.0.0.1:{port}"
            assert pair(redis.get(key)) == (key[1:], b"")
            d = rpcx.Redis(redis.address, "/rpcx_pya", "Arith")
            async with rpcx.AsyncXClient("Arith", d, timeout=10) as xc:
                reply = await xc.call("Mul", {"A": 5, "B": 6})
            d.close()
            return int(reply["C"])
        finally:
            await server.stop_async(grace=1.0)

    import asyncio

    assert asyncio.run(main()) == 30
    assert redis.keys() == ["//rpcx_pya", "//rpcx_pya/Arith"]


def test_registry_status_and_metrics_while_redis_is_unreachable(redis: RedisServer) -> None:
    """A registry whose Redis cannot be reached does not stop the server: it retries, its
    ``status`` says why it is down, and the server's metrics show it next to a registry that
    is up; the server answers and is found through the reachable one."""
    dead = f"127.0.0.1:{free_port()}"
    down = rpcx.RedisRegistry(dead, "/rpcx_pystatus", update_interval=1)
    up = rpcx.RedisRegistry(redis.address, "/rpcx_pystatus", update_interval=1)
    s = down.status
    assert isinstance(s, rpcx.RegistryStatus)
    assert (s.engine, s.target, s.up) == ("redis", dead, False)
    assert s.last_error and "redis" in s.last_error and s.down_for is not None
    server = rpcx.Server(metrics=True)
    server.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]})
    server.add_registry(down)
    server.add_registry(up)
    port = free_port()
    server.start(f"tcp@127.0.0.1:{port}")
    try:
        eventually("the reachable registry up", lambda: up.status.up)
        assert up.status.last_error is None and up.status.down_for is None
        text = server.metrics_text() or ""
        assert f'rpcx_registry_up{{registry="redis",target="{redis.address}"}} 1\n' in text
        assert f'rpcx_registry_up{{registry="redis",target="{dead}"}} 0\n' in text
        failures = down.status.failures
        eventually("retried", lambda: down.status.failures > failures, limit=10)
        assert not down.status.up
        with rpcx.XClient("Arith", rpcx.Redis(redis.address, "/rpcx_pystatus", "Arith")) as xc:
            assert xc.call("Mul", {"A": 6, "B": 7}) == {"C": 42}
    finally:
        server.stop()
