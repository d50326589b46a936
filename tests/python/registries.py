"""Registries for the tests: a throwaway etcd (as the Rust suites start it) and the fake of
Consul's HTTP API (fake_consul.py), enough for ``rpcx.Consul`` discovery and
``rpcx.ConsulRegistry``. Not a test module: imported by the tests that need them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

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


