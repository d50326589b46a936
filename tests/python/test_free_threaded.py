"""Free-threaded CPython (3.13t): importing rpcx keeps the GIL off (the extension declares
``gil_used = false`` and its dependencies load without re-enabling it), and sync handlers
running truly in parallel on the server's worker threads, with clients calling from several
threads, all get their own answers. On a GIL build only the parallel calls run."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import threading
from typing import Any

import pytest

import rpcx

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded (--disable-gil) CPython")
def test_import_keeps_the_gil_disabled() -> None:
    # A fresh interpreter: pytest's own imports must not decide the answer. -W error turns
    # the RuntimeWarning CPython gives when an extension re-enables the GIL into a failure.
    code = (
        "import sys, rpcx, rpcx._rpcx, rpcx.client, rpcx.server, rpcx.xclient\n"
        "print(sys._is_gil_enabled())\n"
    )
    r = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False", r.stdout + r.stderr


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded (--disable-gil) CPython")
def test_extension_is_built_for_this_interpreter() -> None:
    # abi3 does not exist for free-threaded 3.13: the module must be the version-specific one.
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert rpcx._rpcx.__file__.endswith(suffix), (rpcx._rpcx.__file__, suffix)
    assert "t-" in suffix  # e.g. .cpython-313t-x86_64-linux-gnu.so


def test_parallel_handlers_answer_their_own_calls() -> None:
    """8 client threads x 200 calls against 4 worker threads whose handler mutates shared
    state under a lock and computes its answer from the arguments: every reply matches its
    call and the shared counter saw every call exactly once."""
    lock = threading.Lock()
    seen: dict[str, int] = {}
    threads_used: set[int] = set()

    server = rpcx.Server(workers=4)

    @server.register("Work.Mix")
    def mix(args: dict[str, Any], ctx: rpcx.Context) -> dict[str, Any]:
        acc = 0
        for i in range(args["n"]):  # pure-Python work that runs in parallel without a GIL
            acc = (acc * 31 + i) % 1_000_003
        with lock:
            seen[args["id"]] = seen.get(args["id"], 0) + 1
            threads_used.add(threading.get_ident())
        ctx.set_reply_meta("id", args["id"])
        return {"id": args["id"], "acc": acc}

    def expected(n: int) -> int:
        acc = 0
        for i in range(n):
            acc = (acc * 31 + i) % 1_000_003
        return acc

    server.start("tcp@127.0.0.1:0")
    errors: list[BaseException] = []
    try:
        addr = f"tcp@127.0.0.1:{server.port}"

        def caller(t: int) -> None:
            try:
                with rpcx.Client(addr, timeout=30) as c:
                    for k in range(200):
                        n = 50 + (t * 200 + k) % 97
                        call_id = f"{t}-{k}"
                        got = c.call("Work", "Mix", {"id": call_id, "n": n})
                        assert got == {"id": call_id, "acc": expected(n)}, (call_id, got)
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        callers = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
        for th in callers:
            th.start()
        for th in callers:
            th.join(timeout=120)
        assert not any(th.is_alive() for th in callers), "a caller thread did not finish"
    finally:
        server.stop(grace=1.0)
    assert not errors, errors[0]
    assert len(seen) == 8 * 200
    assert set(seen.values()) == {1}
    assert 1 <= len(threads_used) <= 4


def test_event_loops_on_parallel_threads(py_addr: str) -> None:
    """8 threads each run their own event loop (each loop gets its bridge at the same time
    as the others) with 50 concurrent AsyncClient calls: every call gets its own answer."""
    import asyncio

    errors: list[BaseException] = []
    start = threading.Barrier(8, timeout=30)

    async def calls(t: int) -> None:
        start.wait()  # every loop makes its bridge (first call) at about the same moment
        async with rpcx.AsyncClient(py_addr, timeout=30) as c:
            got = await asyncio.gather(
                *(c.call("Arith", "Mul", {"A": t, "B": k}) for k in range(50))
            )
        assert [r["C"] for r in got] == [t * k for k in range(50)]

    def run(t: int) -> None:
        try:
            asyncio.run(calls(t))
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a loop thread did not finish"
    assert not errors, errors[0]
