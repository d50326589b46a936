"""Python servers publishing themselves in a real ZooKeeper with ``rpcx.ZookeeperRegistry``
(the exact znodes Go's rpcx-zookeeper plugin writes, read with kazoo: persistent
``/<base>`` = ``rpcx_path`` and ``/<base>/<Service>`` = the service name, ephemeral
``/<base>/<Service>/<tcp@addr>`` = the metadata), found by ``rpcx.Zookeeper`` discovery from
``XClient`` and ``AsyncXClient``, and removed on a graceful stop or when the process dies.
ZooKeeper is started by the ``zookeeper`` fixture (registries.py); skipped without it unless
RPCX_REQUIRE_ZOOKEEPER=1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any, Callable

import pytest

import rpcx
from registries import ZooKeeperServer, eventually, free_port, zookeeper  # noqa: F401


def mul_of(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """An Arith.Mul handler that says which server answered."""
    return lambda a: {"C": a["A"] * a["B"], "S": name}


def test_zookeeper_bad_arguments() -> None:
    for servers in ("", " ", [], ["", " "]):
        with pytest.raises(ValueError, match="at least one server"):
            rpcx.ZookeeperRegistry(servers)
        with pytest.raises(ValueError, match="at least one server"):
            rpcx.Zookeeper(servers, "/rpcx_test", "Arith")
    wrong: tuple[Any, ...] = (5, None, [1, 2], b"127.0.0.1:2181")
    for bad in wrong:
        with pytest.raises(TypeError, match="servers must be a str or a list of str"):
            rpcx.ZookeeperRegistry(bad)
        with pytest.raises(TypeError, match="servers must be a str or a list of str"):
            rpcx.Zookeeper(bad, "/rpcx_test", "Arith")
    # A chroot in the connect string, bad base paths and service names.
    with pytest.raises(ValueError, match="without a path"):
        rpcx.ZookeeperRegistry("127.0.0.1:2181/chroot")
    with pytest.raises(ValueError, match="without a path"):
        rpcx.Zookeeper("127.0.0.1:2181/chroot", "/rpcx_test", "Arith")
    for base in ("/", "", "a//b"):
        with pytest.raises(ValueError, match="not a ZooKeeper path"):
            rpcx.ZookeeperRegistry("127.0.0.1:2181", base)
        with pytest.raises(ValueError, match="not a ZooKeeper path"):
            rpcx.Zookeeper("127.0.0.1:2181", base, "Arith")
    for service in ("", "Arith/Mul"):
        with pytest.raises(ValueError, match="invalid service name"):
            rpcx.Zookeeper("127.0.0.1:2181", "/rpcx_test", service)
    for interval in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="update_interval"):
            rpcx.ZookeeperRegistry("127.0.0.1:2181", update_interval=interval)
    with pytest.raises(TypeError):
        rpcx.Zookeeper("127.0.0.1:2181", "/rpcx_test")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="rpcx.ZookeeperRegistry, got str"):
        rpcx.Server().add_registry("127.0.0.1:2181")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rpcx.Zookeeper or rpcx.Dns, got str"):
        rpcx.XClient("Arith", "127.0.0.1:2181")  # type: ignore[arg-type]


def test_zookeeper_unreachable_ensemble() -> None:
    dead = f"127.0.0.1:{free_port()}"
    # The discovery has nothing to list: an error.
    with pytest.raises(rpcx.RpcConnectionError, match="zookeeper"):
        rpcx.Zookeeper(dead, "/rpcx_test", "Arith")
    with pytest.raises(rpcx.RpcConnectionError, match="zookeeper"):
        rpcx.Zookeeper([dead, f"127.0.0.1:{free_port()}"], "/rpcx_test", "Arith")
    # The registry is an outage, not an error: created, it retries, and flush says why
    # nothing is written.
    registry = rpcx.ZookeeperRegistry(dead, update_interval=1)
    try:
        with pytest.raises(rpcx.RpcError, match="zookeeper"):
            registry.flush(timeout=10)
    finally:
        registry.close()


def test_zookeeper_registry_discovery_and_xclient(zookeeper: ZooKeeperServer) -> None:
    zk = zookeeper
    # The base path with and without its leading '/' is the same znode, as Go spells it.
    reg_a = rpcx.ZookeeperRegistry(zk.address, base_path="rpcx_pyzk", update_interval=1)
    reg_b = rpcx.ZookeeperRegistry([zk.address], "/rpcx_pyzk", update_interval=1)
    assert (reg_a.servers, reg_a.base_path, reg_a.closed) == (zk.address, "rpcx_pyzk", False)
    assert repr(reg_b) == f"<rpcx.ZookeeperRegistry {zk.address} /rpcx_pyzk>"
    a, b = rpcx.Server(workers=2), rpcx.Server(workers=2)
    a.register("Arith.Mul", mul_of("a"))
    b.register("Arith.Mul", mul_of("b"), meta={"group": "blue"})
    a.add_registry(reg_a)  # before start
    addr_a = f"tcp@127.0.0.1:{a.start('tcp@127.0.0.1:0')}"
    addr_b = f"tcp@127.0.0.1:{b.start('tcp@127.0.0.1:0')}"
    b.add_registry(reg_b)  # after start
    try:
        assert reg_a.flush() and reg_b.flush()
        # Go's layout: persistent base and service nodes, one ephemeral node per server
        # whose data is its metadata, each on its registry's own session.
        assert zk.children("/") == ["rpcx_pyzk", "zookeeper"]
        assert zk.node("/rpcx_pyzk") == (b"rpcx_path", 0)
        assert zk.node("/rpcx_pyzk/Arith") == (b"Arith", 0)
        assert zk.children("/rpcx_pyzk") == ["Arith"]
        assert zk.children("/rpcx_pyzk/Arith") == sorted([addr_a, addr_b])
        node_a, node_b = zk.node(f"/rpcx_pyzk/Arith/{addr_a}"), zk.node(f"/rpcx_pyzk/Arith/{addr_b}")
        assert node_a is not None and node_b is not None
        assert node_a[0] == b"" and node_b[0] == b"group=blue"
        assert node_a[1] != 0 and node_b[1] != 0 and node_a[1] != node_b[1]
        assert zk.children(f"/rpcx_pyzk/Arith/{addr_a}") == []

        d = rpcx.Zookeeper(zk.address, "/rpcx_pyzk", "Arith")
        assert d.prefix == "/rpcx_pyzk/Arith"
        assert d.servers == sorted([(addr_a, ""), (addr_b, "group=blue")])
        assert repr(d) == "<rpcx.Zookeeper /rpcx_pyzk/Arith 2 servers>"
        with rpcx.XClient("Arith", d, timeout=10) as xc:
            assert xc.servers == d.servers
            # Both servers answer (inform calls each one), and round robin reaches both.
            receipts = xc.inform("Mul", {"A": 6, "B": 7})
            assert [(r.server, r.reply, r.error) for r in receipts] == sorted(
                [(addr_a, {"C": 42, "S": "a"}, None), (addr_b, {"C": 42, "S": "b"}, None)]
            )
            assert {xc.call("Mul", {"A": 2, "B": 3})["S"] for _ in range(4)} == {"a", "b"}
            with rpcx.XClient("Arith", d, group="blue", timeout=10) as blue:
                assert blue.servers == [(addr_b, "group=blue")]
                assert blue.call("Mul", {"A": 3, "B": 4}) == {"C": 12, "S": "b"}

                # A service registered while running appears; unregistered, it goes.
                a.register("Live.Echo", lambda x: x)
                assert reg_a.flush()
                assert zk.children("/rpcx_pyzk") == ["Arith", "Live"]
                live = rpcx.Zookeeper([zk.address], "rpcx_pyzk", "Live")
                assert live.servers == [(addr_a, "")]
                assert a.unregister("Live")
                assert reg_a.flush()
                assert zk.node(f"/rpcx_pyzk/Live/{addr_a}") is None
                eventually("discovery follows the delete", lambda: live.servers == [])
                live.close()

                # Metadata rewritten at run time: the node's data and the discovery follow.
                a.set_service_metadata("Arith", "weight=3")
                assert reg_a.flush()
                assert zk.node(f"/rpcx_pyzk/Arith/{addr_a}") == (b"weight=3", node_a[1])
                eventually("discovery sees the new metadata",
                           lambda: (addr_a, "weight=3") in d.servers)

                # Graceful stop of b: its node is deleted, its registry closed, and the
                # XClients follow.
                b.stop(grace=1.0)
                assert reg_b.closed
                assert zk.children("/rpcx_pyzk/Arith") == [addr_a]
                eventually("discovery follows the stop", lambda: d.servers == [(addr_a, "weight=3")])
                eventually("the XClient follows the stop",
                           lambda: xc.servers == [(addr_a, "weight=3")])
                assert xc.call("Mul", {"A": 5, "B": 5}) == {"C": 25, "S": "a"}
                eventually("the group XClient has no server left", lambda: blue.servers == [])
                with pytest.raises(rpcx.RpcConnectionError):
                    blue.call("Mul", {"A": 1, "B": 1})
        d.close()
    finally:
        a.stop(grace=1.0)
        b.stop(grace=1.0)
    assert reg_a.closed
    # The graceful stop deleted the node; base and service nodes stay, as Go leaves them.
    assert zk.children("/rpcx_pyzk/Arith") == []
    assert zk.node("/rpcx_pyzk/Arith") == (b"Arith", 0)
    assert zk.node("/rpcx_pyzk") == (b"rpcx_path", 0)
    with pytest.raises(rpcx.ClosedError):
        reg_a.flush()


def test_zookeeper_discovery_with_asyncio(zookeeper: ZooKeeperServer) -> None:
    """Two asyncio servers publishing themselves with ZookeeperRegistry, found and called by
    an AsyncXClient, which follows one server's graceful stop."""
    zk = zookeeper

    async def main() -> None:
        servers, addresses = [], []
        for name, meta in (("a", ""), ("b", "group=blue")):
            s = rpcx.Server()

            def handler(n: str) -> Callable[[dict[str, Any]], Any]:
                async def mul(args: dict[str, Any]) -> dict[str, Any]:
                    return {"C": args["A"] * args["B"], "S": n}

                return mul

            s.register("Arith.Mul", handler(name), meta=meta)
            reg = rpcx.ZookeeperRegistry(zk.address, "/rpcx_pyzka", update_interval=1)
            s.add_registry(reg)
            port = await s.start_async("tcp@127.0.0.1:0")
            assert reg.flush()
            servers.append(s)
            addresses.append(f"tcp@127.0.0.1:{port}")
        a, b = servers
        addr_a, addr_b = addresses
        try:
            assert zk.children("/rpcx_pyzka/Arith") == sorted(addresses)
            assert zk.node(f"/rpcx_pyzka/Arith/{addr_b}")[0] == b"group=blue"  # type: ignore[index]
            d = rpcx.Zookeeper(zk.address, "rpcx_pyzka", "Arith")
            assert d.servers == sorted([(addr_a, ""), (addr_b, "group=blue")])
            async with rpcx.AsyncXClient("Arith", d, timeout=10) as xc:
                receipts = await xc.inform("Mul", {"A": 6, "B": 7})
                assert sorted((r.server, r.reply["S"]) for r in receipts) == sorted(
                    [(addr_a, "a"), (addr_b, "b")]
                )
                async with rpcx.AsyncXClient("Arith", d, group="blue", timeout=10) as blue:
                    assert await blue.call("Mul", {"A": 5, "B": 6}) == {"C": 30, "S": "b"}
                await b.stop_async(grace=1.0)
                assert zk.children("/rpcx_pyzka/Arith") == [addr_a]
                for _ in range(500):
                    if xc.servers == [(addr_a, "")]:
                        break
                    await asyncio.sleep(0.02)
                assert xc.servers == [(addr_a, "")]
                assert await xc.call("Mul", {"A": 7, "B": 8}) == {"C": 56, "S": "a"}
            d.close()
        finally:
            await a.stop_async(grace=1.0)
            await b.stop_async(grace=1.0)

    asyncio.run(main())
    assert zk.children("/rpcx_pyzka/Arith") == []


