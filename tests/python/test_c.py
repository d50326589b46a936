"""Python <-> C: the C Arith server (examples/c/arith_server.c, handlers written in C on the C
ABI of rpcx-ffi) built with cc against target/debug/librpcx.so, called by the Python clients
and an XClient. Skipped without a C compiler."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

import rpcx
from conftest import REPO, Args, Reply, _cargo


@pytest.fixture(scope="module")
def c_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler: the C server cannot be built")
    cargo = _cargo()
    if cargo is None:
        pytest.skip("cargo not found: librpcx cannot be built")
    built = subprocess.run([cargo, "build", "-q", "-p", "rpcx-ffi"], cwd=REPO, capture_output=True, text=True)
    if built.returncode != 0:
        pytest.fail(f"cargo build -p rpcx-ffi failed:\n{built.stderr[-4000:]}")
    libdir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug"
    # The run-time name librpcx.so.<major> (its SONAME) next to cargo's librpcx.so.
    subprocess.run([str(REPO / "scripts/lib/soname-link.sh"), str(libdir)], check=True)
    exe = tmp_path_factory.mktemp("c") / "arith_server"
    compiled = subprocess.run(
        [cc, "-std=c11", "-Wall", "-Werror", str(REPO / "examples/c/arith_server.c"),
         f"-I{REPO / 'include'}", f"-L{libdir}", "-lrpcx", f"-Wl,-rpath,{libdir}", "-o", str(exe)],
        capture_output=True, text=True,
    )
    if compiled.returncode != 0:
        pytest.fail(f"cc examples/c/arith_server.c failed:\n{compiled.stderr[-4000:]}")
    proc = subprocess.Popen([str(exe), "tcp@127.0.0.1:0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), line
        yield line.split(" ", 1)[1]
    finally:
        if proc.stdin:
            proc.stdin.close()  # the server shuts down when stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.returncode == 0


def test_c_server_sync_and_async(c_server: str) -> None:
    with rpcx.Client(c_server, serializer=rpcx.JSON, timeout=10) as c:
        assert c.call("Arith", "Mul", Args(7, 8), reply_type=Reply) == Reply(56)
        assert c.call("Arith", "Add", {"A": -5, "B": 3}) == {"C": -2}
        with pytest.raises(rpcx.ServiceError, match="can't find method Pow"):
            c.call("Arith", "Pow", Args(1, 1))
        # The C service refuses other serializations with its own message.
        with pytest.raises(rpcx.ServiceError, match="JSON only"):
            c.call("Arith", "Mul", Args(1, 1), serializer=rpcx.MSGPACK)

    async def main() -> list[object]:
        async with rpcx.AsyncClient(c_server, serializer=rpcx.JSON) as c:
            return await asyncio.gather(*(c.call("Arith", "Add", Args(i, i)) for i in range(500)))

    assert asyncio.run(main()) == [{"C": 2 * i} for i in range(500)]


def test_c_server_in_an_xclient(c_server: str, py_addr: str) -> None:
    # The same service in C and in Python behind one XClient.
    servers = rpcx.MultipleServers([c_server, py_addr])
    with rpcx.XClient("Arith", servers, serializer=rpcx.JSON) as xc:
        assert [xc.call("Mul", Args(i, 3)) for i in range(6)] == [{"C": 3 * i} for i in range(6)]
        assert xc.broadcast("Add", Args(1, 2)) == {"C": 3}
