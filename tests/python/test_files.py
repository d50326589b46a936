"""File transfer and streams (``_filetransfer``, ``_streamservice``): Python <-> Python, the
Python client against the Rust arith_server (``--files DIR --stream-echo``), and Python <->
Go (tests/interop/go/cmd/gofiles, Go rpcx's own FileTransfer/StreamService/XClient)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import rpcx
from conftest import REPO, build_example

SIZE = 8 * 1024 * 1024
MESSAGES = 1000
WAIT = 30.0


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _random_file(path: Path, size: int = SIZE) -> str:
    path.write_bytes(os.urandom(size))
    return _sha(path)


def _msg(i: int) -> bytes:
    return f"message {i:05d}".encode()


def _echo_check(sock: socket.socket, n: int = MESSAGES) -> None:
    """Writes ``n`` length-prefixed messages (from a thread) and checks each echoed back."""
    sock.settimeout(WAIT)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(n):
                m = _msg(i)
                sock.sendall(struct.pack(">I", len(m)) + m)
        except BaseException as e:  # reported by the reader's assertion below
            errors.append(e)

    t = threading.Thread(target=write)
    t.start()
    f = sock.makefile("rb")
    try:
        for i in range(n):
            head = f.read(4)
            assert len(head) == 4, f"message {i}: the stream ended"
            (length,) = struct.unpack(">I", head)
            assert f.read(length) == _msg(i)
    finally:
        f.close()
        t.join(WAIT)
    assert not t.is_alive() and not errors, errors


async def _aecho_check(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int = MESSAGES
) -> None:
    async def write() -> None:
        for i in range(n):
            m = _msg(i)
            writer.write(struct.pack(">I", len(m)) + m)
            await writer.drain()

    w = asyncio.ensure_future(write())
    for i in range(n):
        (length,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), WAIT))
        assert await asyncio.wait_for(reader.readexactly(length), WAIT) == _msg(i)
    await asyncio.wait_for(w, WAIT)


def _echo(sock: socket.socket, metadata: dict[str, str]) -> None:
    """A stream handler: first line is the metadata it got, then an echo."""
    sock.sendall((repr(sorted(metadata.items())) + "\n").encode())
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


def _first_line(sock: socket.socket) -> str:
    sock.settimeout(WAIT)
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        assert b, "the stream ended before the metadata line"
        line += b
    return line.decode().rstrip("\n")


@pytest.fixture(scope="module")
def dirs() -> Iterator[tuple[Path, Path, Path]]:
    """(upload dir, download dir, a directory outside both)."""
    root = Path(tempfile.mkdtemp(prefix="rpcx-py-files-"))
    up, down, outside = root / "up", root / "down", root / "outside"
    for d in (up, down, outside):
        d.mkdir()
    yield up, down, outside
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(dirs: tuple[Path, Path, Path]) -> Iterator[rpcx.Server]:
    up, down, _ = dirs
    s = rpcx.Server(
        file_transfer=rpcx.FileTransferOptions(
            upload_dir=up, download_dir=down, max_file_size=SIZE + 1024
        )
    )
    s.register_stream(_echo)
    s.start()
    yield s
    s.stop()


# -- Python <-> Python ----------------------------------------------------------------------


@pytest.mark.parametrize("serializer", [rpcx.MSGPACK, rpcx.JSON])
def test_upload_and_download_8mib(
    server: rpcx.Server, dirs: tuple[Path, Path, Path], tmp_path: Path, serializer: rpcx.Serializer
) -> None:
    up, down, _ = dirs
    src = tmp_path / f"big-{serializer.name}.bin"
    digest = _random_file(src)
    with rpcx.XClient(
        "_filetransfer", rpcx.Peer(server.address or ""), serializer=serializer, timeout=WAIT
    ) as xc:
        assert xc.send_file(src, metadata={"k": "v"}) == SIZE
        assert _sha(up / src.name) == digest
        shutil.copy(src, down / src.name)
        dest = tmp_path / "back.bin"
        assert xc.download_file(src.name, dest) == SIZE
        assert _sha(dest) == digest
        buf = io.BytesIO()
        assert xc.download_file(src.name, buf) == SIZE
        assert hashlib.sha256(buf.getvalue()).hexdigest() == digest
    # No temporary file is left beside the destination.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.bin", src.name]


def test_client_twin_and_rate(server: rpcx.Server, dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    up, down, _ = dirs
    src = tmp_path / "small.bin"
    digest = _random_file(src, 200_000)
    with rpcx.Client(server.address or "", timeout=WAIT) as c:
        # A rate above the size: one paced chunk, whatever the clock.
        assert c.send_file(str(src), rate=1 << 30) == 200_000
        assert _sha(up / "small.bin") == digest
        shutil.copy(src, down / "small.bin")
        assert c.download_file("small.bin", tmp_path / "copy.bin") == 200_000
        assert _sha(tmp_path / "copy.bin") == digest
        with c.stream({"who": "client"}) as sock:
            assert _first_line(sock) == repr([("who", "client")])
            _echo_check(sock)
        with pytest.raises(rpcx.ServiceError):
            c.send_file(src, service="NoSuchService")


def test_stream_echo_1000_messages(server: rpcx.Server) -> None:
    with rpcx.XClient("_streamservice", rpcx.Peer(server.address or ""), timeout=WAIT) as xc:
        with xc.stream({"a": "1", "b": "2"}) as sock:
            assert isinstance(sock, socket.socket)
            assert _first_line(sock) == repr([("a", "1"), ("b", "2")])
            _echo_check(sock)
        # A second stream on the same XClient, no metadata.
        with xc.stream() as sock:
            assert _first_line(sock) == "[]"
            _echo_check(sock, 10)


def test_download_refusals(server: rpcx.Server, dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, down, outside = dirs
    (outside / "secret.txt").write_text("secret")
    link = down / "escape.txt"
    if not link.exists():
        link.symlink_to(outside / "secret.txt")
    dest = tmp_path / "dest.txt"
    dest.write_text("before")
    with rpcx.XClient("_filetransfer", rpcx.Peer(server.address or ""), timeout=WAIT) as xc:
        for name in ("../outside/secret.txt", str(outside / "secret.txt"), "escape.txt", "missing.bin", ""):
            with pytest.raises(rpcx.ServiceError):
                xc.download_file(name, dest)
            # A refused download leaves the destination as it was, and no temporary file.
            assert dest.read_text() == "before", name
        assert [p.name for p in tmp_path.iterdir()] == ["dest.txt"]


def test_upload_refusals(server: rpcx.Server, dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    up, _, _ = dirs
    before = set(os.listdir(up))
    big = tmp_path / "too-big.bin"
    with open(big, "wb") as f:
        f.truncate(SIZE + 1025)  # above max_file_size
    hidden = tmp_path / ".hidden"
    hidden.write_bytes(b"x")
    with rpcx.XClient("_filetransfer", rpcx.Peer(server.address or ""), timeout=WAIT) as xc:
        with pytest.raises(rpcx.ServiceError, match="max_file_size|limit|large"):
            xc.send_file(big)
        with pytest.raises(rpcx.ServiceError):
            xc.send_file(hidden)
        with pytest.raises(rpcx.RpcError):
            xc.send_file(tmp_path / "does-not-exist")
        with pytest.raises(rpcx.RpcError):
            xc.send_file(tmp_path)  # a directory
        with pytest.raises(ValueError):
            xc.send_file(big, rate=0)
        with pytest.raises(TypeError):
            xc.send_file(42)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            xc.download_file("x", object())  # type: ignore[arg-type]
    assert set(os.listdir(up)) == before


def _token_reply(server: rpcx.Server, name: str) -> dict[str, Any]:
    with rpcx.Client(server.address or "", timeout=WAIT) as c:
        reply: dict[str, Any] = c.call("_filetransfer", "DownloadFile", {"FileName": name})
    assert len(reply["Token"]) == 32
    return reply


def _side_read(addr: str, token: bytes) -> bytes:
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=WAIT) as s:
        s.sendall(token)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                return out
            if not b:
                return out
            out += b


def test_tokens_unknown_and_reused(server: rpcx.Server, dirs: tuple[Path, Path, Path]) -> None:
    _, down, _ = dirs
    (down / "t.txt").write_bytes(b"token test")
    reply = _token_reply(server, "t.txt")
    assert reply["Addr"] == server.file_transfer_address
    # An unknown token gets nothing.
    assert _side_read(reply["Addr"], os.urandom(32)) == b""
    # The real one gets the file, once.
    assert _side_read(reply["Addr"], reply["Token"]) == b"token test"
    assert _side_read(reply["Addr"], reply["Token"]) == b""


def test_async_twins(dirs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    up, down, _ = dirs

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, meta: dict[str, str]) -> None:
        writer.write((repr(sorted(meta.items())) + "\n").encode())
        while True:
            data = await reader.read(65536)
            if not data:
                return
            writer.write(data)
            await writer.drain()

    src = tmp_path / "async.bin"
    digest = _random_file(src, 1_000_000)

    async def main() -> None:
        s = rpcx.Server(file_transfer=rpcx.FileTransferOptions(upload_dir=up, download_dir=down))
        s.register_stream(handler)
        await s.start_async()
        try:
            async with rpcx.AsyncXClient("_streamservice", rpcx.Peer(s.address or ""), timeout=WAIT) as ax:
                reader, writer = await ax.stream({"x": "y"})
                line = await asyncio.wait_for(reader.readline(), WAIT)
                assert line == (repr([("x", "y")]) + "\n").encode()
                await _aecho_check(reader, writer)
                writer.close()
            async with rpcx.AsyncXClient("_filetransfer", rpcx.Peer(s.address or ""), timeout=WAIT) as af:
                assert await af.send_file(src) == 1_000_000
                assert _sha(up / "async.bin") == digest
                shutil.copy(up / "async.bin", down / "async.bin")
                assert await af.download_file("async.bin", tmp_path / "a2.bin") == 1_000_000
                assert _sha(tmp_path / "a2.bin") == digest
                with pytest.raises(rpcx.ServiceError):
                    await af.download_file("../x", tmp_path / "a3.bin")
            async with rpcx.AsyncClient(s.address or "", timeout=WAIT) as c:
                assert await c.send_file(src) == 1_000_000
                buf = io.BytesIO()
                assert await c.download_file("async.bin", buf) == 1_000_000
                assert hashlib.sha256(buf.getvalue()).hexdigest() == digest
                reader, writer = await c.stream()
                assert await asyncio.wait_for(reader.readline(), WAIT) == b"[]\n"
                await _aecho_check(reader, writer, 10)
                writer.close()
        finally:
            await s.stop_async()

    asyncio.run(main())


def test_stop_shuts_open_streams() -> None:
    entered = threading.Event()
    left = threading.Event()

    def hold(sock: socket.socket, meta: dict[str, str]) -> None:
        entered.set()
        try:
            sock.recv(1)  # blocks until the server's stop shuts the connection down
        finally:
            left.set()

    s = rpcx.Server()
    s.register_stream(hold)
    s.start()
    with pytest.raises(RuntimeError):
        s.register_stream(hold)
    assert s.file_transfer_address is None and s.stream_address is not None
    with rpcx.Client(s.address or "", timeout=WAIT) as c:
        with c.stream() as sock:
            assert entered.wait(WAIT)
            s.stop(grace=0.5)
            assert left.wait(WAIT)
            sock.settimeout(WAIT)
            try:
                assert sock.recv(1) == b""
            except ConnectionResetError:
                pass


def test_option_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        rpcx.FileTransferOptions()
    with pytest.raises(ValueError):
        rpcx.FileTransferOptions(upload_dir=tmp_path, max_file_size=0)
    with pytest.raises(ValueError):
        rpcx.StreamOptions(token_lifetime=0)
    with pytest.raises(ValueError):
        rpcx.FileTransferOptions(str(tmp_path))  # the first field is listen, not a directory
    with pytest.raises(TypeError):
        rpcx.Server(file_transfer={"upload_dir": str(tmp_path)})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rpcx.Server().register_stream("not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        rpcx.Server().register_stream(_echo, acceptor="not callable")  # type: ignore[arg-type]
    s = rpcx.Server(file_transfer=rpcx.FileTransferOptions(upload_dir=tmp_path / "missing"))
    with pytest.raises(ValueError):
        s.start()
    assert not s.running


# -- stream acceptor ------------------------------------------------------------------------


def _rpcx_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rpcx" and r.levelno >= logging.ERROR]


def test_stream_acceptor(caplog: pytest.LogCaptureFixture) -> None:
    """The acceptor sees the call's context and the client's stream metadata; True accepts,
    False, a non-bool and an exception refuse (the last two logged), and the server goes on."""
    caplog.set_level(logging.DEBUG, logger="rpcx")
    seen: list[tuple[str, str, dict[str, str], str, dict[str, str]]] = []

    def acceptor(ctx: rpcx.Context, meta: dict[str, str]) -> Any:
        seen.append((ctx.service, ctx.method, ctx.metadata, ctx.peer, meta))
        mode = meta.get("mode")
        if mode == "raise":
            raise ValueError("acceptor exploded")
        if mode == "none":
            return None
        return mode == "yes"

    s = rpcx.Server()
    s.register_stream(_echo, acceptor=acceptor)
    s.start()
    try:
        with rpcx.Client(s.address or "", auth="tok-1", timeout=WAIT) as c:
            with c.stream({"mode": "yes", "k": "v"}) as sock:
                assert _first_line(sock) == repr([("k", "v"), ("mode", "yes")])
                _echo_check(sock, 50)
            service, method, request_meta, peer, meta = seen[-1]
            assert (service, method) == ("_streamservice", "Stream")
            assert request_meta.get("__AUTH") == "tok-1"
            assert "127.0.0.1:" in peer
            assert meta == {"mode": "yes", "k": "v"}

            for mode in ("no", "raise", "none"):
                caplog.clear()
                with pytest.raises(rpcx.ServiceError) as info:
                    c.stream({"mode": mode})
                # Go's text, whatever the acceptor said.
                assert str(info.value) == "server refused the connection", mode
                assert seen[-1][4] == {"mode": mode}
                errors = _rpcx_errors(caplog)
                if mode == "no":
                    assert errors == [], errors
                elif mode == "raise":
                    assert len(errors) == 1 and errors[0].exc_info is not None
                    assert "acceptor exploded" in str(errors[0].exc_info[1])
                else:
                    assert len(errors) == 1 and "not a bool" in errors[0].getMessage()

            # Still serving: streams and calls.
            with c.stream({"mode": "yes"}) as sock:
                assert _first_line(sock) == repr([("mode", "yes")])
                _echo_check(sock, 10)
        with rpcx.XClient("_streamservice", rpcx.Peer(s.address or ""), timeout=WAIT) as xc:
            with pytest.raises(rpcx.ServiceError, match="server refused the connection"):
                xc.stream()
            assert seen[-1][2].get("__AUTH") is None and seen[-1][4] == {}
    finally:
        s.stop()


@pytest.mark.parametrize("own_loop", [True, False])
def test_async_stream_acceptor(own_loop: bool, caplog: pytest.LogCaptureFixture) -> None:
    """An ``async def`` acceptor is awaited on the server's loop: the own loop thread of
    start(), or the running loop of start_async()."""
    caplog.set_level(logging.DEBUG, logger="rpcx")
    loops: list[asyncio.AbstractEventLoop] = []

    async def acceptor(ctx: rpcx.Context, meta: dict[str, str]) -> bool:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        if meta.get("mode") == "raise":
            raise RuntimeError("async acceptor exploded")
        return meta.get("mode") == "yes"

    def check(addr: str) -> None:
        with rpcx.Client(addr, timeout=WAIT) as c:
            with c.stream({"mode": "yes"}) as sock:
                assert _first_line(sock) == repr([("mode", "yes")])
                _echo_check(sock, 10)
            for mode in ("no", "raise"):
                caplog.clear()
                with pytest.raises(rpcx.ServiceError, match="^server refused the connection$"):
                    c.stream({"mode": mode})
                errors = _rpcx_errors(caplog)
                assert len(errors) == (1 if mode == "raise" else 0), errors
            with c.stream({"mode": "yes"}) as sock:
                assert _first_line(sock) == repr([("mode", "yes")])

    if own_loop:
        s = rpcx.Server()
        s.register_stream(_echo, acceptor=acceptor)
        s.start()
        try:
            check(s.address or "")
        finally:
            s.stop()
        assert len(loops) == 4 and len(set(map(id, loops))) == 1
        return

    async def main() -> None:
        s = rpcx.Server()
        s.register_stream(_echo, acceptor=acceptor)
        await s.start_async()
        try:
            await asyncio.get_running_loop().run_in_executor(None, check, s.address or "")
        finally:
            await s.stop_async()
        assert loops and all(lp is asyncio.get_running_loop() for lp in loops)

    asyncio.run(main())


# -- Python client -> Rust arith_server -----------------------------------------------------


def test_rust_server(tmp_path: Path) -> None:
    exe = build_example("arith_server")
    root = tmp_path / "served"
    root.mkdir()
    proc = subprocess.Popen(
        [str(exe), "--addr", "tcp@127.0.0.1:0", "--files", str(root), "--stream-echo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        addr = ""
        for _ in range(10):
            line = proc.stdout.readline().strip()
            if line.startswith("LISTENING "):
                addr = line.split(" ", 1)[1]
                break
        assert addr, "arith_server did not print LISTENING"
        src = tmp_path / "to-rust.bin"
        digest = _random_file(src)
        with rpcx.XClient("_filetransfer", rpcx.Peer(addr), timeout=WAIT) as xc:
            assert xc.send_file(src) == SIZE
            assert _sha(root / "to-rust.bin") == digest
            assert xc.download_file("to-rust.bin", tmp_path / "from-rust.bin") == SIZE
            assert _sha(tmp_path / "from-rust.bin") == digest
            with pytest.raises(rpcx.ServiceError):
                xc.download_file("../to-rust.bin", tmp_path / "x")
        with rpcx.XClient("_streamservice", rpcx.Peer(addr), timeout=WAIT) as xs:
            with xs.stream() as sock:
                _echo_check(sock)
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- Python <-> Go ---------------------------------------------------------------------------


GO_DIR = REPO / "tests" / "interop" / "go"


@pytest.fixture(scope="module")
def gofiles() -> Iterator[Path]:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.skip("go is not installed: gofiles cannot be built")
    out = Path(tempfile.mkdtemp(prefix="rpcx-py-gofiles-"))
    proc = subprocess.run(
        [go, "build", "-buildvcs=false", "-o", str(out) + "/", "./cmd/gofiles"],
        cwd=GO_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(f"go build of gofiles failed:\n{proc.stderr[-4000:]}")
    yield out / "gofiles"
    shutil.rmtree(out, ignore_errors=True)


def test_python_client_go_server(gofiles: Path, tmp_path: Path) -> None:
    root = tmp_path / "go-served"
    root.mkdir()
    proc = subprocess.Popen(
        [str(gofiles), "-mode", "server", "-addr", "tcp@127.0.0.1:0", "-dir", str(root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), line
        addr = line.split(" ", 1)[1]
        src = tmp_path / "to-go.bin"
        digest = _random_file(src)
        for ser in (rpcx.MSGPACK, rpcx.JSON):
            with rpcx.XClient("_filetransfer", rpcx.Peer(addr), serializer=ser, timeout=WAIT) as xc:
                assert xc.send_file(src) == SIZE
                # Go prints SAVED once the file is on disk.
                saved = proc.stdout.readline().split()
                assert saved == ["SAVED", "to-go.bin", digest]
                dest = tmp_path / f"from-go-{ser.name}.bin"
                assert xc.download_file("to-go.bin", dest) == SIZE
                assert _sha(dest) == digest
        with rpcx.XClient("_streamservice", rpcx.Peer(addr), timeout=WAIT) as xs:
            with xs.stream({"from": "python"}) as sock:
                _echo_check(sock)

        async def twins() -> None:
            async with rpcx.AsyncXClient("_filetransfer", rpcx.Peer(addr), timeout=WAIT) as af:
                assert await af.download_file("to-go.bin", tmp_path / "async-from-go.bin") == SIZE
            async with rpcx.AsyncXClient("_streamservice", rpcx.Peer(addr), timeout=WAIT) as ax:
                reader, writer = await ax.stream({"from": "python-asyncio"})
                await _aecho_check(reader, writer)
                writer.close()

        asyncio.run(twins())
        assert _sha(tmp_path / "async-from-go.bin") == digest
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_file(path: Path, digest: str) -> bool:
    """Waits (bounded) until ``path`` holds bytes hashing to ``digest``."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists() and _sha(path) == digest:
            return True
        time.sleep(0.05)
    return False


