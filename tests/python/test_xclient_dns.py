"""DNS discovery (``rpcx.Dns``, Go's ``NewDNSDiscovery``) against the in-process responder of
fake_dns.py on a free UDP port (no /etc/hosts, no internet): two servers on 127.0.0.2 and
127.0.0.3 with one port behind one name, the sync and asyncio XClients spreading calls over
them, a record change followed, failures keeping the last list, bad arguments refused; and
the CLI's ``--dns`` / ``--dns-server`` for ``call`` and ``list``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import rpcx
from fake_dns import FakeDns
from test_cli import cli  # noqa: F401 (the module-scoped fixture building the CLI)
from test_xclient import _named_server

NAME = "svc.rpcx.test"
INTERVAL = 0.2


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[int, dict[str, str]]]:
    """Servers named after their address on 127.0.0.2 and 127.0.0.3, one port: (port,
    address by name)."""
    counter: dict[str, int] = {}
    lock = threading.Lock()
    for _ in range(20):
        a = _named_server("127.0.0.2", counter, lock)
        port = a.start("tcp@127.0.0.2:0")
        b = _named_server("127.0.0.3", counter, lock)
        try:
            b.start(f"tcp@127.0.0.3:{port}")
        except Exception:  # the port is taken on 127.0.0.3: again
            a.stop(grace=1)
            continue
        yield port, {"127.0.0.2": f"tcp@127.0.0.2:{port}", "127.0.0.3": f"tcp@127.0.0.3:{port}"}
        a.stop(grace=1)
        b.stop(grace=1)
        return
    pytest.fail("no port free on both 127.0.0.2 and 127.0.0.3")


@pytest.fixture
def dns() -> Iterator[FakeDns]:
    d = FakeDns(NAME, ["127.0.0.3", "127.0.0.2"])
    yield d
    d.close()


def wait_for(cond: Callable[[], bool], what: str, limit: float = 20) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, f"{what}: not reached within {limit}s"
        time.sleep(0.02)


def test_dns_discovery_sync(pair: Any, dns: FakeDns) -> None:
    port, addrs = pair
    both = sorted((a, "") for a in addrs.values())
    d = rpcx.Dns(NAME, port, interval=INTERVAL, nameservers=dns.addr)
    assert d.domain == NAME
    assert d.servers == both
    assert d.last_error is None
    assert NAME in repr(d)
    with rpcx.XClient("Arith", d, select_mode=rpcx.SelectMode.ROUND_ROBIN) as xc:
        assert {xc.call("Who") for _ in range(6)} == set(addrs)
        # The record set changes: the XClient follows.
        dns.set(["127.0.0.3"])
        wait_for(lambda: xc.servers == [(addrs["127.0.0.3"], "")], "one server left")
        assert {xc.call("Who") for _ in range(3)} == {"127.0.0.3"}
        dns.set(["127.0.0.2", "127.0.0.3"])
        wait_for(lambda: len(xc.servers) == 2, "both again")
        # Silence: refreshes fail, the last list stays and calls go on over it.
        dns.set("silent")
        wait_for(lambda: d.last_error is not None, "the failed lookup")
        assert "dns" in (d.last_error or "")
        assert d.servers == both
        assert {xc.call("Who") for _ in range(6)} == set(addrs)
        dns.set(["127.0.0.2", "127.0.0.3"])
        wait_for(lambda: d.last_error is None, "recovered")
    d.close()


def test_dns_discovery_async(pair: Any, dns: FakeDns) -> None:
    port, addrs = pair
    # A list of nameservers works too.
    d = rpcx.Dns(NAME, port, network="tcp4", interval=INTERVAL, nameservers=[dns.addr])
    assert [s for s, _ in d.servers] == sorted(a.replace("tcp@", "tcp4@") for a in addrs.values())

    async def main() -> set[str]:
        async with rpcx.AsyncXClient(
            "Arith", d, select_mode=rpcx.SelectMode.ROUND_ROBIN
        ) as xc:
            first = {await xc.call("Who") for _ in range(4)}
            dns.set(["127.0.0.2"])
            deadline = time.monotonic() + 20
            while len(xc.servers) != 1:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            assert {await xc.call("Who") for _ in range(3)} == {"127.0.0.2"}
            return first

    assert asyncio.run(main()) == set(addrs)


def test_dns_bad_arguments(dns: FakeDns) -> None:
    ns = dns.addr
    for kwargs, text in [
        ({"domain": "", "port": 1}, "empty"),
        ({"domain": NAME, "port": 0}, "port"),
        ({"domain": NAME, "port": 1, "network": "unix"}, "network"),
        ({"domain": NAME, "port": 1, "interval": 0}, "interval"),
        ({"domain": NAME, "port": 1, "nameservers": "name.server"}, "nameserver"),
        ({"domain": NAME, "port": 1, "nameservers": []}, "nameserver"),
    ]:
        kwargs.setdefault("nameservers", ns)
        with pytest.raises(ValueError, match=text):
            rpcx.Dns(**kwargs)
    with pytest.raises(TypeError):
        rpcx.Dns(NAME, 1, nameservers=5)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):
        rpcx.Dns(NAME, 70000, nameservers=ns)
    # A first lookup without a usable answer is an error; a name without address is fine.
    dns.set("servfail")
    with pytest.raises(rpcx.RpcError, match="dns"):
        rpcx.Dns(NAME, 1, interval=INTERVAL, nameservers=ns)
    dns.set("nxdomain")
    d = rpcx.Dns(NAME, 9, interval=INTERVAL, nameservers=ns)
    assert d.servers == []
    dns.set(["127.0.0.5"])
    wait_for(lambda: d.servers == [("tcp@127.0.0.5:9", "")], "the late record")
    d.close()


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_dns_call_and_list(cli: Path, pair: Any, dns: FakeDns) -> None:  # noqa: F811
    port, addrs = pair
    target = f"{NAME}:{port}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=60)

    # Each run picks one of the two servers at random: until both answered, at most 40 runs
    # (six runs, as before, all hit the same server about once in 32).
    seen = set()
    for _ in range(40):
        done = run("call", "--dns", target, "--dns-server", dns.addr, "Arith.Who", "null")
        assert done.returncode == 0, done.stderr
        seen.add(json.loads(done.stdout))
        if seen == set(addrs):
            break
    assert seen == set(addrs)
    done = run("call", "--dns", target, "--dns-server", dns.addr, "--inform", "Arith.Who", "null")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["server"] for r in lines) == sorted(addrs.values())

    done = run("list", "--dns", target, "--dns-server", dns.addr)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{NAME}\t{a}\t{{}}" for a in sorted(addrs.values())]

    # Errors are clear: no port, a bad nameserver, no answer, --dns with --consul.
    for args, text in [
        (["--dns", NAME], "NAME:PORT"),
        (["--dns", target, "--dns-server", "bogus"], "nameserver"),
        (["--dns", target, "--consul", "127.0.0.1:1"], "cannot be used with"),
    ]:
        done = run("call", *args, "Arith.Who", "null")
        assert done.returncode != 0
        assert text in done.stderr, done.stderr
    done = run("call", "--dns-server", dns.addr, "127.0.0.1:1", "Arith.Who", "null")
    assert done.returncode != 0 and "--dns" in done.stderr, done.stderr
    dns.set("servfail")
    done = run("list", "--dns", target, "--dns-server", dns.addr)
    assert done.returncode == 3 and "dns" in done.stderr, done.stderr
