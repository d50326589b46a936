"""A black-holed server through the Python XClient, as the Rust netfault suite does it: two
Python servers behind Toxiproxy proxies (built by scripts/bootstrap-netfault.sh, which
``make py-test`` runs first), RoundRobin + Failover with a 1 s timeout and the dead-server
detector (defaults). One proxy holds every byte both ways for 6 s (no reset, no FIN): at most
the call already sent fails, none outlives its timeout by more than a margin, and the server
answers again soon after the heal."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

import rpcx
from conftest import REPO
from registries import free_port

TIMEOUT = 1.0
MARGIN = 1.0


class Toxiproxy:
    """A toxiproxy-server on a free loopback port, driven over its HTTP API."""

    def __init__(self, exe: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([str(exe), "-host", "127.0.0.1", "-port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.call("GET", "/version")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> str:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request(method, path, body=None if body is None else json.dumps(body),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            text = r.read().decode()
            assert 200 <= r.status < 300, f"toxiproxy {method} {path}: {r.status} {text}"
            return text
        finally:
            c.close()

    def proxy(self, name: str, upstream: str) -> str:
        listen = f"127.0.0.1:{free_port()}"
        self.call("POST", "/proxies",
                  {"name": name, "listen": listen, "upstream": upstream, "enabled": True})
        return listen

    def black_hole(self, name: str) -> None:
        for stream in ("upstream", "downstream"):
            self.call("POST", f"/proxies/{name}/toxics",
                      {"name": f"hole_{stream}", "type": "timeout", "stream": stream,
                       "toxicity": 1.0, "attributes": {"timeout": 0}})

    def heal(self, name: str) -> None:
        for stream in ("upstream", "downstream"):
            self.call("DELETE", f"/proxies/{name}/toxics/hole_{stream}")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def toxiproxy() -> Iterator[Toxiproxy]:
    exe = Path(os.environ.get("RPCX_TOXIPROXY", REPO / "target/tools/bin/toxiproxy-server"))
    if not exe.is_file():
        done = subprocess.run([str(REPO / "scripts/bootstrap-netfault.sh")],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"scripts/bootstrap-netfault.sh failed: {done.stderr}"
    t = Toxiproxy(exe)
    try:
        yield t
    finally:
        t.close()


def _answers(name: str) -> Any:
    return lambda _args: name


def test_a_black_holed_server_costs_the_call_in_flight_only(toxiproxy: Toxiproxy) -> None:
    servers = []
    for name in ("a", "b"):
        s = rpcx.Server()
        s.register("Who.Am", _answers(name))
        port = s.start("tcp@127.0.0.1:0")
        servers.append(s)
        toxiproxy.proxy(name, f"127.0.0.1:{port}")
    proxies = json.loads(toxiproxy.call("GET", "/proxies"))
    keys = [f"tcp@{proxies[n]['listen']}" for n in ("a", "b")]
    try:
        with rpcx.XClient("Who", rpcx.MultipleServers(keys), timeout=TIMEOUT) as xc:
            assert {xc.call("Am", 0) for _ in range(4)} == {"a", "b"}
            start = time.monotonic()
            hole_at, heal_at, end = 1.0, 7.0, 11.0
            holed = healed = False
            outcomes: list[tuple[float, float, str]] = []
            while time.monotonic() - start < end:
                now = time.monotonic() - start
                if not holed and now >= hole_at:
                    toxiproxy.black_hole("a")
                    holed = True
                if not healed and now >= heal_at:
                    toxiproxy.heal("a")
                    healed = True
                t = time.monotonic()
                try:
                    answer = xc.call("Am", 0)
                except rpcx.RpcError as e:
                    answer = f"error: {e}"
                outcomes.append((t - start, time.monotonic() - t, answer))
                time.sleep(0.05)
    finally:
        for s in servers:
            s.stop()
    failed = [o for o in outcomes if o[2].startswith("error")]
    slowest = max(o[1] for o in outcomes)
    back = [o[0] - heal_at for o in outcomes if o[2] == "a" and o[0] > heal_at]
    print(f"{len(outcomes)} calls, {len(failed)} failed {failed}, slowest {slowest:.3f} s, "
          f"a answered again {back[0] if back else None} s after the heal")
    assert len(failed) <= 1, failed
    assert slowest < TIMEOUT + MARGIN
    assert back and back[0] < 2.0 + TIMEOUT + MARGIN