def test_zookeeper_node_goes_with_a_killed_server(zookeeper: ZooKeeperServer) -> None:
    """A server process killed without a graceful stop: its ephemeral node disappears when
    the session times out (the session asked for 2 x update_interval, here 2 s) and the
    discovery follows."""
    zk = zookeeper
    script = (
        "import sys, time, rpcx\n"
        "reg = rpcx.ZookeeperRegistry(sys.argv[1], '/rpcx_pyzkk', update_interval=1)\n"
        "s = rpcx.Server()\n"
        "s.register('Arith.Mul', lambda a: {'C': a['A'] * a['B']}, meta='weight=2')\n"
        "s.add_registry(reg)\n"
        "port = s.start('tcp@127.0.0.1:0')\n"
        "assert reg.flush()\n"
        "print(port, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, zk.address],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"the server process said {line!r}"
        addr = f"tcp@127.0.0.1:{line.strip()}"
        node = zk.node(f"/rpcx_pyzkk/Arith/{addr}")
        assert node is not None and node[0] == b"weight=2" and node[1] != 0
        d = rpcx.Zookeeper(zk.address, "/rpcx_pyzkk", "Arith")
        assert d.servers == [(addr, "weight=2")]
        with rpcx.XClient("Arith", d, timeout=10) as xc:
            assert xc.call("Mul", {"A": 4, "B": 5}) == {"C": 20}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        eventually("the ephemeral node goes with the session",
                   lambda: zk.node(f"/rpcx_pyzkk/Arith/{addr}") is None, limit=30)
        eventually("discovery follows the expiry", lambda: d.servers == [], limit=30)
        d.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_zookeeper_registry_close_ends_the_session(zookeeper: ZooKeeperServer) -> None:
    """close() deletes nothing itself but ends the session, so the ephemeral node goes with
    it while the server keeps serving; the server's stop later has nothing left to do."""
    zk = zookeeper
    reg = rpcx.ZookeeperRegistry(zk.address, "/rpcx_pyzkc", update_interval=1)
    server = rpcx.Server()
    server.register("Arith.Mul", mul_of("a"))
    server.add_registry(reg)
    addr = f"tcp@127.0.0.1:{server.start('tcp@127.0.0.1:0')}"
    try:
        assert reg.flush()
        assert zk.children("/rpcx_pyzkc/Arith") == [addr]
        reg.close()
        assert reg.closed
        eventually("the node goes with the session",
                   lambda: zk.children("/rpcx_pyzkc/Arith") == [])
        with pytest.raises(rpcx.ClosedError):
            reg.flush()
        with rpcx.Client(addr) as c:
            assert c.call("Arith", "Mul", {"A": 2, "B": 2}) == {"C": 4, "S": "a"}
    finally:
        server.stop(grace=1.0)
    assert zk.node("/rpcx_pyzkc/Arith") == (b"Arith", 0)


def test_discovery_md_python_example(zookeeper: ZooKeeperServer) -> None:
    """The Python example of docs/discovery.md's ZooKeeper section runs as written (against
    this ZooKeeper and a free port)."""
    from conftest import REPO

    doc = (REPO / "docs" / "discovery.md").read_text(encoding="utf-8")
    section = doc[doc.index("\n## ZooKeeper\n"):]
    section = section[: section.index("\n## ", 1)]
    start = section.index("```python\n") + len("```python\n")
    code = section[start: section.index("```", start)]
    assert "rpcx.ZookeeperRegistry" in code and "rpcx.Zookeeper(" in code
    port = free_port()
    code = code.replace("127.0.0.1:2181", zookeeper.address).replace("8972", str(port))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'C': 56}"
    assert zookeeper.children("/rpcx_test/Arith") == []
    assert zookeeper.node("/rpcx_test") == (b"rpcx_path", 0)
