"""Services registered and unregistered while the server runs (Go's ``Register`` after
``Serve``, ``UnregisterAll``), and Python servers publishing themselves in etcd (checked
with etcdctl, a Go XClient with rpcx-etcd's discovery and the ``rpcx`` CLI) and in Consul
(a fake of its HTTP API), with service metadata, registries added before or after start,
and graceful removal on stop."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import rpcx
from conftest import REPO, Args, ArithObject, Reply, _cargo
from registries import FakeConsul, etcd, etcd_keys, free_port  # noqa: F401 (etcd: a fixture)

GO_DIR = REPO / "tests" / "interop" / "go"


def eventually(what: str, cond: Callable[[], bool], limit: float = 20.0) -> None:
    """Polls `cond` until it holds; fails after `limit` seconds (a hang guard)."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


def missing(c: rpcx.Client, service: str) -> str:
    with pytest.raises(rpcx.ServiceError) as e:
        c.call(service, "Mul", Args(1, 1))
    return str(e.value)


# -- live registration ----------------------------------------------------------------


def test_register_and_unregister_while_running() -> None:
    server = rpcx.Server(workers=4)
    server.register("Keep.Mul", lambda a: {"C": a["A"] * a["B"]})
    port = server.start("tcp@127.0.0.1:0")
    try:
        with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
            assert missing(c, "Live") == "rpcx: can't find service Live"
            # Registered while running, sync and async, a decorator and an object.
            server.register("Live.Mul", lambda a: {"C": 10 * a["A"] * a["B"]})

            @server.register("Live.Async")
            async def live_async(a: Args) -> Reply:
                await asyncio.sleep(0.001)
                return Reply(a.A + a.B)

            assert server.register_object("Obj", ArithObject()) == ["Add", "Div", "Mul"]
            assert c.call("Live", "Mul", Args(2, 3)) == {"C": 60}
            assert c.call("Live", "Async", Args(2, 3)) == {"C": 5}
            assert c.call("Obj", "Mul", Args(4, 5)) == {"C": 20}
            # A name registered again is replaced.
            server.register("Live.Mul", lambda a: {"C": -1})
            assert c.call("Live", "Mul", Args(2, 3)) == {"C": -1}

            # A call in flight when its service goes finishes; new calls are refused.
            entered, release = threading.Event(), threading.Event()

            @server.register("Live.Hold")
            def hold(a: Any) -> str:
                entered.set()
                assert release.wait(30)
                return "held"

            result: list[Any] = []
            t = threading.Thread(target=lambda: result.append(c.call("Live", "Hold", 0)))
            t.start()
            assert entered.wait(30)
            assert server.unregister("Live")
            assert not server.unregister("Live")
            assert missing(c, "Live") == "rpcx: can't find service Live"
            release.set()
            t.join(30)
            assert result == ["held"]
            assert c.call("Keep", "Mul", Args(2, 3)) == {"C": 6}

            # Everything goes; the server keeps running and takes new services.
            assert server.unregister_all() == ["Keep", "Obj"]
            assert server.unregister_all() == []
            assert missing(c, "Keep") == "rpcx: can't find service Keep"
            server.register("Keep.Mul", lambda a: {"C": 7})
            assert c.call("Keep", "Mul", Args(2, 3)) == {"C": 7}
    finally:
        server.stop(grace=1.0)
    with pytest.raises(RuntimeError, match="stopping"):
        server.register("Late.Mul", lambda a: a)
    with pytest.raises(RuntimeError, match="stopping"):
        server.unregister("Keep")


def test_unregister_before_start_and_empty_start() -> None:
    server = rpcx.Server(workers=2)
    server.register("A.Mul", lambda a: 1, meta={"weight": 3})
    server.register("B.Mul", lambda a: 2)
    assert server.unregister("A")
    assert not server.unregister("A")
    assert server.unregister_all() == ["B"]
    # A server may start with nothing registered and get its services later.
    port = server.start("tcp@127.0.0.1:0")
    try:
        with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
            assert missing(c, "B") == "rpcx: can't find service B"
            server.register("B.Mul", lambda a: 2)
            assert c.call("B", "Mul", Args()) == 2
    finally:
        server.stop(grace=1.0)


