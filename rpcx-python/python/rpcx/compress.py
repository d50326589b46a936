"""Payload compression: the compress types a client sends with (``compress=`` of
:class:`rpcx.Client`, :class:`rpcx.AsyncClient`, :class:`rpcx.XClient` and
:class:`rpcx.AsyncXClient`), and compressors written in Python.

Compress types are Go's ``protocol.CompressType`` numbers: 0 none, 1 gzip (built in), 2 snappy
(built into this module, the framed format of Go rpcx's ``protocol.SnappyCompressor``; a Go
peer registers it at 2), 3-7 free. A server always answers a large reply with the compress
type of the request, as Go's does.

    rpcx.register_compressor(5, zlib.compress, lambda data, max_len: zlib.decompress(data))
    client = rpcx.Client(addr, compress=5)            # or compress="snappy", rpcx.COMPRESS_GZIP

The registry is process-wide (like Go's ``protocol.Compressors``): a registered type is used
by every client and server of the process, and a process talking to Go peers must use the
numbers they use.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

from . import _rpcx

__all__ = [
    "COMPRESS_NONE",
    "COMPRESS_GZIP",
    "COMPRESS_SNAPPY",
    "register_compressor",
    "unregister_compressor",
    "compressor_available",
]

#: No compression (compress type 0).
COMPRESS_NONE = 0
#: gzip (compress type 1), built in.
COMPRESS_GZIP = 1
#: snappy (compress type 2): Go rpcx's ``protocol.SnappyCompressor`` format, built in.
COMPRESS_SNAPPY = 2

_NAMES = {"none": COMPRESS_NONE, "gzip": COMPRESS_GZIP, "snappy": COMPRESS_SNAPPY}

#: Go's threshold: requests larger than this many bytes are compressed.
DEFAULT_THRESHOLD = 1024


def register_compressor(
    compress_type: int,
    compress: Callable[[bytes], bytes],
    decompress: Callable[[bytes, int], bytes],
) -> None:
    """Registers a compressor for ``compress_type`` (2-7) for the whole process, replacing
    the one registered there before (snappy at 2 included).

    ``compress(data)`` returns the compressed bytes; ``decompress(data, max_len)`` returns
    the original bytes and should refuse (raise) before producing more than ``max_len``
    bytes, the receiver's decompressed-size limit (:class:`rpcx.Limits`); a larger result is
    refused as over the limit anyway. Both may return ``bytes`` or ``bytearray``. They run
    on rpcx's runtime threads with the GIL held, possibly while other Python code waits:
    keep them quick and thread-safe. An exception fails that frame: the server answers with
    an error naming the exception, a client's call raises :class:`rpcx.RpcError`.

    Raises :class:`ValueError` for 0, 1 (built in) or a type above 7, :class:`TypeError` when
    a function is not callable.
    """
    _rpcx.register_compressor(_number(compress_type), compress, decompress)


def unregister_compressor(compress_type: int) -> bool:
    """Removes the compressor of ``compress_type`` (2-7); ``False`` when none was
    registered. Frames of that type are refused from then on."""
    return _rpcx.unregister_compressor(_number(compress_type))


def compressor_available(compress_type: Union[int, str]) -> bool:
    """True when frames of this compress type (a number or ``"none"``, ``"gzip"``,
    ``"snappy"``) can be sent and received now."""
    try:
        return _rpcx.compressor_available(resolve(compress_type))
    except ValueError:
        return False


def _number(compress_type: object) -> int:
    if isinstance(compress_type, bool) or not isinstance(compress_type, int):
        raise TypeError(f"compress type must be an int, got {type(compress_type).__name__}")
    if not 0 <= compress_type <= 7:
        raise ValueError(f"compress type {compress_type} is not 0-7")
    return compress_type


def resolve(compress: Union[int, str]) -> int:
    """A compress type from a number or a name (``"none"``, ``"gzip"``, ``"snappy"``)."""
    if isinstance(compress, str):
        try:
            return _NAMES[compress.lower()]
        except KeyError:
            raise ValueError(
                f"unknown compressor {compress!r}: use 'none', 'gzip', 'snappy' or a number 0-7"
            ) from None
    return _number(compress)


def client_option(
    gzip: bool, compress: Optional[Union[int, str]], threshold: int
) -> Optional[Tuple[int, int]]:
    """The native ``compress=`` option of a client: ``(type, threshold)`` or ``None``."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError(f"compress_threshold must be an int >= 0, got {threshold!r}")
    if compress is None:
        return (COMPRESS_GZIP, threshold) if gzip else None
    if gzip:
        raise ValueError("give either gzip=True or compress=..., not both")
    ct = resolve(compress)
    return None if ct == COMPRESS_NONE else (ct, threshold)
