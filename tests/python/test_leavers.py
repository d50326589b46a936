"""Leavers against a Python server: clients that start long calls and disconnect. The server
closes their sockets at once, the handlers learn it (``ctx.is_active()``,
``ctx.wait_cancelled()``, ``ctx.add_done_callback``), and fds and memory come back."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any, Callable

import pytest

import rpcx


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _wait(what: str, cond: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


class _Probe:
    """``Arith.Sleep`` for ten minutes, as the issue's probe: returns early only when the
    caller is gone. Counts starts, and ends that saw the cancellation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = 0
        self.saw_cancel = 0
        self.done_callbacks = 0

    def sleep(self, args: dict[str, Any], ctx: rpcx.Context) -> dict[str, Any]:
        with self.lock:
            self.started += 1
        ctx.add_done_callback(self._done)
        cancelled = ctx.wait_cancelled(600)
        if cancelled and not ctx.is_active():
            with self.lock:
                self.saw_cancel += 1
        return {"C": args.get("Ms", 0)}

    def _done(self, ctx: rpcx.Context) -> None:
        assert not ctx.is_active()
        with self.lock:
            self.done_callbacks += 1


async def _leave(addr: str, probe: _Probe, n: int) -> None:
    """``n`` clients each start a ten-minute call, then disconnect."""
    for _ in range(n):
        before = probe.started
        client = rpcx.AsyncClient(addr, serializer=rpcx.JSON)
        call = asyncio.ensure_future(client.call("Arith", "Sleep", {"Ms": 600_000}))
        end = time.monotonic() + 30
        while probe.started == before:
            assert time.monotonic() < end, "the call never reached the handler"
            await asyncio.sleep(0.002)
        await client.close()
        with pytest.raises(rpcx.RpcError):
            await call


def test_leavers_free_sockets_and_handlers_learn_it() -> None:
    probe = _Probe()
    server = rpcx.Server(workers=4)
    server.register("Arith.Sleep", probe.sleep)
    server.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]})
    with server:
        port = server.start("tcp@127.0.0.1:0")
        addr = f"tcp@127.0.0.1:{port}"
        asyncio.run(_leave(addr, probe, 5))  # warm up: loop bridge, runtime threads
        _wait("warm-up calls ended", lambda: probe.saw_cancel == 5)
        fds = _open_fds()
        rss = []
        for r in range(3):
            asyncio.run(_leave(addr, probe, 200))
            total = 5 + 200 * (r + 1)
            _wait("every handler saw its caller leave", lambda: probe.saw_cancel == total)
            _wait("every done callback ran", lambda: probe.done_callbacks == total)
            _wait("fds back at baseline", lambda: _open_fds() <= fds + 2)
            rss.append(_rss_kib())
        # Were the calls kept, each round would add its memory again.
        assert rss[2] - rss[1] < 16 * 1024, f"RSS after each round (KiB): {rss}"
        with rpcx.Client(addr, serializer=rpcx.JSON) as c:
            assert c.call("Arith", "Mul", {"A": 6, "B": 7}) == {"C": 42}


def test_done_callbacks_run_once_when_the_call_is_answered() -> None:
    seen: list[tuple[str, bool]] = []
    ran = threading.Event()

    def mul(args: dict[str, Any], ctx: rpcx.Context) -> dict[str, Any]:
        assert ctx.is_active()
        ctx.add_done_callback(lambda c: (seen.append((c.method, c.is_active())), ran.set()))
        return {"C": args["A"] * args["B"]}

    server = rpcx.Server(workers=2)
    server.register("Arith.Mul", mul)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        with rpcx.Client(f"tcp@127.0.0.1:{port}", serializer=rpcx.JSON) as c:
            assert c.call("Arith", "Mul", {"A": 2, "B": 3}) == {"C": 6}
        assert ran.wait(10)
        assert seen == [("Mul", True)]  # after the answer, the connection still open


def test_a_callers_deadline_cancels_the_call() -> None:
    ended = threading.Event()
    results: list[bool] = []

    def slow(args: Any, ctx: rpcx.Context) -> bytes:
        results.append(ctx.wait_cancelled(30))
        results.append(ctx.is_active())
        ended.set()
        # Answer well after the deadline: a reply racing the caller's own timer (both fire at
        # about 0.2 s) could otherwise reach it first and be taken as the answer.
        time.sleep(0.5)
        return b""

    server = rpcx.Server(workers=2)
    server.register("Slow.Wait", slow)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
            with pytest.raises(rpcx.RpcTimeoutError):
                c.call("Slow", "Wait", b"", timeout=0.2)
        assert ended.wait(10)
        assert results == [True, False]


def test_async_handlers_see_the_caller_leave() -> None:
    state = {"started": 0, "cancelled": 0}

    async def wait(args: Any, ctx: rpcx.Context) -> bytes:
        state["started"] += 1
        for _ in range(3000):
            if not ctx.is_active():
                state["cancelled"] += 1
                return b""
            await asyncio.sleep(0.01)
        return b"never cancelled"

    async def leave(addr: str) -> None:
        client = rpcx.AsyncClient(addr)
        call = asyncio.ensure_future(client.call("Slow", "Wait", b""))
        while state["started"] == 0:
            await asyncio.sleep(0.005)
        await client.close()
        with pytest.raises(rpcx.RpcError):
            await call

    server = rpcx.Server(workers=1)
    server.register("Slow.Wait", wait)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        asyncio.run(leave(f"tcp@127.0.0.1:{port}"))
        _wait("the async handler saw it", lambda: state["cancelled"] == 1)


@pytest.mark.parametrize(
    "option",
    [
        {"max_pending_bytes_per_conn": 0},
        {"max_pending_bytes": 0},
        {"max_inflight_per_conn": 0},
        {"max_connections": 0},
        {"idle_timeout": 0.0},
    ],
)
def test_out_of_range_server_options_are_refused(option: dict[str, Any]) -> None:
    server = rpcx.Server(workers=1, **option)
    server.register("Arith.Mul", lambda a: a)
    with pytest.raises(ValueError, match=next(iter(option))):
        server.start("tcp@127.0.0.1:0")


def test_byte_budgets_are_accepted() -> None:
    server = rpcx.Server(workers=1, max_pending_bytes_per_conn=1 << 20, max_pending_bytes=8 << 20)
    server.register("Echo.Echo", lambda a: a)
    with server:
        port = server.start("tcp@127.0.0.1:0")
        with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
            big = os.urandom(3 << 20)  # one request over the budget is still admitted whole
            assert c.call("Echo", "Echo", big) == big
