"""Servers starting and stopping, Ctrl-C, fork, interpreter exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import rpcx
from conftest import Args, build_server, run_python


def test_context_managers_and_properties() -> None:
    with build_server() as server:
        assert server.port is None and not server.running
        port = server.start("tcp@127.0.0.1:0")
        assert port > 0 and server.port == port
        assert server.address == f"tcp@127.0.0.1:{port}"
        assert server.running
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
        server.register("Late.Method", lambda a: a)  # while running: served at once
        with rpcx.Client(server.address) as c:
            assert c.call("Arith", "Mul", Args(2, 2)) == {"C": 4}
            assert c.call("Late", "Method", 5) == 5
    assert not server.running
    server.stop()  # idempotent


def test_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "rpcx.sock"
    with build_server() as server:
        assert server.start(f"unix@{path}") == 0
        with rpcx.Client(f"unix@{path}") as c:
            assert c.call("Echo", "Echo", "over unix") == "over unix"


def test_graceful_stop_lets_calls_finish() -> None:
    server = build_server()
    port = server.start("tcp@127.0.0.1:0")
    c = rpcx.Client(f"tcp@127.0.0.1:{port}")
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(c.call("Echo", "Sleep", 0.5)))
    t.start()
    time.sleep(0.2)
    server.stop(grace=5)
    t.join(5)
    assert result == [0.5]


def test_stop_gives_up_after_grace() -> None:
    server = build_server()
    port = server.start("tcp@127.0.0.1:0")
    c = rpcx.Client(f"tcp@127.0.0.1:{port}")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            c.call("Echo", "Sleep", 3.0)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.2)
    start = time.monotonic()
    server.stop(grace=0.3)
    assert time.monotonic() - start < 2.5
    t.join(5)
    assert len(errors) == 1 and isinstance(errors[0], rpcx.RpcError)


# The children restore Python's SIGINT handler: a shell may have started the test run with
# SIGINT ignored (background jobs), and that disposition is inherited.
_SERVE = """
import signal, sys, rpcx
signal.signal(signal.SIGINT, signal.default_int_handler)
server = rpcx.Server(workers=1)
server.register("Echo.Sleep", lambda s: __import__("time").sleep(s))
with server:
    port = server.start("tcp@127.0.0.1:0")
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
print("stopped", server.running, flush=True)
"""


def test_ctrl_c_interrupts_serve_forever() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    assert port > 0
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.split() == ["interrupted", "stopped", "False"]


_CALL = """
import signal, sys, time, rpcx
signal.signal(signal.SIGINT, signal.default_int_handler)
c = rpcx.Client(sys.argv[1])
print("calling", flush=True)
start = time.monotonic()
try:
    c.call("Echo", "Sleep", 30.0)
except KeyboardInterrupt:
    print("interrupted", round(time.monotonic() - start), flush=True)
"""


def test_ctrl_c_interrupts_blocking_call(py_addr: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CALL, py_addr],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "calling"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.split() == ["interrupted", "0"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_makes_new_clients(py_addr: str) -> None:
    parent_client = rpcx.Client(py_addr)
    assert parent_client.call("Arith", "Mul", Args(2, 5)) == {"C": 10}
    server = build_server()
    port = server.start("tcp@127.0.0.1:0")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        code = 1
        try:
            try:
                parent_client.call("Arith", "Mul", Args(1, 1))
                report = "inherited client worked?!"
            except rpcx.ClosedError:
                with rpcx.Client(py_addr) as c:
                    a = c.call("Arith", "Mul", Args(3, 5))
                # The parent's server is served by the parent; the child reaches it too.
                with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
                    b = c.call("Arith", "Mul", Args(4, 5))
                # And the child can run a server of its own.
                with build_server() as own:
                    own_port = own.start("tcp@127.0.0.1:0")
                    with rpcx.Client(f"tcp@127.0.0.1:{own_port}") as c:
                        d = c.call("Echo", "Async", "child")
                report = f"ok {a['C']} {b['C']} {d}"
                code = 0
        except BaseException as e:
            report = f"error {e!r}"
        os.write(w, report.encode())
        os._exit(code)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        report = f.read()
    server.stop(grace=1)
    assert report == "ok 15 20 child"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    # The parent's own client is unaffected.
    assert parent_client.call("Arith", "Mul", Args(2, 6)) == {"C": 12}
    parent_client.close()


_EXIT = """
import asyncio, sys, threading, time, rpcx
server = rpcx.Server(workers=2)
server.register("Echo.Echo", lambda a: a)
@server.register("Echo.Async")
async def echo_async(a):
    await asyncio.sleep(0)
    return a
server.register("Echo.Stuck", lambda a: time.sleep(60))
port = server.start("tcp@127.0.0.1:0")
c = rpcx.Client(f"tcp@127.0.0.1:{port}")
assert c.call("Echo", "Echo", 1) == 1
assert c.call("Echo", "Async", 2) == 2
# A call whose handler never finishes while the interpreter exits.
threading.Thread(target=lambda: c.call_oneway("Echo", "Stuck", 0), daemon=True).start()
time.sleep(0.2)
print("exiting", flush=True)
"""


def test_interpreter_exit_with_running_server() -> None:
    start = time.monotonic()
    proc = run_python(_EXIT, timeout=20)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exiting"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert time.monotonic() - start < 10


def test_interpreter_exit_inside_asyncio() -> None:
    code = """
import asyncio, rpcx
async def main():
    server = rpcx.Server()
    @server.register("A.B")
    async def b(x):
        return x
    port = server.start("tcp@127.0.0.1:0")
    async with rpcx.AsyncClient(f"tcp@127.0.0.1:{port}") as c:
        assert await c.call("A", "B", 5) == 5
    # the loop ends with the server still running
asyncio.run(main())
print("done")
"""
    proc = run_python(code, timeout=20)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"


_FORK_DROP = """
import asyncio, gc, os, sys, time, rpcx
server = rpcx.Server(workers=2)
server.register("Echo.Echo", lambda a: a)
@server.register("Echo.Async")
async def echo_async(a):
    return a
port = server.start("tcp@127.0.0.1:0")
addr = f"tcp@127.0.0.1:{port}"
client = rpcx.Client(addr)
assert client.call("Echo", "Echo", 1) == 1
assert client.call("Echo", "Async", 1) == 1
loop = asyncio.new_event_loop()
aclient = rpcx.AsyncClient(addr)
assert loop.run_until_complete(aclient.call("Echo", "Echo", 2)) == 2
xclient = rpcx.XClient("Echo", rpcx.MultipleServers([addr]))
assert xclient.call("Echo", 3) == 3
pid = os.fork()
if pid == 0:
    # The child drops everything it inherited, then exits the normal way (atexit hooks,
    # interpreter finalization).
    del server, client, aclient, xclient
    gc.collect()
    loop.close()
    del loop
    gc.collect()
    sys.exit(0)
deadline = time.monotonic() + 15
status = None
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.02)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print("child hung")
    sys.exit(1)
print("child", os.waitstatus_to_exitcode(status))
# The parent keeps working with the same objects.
assert client.call("Echo", "Echo", 4) == 4
assert client.call("Echo", "Async", 5) == 5
assert loop.run_until_complete(aclient.call("Echo", "Echo", 6)) == 6
assert xclient.call("Echo", 7) == 7
print("parent ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_drops_inherited_objects_and_exits() -> None:
    for _ in range(3):
        proc = run_python(_FORK_DROP, timeout=60)
        assert proc.stdout.split("\n")[:2] == ["child 0", "parent ok"], (proc.stdout, proc.stderr)
        assert proc.returncode == 0, proc.stderr
