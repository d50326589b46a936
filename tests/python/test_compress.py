"""Compression from Python: compressors written as two callables (registered process-wide,
used by a Python client and a Python server in both directions), snappy and gzip by name or
constant, the decompressed-size limit applied to a callable's result, a callable's exception
in the error reply, and the option checks."""

from __future__ import annotations

import asyncio
import threading
import zlib
from typing import Iterator

import pytest

import rpcx

# Types 5 and 6 are used only by this module; each test unregisters what it registers.
ZLIB = 5
BROKEN = 6


class Counting:
    """zlib as a compressor, counting its calls (from rpcx's runtime threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.compressed = 0
        self.decompressed = 0
        self.max_lens: list[int] = []

    def compress(self, data: bytes) -> bytes:
        with self.lock:
            self.compressed += 1
        return zlib.compress(data)

    def decompress(self, data: bytes, max_len: int) -> bytearray:
        with self.lock:
            self.decompressed += 1
            self.max_lens.append(max_len)
        d = zlib.decompressobj()
        out = bytearray(d.decompress(data, max_len + 1))
        return out  # one byte over max_len when the payload is too large: refused by rpcx


@pytest.fixture()
def echo_addr() -> Iterator[str]:
    server = rpcx.Server(limits=rpcx.Limits(max_decompressed_len=64 << 10))

    @server.register("Echo.Bytes")
    def echo(data: bytes) -> bytes:
        return data

    port = server.start("tcp@127.0.0.1:0")
    yield f"tcp@127.0.0.1:{port}"
    server.stop(grace=1.0)


@pytest.fixture()
def counting() -> Iterator[Counting]:
    c = Counting()
    rpcx.register_compressor(ZLIB, c.compress, c.decompress)
    yield c
    rpcx.unregister_compressor(ZLIB)


def test_callable_compressor_both_ways(echo_addr: str, counting: Counting) -> None:
    assert rpcx.compressor_available(ZLIB)
    blob = b"abcdefgh" * 1024
    with rpcx.Client(echo_addr, serializer=rpcx.RAW, compress=ZLIB, timeout=10) as c:
        assert c.call("Echo", "Bytes", blob) == blob
        # Request (client) and reply (server, same compress type) both went through zlib.
        assert counting.compressed == 2 and counting.decompressed == 2
        assert 64 << 10 in counting.max_lens  # the server's limit reaches the callable
        assert c.call("Echo", "Bytes", b"small") == b"small"
        assert counting.compressed == 2  # below the threshold: not compressed
        # Over the server's 64 KiB decompressed limit: refused with the limit's error.
        with pytest.raises(rpcx.RpcError, match="decompressed size exceeds"):
            c.call("Echo", "Bytes", b"z" * (65 << 10))
        assert c.call("Echo", "Bytes", blob) == blob  # the connection is still good
    with rpcx.Client(
        echo_addr, serializer=rpcx.RAW, compress=ZLIB, compress_threshold=0, timeout=10
    ) as c:
        before = counting.compressed
        assert c.call("Echo", "Bytes", b"x") == b"x"
        assert counting.compressed == before + 1


def test_async_client_with_a_callable_compressor(echo_addr: str, counting: Counting) -> None:
    blob = bytes(range(256)) * 20

    async def main() -> None:
        async with rpcx.AsyncClient(echo_addr, serializer=rpcx.RAW, compress=ZLIB, timeout=10) as c:
            # The compressor takes the GIL on a runtime thread while the loop awaits.
            results = await asyncio.gather(*(c.call("Echo", "Bytes", blob) for _ in range(8)))
            assert results == [blob] * 8

    asyncio.run(main())
    assert counting.compressed == 16 and counting.decompressed == 16


def test_exceptions_and_bad_results_are_reported(echo_addr: str) -> None:
    def boom(data: bytes, max_len: int) -> bytes:
        raise ValueError("not my format")

    rpcx.register_compressor(BROKEN, zlib.compress, boom)
    try:
        with rpcx.Client(echo_addr, serializer=rpcx.RAW, compress=BROKEN, compress_threshold=0,
                         timeout=10) as c:
            with pytest.raises(rpcx.RpcError, match="compressor 6 failed: ValueError: not my format"):
                c.call("Echo", "Bytes", b"hello")
        rpcx.register_compressor(BROKEN, lambda data: "text", boom)  # type: ignore[arg-type,return-value]
        with rpcx.Client(echo_addr, serializer=rpcx.RAW, compress=BROKEN, compress_threshold=0,
                         timeout=10) as c:
            with pytest.raises(rpcx.RpcError, match="must return bytes or bytearray, not str"):
                c.call("Echo", "Bytes", b"hello")
    finally:
        assert rpcx.unregister_compressor(BROKEN)
    assert not rpcx.unregister_compressor(BROKEN)


@pytest.mark.parametrize("compress", ["snappy", "SNAPPY", rpcx.COMPRESS_SNAPPY, "gzip", rpcx.COMPRESS_GZIP])
def test_builtin_compressors_by_name_and_constant(echo_addr: str, compress: object) -> None:
    blob = b"snappy and gzip " * 2000
    with rpcx.Client(echo_addr, serializer=rpcx.RAW, compress=compress, timeout=10) as c:  # type: ignore[arg-type]
        assert c.call("Echo", "Bytes", blob) == blob
        assert c.call("Echo", "Bytes", b"") == b""


def test_xclient_compress(echo_addr: str) -> None:
    blob = b"x" * 5000
    with rpcx.XClient("Echo", rpcx.Peer(echo_addr), serializer=rpcx.RAW, compress="snappy",
                      timeout=10) as xc:
        assert xc.call("Bytes", blob) == blob


def test_option_and_registration_checks(echo_addr: str) -> None:
    assert rpcx.compressor_available("none") and rpcx.compressor_available("gzip")
    assert rpcx.compressor_available("snappy") and rpcx.compressor_available(2)
    assert not rpcx.compressor_available(7) and not rpcx.compressor_available(8)
    assert not rpcx.compressor_available("lz4")
    with pytest.raises(ValueError, match="unknown compressor 'lz4'"):
        rpcx.Client(echo_addr, compress="lz4")
    with pytest.raises(ValueError, match="not 0-7"):
        rpcx.Client(echo_addr, compress=9)
    with pytest.raises(ValueError, match="either gzip=True or compress"):
        rpcx.Client(echo_addr, gzip=True, compress="snappy")
    with pytest.raises(ValueError, match="compress_threshold"):
        rpcx.Client(echo_addr, compress="gzip", compress_threshold=-1)
    # A type nobody registered: refused when connecting.
    with pytest.raises(ValueError, match="compress_type 7 has no compressor"):
        rpcx.Client(echo_addr, compress=7)
    with pytest.raises(ValueError, match="built in"):
        rpcx.register_compressor(1, zlib.compress, lambda d, n: zlib.decompress(d))
    with pytest.raises(ValueError, match="not 0-7"):
        rpcx.register_compressor(8, zlib.compress, lambda d, n: zlib.decompress(d))
    with pytest.raises(TypeError, match="decompress must be callable"):
        rpcx.register_compressor(5, zlib.compress, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        rpcx.unregister_compressor("5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="built in"):
        rpcx.unregister_compressor(0)