def test_bad_registry_arguments() -> None:
    server = rpcx.Server(workers=1)
    with pytest.raises(TypeError, match="rpcx.RedisRegistry or rpcx.ZookeeperRegistry"):
        server.add_registry("etcd://nowhere")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="meta"):
        server.register("A.B", lambda a: a, meta=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="update_interval"):
        rpcx.EtcdRegistry("http://127.0.0.1:1", update_interval=0)
    with pytest.raises(ValueError, match="endpoint"):
        rpcx.EtcdRegistry([])
    with pytest.raises(ValueError, match="Consul address"):
        rpcx.ConsulRegistry("")
    # An unreachable etcd is an outage, not an error: the registry is created and retries;
    # its flush reports why nothing is written.
    unreachable = rpcx.EtcdRegistry("http://127.0.0.1:1")
    try:
        with pytest.raises(rpcx.RpcError, match="etcd"):
            unreachable.flush(timeout=10)
    finally:
        unreachable.close()


# -- etcd ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def goetcd() -> Iterator[Path]:
    """The Go etcd check tool (tests/interop/go/cmd/goetcd: rpcx v1.9.4 + rpcx-etcd)."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.skip("go is not installed: the Go etcd peer cannot be built")
    out = Path(tempfile.mkdtemp(prefix="rpcx-py-goetcd-"))
    proc = subprocess.run(
        [go, "build", "-buildvcs=false", "-o", str(out / "goetcd"), "./cmd/goetcd"],
        cwd=GO_DIR, capture_output=True, text=True, timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(f"go build ./cmd/goetcd failed:\n{proc.stderr[-4000:]}")
    yield out / "goetcd"
    shutil.rmtree(out, ignore_errors=True)


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
    import os

    exe = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "rpcx"
    assert exe.exists(), exe
    return exe


def go_discovers(goetcd: Path, url: str, base: str, service: str, want: int,
                 meta: str = "") -> subprocess.CompletedProcess[str]:
    """goetcd -mode client: a Go EtcdV3Discovery waits for exactly `want` servers (checking
    their metadata) and a Go XClient calls Mul and Add on them."""
    args = [str(goetcd), "-mode", "client", "-etcd", url, "-base", base, "-service", service,
            "-want", str(want), "-timeout", "20s"]
    if meta:
        args += ["-want-meta", meta]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def cli_call(rpcx_cli: Path, url: str, base: str, method: str, args: str) -> str:
    done = subprocess.run(
        [str(rpcx_cli), "call", "--etcd", url, "--base-path", base, method, args],
        capture_output=True, text=True, timeout=60,
    )
    return (done.stdout + done.stderr).strip()


def test_etcd_registry_go_xclient_and_cli(etcd: str, goetcd: Path, rpcx_cli: Path) -> None:
    base, late_base = "/rpcx_pyreg", "/rpcx_pyreg_late"
    registry = rpcx.EtcdRegistry([etcd], base_path=base, update_interval=10)
    assert registry.lease_id != 0 and registry.base_path == base and not registry.closed
    server = rpcx.Server(workers=4)
    server.register_object("Arith", ArithObject(), meta="lang=python&weight=2")
    server.add_registry(registry)  # before start: publishes at start
    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    late = None
    try:
        assert registry.flush()
        # Go's rpcx-etcd layout.
        assert etcd_keys(etcd, base) == {
            base: "rpcx_path",
            f"{base}/Arith": "Arith",
            f"{base}/Arith/{addr}": "lang=python&weight=2",
        }
        # A Go XClient finds the server with its metadata and calls it.
        go = go_discovers(goetcd, etcd, base, "Arith", 1, "lang=python&weight=2")
        assert go.returncode == 0, go.stdout + go.stderr
        assert " passed, 0 failed" in go.stdout, go.stdout
        # And so does the CLI.
        assert cli_call(rpcx_cli, etcd, base, "Arith.Mul", '{"A":7,"B":8}') == '{"C":56}'

        # A service registered while running is published (with its metadata) and
        # reachable through the registry; unregistering deletes its key.
        server.register("Live.Mul", lambda a: {"C": a["A"] * a["B"] * 10},
                        meta={"group": "blue"})
        assert registry.flush()
        assert etcd_keys(etcd, f"{base}/Live/") == {f"{base}/Live/{addr}": "group=blue"}
        assert cli_call(rpcx_cli, etcd, base, "Live.Mul", '{"A":7,"B":8}') == '{"C":560}'
        server.set_service_metadata("Live", "group=red")
        assert registry.flush()
        assert etcd_keys(etcd, f"{base}/Live/") == {f"{base}/Live/{addr}": "group=red"}
        assert server.unregister("Live")
        assert registry.flush()
        assert etcd_keys(etcd, f"{base}/Live/") == {}
        assert etcd_keys(etcd, f"{base}/Arith/") == {f"{base}/Arith/{addr}": "lang=python&weight=2"}

        # A registry added after start publishes every service at once.
        late = rpcx.EtcdRegistry(etcd, base_path=late_base, update_interval=10)
        server.add_registry(late)
        assert late.flush()
        assert etcd_keys(etcd, f"{late_base}/Arith/") == {
            f"{late_base}/Arith/{addr}": "lang=python&weight=2"
        }
    finally:
        server.stop(grace=1.0)
    # The graceful stop deleted the node keys before it returned, and closed the registries.
    assert etcd_keys(etcd, f"{base}/Arith/") == {}
    assert etcd_keys(etcd, f"{late_base}/Arith/") == {}
    assert registry.closed and late is not None and late.closed
    go = go_discovers(goetcd, etcd, base, "Arith", 0)
    assert go.returncode == 0, go.stdout + go.stderr
    assert "can not found any server" in cli_call(rpcx_cli, etcd, base, "Arith.Mul",
                                                 '{"A":7,"B":8}')
    # A closed registry cannot serve another server.
    with pytest.raises(RuntimeError, match="closed"):
        rpcx.Server().add_registry(registry)


def test_etcd_registry_python_discovery(etcd: str) -> None:
    """The Python side of the same round trip: rpcx.Etcd + XClient follow a Python server
    registering and unregistering a service at run time."""
    registry = rpcx.EtcdRegistry(etcd, base_path="/rpcx_pyself", update_interval=10)
    server = rpcx.Server(workers=2)
    server.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]})
    port = server.start("tcp@127.0.0.1:0")
    server.add_registry(registry)
    discovery = rpcx.Etcd(etcd, "/rpcx_pyself", "Echo")
    try:
        assert discovery.servers == []
        server.register("Echo.Echo", lambda a: a, meta="weight=5")
        eventually("Echo discovered", lambda: discovery.servers == [
            (f"tcp@127.0.0.1:{port}", "weight=5")
        ])
        with rpcx.XClient("Echo", discovery) as xc:
            assert xc.call("Echo", "hello") == "hello"
            server.unregister("Echo")
            eventually("Echo gone", lambda: xc.servers == [])
    finally:
        discovery.close()
        server.stop(grace=1.0)


# -- Consul --------------------------------------------------------------------------


def test_consul_registry_with_a_fake_consul() -> None:
    consul = FakeConsul()
    try:
        registry = rpcx.ConsulRegistry(consul.address, base_path="/rpcx_pyc", update_interval=10)
        assert registry.session_id.startswith("sess-")
        server = rpcx.Server(workers=2)
        server.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]}, meta="weight=7")
        server.add_registry(registry)
        port = server.start("tcp@127.0.0.1:0")
        addr = f"tcp@127.0.0.1:{port}"
        try:
            assert registry.flush()
            # libkv's layout: no leading slash; the node key held by the registry's session,
            # which deletes it when it expires.
            assert consul.get("rpcx_pyc") == (b"rpcx_path", None)
            assert consul.get(f"rpcx_pyc/Arith/{addr}") == (b"weight=7", registry.session_id)
            assert consul.sessions[registry.session_id]["Behavior"] == "delete"
            discovery = rpcx.Consul(consul.address, "/rpcx_pyc", "Arith")
            assert discovery.servers == [(addr, "weight=7")]
            with rpcx.XClient("Arith", discovery) as xc:
                assert xc.call("Mul", {"A": 6, "B": 7}) == {"C": 42}
            discovery.close()

            server.register("Live.Echo", lambda a: a)
            assert registry.flush()
            assert consul.get(f"rpcx_pyc/Live/{addr}") == (b"", registry.session_id)
            assert server.unregister_all() == ["Arith", "Live"]
            assert registry.flush()
            assert consul.get(f"rpcx_pyc/Arith/{addr}") is None
            assert consul.get(f"rpcx_pyc/Live/{addr}") is None
            server.register("Arith.Mul", lambda a: {"C": 0})
            assert registry.flush()
            assert consul.get(f"rpcx_pyc/Arith/{addr}") == (b"", registry.session_id)
        finally:
            server.stop(grace=1.0)
        assert consul.get(f"rpcx_pyc/Arith/{addr}") is None
        assert registry.closed
    finally:
        consul.close()


# -- asyncio -------------------------------------------------------------------------


def test_asyncio_server_live_registration_and_registries(etcd: str) -> None:
    """A server on the running loop (start_async): services registered and unregistered
    while it runs, an etcd and a Consul registry added after start, stop_async deleting the
    keys."""
    consul = FakeConsul()

    async def main() -> None:
        server = rpcx.Server(workers=2)
        server.register("Keep.Mul", lambda a: {"C": a["A"] * a["B"]})
        async with server:
            port = await server.start_async("tcp@127.0.0.1:0")
            addr = f"tcp@127.0.0.1:{port}"
            etcd_reg = rpcx.EtcdRegistry(etcd, base_path="/rpcx_pyaio", update_interval=10)
            consul_reg = rpcx.ConsulRegistry(consul.address, base_path="/rpcx_pyaio",
                                             update_interval=10)
            server.add_registry(etcd_reg)
            server.add_registry(consul_reg)

            @server.register("Live.Add", meta={"weight": 4})
            async def add(a: Args) -> Reply:  # runs on this loop
                await asyncio.sleep(0)
                return Reply(a.A + a.B)

            async with rpcx.AsyncClient(addr) as c:
                assert await c.call("Live", "Add", Args(2, 3)) == {"C": 5}
                for r in (etcd_reg, consul_reg):
                    assert await asyncio.to_thread(r.flush)
                assert etcd_keys(etcd, "/rpcx_pyaio/Live/") == {
                    f"/rpcx_pyaio/Live/{addr}": "weight=4"
                }
                assert consul.get(f"rpcx_pyaio/Live/{addr}") == (b"weight=4",
                                                                 consul_reg.session_id)
                assert server.unregister("Live")
                with pytest.raises(rpcx.ServiceError, match="can't find service Live"):
                    await c.call("Live", "Add", Args(2, 3))
                for r in (etcd_reg, consul_reg):
                    assert await asyncio.to_thread(r.flush)
                assert etcd_keys(etcd, "/rpcx_pyaio/Live/") == {}
                assert consul.get(f"rpcx_pyaio/Live/{addr}") is None
        # Leaving `async with` ran stop_async: the keys of Keep are gone too.
        assert etcd_keys(etcd, "/rpcx_pyaio/Keep/") == {}
        assert consul.get(f"rpcx_pyaio/Keep/{addr}") is None

    try:
        asyncio.run(main())
    finally:
        consul.close()


# -- the base classes ----------------------------------------------------------------

REGISTRY_MEMBERS = ("flush", "close", "status", "closed", "base_path")
DISCOVERY_MEMBERS = ("servers", "prefix", "close", "__repr__")


def test_registry_and_store_discovery_are_base_classes() -> None:
    """rpcx.Registry and rpcx.StoreDiscovery carry, once, the members their four subclasses
    share; they cannot be made themselves, nor through a Python subclass, and the concrete
    classes stay final."""
    registries = (rpcx.EtcdRegistry, rpcx.ConsulRegistry, rpcx.RedisRegistry,
                  rpcx.ZookeeperRegistry)
    discoveries = (rpcx.Etcd, rpcx.Consul, rpcx.Redis, rpcx.Zookeeper)
    for cls in registries:
        assert cls.__mro__[1] is rpcx.Registry
        assert not issubclass(cls, rpcx.StoreDiscovery)
        for name in REGISTRY_MEMBERS:
            assert name in vars(rpcx.Registry) and name not in vars(cls), (cls, name)
    for cls in discoveries:
        assert cls.__mro__[1] is rpcx.StoreDiscovery
        assert not issubclass(cls, rpcx.Registry)
        for name in DISCOVERY_MEMBERS:
            assert name in vars(rpcx.StoreDiscovery) and name not in vars(cls), (cls, name)
    for other in (rpcx.Peer, rpcx.MultipleServers, rpcx.Dns):
        assert not issubclass(other, rpcx.StoreDiscovery)
    for base in (rpcx.Registry, rpcx.StoreDiscovery):
        with pytest.raises(TypeError, match="cannot create"):
            base()
        derived = type("Derived", (base,), {})
        with pytest.raises(TypeError, match="cannot create"):
            derived()
    for final in (rpcx.EtcdRegistry, rpcx.Zookeeper):
        with pytest.raises(TypeError, match="not an acceptable base type"):
            type("More", (final,), {})
    # Neither base is accepted where a registry or a discovery object is wanted.
    with pytest.raises(TypeError, match="registry must be rpcx.EtcdRegistry"):
        rpcx.Server().add_registry(rpcx.Registry)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="discovery must be rpcx.Peer"):
        rpcx.XClient("Arith", rpcx.StoreDiscovery)  # type: ignore[arg-type]


def test_each_registry_answers_the_base_members_under_its_own_name() -> None:
    """The four registries against a free port nobody serves (an outage, not an error):
    each is an rpcx.Registry with its own repr and status engine, and once closed its flush
    names its own class."""
    port = free_port()
    store = f"127.0.0.1:{port}"
    made = [
        (rpcx.EtcdRegistry(f"http://{store}", base_path="/b_etcd"), "etcd",
         r"<rpcx\.EtcdRegistry /b_etcd lease=\d+>"),
        (rpcx.ConsulRegistry(store, base_path="/b_consul"), "consul",
         r"<rpcx\.ConsulRegistry /b_consul session=\S*>"),
        (rpcx.RedisRegistry(store, base_path="/b_redis"), "redis",
         r"<rpcx\.RedisRegistry /b_redis>"),
        (rpcx.ZookeeperRegistry(store, base_path="/b_zk"), "zookeeper",
         rf"<rpcx\.ZookeeperRegistry {store} /b_zk>"),
    ]
    try:
        for registry, engine, shown in made:
            name = type(registry).__name__
            assert isinstance(registry, rpcx.Registry)
            assert re.fullmatch(shown, repr(registry)), repr(registry)
            assert registry.base_path == "/b_" + engine.replace("zookeeper", "zk")
            assert isinstance(registry.status, rpcx.RegistryStatus)
            assert registry.status.engine == engine
            assert store in registry.status.target
            assert not registry.status.up
            assert not registry.closed
            registry.close()
            assert registry.closed
            with pytest.raises(rpcx.ClosedError, match=f"this {name} is closed"):
                registry.flush(timeout=1)
            # The same method, reached through the base class.
            with pytest.raises(rpcx.ClosedError, match=f"this {name} is closed"):
                rpcx.Registry.flush(registry, 1)
            with pytest.raises(RuntimeError, match="closed"):
                rpcx.Server().add_registry(registry)
        assert made[3][0].servers == store  # type: ignore[attr-defined]
    finally:
        for registry, _, _ in made:
            registry.close()


def test_store_discovery_members_with_a_fake_consul() -> None:
    """An rpcx.Consul discovery answers the base members (servers, prefix, repr, close),
    follows the store, and is accepted by XClient and AsyncXClient."""
    consul = FakeConsul()
    one, two = f"tcp@127.0.0.1:{free_port()}", f"tcp@127.0.0.1:{free_port()}"
    try:
        consul.put(f"rpcx_pybase/Arith/{one}", b"weight=3")
        discovery = rpcx.Consul(consul.address, "/rpcx_pybase", "Arith")
        try:
            assert isinstance(discovery, rpcx.StoreDiscovery)
            assert discovery.prefix == "rpcx_pybase/Arith"
            assert discovery.servers == [(one, "weight=3")]
            assert rpcx.StoreDiscovery.servers.__get__(discovery) == [(one, "weight=3")]
            assert repr(discovery) == "<rpcx.Consul rpcx_pybase/Arith 1 servers>"
            consul.put(f"rpcx_pybase/Arith/{two}")
            eventually("the second server seen", lambda: len(discovery.servers) == 2)
            assert repr(discovery) == "<rpcx.Consul rpcx_pybase/Arith 2 servers>"
            both = sorted([(one, "weight=3"), (two, "")])
            assert sorted(discovery.servers) == both
            with rpcx.XClient("Arith", discovery) as xc:
                assert sorted(xc.servers) == both

            async def main() -> list[tuple[str, str]]:
                async with rpcx.AsyncXClient("Arith", discovery) as axc:
                    return axc.servers

            assert sorted(asyncio.run(main())) == both
        finally:
            discovery.close()
        # A closed discovery keeps its last list.
        assert sorted(discovery.servers) == both
    finally:
        consul.close()
