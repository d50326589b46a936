"""Registries for the tests: a throwaway etcd (as the Rust suites start it), a throwaway
ZooKeeper (Debian's jar run with java, as tests/c/with_zookeeper.sh and
rpcx-core/tests/zookeeper_support.rs start it) and the fake of Consul's HTTP API
(fake_consul.py), enough for ``rpcx.Consul`` discovery and ``rpcx.ConsulRegistry``. Not a test
module: imported by the tests that need them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from fake_consul import FakeConsul  # noqa: F401 (re-exported for the tests)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[str]:
    """The client URL of a single-member etcd on free loopback ports (skips without etcd)."""
    exe, ctl = shutil.which("etcd"), shutil.which("etcdctl")
    if exe is None or ctl is None:
        pytest.skip("etcd/etcdctl not installed (scripts/bootstrap-etcd.sh installs them)")
    client, peer = free_port(), free_port()
    url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    proc = subprocess.Popen(
        [exe, "--name", "pytest", "--data-dir", str(tmp_path / "etcd"),
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
         "--initial-cluster", f"pytest={peer_url}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            ok = subprocess.run([ctl, "--endpoints", url, "endpoint", "health"],
                                capture_output=True, env={**os.environ, "ETCDCTL_API": "3"})
            if ok.returncode == 0:
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("etcd did not become healthy")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def etcdctl(url: str, *args: str) -> str:
    """Runs etcdctl against `url`; its output."""
    done = subprocess.run([shutil.which("etcdctl") or "etcdctl", "--endpoints", url, *args],
                          check=True, capture_output=True, text=True,
                          env={**os.environ, "ETCDCTL_API": "3"})
    return done.stdout


def etcd_keys(url: str, prefix: str) -> dict[str, str]:
    """The keys under `prefix` and their values."""
    lines = etcdctl(url, "get", "--prefix", prefix).splitlines()
    return dict(zip(lines[0::2], lines[1::2]))




def eventually(what: str, cond: Callable[[], bool], limit: float = 20.0) -> None:
    """Polls `cond` until it holds; fails after `limit` seconds (a hang guard)."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


ZOOKEEPER_JAR = os.environ.get("ZOOKEEPER_JAR", "/usr/share/java/zookeeper.jar")
ZOOKEEPER_CONF = "/etc/zookeeper/conf"


def _zookeeper_serving(port: int) -> bool:
    """True when the server serves requests: ``srvr`` reports its ``Mode`` (``ruok`` answers
    earlier, before sessions are accepted)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"srvr")
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
    except OSError:
        return False
    return b"Mode:" in out


class ZooKeeperServer:
    """A running throwaway ZooKeeper and a kazoo client of it (``zk``) to read its znodes."""

    def __init__(self, port: int, zk: Any) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.zk = zk

    def node(self, path: str) -> Optional[tuple[bytes, int]]:
        """The data and ephemeral owner (0: persistent) of `path`; None when it is missing."""
        from kazoo.exceptions import NoNodeError

        try:
            data, stat = self.zk.get(path)
        except NoNodeError:
            return None
        return data, stat.ephemeralOwner

    def children(self, path: str) -> list[str]:
        """The children of `path`, sorted (empty when it is missing)."""
        from kazoo.exceptions import NoNodeError

        try:
            return sorted(self.zk.get_children(path))
        except NoNodeError:
            return []


@pytest.fixture
def zookeeper(tmp_path: Path) -> Iterator[ZooKeeperServer]:
    """A single ZooKeeper server on a free loopback port with a temp dataDir and tickTime
    200 ms (sessions of 0.4 s to 4 s), run as Debian's zkServer.sh does. Skips without java or
    Debian's zookeeper jar (scripts/bootstrap-etcd.sh installs them), unless
    RPCX_REQUIRE_ZOOKEEPER=1, which makes that a failure."""
    java = shutil.which("java")
    if java is None or not os.path.isfile(ZOOKEEPER_JAR):
        why = (f"ZooKeeper (java and {ZOOKEEPER_JAR}) not installed "
               "(scripts/bootstrap-etcd.sh installs it)")
        if os.environ.get("RPCX_REQUIRE_ZOOKEEPER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    try:
        from kazoo.client import KazooClient
    except ImportError:
        pytest.fail("kazoo is not installed (make py-venv installs it, see mk/python.mk)")
    data, log = tmp_path / "zk-data", tmp_path / "zookeeper.log"
    data.mkdir()
    proc: Optional[subprocess.Popen[bytes]] = None
    try:
        # ZooKeeper may lose the race for the free port: then another one.
        for _ in range(3):
            port = free_port()
            cfg = tmp_path / "zoo.cfg"
            cfg.write_text(
                f"tickTime=200\ndataDir={data}\nclientPort={port}\n"
                "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                "4lw.commands.whitelist=srvr\n"
            )
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    [java, "-cp", f"{ZOOKEEPER_CONF}:{ZOOKEEPER_JAR}",
                     "-Dzookeeper.jmx.log4j.disable=true",
                     "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                if _zookeeper_serving(port):
                    break
                time.sleep(0.1)
            else:
                proc.kill()
                proc.wait(timeout=10)
                proc = None
                continue
            break
        if proc is None:
            pytest.fail(f"ZooKeeper did not start:\n{log.read_text(errors='replace')[-4000:]}")
        zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=10)
        zk.start(timeout=20)
        try:
            yield ZooKeeperServer(port, zk)
        finally:
            zk.stop()
            zk.close()
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(timeout=10)
