"""Connection options of Client / AsyncClient / XClient seen working end to end: heartbeats
(sent on an idle connection; an unanswered one drops the connection and fails the calls on
it) and limits (a client refuses a reply over its frame limit; a server drops a connection
whose request frame is over its limit, answers too much metadata with an error, and keeps
serving everyone else)."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Iterator

import pytest

import rpcx
from conftest import Args, Reply, build_server

# The third byte of the 16-byte rpcx header: bit 0x40 marks a heartbeat.
_HEARTBEAT_BIT = 0x40


class SilentServer:
    """Accepts connections and reads whole rpcx frames without ever answering one, counting
    the heartbeats among them (a server that froze after accepting)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp@127.0.0.1:{self.sock.getsockname()[1]}"
        self.heartbeats = 0
        self.requests = 0
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    @staticmethod
    def _exact(conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _read(self, conn: socket.socket) -> None:
        try:
            while True:
                header = self._exact(conn, 16)
                assert header[0] == 0x08, header
                self._exact(conn, int.from_bytes(header[12:16], "big"))
                with self.lock:
                    if header[2] & _HEARTBEAT_BIT:
                        self.heartbeats += 1
                    else:
                        self.requests += 1
        except (EOFError, OSError):
            pass

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    s = SilentServer()
    yield s
    s.close()


def test_an_unanswered_heartbeat_fails_the_waiting_call(silent: SilentServer) -> None:
    """No call timeout: without heartbeats this call would wait forever on a frozen server."""
    with rpcx.Client(silent.address, heartbeat=0.1, heartbeat_timeout=0.3) as c:
        with pytest.raises(rpcx.RpcConnectionError):
            c.call("Arith", "Mul", Args(2, 3))
    assert silent.requests == 1
    assert silent.heartbeats >= 1


def test_async_an_unanswered_heartbeat_fails_the_waiting_call(silent: SilentServer) -> None:
    async def main() -> None:
        async with rpcx.AsyncClient(silent.address, heartbeat=0.1, heartbeat_timeout=0.3) as c:
            with pytest.raises(rpcx.RpcConnectionError):
                await asyncio.wait_for(c.call("Arith", "Mul", Args(2, 3)), 60)

    asyncio.run(main())
    assert silent.heartbeats >= 1


def test_xclient_heartbeats_drop_a_frozen_server(silent: SilentServer) -> None:
    with rpcx.XClient(
        "Arith", rpcx.Peer(silent.address), fail_mode=rpcx.FailMode.FAILFAST,
        heartbeat=0.1, heartbeat_timeout=0.3,
    ) as xc:
        with pytest.raises(rpcx.RpcConnectionError):
            xc.call("Mul", Args(2, 3))
    assert silent.heartbeats >= 1


def test_answered_heartbeats_keep_an_idle_connection(py_addr: str) -> None:
    """Heartbeats to a live server are answered: the connection outlives many intervals."""
    import time

    with rpcx.Client(py_addr, heartbeat=0.05, heartbeat_timeout=5) as c:
        assert c.call("Arith", "Mul", Args(2, 3), reply_type=Reply) == Reply(6)
        time.sleep(1.0)  # about 20 heartbeats, each answered
        assert c.call("Arith", "Mul", Args(4, 5), reply_type=Reply) == Reply(20)


def test_heartbeat_options_are_checked(py_addr: str) -> None:
    with pytest.raises(ValueError):
        rpcx.Client(py_addr, heartbeat=0)
    with pytest.raises((ValueError, rpcx.RpcError)):
        rpcx.Client(py_addr, heartbeat=0.1, heartbeat_timeout=0)


def test_client_frame_limit_refuses_a_large_reply(py_addr: str) -> None:
    small = rpcx.Limits(max_frame_len=1024)
    with rpcx.Client(py_addr, serializer=rpcx.RAW, limits=small, timeout=10) as c:
        assert c.call("Echo", "Echo", b"x" * 100) == b"x" * 100
        with pytest.raises(rpcx.RpcError, match="frame|limit"):
            c.call("Echo", "Echo", b"x" * 4096)


def test_async_client_frame_limit_refuses_a_large_reply(py_addr: str) -> None:
    async def main() -> None:
        small = rpcx.Limits(max_frame_len=1024)
        async with rpcx.AsyncClient(py_addr, serializer=rpcx.RAW, limits=small, timeout=10) as c:
            assert await c.call("Echo", "Echo", b"y" * 100) == b"y" * 100
            with pytest.raises(rpcx.RpcError, match="frame|limit"):
                await c.call("Echo", "Echo", b"y" * 4096)

    asyncio.run(main())


def test_server_limits_drop_the_offender_and_serve_the_rest() -> None:
    server = build_server(limits=rpcx.Limits(max_frame_len=2048, max_metadata_entries=4))
    port = server.start("tcp@127.0.0.1:0")
    addr = f"tcp@127.0.0.1:{port}"
    try:
        with rpcx.Client(addr, serializer=rpcx.RAW, timeout=10) as good, rpcx.Client(
            addr, serializer=rpcx.RAW, timeout=10
        ) as bad:
            assert good.call("Echo", "Echo", b"a" * 100) == b"a" * 100
            with pytest.raises(rpcx.RpcConnectionError):
                bad.call("Echo", "Echo", b"b" * 8192)
            # Too many metadata entries: the frame is whole, so the server answers with an
            # error and the connection stays usable.
            many = {f"k{i}": "v" for i in range(10)}
            with pytest.raises(rpcx.ServiceError, match="too many metadata entries"):
                good.call("Echo", "Echo", b"c", metadata=many)
            assert good.call("Echo", "Echo", b"d" * 100) == b"d" * 100
    finally:
        server.stop(grace=1)


def test_async_server_limits_apply_to_async_handlers() -> None:
    server = rpcx.Server(limits=rpcx.Limits(max_frame_len=2048))

    @server.register("Echo.Async")
    async def echo(b: bytes) -> bytes:
        await asyncio.sleep(0)
        return b

    async def main() -> None:
        port = await server.start_async("tcp@127.0.0.1:0")
        addr = f"tcp@127.0.0.1:{port}"
        try:
            async with rpcx.AsyncClient(addr, serializer=rpcx.RAW, timeout=10) as c:
                assert await c.call("Echo", "Async", b"e" * 10) == b"e" * 10
            async with rpcx.AsyncClient(addr, serializer=rpcx.RAW, timeout=10) as c:
                with pytest.raises(rpcx.RpcConnectionError):
                    await c.call("Echo", "Async", b"f" * 8192)
        finally:
            await server.stop_async(grace=1)

    asyncio.run(main())


def _never_reading() -> tuple[socket.socket, str]:
    """A listening socket whose connections the kernel accepts and nobody reads."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    return s, f"tcp@127.0.0.1:{s.getsockname()[1]}"


def test_a_server_that_never_reads_holds_at_most_max_unsent_bytes() -> None:
    listener, addr = _never_reading()
    try:
        mib = b"\0" * (1 << 20)
        with rpcx.Client(addr, serializer=rpcx.RAW, timeout=0.3, max_unsent_bytes=1 << 20) as c:
            queued = 0
            with pytest.raises(rpcx.RpcTimeoutError):
                for _ in range(200):
                    c.call_oneway("Echo", "Echo", mib)
                    queued += 1
            # Socket buffers take a few MiB; the queue at most one more. Unbounded, all 200
            # would queue.
            assert queued < 64
    finally:
        listener.close()


def test_async_and_xclient_take_max_unsent_bytes() -> None:
    listener, addr = _never_reading()
    try:
        mib = b"\0" * (1 << 20)

        async def main() -> int:
            async with rpcx.AsyncClient(addr, serializer=rpcx.RAW, timeout=0.3,
                                        max_unsent_bytes=1 << 20) as c:
                queued = 0
                with pytest.raises(rpcx.RpcTimeoutError):
                    for _ in range(200):
                        await c.call_oneway("Echo", "Echo", mib)
                        queued += 1
                return queued

        assert asyncio.run(main()) < 64
        with rpcx.XClient("Echo", rpcx.Peer(addr), serializer=rpcx.RAW, timeout=0.3,
                          max_unsent_bytes=1 << 20) as xc:
            with pytest.raises(rpcx.RpcTimeoutError):
                for _ in range(200):
                    xc.call_oneway("Echo", mib)
    finally:
        listener.close()


def test_max_unsent_bytes_is_checked() -> None:
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        rpcx.Client("tcp@127.0.0.1:1", max_unsent_bytes=0)
    with pytest.raises(TypeError, match="max_unsent_bytes"):
        rpcx.AsyncClient("tcp@127.0.0.1:1", max_unsent_bytes="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        rpcx.XClient("Echo", rpcx.Peer("tcp@127.0.0.1:1"), max_unsent_bytes=-1)
