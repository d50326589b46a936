"""File transfer and streams, wire-compatible with Go rpcx's ``_filetransfer`` and
``_streamservice``.

An ordinary call returns a one-use token and the address of a **side listener** (plain TCP);
the client connects there and writes the token, then the file's bytes flow (upload or
download) or the connection belongs to the application both ways (a stream).

Server side: ``rpcx.Server(file_transfer=FileTransferOptions(upload_dir=..., download_dir=...))``
and :meth:`rpcx.Server.register_stream`. Client side: ``send_file``, ``download_file`` and
``stream`` on :class:`~rpcx.XClient` (whose service is ``"_filetransfer"`` or
``"_streamservice"``), on :class:`~rpcx.Client` (the service as a keyword) and on their
asyncio twins.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import tempfile
from dataclasses import dataclass
from typing import IO, Any, AsyncIterator, Callable, Iterator, Mapping, Optional, Tuple, TypeVar, Union

__all__ = [
    "Download",
    "FileTransferOptions",
    "Upload",
    "StreamOptions",
    "FILE_TRANSFER_SERVICE",
    "STREAM_SERVICE",
]

#: The file transfer service's name (Go's ``share.SendFileServiceName``).
FILE_TRANSFER_SERVICE = "_filetransfer"
#: The stream service's name (Go's ``share.StreamServiceName``).
STREAM_SERVICE = "_streamservice"

#: Where a download goes: a path (written to a temporary file beside it, renamed into place
#: once complete) or a binary file object with ``write``.
Destination = Union[str, "os.PathLike[str]", IO[bytes]]

T = TypeVar("T")


def _positive(name: str, value: Any, kind: type = float) -> None:
    ok = isinstance(value, (int, float)) if kind is float else isinstance(value, int)
    if not ok or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, got {value!r}")


@dataclass(frozen=True)
class StreamOptions:
    """Where a side listener binds and how many tokens and connections it keeps.

    ``listen`` is ``host:port`` (port 0: a free one; default loopback). ``advertise_addr``
    replaces the bound address in replies (Go's ``AdvertiseAddr``; set it when binding a
    wildcard address or behind NAT). A token is good for one connection within
    ``token_lifetime`` seconds; at most ``max_tokens`` wait at once (the oldest is dropped
    first) and ``max_concurrent`` side connections run at once; a connection that sends no
    valid token within ``handshake_timeout`` seconds is closed.
    """

    listen: str = "127.0.0.1:0"
    advertise_addr: Optional[str] = None
    token_lifetime: float = 60.0
    max_tokens: int = 1024
    max_concurrent: int = 64
    handshake_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.listen, str) or ":" not in self.listen:
            raise ValueError(f"listen must be a host:port str, got {self.listen!r}")
        if self.advertise_addr is not None and not isinstance(self.advertise_addr, str):
            raise TypeError("advertise_addr must be a host:port str or None")
        _positive("token_lifetime", self.token_lifetime)
        _positive("handshake_timeout", self.handshake_timeout)
        _positive("max_tokens", self.max_tokens, int)
        _positive("max_concurrent", self.max_concurrent, int)

    def _side(self) -> Tuple[str, Optional[str], float, int, int, float]:
        return (
            self.listen,
            self.advertise_addr,
            float(self.token_lifetime),
            self.max_tokens,
            self.max_concurrent,
            float(self.handshake_timeout),
        )


@dataclass(frozen=True)
class FileTransferOptions(StreamOptions):
    """File transfer on a :class:`~rpcx.Server` (``_filetransfer``; pass it as
    ``Server(file_transfer=...)``).

    Uploads are saved in ``upload_dir`` under the final component of the client's file name
    (empty names, ``.``, ``..``, names starting with ``.`` and control characters are
    refused), written under a temporary name and renamed into place only once every declared
    byte arrived. Downloads are served from ``download_dir``: absolute names, ``..`` and
    symlinks leading outside it are refused, and only regular files are served. Both
    directories must exist. Files above ``max_file_size`` bytes (default 1 GiB) are refused
    in the call's error reply; a side connection that makes no progress for ``io_timeout``
    seconds is aborted. The side listener options are those of :class:`StreamOptions`.

    Instead of a directory, ``upload_handler(upload)`` receives each upload as an
    :class:`Upload` (read its bytes; return once done, raise to refuse it) and
    ``download_handler(download)`` produces each download through a :class:`Download` (write
    the bytes; return to end the file, raise to abort it, which the client sees as an error);
    the names are then the handler's to interpret. Plain handlers run on a thread of their
    own per transfer (at most ``max_concurrent`` at once); ``async def`` handlers are awaited
    on the server's event loop (its own loop thread after :meth:`~rpcx.Server.start`, the
    running loop after :meth:`~rpcx.Server.start_async`) and use :meth:`Upload.read_async`
    (or ``async for``) and :meth:`Download.write_async`. Each direction takes a directory or
    a handler; at least one direction is needed.
    """

    upload_dir: Optional[Union[str, "os.PathLike[str]"]] = None
    download_dir: Optional[Union[str, "os.PathLike[str]"]] = None
    max_file_size: int = 1 << 30
    io_timeout: float = 30.0
    upload_handler: Optional[Callable[["Upload"], Any]] = None
    download_handler: Optional[Callable[["Download"], Any]] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (
            self.upload_dir is None
            and self.download_dir is None
            and self.upload_handler is None
            and self.download_handler is None
        ):
            raise ValueError(
                "file transfer needs an upload_dir or upload_handler, "
                "a download_dir or download_handler"
            )
        for d, h in (("upload_dir", "upload_handler"), ("download_dir", "download_handler")):
            handler = getattr(self, h)
            if handler is None:
                continue
            if getattr(self, d) is not None:
                raise ValueError(f"give {d} or {h}, not both")
            if not callable(handler):
                raise TypeError(f"{h} must be callable (a function or an async def)")
        for name in ("upload_dir", "download_dir"):
            d = getattr(self, name)
            if d is not None and not isinstance(d, (str, os.PathLike)):
                raise TypeError(f"{name} must be a path, got {type(d).__name__}")
        _positive("max_file_size", self.max_file_size, int)
        _positive("io_timeout", self.io_timeout)

    def _tuple(self) -> Tuple[Any, ...]:
        return (
            None if self.upload_dir is None else os.fspath(self.upload_dir),
            None if self.download_dir is None else os.fspath(self.download_dir),
            self.max_file_size,
            float(self.io_timeout),
            self._side(),
            self.upload_handler is not None,
            self.download_handler is not None,
        )


class Upload:
    """One upload for a :class:`FileTransferOptions` ``upload_handler``: the client's
    ``name`` (as sent), declared ``size``, ``metadata`` and ``peer`` (its side-connection
    address). :meth:`read` (or iterating) gives the bytes."""

    __slots__ = ("_job",)

    def __init__(self, job: Any) -> None:
        self._job = job

    @property
    def name(self) -> str:
        return str(self._job.name)

    @property
    def size(self) -> int:
        return int(self._job.size)

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._job.metadata)

    @property
    def peer(self) -> str:
        return str(self._job.peer)

    def read(self) -> Optional[bytes]:
        """The next bytes (at most 64 KiB), or ``None`` once every declared byte arrived.
        Raises :class:`OSError` when the client sends more than it declared, closes early,
        or sends nothing for ``io_timeout`` seconds."""
        got: Optional[bytes] = self._job.read()
        return got

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read()
            if chunk is None:
                return
            yield chunk

    async def read_async(self) -> Optional[bytes]:
        """:meth:`read` for ``async def`` handlers: the blocking read runs in the loop's
        default executor, so the event loop goes on meanwhile."""
        got: Optional[bytes] = await _off_loop(self._job.read)
        return got

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.read_async()
            if chunk is None:
                return
            yield chunk

    def __repr__(self) -> str:
        return f"<rpcx.Upload {self.name!r} {self.size} bytes from {self.peer}>"


class Download:
    """One download for a :class:`FileTransferOptions` ``download_handler``: the requested
    ``name`` (as sent), ``metadata`` and ``peer``; :meth:`write` sends the file's bytes."""

    __slots__ = ("_job",)

    def __init__(self, job: Any) -> None:
        self._job = job

    @property
    def name(self) -> str:
        return str(self._job.name)

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._job.metadata)

    @property
    def peer(self) -> str:
        return str(self._job.peer)

    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Sends ``data``. Raises :class:`OSError` past ``max_file_size`` (nothing of
        ``data`` is sent), when the client went away, or when a write makes no progress for
        ``io_timeout`` seconds."""
        self._job.write(bytes(data))

    async def write_async(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """:meth:`write` for ``async def`` handlers: the blocking write runs in the loop's
        default executor, so the event loop goes on meanwhile."""
        chunk = bytes(data)
        job = self._job
        await _off_loop(lambda: job.write(chunk))

    def __repr__(self) -> str:
        return f"<rpcx.Download {self.name!r} to {self.peer}>"


async def _off_loop(work: Callable[[], T]) -> T:
    """Runs blocking ``work`` (one read or write of a transfer, bounded by its io timeout)
    in the default executor. A cancelled awaiter does not wait for it; its outcome is then
    retrieved, not logged as unretrieved."""
    fut = asyncio.get_running_loop().run_in_executor(None, work)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        raise


def _meta(metadata: Optional[Mapping[str, str]]) -> Optional[dict[str, str]]:
    if metadata is None:
        return None
    out = dict(metadata)
    for k, v in out.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("metadata keys and values must be str")
    return out


def _rate(rate: Optional[int]) -> Optional[int]:
    if rate is None:
        return None
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise ValueError(f"rate must be a positive int (bytes per second) or None, got {rate!r}")
    return rate


def _path(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def _name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be str, got {type(name).__name__}")
    return name


def _socket(fd: int) -> socket.socket:
    """The stream connection as a blocking ``socket.socket`` (which now owns ``fd``)."""
    return socket.socket(fileno=fd)


def _download(raw: Any, dest: Destination) -> int:
    """Copies a :class:`_rpcx.RawDownload` into ``dest``; the byte count."""
    if isinstance(dest, (str, os.PathLike)):
        target = os.fspath(dest)
        directory = os.path.dirname(os.path.abspath(target))
        fd, tmp = tempfile.mkstemp(prefix=".rpcx-download-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                n = _copy(raw, f)
            os.replace(tmp, target)
            return n
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    if not callable(getattr(dest, "write", None)):
        raise TypeError(
            f"dest must be a path or a binary file object with write(), got {type(dest).__name__}"
        )
    return _copy(raw, dest)


def _copy(raw: Any, f: Any) -> int:
    n = 0
    try:
        while True:
            chunk = raw.read()
            if chunk is None:
                return n
            f.write(chunk)
            n += len(chunk)
    finally:
        raw.close()


async def _in_thread(work: Callable[[], T], abort: Callable[[], None]) -> T:
    """Runs blocking ``work`` in the default executor; cancelling the awaiting task calls
    ``abort`` (which makes ``work`` end soon) and re-raises."""
    fut = asyncio.get_running_loop().run_in_executor(None, work)
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        abort()
        # The work ends with the abort's error: retrieved here, not logged as unretrieved.
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        raise


async def _upload(up: Any) -> int:
    """Waits for a started upload in a thread (cancelling the awaiting task aborts it) and
    closes it, whatever the outcome: the bytes sent."""
    try:
        return await _in_thread(up.wait, up.close)
    finally:
        up.close()


async def _stream_pair(
    open_fd: Callable[[], int],
) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Opens a stream in a thread and wraps it as asyncio ``(reader, writer)``; a connection
    that arrives after the awaiting task was cancelled is closed."""
    loop = asyncio.get_running_loop()
    fut = loop.run_in_executor(None, open_fd)
    try:
        fd = await asyncio.shield(fut)
    except asyncio.CancelledError:

        def drop(f: "asyncio.Future[int]") -> None:
            if not f.cancelled() and f.exception() is None:
                _socket(f.result()).close()

        fut.add_done_callback(drop)
        raise
    sock = _socket(fd)
    try:
        return await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise


def _check_handler(handler: Any) -> None:
    if not callable(handler):
        raise TypeError("handler must be callable as handler(sock, metadata)")

