"""Select and fail modes the other XClient tests leave out: WeightedICMP, Failtry and the
circuit breaker from the blocking XClient, and every select mode, Failfast, Failbackup, the
group filter, etcd and Consul discovery and close() from AsyncXClient."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Iterator

import pytest

import rpcx
from registries import FakeConsul, etcd, etcdctl  # noqa: F401 (etcd: a fixture)
from test_xclient import named  # noqa: F401 (the module-scoped fixture of servers n0..n2)


def _dead_address() -> str:
    """An address nothing listens on (connecting is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp@127.0.0.1:{s.getsockname()[1]}"


class HangupServer:
    """Accepts every connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = f"tcp@127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hangup() -> Iterator[HangupServer]:
    s = HangupServer()
    yield s
    s.close()


def _settles_on_live_servers(call: Any) -> list[str]:
    """Until its first measurement every server weighs 1 (a pick of the dead one fails the
    call: Failfast); once measured, the unreachable server (connect refused) weighs 0 and is
    never chosen: 30 answers in a row, within a bounded number of calls."""
    in_a_row: list[str] = []
    for _ in range(1000):
        try:
            in_a_row.append(call())
        except rpcx.RpcConnectionError:
            in_a_row = []
            time.sleep(0.01)
        if len(in_a_row) == 30:
            return in_a_row
    pytest.fail("the unreachable server kept being chosen")


def test_weighted_icmp_stops_picking_an_unreachable_server(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers([addrs["n0"], addrs["n1"], _dead_address()])
    with rpcx.XClient(
        "Arith", servers, select_mode=rpcx.SelectMode.WEIGHTED_ICMP,
        fail_mode=rpcx.FailMode.FAILFAST, timeout=10,
    ) as xc:
        assert set(_settles_on_live_servers(lambda: xc.call("Who"))) <= {"n0", "n1"}


def test_async_weighted_icmp_stops_picking_an_unreachable_server(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers([addrs["n0"], addrs["n2"], _dead_address()])

    async def main() -> list[str]:
        async with rpcx.AsyncXClient(
            "Arith", servers, select_mode=rpcx.SelectMode.WEIGHTED_ICMP,
            fail_mode=rpcx.FailMode.FAILFAST, timeout=10,
        ) as xc:
            in_a_row: list[str] = []
            for _ in range(1000):
                try:
                    in_a_row.append(await xc.call("Who"))
                except rpcx.RpcConnectionError:
                    in_a_row = []
                    await asyncio.sleep(0.01)
                if len(in_a_row) == 30:
                    return in_a_row
            pytest.fail("the unreachable server kept being chosen")

    assert set(asyncio.run(main())) <= {"n0", "n2"}


def _failtry_round(call: Any, hangup: HangupServer) -> tuple[int, int]:
    """Four calls alternating (round robin) between the hang-up server and n0: the answered
    ones never dialled the hang-up server, the failed ones never reached n0."""
    answered = failed = 0
    for _ in range(4):
        before = hangup.accepted
        try:
            assert call() == "n0"
            assert hangup.accepted == before, "an answered call never dialled the hang-up server"
            answered += 1
        except rpcx.RpcConnectionError:
            assert hangup.accepted >= before + 3, "Failtry retried the server it picked"
            failed += 1
    return answered, failed


def test_failtry_retries_the_same_server_and_never_another(named: Any, hangup: HangupServer) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers([hangup.address, addrs["n0"]])
    with rpcx.XClient(
        "Arith", servers, fail_mode=rpcx.FailMode.FAILTRY,
        select_mode=rpcx.SelectMode.ROUND_ROBIN, retries=2, timeout=10,
        health=None,  # Go's Failtry alone: the detector would keep the server out
    ) as xc:
        assert _failtry_round(lambda: xc.call("Who"), hangup) == (2, 2)


def test_async_failtry_retries_the_same_server(named: Any, hangup: HangupServer) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers([hangup.address, addrs["n0"]])

    async def main() -> None:
        async with rpcx.AsyncXClient(
            "Arith", servers, fail_mode=rpcx.FailMode.FAILTRY,
            select_mode=rpcx.SelectMode.ROUND_ROBIN, retries=2, timeout=10, health=None,
        ) as xc:
            answered = failed = 0
            for _ in range(4):
                before = hangup.accepted
                try:
                    assert await xc.call("Who") == "n0"
                    assert hangup.accepted == before
                    answered += 1
                except rpcx.RpcConnectionError:
                    assert hangup.accepted >= before + 3
                    failed += 1
            assert (answered, failed) == (2, 2)

    asyncio.run(main())


def test_breaker_opens_after_failures(named: Any) -> None:
    """Failfast with one dead server: the first call fails dialling it, the next is refused
    by the open breaker without dialling (its message says so)."""
    dead = _dead_address()
    with rpcx.XClient(
        "Arith", rpcx.MultipleServers([dead]), fail_mode=rpcx.FailMode.FAILFAST,
        breaker=(1, 3600.0), timeout=10,
    ) as xc:
        with pytest.raises(rpcx.RpcConnectionError) as first:
            xc.call("Who")
        assert "breaker" not in str(first.value).lower()
        with pytest.raises(rpcx.RpcConnectionError, match="(?i)breaker"):
            xc.call("Who")
    # Failover around the open breaker: a live server answers every call.
    addrs, _ = named
    with rpcx.XClient(
        "Arith", rpcx.MultipleServers([dead, addrs["n1"]]), fail_mode=rpcx.FailMode.FAILOVER,
        breaker=(1, 3600.0), timeout=10,
    ) as xc:
        assert {xc.call("Who") for _ in range(10)} == {"n1"}


def test_async_breaker_opens_after_failures() -> None:
    dead = _dead_address()

    async def main() -> None:
        async with rpcx.AsyncXClient(
            "Arith", rpcx.MultipleServers([dead]), fail_mode=rpcx.FailMode.FAILFAST,
            breaker=(2, 3600.0), timeout=10,
        ) as xc:
            for _ in range(2):
                with pytest.raises(rpcx.RpcConnectionError) as e:
                    await xc.call("Who")
                assert "breaker" not in str(e.value).lower()
            with pytest.raises(rpcx.RpcConnectionError, match="(?i)breaker"):
                await xc.call("Who")

    asyncio.run(main())


def test_async_select_modes(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(
        [
            (addrs["n0"], "weight=1&latitude=48.85&longitude=2.35"),
            (addrs["n1"], "weight=5&latitude=35.68&longitude=139.69"),
            (addrs["n2"], "weight=1&latitude=40.71&longitude=-74.0"),
        ]
    )

    async def picks(n: int, arg: Any = None, **kw: Any) -> list[str]:
        async with rpcx.AsyncXClient("Arith", servers, timeout=10, **kw) as xc:
            return [await xc.call("Who", arg) for _ in range(n)]

    async def main() -> None:
        assert set(await picks(60, select_mode=rpcx.SelectMode.RANDOM)) == {"n0", "n1", "n2"}
        assert set(await picks(30, select_mode=rpcx.SelectMode.ROUND_ROBIN)) == {"n0", "n1", "n2"}
        assert len(set(await picks(20, "same key", select_mode=rpcx.SelectMode.CONSISTENT_HASH))) == 1
        wrr = await picks(70, select_mode=rpcx.SelectMode.WEIGHTED_ROUND_ROBIN)
        assert wrr.count("n1") == 50
        closest = await picks(5, select_mode=rpcx.SelectMode.CLOSEST, location=(51.5, -0.12))
        assert set(closest) == {"n0"}
        # Loopback servers alike in round trip: the heartbeat-RTT mode spreads the calls.
        rtt = await picks(90, select_mode=rpcx.SelectMode.HEARTBEAT_RTT)
        assert set(rtt) == {"n0", "n1", "n2"}

    asyncio.run(main())


def test_async_failfast_and_failbackup(named: Any) -> None:
    addrs, _ = named
    dead = _dead_address()

    async def main() -> None:
        async with rpcx.AsyncXClient(
            "Arith", rpcx.MultipleServers([dead]), fail_mode=rpcx.FailMode.FAILFAST, timeout=10
        ) as xc:
            with pytest.raises(rpcx.RpcConnectionError):
                await xc.call("Who")
        async with rpcx.AsyncXClient(
            "Arith", rpcx.MultipleServers([addrs["n0"], addrs["n2"]]),
            fail_mode=rpcx.FailMode.FAILBACKUP, backup_latency=0.02, timeout=10,
        ) as xc:
            # A backup request goes to another server when the first is slow to answer.
            assert {await xc.call("Who") for _ in range(10)} <= {"n0", "n2"}

    asyncio.run(main())


def test_async_group_filter(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers(
        [(addrs["n0"], "group=blue"), (addrs["n1"], "group=red"), (addrs["n2"], "group=blue")]
    )

    async def main() -> set[str]:
        async with rpcx.AsyncXClient("Arith", servers, group="blue", timeout=10) as xc:
            return {await xc.call("Who") for _ in range(20)}

    assert asyncio.run(main()) == {"n0", "n2"}


def test_async_etcd_discovery(etcd: str, named: Any) -> None:  # noqa: F811
    addrs, _ = named
    etcdctl(etcd, "put", f"/rpcx_py_async/Arith/{addrs['n1']}", "")
    discovery = rpcx.Etcd(etcd, "/rpcx_py_async", "Arith")

    async def main() -> str:
        async with rpcx.AsyncXClient("Arith", discovery, timeout=10) as xc:
            return await xc.call("Who")

    try:
        assert asyncio.run(main()) == "n1"
    finally:
        discovery.close()
        etcdctl(etcd, "del", f"/rpcx_py_async/Arith/{addrs['n1']}")


def test_async_consul_discovery(named: Any) -> None:
    addrs, _ = named
    consul = FakeConsul()
    try:
        consul.put(f"rpcx_py_async/Arith/{addrs['n2']}")
        discovery = rpcx.Consul(consul.address, "/rpcx_py_async", "Arith")

        async def main() -> str:
            async with rpcx.AsyncXClient("Arith", discovery, timeout=10) as xc:
                return await xc.call("Who")

        assert asyncio.run(main()) == "n2"
        discovery.close()
    finally:
        consul.close()


def test_async_xclient_close_fails_calls_in_flight_and_later(named: Any) -> None:
    addrs, _ = named
    servers = rpcx.MultipleServers([addrs["n0"]])

    async def main() -> None:
        xc = rpcx.AsyncXClient("Arith", servers, timeout=30)
        assert await xc.call("Who") == "n0"
        # A call the server holds (the in-process n0 has no slow method: use a silent peer).
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        try:
            slow = rpcx.AsyncXClient(
                "Arith", rpcx.Peer(f"tcp@127.0.0.1:{silent.getsockname()[1]}"), timeout=30
            )
            pending = asyncio.ensure_future(slow.call("Who"))
            await asyncio.sleep(0.2)
            await slow.close()
            with pytest.raises((rpcx.ClosedError, rpcx.RpcConnectionError)):
                await asyncio.wait_for(pending, 20)
            with pytest.raises(rpcx.ClosedError):
                await slow.call("Who")
        finally:
            silent.close()
        await xc.close()
        with pytest.raises(rpcx.ClosedError):
            await xc.call("Who")

    asyncio.run(main())


def test_inform_reports_every_servers_outcome(named: Any) -> None:
    """Go's Inform: each server's own outcome, in address order; a failed server (its own
    error, or unreachable) does not fail the others."""
    addrs, _ = named
    dead = _dead_address()
    servers = rpcx.MultipleServers([addrs["n0"], addrs["n2"], dead])
    seen: list[str] = []

    class Note:
        def before_call(self, call: rpcx.ClientCall) -> None:
            seen.append(call.kind)

    with rpcx.XClient("Arith", servers, timeout=10, interceptors=[Note()]) as xc:
        receipts = xc.inform("Who")
        assert [r.server for r in receipts] == sorted([addrs["n0"], addrs["n2"], dead])
        by = {r.server: r for r in receipts}
        assert by[addrs["n0"]].ok and by[addrs["n0"]].reply == "n0"
        assert isinstance(by[addrs["n0"]].metadata, dict)
        assert by[addrs["n2"]].reply == "n2"
        assert not by[dead].ok and isinstance(by[dead].error, rpcx.RpcConnectionError)
        flaky = {r.server: r for r in xc.inform("Flaky")}  # refuses everywhere but n2
        assert isinstance(flaky[addrs["n0"]].error, rpcx.ServiceError)
        assert "n0 refuses" in str(flaky[addrs["n0"]].error)  # the server's own text
        assert flaky[addrs["n2"]].reply == "n2"
        servers.update([])
        deadline = time.monotonic() + 10
        while xc.servers and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(rpcx.RpcConnectionError):
            xc.inform("Who")
    assert seen[:2] == ["inform", "inform"]


def test_async_inform(named: Any) -> None:
    addrs, _ = named
    dead = _dead_address()
    servers = rpcx.MultipleServers([addrs["n1"], dead])

    async def main() -> list[rpcx.Receipt]:
        async with rpcx.AsyncXClient("Arith", servers, timeout=10) as xc:
            return await xc.inform("Who")

    by = {r.server: r for r in asyncio.run(main())}
    assert by[addrs["n1"]].reply == "n1" and by[addrs["n1"]].error is None
    assert isinstance(by[dead].error, rpcx.RpcConnectionError)


def test_dead_server_detector_keeps_a_hanging_up_server_out(named: Any, hangup: HangupServer) -> None:
    """On by default: after the first failure the hanging-up server leaves the rotation, and
    its probes dial it at a backed-off pace, not once per call; bad settings are refused."""
    addrs, _ = named
    servers = rpcx.MultipleServers([hangup.address, addrs["n0"]])
    with rpcx.XClient(
        "Arith", servers, fail_mode=rpcx.FailMode.FAILTRY,
        select_mode=rpcx.SelectMode.ROUND_ROBIN, retries=2, timeout=10,
    ) as xc:
        failed = 0
        for _ in range(40):
            try:
                assert xc.call("Who") == "n0"
            except rpcx.RpcConnectionError:
                failed += 1
        assert failed <= 1
        dials = hangup.accepted
        time.sleep(1.0)
        assert hangup.accepted - dials <= 4
    with pytest.raises(ValueError, match="probe_timeout"):
        rpcx.XClient("Arith", servers, health=(0, 2.0))
    with pytest.raises(ValueError, match="max_backoff"):
        rpcx.XClient("Arith", servers, health=(1.0, 0.01))
    with pytest.raises(TypeError, match="health"):
        rpcx.XClient("Arith", servers, health=3)  # type: ignore[arg-type]


def test_heartbeat_rtt_keeps_off_a_server_that_stops_answering(named: Any) -> None:
    """SelectMode.HEARTBEAT_RTT: with an unreachable server listed, its heartbeats go
    unanswered and it weighs next to nothing; the calls (FAILFAST) settle on the live ones."""
    addrs, _ = named
    servers = rpcx.MultipleServers([addrs["n0"], addrs["n1"], _dead_address()])
    with rpcx.XClient(
        "Arith", servers, select_mode=rpcx.SelectMode.HEARTBEAT_RTT,
        fail_mode=rpcx.FailMode.FAILFAST, timeout=10,
    ) as xc:
        assert set(_settles_on_live_servers(lambda: xc.call("Who"))) <= {"n0", "n1"}
