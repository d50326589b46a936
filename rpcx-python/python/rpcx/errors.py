"""Exceptions raised by rpcx.

Every error is an :class:`RpcError` carrying ``code``, ``message`` and ``metadata``. The
subclasses also inherit the matching built-in exception, so ``except TimeoutError`` or
``except ConnectionError`` work as expected.
"""

from __future__ import annotations

from typing import Mapping, Optional

__all__ = [
    "RpcError",
    "ServiceError",
    "RpcTimeoutError",
    "RpcConnectionError",
    "SerializationError",
    "ClosedError",
]


class RpcError(Exception):
    """Base class of every rpcx error.

    ``code`` names the kind of failure (``"service"``, ``"timeout"``, ``"connection"``,
    ``"serialization"``, ``"closed"`` or ``"rpc"``), ``message`` is the text (for a
    :class:`ServiceError`, the server's ``__rpcx_error__`` text unchanged) and ``metadata``
    the response metadata when there was a response.
    """

    code: str = "rpc"

    def __init__(
        self,
        message: str = "",
        *,
        metadata: Optional[Mapping[str, str]] = None,
        code: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message: str = message
        self.metadata: dict[str, str] = dict(metadata) if metadata else {}
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ServiceError(RpcError):
    """The server answered with an error: a handler raised, the service or method is
    unknown, the arguments could not be decoded, or authentication failed.

    ``payload`` holds the raw reply payload the server sent with its error (Go services send
    their zero-valued reply), usually empty.
    """

    code = "service"

    def __init__(
        self,
        message: str = "",
        *,
        metadata: Optional[Mapping[str, str]] = None,
        payload: bytes = b"",
        code: Optional[str] = None,
    ) -> None:
        super().__init__(message, metadata=metadata, code=code)
        self.payload: bytes = payload


class RpcTimeoutError(RpcError, TimeoutError):
    """The call's timeout passed before the reply arrived."""

    code = "timeout"


class RpcConnectionError(RpcError, ConnectionError):
    """Connecting failed, or the connection broke while the call was pending."""

    code = "connection"


class SerializationError(RpcError, ValueError):
    """Arguments could not be encoded, or a reply could not be decoded."""

    code = "serialization"


class ClosedError(RpcError):
    """The client or server was closed (or belongs to the parent of a forked process)."""

    code = "closed"