def _go_client(gofiles: Path, *args: str) -> str:
    proc = subprocess.run([str(gofiles), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_go_client_python_server(
    gofiles: Path, server: rpcx.Server, dirs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    up, down, _ = dirs
    src = tmp_path / "from-go-client.bin"
    digest = _random_file(src)
    for json_flag in ([], ["-json"]):
        if (up / src.name).exists():
            (up / src.name).unlink()
        _go_client(gofiles, "-mode", "upload", "-addr", server.address or "", "-file", str(src), *json_flag)
        # Go's SendFile returns once it wrote the bytes; the file is renamed into place when
        # the server has them all.
        assert _wait_for_file(up / src.name, digest)
        shutil.copy(src, down / "for-go.bin")
        out = _go_client(
            gofiles, "-mode", "download", "-addr", server.address or "",
            "-file", "for-go.bin", "-out", str(tmp_path / "go-got.bin"), *json_flag,
        )
        assert out.split() == ["SHA256", digest]
    # Go's stream client checks the echo itself; our handler first writes a metadata line,
    # so this server gets a plain echo handler of its own.
    s = rpcx.Server()

    def plain_echo(sock: socket.socket, meta: dict[str, str]) -> None:
        assert meta == {"from": "go"}
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data)

    s.register_stream(plain_echo)
    s.start()
    try:
        out = _go_client(gofiles, "-mode", "stream", "-addr", s.address or "", "-n", str(MESSAGES))
        assert out.split() == ["ECHOED", str(MESSAGES)]
    finally:
        s.stop()


def test_go_client_stream_acceptor(gofiles: Path) -> None:
    """Go's XClient.Stream against a Python acceptor: its metadata reaches the acceptor, an
    accepted stream echoes, a refused one fails with Go's own text."""
    allow = threading.Event()
    seen: list[dict[str, str]] = []

    def acceptor(ctx: rpcx.Context, meta: dict[str, str]) -> bool:
        seen.append(meta)
        return allow.is_set()

    def plain_echo(sock: socket.socket, meta: dict[str, str]) -> None:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data)

    s = rpcx.Server()
    s.register_stream(plain_echo, acceptor=acceptor)
    s.start()
    try:
        proc = subprocess.run(
            [str(gofiles), "-mode", "stream", "-addr", s.address or "", "-n", "10"],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode != 0
        assert "server refused the connection" in proc.stderr, proc.stderr
        allow.set()
        out = _go_client(gofiles, "-mode", "stream", "-addr", s.address or "", "-n", "100")
        assert out.split() == ["ECHOED", "100"]
        assert seen == [{"from": "go"}, {"from": "go"}]
    finally:
        s.stop()


# -- Python upload and download handlers ----------------------------------------------------


def test_upload_and_download_handlers(tmp_path: Path) -> None:
    limit = 4 * 1024 * 1024
    received: dict[str, tuple[str, int, dict[str, str]]] = {}
    payload = os.urandom(3 * 1024 * 1024 + 17)

    def on_upload(up: rpcx.Upload) -> None:
        h = hashlib.sha256()
        n = 0
        for chunk in up:
            h.update(chunk)
            n += len(chunk)
        received[up.name] = (h.hexdigest(), n, up.metadata)

    def on_download(d: rpcx.Download) -> None:
        assert d.metadata.get("who") == "test"
        if d.name == "generated":
            view = memoryview(payload)
            for i in range(0, len(payload), 100_000):
                d.write(view[i : i + 100_000])
        elif d.name == "fails-midway":
            d.write(b"x" * 1000)
            raise RuntimeError("the generator broke")
        elif d.name == "too-big":
            d.write(b"x" * limit)
            d.write(b"x")  # over max_file_size: OSError, the handler fails
        else:
            raise rpcx.ServiceError(f"no such file {d.name!r}")

    s = rpcx.Server(
        file_transfer=rpcx.FileTransferOptions(
            upload_handler=on_upload, download_handler=on_download, max_file_size=limit
        )
    )
    s.start()
    try:
        src = tmp_path / "handled.bin"
        digest = _random_file(src, 1_500_000)
        with rpcx.XClient("_filetransfer", rpcx.Peer(s.address or ""), timeout=WAIT) as xc:
            assert xc.send_file(src, metadata={"k": "v"}) == 1_500_000
            assert received["handled.bin"] == (digest, 1_500_000, {"k": "v"})
            meta = {"who": "test"}
            buf = io.BytesIO()
            assert xc.download_file("generated", buf, meta) == len(payload)
            assert buf.getvalue() == payload
            dest = tmp_path / "dest.bin"
            dest.write_bytes(b"before")
            for name in ("fails-midway", "too-big", "unknown"):
                with pytest.raises(rpcx.RpcError):
                    xc.download_file(name, dest, meta)
                assert dest.read_bytes() == b"before", name
    finally:
        s.stop()


@pytest.mark.parametrize("own_loop", [True, False])
def test_async_upload_and_download_handlers(own_loop: bool, tmp_path: Path) -> None:
    """``async def`` handlers run on the server's loop (start's own loop thread or
    start_async's running loop) without blocking it: a download waiting for an event that a
    second download sets finishes."""
    limit = 4 * 1024 * 1024
    received: dict[str, tuple[str, int, dict[str, str]]] = {}
    loops: list[asyncio.AbstractEventLoop] = []
    payload = os.urandom(2 * 1024 * 1024 + 5)
    events: list[asyncio.Event] = []  # made on the handlers' loop (Python 3.9 binds at creation)

    def released() -> asyncio.Event:
        if not events:
            events.append(asyncio.Event())
        return events[0]

    attempts: list[str] = []

    async def on_upload(up: rpcx.Upload) -> None:
        loops.append(asyncio.get_running_loop())
        attempts.append(up.name)
        if up.name == "refused.bin":
            raise PermissionError("not this one")
        h = hashlib.sha256()
        n = 0
        async for chunk in up:
            h.update(chunk)
            n += len(chunk)
        assert await up.read_async() is None
        received[up.name] = (h.hexdigest(), n, up.metadata)

    async def on_download(d: rpcx.Download) -> None:
        loops.append(asyncio.get_running_loop())
        if d.name == "generated":
            view = memoryview(payload)
            for i in range(0, len(payload), 100_000):
                await d.write_async(view[i : i + 100_000])
        elif d.name == "waits":
            await d.write_async(b"a")
            await asyncio.wait_for(released().wait(), WAIT)
            await d.write_async(b"b")
        elif d.name == "releases":
            released().set()
            await d.write_async(b"go")
        elif d.name == "fails-midway":
            await d.write_async(b"x" * 1000)
            raise RuntimeError("the generator broke")
        else:
            raise rpcx.ServiceError(f"no such file {d.name!r}")

    src = tmp_path / "handled.bin"
    digest = _random_file(src, 1_500_000)
    refused = tmp_path / "refused.bin"
    refused.write_bytes(b"r" * 1000)

    def client(addr: str) -> None:
        with rpcx.XClient("_filetransfer", rpcx.Peer(addr), timeout=WAIT) as xc:
            assert xc.send_file(src, metadata={"k": "v"}) == 1_500_000
            assert received["handled.bin"] == (digest, 1_500_000, {"k": "v"})
            # A refused upload: the client may have written every byte (and succeed) before
            # the server drops the connection, so only the server's side is checked.
            try:
                xc.send_file(refused)
            except rpcx.RpcError:
                pass
            assert "refused.bin" in attempts and "refused.bin" not in received
            assert xc.send_file(src) == 1_500_000  # still serving
            buf = io.BytesIO()
            assert xc.download_file("generated", buf) == len(payload)
            assert buf.getvalue() == payload
            dest = tmp_path / "dest.bin"
            dest.write_bytes(b"before")
            for name in ("fails-midway", "unknown"):
                with pytest.raises(rpcx.RpcError):
                    xc.download_file(name, dest)
                assert dest.read_bytes() == b"before", name
            waited = io.BytesIO()
            errors: list[BaseException] = []

            def first() -> None:
                try:
                    xc.download_file("waits", waited)
                except BaseException as e:  # reported by the assertion below
                    errors.append(e)

            t = threading.Thread(target=first)
            t.start()
            second = io.BytesIO()
            assert xc.download_file("releases", second) == 2
            t.join(WAIT)
            assert not t.is_alive() and errors == []
            assert (waited.getvalue(), second.getvalue()) == (b"ab", b"go")

    options = rpcx.FileTransferOptions(
        upload_handler=on_upload, download_handler=on_download, max_file_size=limit
    )
    if own_loop:
        s = rpcx.Server(file_transfer=options)
        s.start()
        try:
            client(s.address or "")
        finally:
            s.stop()
        assert loops and len(set(map(id, loops))) == 1
        return

    async def main() -> None:
        s = rpcx.Server(file_transfer=options)
        await s.start_async()
        try:
            await asyncio.get_running_loop().run_in_executor(None, client, s.address or "")
        finally:
            await s.stop_async()
        assert loops and all(lp is asyncio.get_running_loop() for lp in loops)

    asyncio.run(main())


def test_handler_option_errors(tmp_path: Path) -> None:
    def h(_: Any) -> None:
        pass

    async def ah(_: Any) -> None:
        pass

    with pytest.raises(ValueError):
        rpcx.FileTransferOptions(upload_dir=tmp_path, upload_handler=h)
    rpcx.FileTransferOptions(download_handler=ah)  # async def handlers are accepted
    with pytest.raises(TypeError):
        rpcx.FileTransferOptions(upload_handler="nope")  # type: ignore[arg-type]
    # One direction by handler, the other by directory.
    rpcx.FileTransferOptions(upload_handler=h, download_dir=tmp_path)
