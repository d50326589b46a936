"""The `rpcx` command line as an XClient: servers discovered in Consul (the fake agent of
registries.py, plain and over mutual TLS), every `--select` mode, the `--fail` modes around a
dead server, and `--group`. Each run is a fresh process, so each mode is checked through what
its first pick (or a run of picks) must be."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

import rpcx
from fake_consul import mutual_tls_context
from registries import FakeConsul
from test_cli import cli  # noqa: F401 (the module-scoped fixture building the CLI)
from test_tls import client_tls, pki  # noqa: F401 (the module-scoped test PKI)
from test_xclient import named  # noqa: F401 (in-process servers n0..n2 answering Arith.Who)

BASE = "/rpcx_cli"


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp@127.0.0.1:{s.getsockname()[1]}"


def run(exe: Path, consul: FakeConsul, *flags: str, method: str = "Arith.Who",
        args: str = "null", extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), "call", "--consul", consul.address, "--base-path", BASE, *extra, *flags,
         method, args],
        capture_output=True, text=True, timeout=60,
    )


def answer(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def consul() -> Iterator[FakeConsul]:
    c = FakeConsul()
    yield c
    c.close()


def test_cli_consul_discovery_and_every_select_mode(
    cli: Path, consul: FakeConsul, named: Any  # noqa: F811
) -> None:
    addrs, _ = named
    consul.put(f"rpcx_cli/Arith/{addrs['n0']}", b"weight=1&group=blue")
    consul.put(f"rpcx_cli/Arith/{addrs['n1']}", b"weight=5&group=red")
    consul.put(f"rpcx_cli/Arith/{addrs['n2']}", b"weight=1&group=blue")
    every = {"n0", "n1", "n2"}
    # Smooth weighted round robin picks the heaviest server first.
    assert {answer(run(cli, consul, "--select", "weighted-round-robin")) for _ in range(3)} == {"n1"}
    # Consistent hashing over sorted servers: the same key maps alike in every process.
    picks = {answer(run(cli, consul, "--select", "consistent-hash", args='"same key"'))
             for _ in range(4)}
    assert len(picks) == 1 and picks <= every
    # Random: twelve fresh processes do not all pick one server of three.
    picks = {answer(run(cli, consul, "--select", "random")) for _ in range(12)}
    assert len(picks) > 1 and picks <= every
    for mode in ("round-robin", "weighted-icmp"):
        assert answer(run(cli, consul, "--select", mode)) in every
    # Only the servers of a group.
    assert {answer(run(cli, consul, "--group", "blue")) for _ in range(8)} <= {"n0", "n2"}
    done = run(cli, consul, "--group", "green")
    assert done.returncode != 0 and "server" in done.stderr.lower()


def test_cli_weighted_icmp_with_an_unreachable_server(
    cli: Path, consul: FakeConsul, named: Any  # noqa: F811
) -> None:
    addrs, _ = named
    consul.put(f"rpcx_cli/Arith/{_dead_address()}", b"")
    consul.put(f"rpcx_cli/Arith/{addrs['n2']}", b"")
    for _ in range(4):
        assert answer(run(cli, consul, "--select", "weighted-icmp", "--fail", "failover")) == "n2"


def test_cli_fail_modes_around_a_dead_server(
    cli: Path, consul: FakeConsul, named: Any  # noqa: F811
) -> None:
    """The dead server is the heavier one, so weighted round robin picks it first."""
    addrs, _ = named
    consul.put(f"rpcx_cli/Arith/{_dead_address()}", b"weight=5")
    consul.put(f"rpcx_cli/Arith/{addrs['n0']}", b"weight=1")
    wrr = ("--select", "weighted-round-robin")
    for mode in ("failfast", "failtry"):  # neither moves on to another server
        done = run(cli, consul, *wrr, "--fail", mode)
        assert done.returncode != 0, (mode, done.stdout)
        assert "connect" in done.stderr.lower() or "refused" in done.stderr.lower(), done.stderr
    # Failover moves on to the live server.
    assert answer(run(cli, consul, *wrr, "--fail", "failover")) == "n0"
    # Failbackup sends a second request only when the first is slow to answer; a first
    # server that refuses at once fails the call, as Go's does.
    done = run(cli, consul, *wrr, "--fail", "failbackup")
    assert done.returncode != 0 and "refused" in done.stderr.lower(), done.stderr


def test_consul_over_mutual_tls_from_python_and_the_cli(cli: Path, pki: Path) -> None:  # noqa: F811
    """An agent that requires client certificates: a Python TLS server registers itself
    through rpcx.ConsulRegistry(tls=...), rpcx.Consul(tls=...) and the CLI
    (--registry-tls-*, then --tls-* for the server itself) find and call it."""
    consul = FakeConsul(tls=mutual_tls_context(str(pki)))
    server = rpcx.Server(
        tls=rpcx.TLSConfig(cert_file=pki / "server.pem", key_file=pki / "server.key",
                           ca_file=pki / "ca.pem", require_client_cert=True)
    )
    server.register("Arith.Who", lambda _: "tls")
    registry = rpcx.ConsulRegistry(consul.address, base_path=BASE, tls=client_tls(pki))
    server.add_registry(registry)
    try:
        port = server.start("tcp@127.0.0.1:0")
        assert registry.flush(timeout=10)
        key = f"rpcx_cli/Arith/tcp@127.0.0.1:{port}"
        assert consul.get(key) is not None
        discovery = rpcx.Consul(consul.address, BASE, "Arith", tls=client_tls(pki))
        with rpcx.XClient("Arith", discovery, tls=client_tls(pki), timeout=10) as xc:
            assert xc.call("Who") == "tls"
        discovery.close()
        tls_flags = ("--registry-tls-ca", str(pki / "ca.pem"),
                     "--registry-tls-cert", str(pki / "client.pem"),
                     "--registry-tls-key", str(pki / "client.key"),
                     "--tls-ca", str(pki / "ca.pem"),
                     "--tls-cert", str(pki / "client.pem"),
                     "--tls-key", str(pki / "client.key"))
        assert answer(run(cli, consul, extra=tls_flags)) == "tls"
        # Without a client certificate for the agent, the CLI says why.
        done = run(cli, consul, extra=("--registry-tls-ca", str(pki / "ca.pem")))
        assert done.returncode != 0 and done.stderr
        with pytest.raises(rpcx.RpcConnectionError):
            rpcx.Consul(consul.address, BASE, "Arith", tls=client_tls(pki, cert=False))
    finally:
        server.stop(grace=1)
        consul.close()
    assert consul.get(key) is None


def test_cli_broadcast_fork_and_inform(cli: Path, consul: FakeConsul, named: Any) -> None:  # noqa: F811
    """Every registered server at once: Flaky refuses on n0 and answers on n2."""
    addrs, counter = named
    consul.put(f"rpcx_cli/Arith/{addrs['n0']}")
    consul.put(f"rpcx_cli/Arith/{addrs['n2']}")
    before = {n: counter.get(n, 0) for n in ("n0", "n2")}
    assert answer(run(cli, consul, "--broadcast", method="Arith.Count")) in {"n0", "n2"}
    assert all(counter.get(n, 0) == before[n] + 1 for n in ("n0", "n2"))
    done = run(cli, consul, "--broadcast", method="Arith.Flaky")
    assert done.returncode != 0 and "n0 refuses" in done.stderr, done.stderr
    assert answer(run(cli, consul, "--fork", method="Arith.Flaky")) == "n2"
    done = run(cli, consul, "--inform", method="Arith.Who")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines == sorted(
        [{"server": addrs["n0"], "reply": "n0"}, {"server": addrs["n2"], "reply": "n2"}],
        key=lambda d: d["server"],
    )
    done = run(cli, consul, "--inform", method="Arith.Flaky")
    assert done.returncode == 1
    by = {d["server"]: d for d in map(json.loads, done.stdout.splitlines())}
    assert "n0 refuses" in by[addrs["n0"]]["error"] and by[addrs["n2"]]["reply"] == "n2"
    # Without a registry there is nothing to fan out over.
    plain = subprocess.run([str(cli), "call", "--fork", addrs["n0"], "Arith.Who", "null"],
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode != 0 and "--etcd" in plain.stderr
