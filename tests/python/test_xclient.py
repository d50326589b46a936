"""XClient / AsyncXClient: discovery (Peer, MultipleServers updated at run time), fail modes
with a server killed mid-run, broadcast and fork, custom selectors, and bad input."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Iterator

import pytest

import rpcx
from registries import FakeConsul, etcd, etcdctl  # noqa: F401 (etcd: a fixture)

# A server in its own process (so it can be SIGKILLed): Arith.Who answers its name.
_SERVER = """
import sys, time, rpcx
name = sys.argv[1]
server = rpcx.Server(workers=4)
server.register("Arith.Who", lambda a: name)
server.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]})
server.register("Arith.Slow", lambda a: (time.sleep(a), name)[1])
port = server.start("tcp@127.0.0.1:0")
print(f"LISTENING tcp@127.0.0.1:{port}", flush=True)
server.serve_forever()
"""


class ServerProcess:
    def __init__(self, name: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, name], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), line
        self.address = line.split(" ", 1)[1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def three_servers() -> Iterator[list[ServerProcess]]:
    servers = [ServerProcess(f"s{i}") for i in range(3)]
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# In-process servers for broadcast/fork/selector tests.


def _named_server(name: str, counter: dict[str, int], lock: threading.Lock) -> rpcx.Server:
    server = rpcx.Server(workers=2)

    @server.register("Arith.Who")
    def who(_: Any) -> str:
        return name

    @server.register("Arith.Count")
    def count(_: Any) -> str:
        with lock:
            counter[name] = counter.get(name, 0) + 1
        return name

    @server.register("Arith.Flaky")
    def flaky(_: Any) -> str:
        if name != "n2":
            raise RuntimeError(f"{name} refuses")
        time.sleep(0.05)
        return name

    @server.register("Arith.Meta")
    def meta(_: Any, ctx: rpcx.Context) -> dict[str, str]:
        return dict(ctx.metadata)

    return server


@pytest.fixture(scope="module")
def named() -> Iterator[tuple[dict[str, str], dict[str, int]]]:
    """Three in-process servers n0..n2: (address by name, call counter)."""
    counter: dict[str, int] = {}
    lock = threading.Lock()
    servers = {f"n{i}": _named_server(f"n{i}", counter, lock) for i in range(3)}
    addrs = {}
    for name, s in servers.items():
        addrs[name] = f"tcp@127.0.0.1:{s.start('tcp@127.0.0.1:0')}"
    yield addrs, counter
    for s in servers.values():
        s.stop(grace=1)


def test_peer_and_properties(py_addr: str) -> None:
    peer = rpcx.Peer(py_addr)
    assert peer.servers == [(py_addr, "")]
    with rpcx.XClient("Arith", peer, timeout=10) as xc:
        assert xc.service == "Arith"
        assert xc.servers == [(py_addr, "")]
        assert xc.call("Mul", {"A": 6, "B": 7}) == {"C": 42}
        reply, md = xc.call_with_metadata("Add", {"A": 1, "B": 2})
        assert reply == {"C": 3} and md["handled-by"] == "python"
        with pytest.raises(rpcx.ServiceError, match="divide by zero"):
            xc.call("Div", {"A": 1, "B": 0})
        assert "XClient Arith" in repr(xc)
    assert xc.closed
    with pytest.raises(rpcx.ClosedError):
        xc.call("Mul", {"A": 1, "B": 1})


def test_every_serializer(py_addr: str) -> None:
    from conftest import Args, ProtoArgs, ProtoReply, Reply

    peer = rpcx.Peer(py_addr)
    with rpcx.XClient("Arith", peer, serializer=rpcx.JSON) as xc:
        assert xc.call("Mul", Args(3, 4), reply_type=Reply) == Reply(12)
        # Per-call serializer.
        assert xc.call("Mul", Args(3, 5), serializer=rpcx.MSGPACK) == {"C": 15}
    with rpcx.XClient("Proto", peer, serializer=rpcx.PROTOBUF) as xc:
        assert xc.call("Mul", ProtoArgs(A=6, B=7), reply_type=ProtoReply).C == 42
    with rpcx.XClient("Echo", peer, serializer=rpcx.RAW) as xc:
        assert xc.call("Echo", b"\x00raw") == b"\x00raw"


def test_multiple_servers_update_at_run_time(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers([addrs["n0"], (addrs["n1"], "weight=2")])
    assert sorted(servers.servers) == sorted([(addrs["n0"], ""), (addrs["n1"], "weight=2")])
    with rpcx.XClient("Arith", servers, select_mode=rpcx.SelectMode.ROUND_ROBIN) as xc:
        seen = {xc.call("Who") for _ in range(10)}
        assert seen == {"n0", "n1"}
        servers.update([addrs["n2"]])
        deadline = time.monotonic() + 5
        while xc.servers != [(addrs["n2"], "")] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert {xc.call("Who") for _ in range(10)} == {"n2"}
        servers.update([])
        deadline = time.monotonic() + 5
        while xc.servers and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(rpcx.RpcConnectionError, match="can not found any server"):
            xc.call("Who")


def test_group_filter(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(
        [(addrs["n0"], "group=blue"), (addrs["n1"], "group=red"), (addrs["n2"], "group=blue")]
    )
    with rpcx.XClient("Arith", servers, group="red") as xc:
        assert xc.servers == [(addrs["n1"], "group=red")]
        assert {xc.call("Who") for _ in range(5)} == {"n1"}


def test_failover_with_a_server_killed_mid_run(three_servers: list[ServerProcess]) -> None:
    servers = rpcx.MultipleServers([s.address for s in three_servers])
    failures: list[BaseException] = []
    answered: list[tuple[float, str]] = []
    stop = threading.Event()
    killed_at: list[float] = []

    def caller(xc: rpcx.XClient) -> None:
        while not stop.is_set():
            try:
                answered.append((time.monotonic(), xc.call("Who")))
            except BaseException as e:  # any failed call fails the test
                failures.append(e)

    with rpcx.XClient(
        "Arith", servers, fail_mode=rpcx.FailMode.FAILOVER, retries=3, timeout=10
    ) as xc:
        threads = [threading.Thread(target=caller, args=(xc,)) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.7)
        three_servers[1].kill()
        killed_at.append(time.monotonic())
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert failures == []
    before = {name for t, name in answered if t < killed_at[0]}
    after = [name for t, name in answered if t > killed_at[0] + 0.2]
    assert before == {"s0", "s1", "s2"}
    assert after and "s1" not in after
    assert set(after) == {"s0", "s2"}


def test_failfast_reports_the_dead_server(three_servers: list[ServerProcess]) -> None:
    three_servers[0].kill()
    servers = rpcx.MultipleServers([three_servers[0].address])
    with rpcx.XClient("Arith", servers, fail_mode=rpcx.FailMode.FAILFAST) as xc:
        with pytest.raises(rpcx.RpcConnectionError):
            xc.call("Who")
    # Failover with a dead and a live server: never fails.
    servers.update([three_servers[0].address, three_servers[1].address])
    with rpcx.XClient("Arith", servers, fail_mode=rpcx.FailMode.FAILOVER) as xc:
        assert {xc.call("Who") for _ in range(10)} == {"s1"}


def test_async_failover_with_a_server_killed(three_servers: list[ServerProcess]) -> None:
    servers = rpcx.MultipleServers([s.address for s in three_servers])

    async def main() -> list[str]:
        async with rpcx.AsyncXClient("Arith", servers, timeout=10) as xc:
            first = await asyncio.gather(*(xc.call("Who") for _ in range(300)))
            three_servers[2].kill()
            second = await asyncio.gather(*(xc.call("Who") for _ in range(300)))
            assert set(first) == {"s0", "s1", "s2"}
            return second

    second = asyncio.run(main())
    assert len(second) == 300 and set(second) <= {"s0", "s1"}


def test_failbackup_takes_the_faster_server(three_servers: list[ServerProcess]) -> None:
    servers = rpcx.MultipleServers([s.address for s in three_servers])
    with rpcx.XClient(
        "Arith", servers, fail_mode=rpcx.FailMode.FAILBACKUP, backup_latency=0.02, timeout=10
    ) as xc:
        assert xc.call("Slow", 0.0) in {"s0", "s1", "s2"}


def test_broadcast_and_fork(named: Any) -> None:
    addrs, counter = named
    servers = rpcx.MultipleServers(list(addrs.values()))
    with rpcx.XClient("Arith", servers, timeout=10) as xc:
        before = dict(counter)
        assert xc.broadcast("Count") in {"n0", "n1", "n2"}
        assert all(counter.get(n, 0) == before.get(n, 0) + 1 for n in addrs)
        # Broadcast fails if any server fails; fork succeeds if any succeeds.
        with pytest.raises(rpcx.ServiceError, match="refuses"):
            xc.broadcast("Flaky")
        assert xc.fork("Flaky") == "n2"
        # Metadata reaches every server.
        assert xc.broadcast("Meta", None, metadata={"k": "v"})["k"] == "v"
        servers.update([addrs["n0"]])
        deadline = time.monotonic() + 5
        while len(xc.servers) != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(rpcx.ServiceError, match="n0 refuses"):
            xc.fork("Flaky")


def test_async_broadcast_and_fork(named: Any) -> None:
    addrs, _ = named

    async def main() -> None:
        servers = rpcx.MultipleServers(list(addrs.values()))
        async with rpcx.AsyncXClient("Arith", servers, timeout=10) as xc:
            assert await xc.fork("Flaky") == "n2"
            with pytest.raises(rpcx.ServiceError):
                await xc.broadcast("Flaky")
            assert await xc.broadcast("Who") in {"n0", "n1", "n2"}
            reply, md = await xc.call_with_metadata("Meta", None, metadata={"a": "b"})
            assert reply["a"] == "b"

    asyncio.run(main())


def test_custom_selector(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(list(addrs.values()))
    seen: list[tuple[list[str], str, str, bytes]] = []

    def last(server_list: list[str], request: rpcx.SelectRequest) -> str:
        seen.append((server_list, request.service, request.method, request.payload))
        return server_list[-1]

    with rpcx.XClient("Arith", servers, selector=last) as xc:
        last_name = next(n for n, a in addrs.items() if a == max(addrs.values()))
        assert {xc.call("Who", 7) for _ in range(5)} == {last_name}
    assert seen[0] == (sorted(addrs.values()), "Arith", "Who", b"\x07")

    # Choosing by method: a callable object works too.
    class ByMethod:
        def __call__(self, server_list: list[str], request: rpcx.SelectRequest) -> str:
            return addrs["n0"] if request.method == "Who" else addrs["n1"]

    with rpcx.XClient("Arith", servers, selector=ByMethod()) as xc:
        assert xc.call("Who") == "n0"
        assert xc.call("Count") == "n1"


def test_custom_selector_async_concurrent(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(list(addrs.values()))
    calls = 0
    lock = threading.Lock()

    def pick_n1(server_list: list[str], request: rpcx.SelectRequest) -> str:
        nonlocal calls
        with lock:
            calls += 1
        return addrs["n1"]

    async def main() -> list[Any]:
        async with rpcx.AsyncXClient("Arith", servers, selector=pick_n1) as xc:
            return await asyncio.gather(*(xc.call("Who") for _ in range(500)))

    assert asyncio.run(main()) == ["n1"] * 500
    assert calls == 500


def test_async_custom_selector_runs_on_the_loop_thread(named: Any) -> None:
    """Runtime threads never take the GIL: an AsyncXClient's selector runs on the thread of
    the event loop that placed the call, for retries too."""
    addrs, _ = named
    dead = f"tcp@127.0.0.1:{_free_port()}"
    servers = rpcx.MultipleServers([dead, *addrs.values()])
    threads: list[int] = []
    failover = True

    def dead_first(server_list: list[str], request: rpcx.SelectRequest) -> str:
        threads.append(threading.get_ident())
        # While `failover`, the first pick of each call is dead and the retry picks n1.
        return dead if failover and len(threads) % 2 else addrs["n1"]

    async def main() -> int:
        nonlocal failover
        async with rpcx.AsyncXClient("Arith", servers, selector=dead_first, retries=2) as xc:
            for _ in range(5):
                assert await xc.call("Who") == "n1"
            assert len(threads) == 10
            failover = False
            assert await asyncio.gather(*(xc.call("Who") for _ in range(10))) == ["n1"] * 10
            await xc.call_oneway("Count")
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert threads and set(threads) == {loop_thread}


def test_custom_selector_errors(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(list(addrs.values()))

    def boom(server_list: list[str], request: rpcx.SelectRequest) -> str:
        raise ZeroDivisionError("no pick today")

    with rpcx.XClient("Arith", servers, selector=boom) as xc:
        with pytest.raises(rpcx.RpcError, match="custom selector raised ZeroDivisionError: no pick today") as info:
            xc.call("Who")
        assert info.value.code == "selector"
        assert isinstance(info.value.__cause__, ZeroDivisionError)

    async def async_boom() -> None:
        async with rpcx.AsyncXClient("Arith", servers, selector=boom) as xc:
            with pytest.raises(rpcx.RpcError, match="custom selector raised") as info:
                await xc.call("Who")
            assert isinstance(info.value.__cause__, ZeroDivisionError)

    asyncio.run(async_boom())

    with rpcx.XClient("Arith", servers, selector=lambda s, r: 42) as xc:
        with pytest.raises(rpcx.RpcError, match=r"must return a server address \(str\) or None, got int"):
            xc.call("Who")
    with rpcx.XClient("Arith", servers, selector=lambda s, r: "tcp@10.0.0.1:1") as xc:
        with pytest.raises(rpcx.RpcError, match="not one of the servers"):
            xc.call("Who")
    with rpcx.XClient("Arith", servers, selector=lambda s, r: None) as xc:
        with pytest.raises(rpcx.RpcConnectionError, match="can not found any server"):
            xc.call("Who")
    # A selector with the wrong signature fails the call with the TypeError as its cause.
    with rpcx.XClient("Arith", servers, selector=lambda: "x", fail_mode=rpcx.FailMode.FAILFAST) as xc:
        with pytest.raises(rpcx.RpcError, match="TypeError") as info:
            xc.call("Who")
        assert isinstance(info.value.__cause__, TypeError)


def test_select_modes(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(
        [
            (addrs["n0"], "weight=1&latitude=48.85&longitude=2.35"),
            (addrs["n1"], "weight=5&latitude=35.68&longitude=139.69"),
            (addrs["n2"], "weight=1&latitude=40.71&longitude=-74.0"),
        ]
    )
    with rpcx.XClient("Arith", servers, select_mode=rpcx.SelectMode.RANDOM) as xc:
        assert {xc.call("Who") for _ in range(60)} == {"n0", "n1", "n2"}
    with rpcx.XClient("Arith", servers, select_mode=rpcx.SelectMode.CONSISTENT_HASH) as xc:
        assert len({xc.call("Who", "same key") for _ in range(20)}) == 1
    with rpcx.XClient("Arith", servers, select_mode=rpcx.SelectMode.WEIGHTED_ROUND_ROBIN) as xc:
        picks = [xc.call("Who") for _ in range(70)]
        assert picks.count("n1") == 50
    with rpcx.XClient(
        "Arith", servers, select_mode=rpcx.SelectMode.CLOSEST, location=(51.5, -0.12)
    ) as xc:
        assert {xc.call("Who") for _ in range(5)} == {"n0"}  # London is closest to Paris


def test_wrong_types() -> None:
    peer = rpcx.Peer("tcp@127.0.0.1:1")
    with pytest.raises(TypeError, match="discovery must be rpcx.Peer"):
        rpcx.XClient("Arith", ["tcp@127.0.0.1:1"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="service must be str"):
        rpcx.XClient(1, peer)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-empty"):
        rpcx.XClient("", peer)
    with pytest.raises(TypeError, match="selector must be callable"):
        rpcx.XClient("Arith", peer, selector="first")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown fail_mode 9"):
        rpcx.XClient("Arith", peer, fail_mode=9)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="select_mode must be an rpcx.SelectMode"):
        rpcx.XClient("Arith", peer, select_mode="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="CLOSEST needs location"):
        rpcx.XClient("Arith", peer, select_mode=rpcx.SelectMode.CLOSEST)
    with pytest.raises(TypeError, match="servers must be a list"):
        rpcx.MultipleServers("tcp@127.0.0.1:1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="each server must be"):
        rpcx.MultipleServers([("a", 1)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="must not be empty"):
        rpcx.Peer("")
    with rpcx.XClient("Arith", peer) as xc:
        with pytest.raises(TypeError, match="method must be str"):
            xc.call(b"Mul")  # type: ignore[arg-type]
        with pytest.raises(rpcx.SerializationError):
            xc.call("Mul", object())
        with pytest.raises(TypeError, match="metadata keys and values must be str"):
            xc.call("Mul", 1, metadata={"k": 1})  # type: ignore[dict-item]
        # Nothing listens on port 1.
        with pytest.raises(rpcx.RpcConnectionError):
            xc.call("Mul", 1)


def test_oneway(py_addr: str, py_server: rpcx.Server) -> None:
    py_server.oneway_event.clear()  # type: ignore[attr-defined]
    with rpcx.XClient("Echo", rpcx.Peer(py_addr)) as xc:
        xc.call_oneway("Oneway", {"via": "xclient"}, metadata={"k": "v"})
        assert py_server.oneway_event.wait(5)  # type: ignore[attr-defined]
    assert {"via": "xclient"} in py_server.oneway_seen  # type: ignore[attr-defined]
    py_server.oneway_event.clear()  # type: ignore[attr-defined]

    async def main() -> None:
        async with rpcx.AsyncXClient("Echo", rpcx.Peer(py_addr)) as xc:
            await xc.call_oneway("Oneway", "async-json", serializer=rpcx.JSON)

    asyncio.run(main())
    assert py_server.oneway_event.wait(5)  # type: ignore[attr-defined]
    assert "async-json" in py_server.oneway_seen  # type: ignore[attr-defined]


def test_cancel_awaited_xclient_call(py_addr: str) -> None:
    async def main() -> None:
        async with rpcx.AsyncXClient("Echo", rpcx.Peer(py_addr)) as xc:
            task = asyncio.ensure_future(xc.call("AsyncSleep", 5.0))
            await asyncio.sleep(0.1)
            start = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - start < 1.0
            assert await xc.call("Echo", "ok") == "ok"

    asyncio.run(main())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_xclient_after_fork(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(list(addrs.values()))
    parent = rpcx.XClient("Arith", servers)
    assert parent.call("Who") in addrs
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            try:
                parent.call("Who")
                report = "inherited XClient worked?!"
            except rpcx.ClosedError:
                # The discovery object itself is plain data and can be reused.
                with rpcx.XClient("Arith", servers) as xc:
                    report = "ok " + ",".join(sorted({xc.call("Who") for _ in range(6)}))
                code = 0
        except BaseException as e:
            report = f"error {e!r}"
        os.write(w, report.encode())
        os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        report = f.read()
    assert report == "ok n0,n1,n2"
    assert os.WEXITSTATUS(status) == 0
    assert parent.call("Who") in addrs
    parent.close()


# -- etcd (a throwaway etcd server, as the Rust suites start it) --------------------------


def test_etcd_discovery(etcd: str, named: Any) -> None:
    addrs, _ = named
    # Go's rpcx-etcd layout: <base>/<service>/<network@address> = metadata.
    etcdctl(etcd, "put", f"/rpcx_py/Arith/{addrs['n0']}", "weight=1")
    discovery = rpcx.Etcd([etcd], "/rpcx_py", "Arith")
    assert discovery.prefix == "/rpcx_py/Arith"
    assert discovery.servers == [(addrs["n0"], "weight=1")]
    with rpcx.XClient("Arith", discovery) as xc:
        assert xc.call("Who") == "n0"
        # A server registered and one removed while the client runs.
        etcdctl(etcd, "put", f"/rpcx_py/Arith/{addrs['n1']}", "")
        etcdctl(etcd, "del", f"/rpcx_py/Arith/{addrs['n0']}")
        deadline = time.monotonic() + 10
        while xc.servers != [(addrs["n1"], "")] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {xc.call("Who") for _ in range(5)} == {"n1"}
    discovery.close()
    with pytest.raises(rpcx.RpcConnectionError, match="etcd"):
        rpcx.Etcd("http://127.0.0.1:1", "/rpcx_py", "Arith")


# -- Consul (a fake of Consul's KV HTTP API, as the Rust suites use) ----------------------


def test_consul_discovery(named: Any) -> None:
    addrs, _ = named
    consul = FakeConsul()
    try:
        consul.put(f"rpcx_py/Arith/{addrs['n2']}", b"group=a")
        discovery = rpcx.Consul(consul.address, "/rpcx_py", "Arith")
        assert discovery.prefix == "rpcx_py/Arith"
        assert discovery.servers == [(addrs["n2"], "group=a")]
        with rpcx.XClient("Arith", discovery) as xc:
            assert xc.call("Who") == "n2"
            consul.put(f"rpcx_py/Arith/{addrs['n0']}")
            consul.delete(f"rpcx_py/Arith/{addrs['n2']}")
            deadline = time.monotonic() + 10
            while xc.servers != [(addrs["n0"], "")] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert {xc.call("Who") for _ in range(5)} == {"n0"}
        discovery.close()
    finally:
        consul.close()
