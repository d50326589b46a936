"""A server process frozen (SIGSTOP) for 12 s under load, through the Python XClient with its
defaults (RoundRobin + Failover, the dead-server detector on) and a 1 s call timeout: the
kernel still accepts its connections and buffers requests, so nothing but the missing
answers tells it is gone. At most 3 calls fail (the ones already sent to it), every call
ends within its timeout plus a margin, and the server answers again soon after SIGCONT.
Before the detector, 12 of 23 calls failed in this scene, each after its full second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import rpcx

SERVER = (
    "import sys, time, rpcx\n"
    "s = rpcx.Server()\n"
    "s.register('Who.Am', lambda _: sys.argv[1])\n"
    "port = s.start('tcp@127.0.0.1:0')\n"
    "print(port, flush=True)\n"
    "time.sleep(600)\n"
)

TIMEOUT = 1.0
MARGIN = 1.0


@contextmanager
def server_process(name: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, name],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"the server process said {line!r}"
        yield proc, f"tcp@127.0.0.1:{line.strip()}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_frozen_server_costs_at_most_three_calls() -> None:
    with server_process("a") as (a, addr_a), server_process("b") as (_, addr_b):
        servers = rpcx.MultipleServers([addr_a, addr_b])
        with rpcx.XClient("Who", servers, timeout=TIMEOUT) as xc:
            for _ in range(4):
                xc.call("Am", 0)
            start = time.monotonic()
            frozen_at = start + 1.0
            thawed_at = frozen_at + 12.0
            end = thawed_at + 4.0
            frozen = thawed = False
            outcomes: list[tuple[float, float, str]] = []  # (at, took, answer or error)
            while time.monotonic() < end:
                now = time.monotonic()
                if not frozen and now >= frozen_at:
                    os.kill(a.pid, signal.SIGSTOP)
                    frozen = True
                if frozen and not thawed and now >= thawed_at:
                    os.kill(a.pid, signal.SIGCONT)
                    thawed = True
                t = time.monotonic()
                try:
                    answer = xc.call("Am", 0)
                except rpcx.RpcError as e:
                    answer = f"error: {type(e).__name__}: {e}"
                outcomes.append((t - start, time.monotonic() - t, answer))
                time.sleep(0.05)
    failed = [o for o in outcomes if o[2].startswith("error")]
    slowest = max(o[1] for o in outcomes)
    back = [o[0] - (thawed_at - start) for o in outcomes
            if o[2] == "a" and o[0] > thawed_at - start]
    print(f"{len(outcomes)} calls, {len(failed)} failed {failed}, slowest {slowest:.3f} s, "
          f"a answered again {back[0] if back else None} s after SIGCONT")
    assert len(failed) <= 3, failed
    assert slowest < TIMEOUT + MARGIN
    assert back and back[0] < 2.0 + TIMEOUT + MARGIN, "a is used again after SIGCONT"
