"""Checks and encoding of call arguments, shared by every client (:mod:`rpcx.client`,
:mod:`rpcx.xclient`)."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional, Union

from . import _codec
from ._codec import Serializer


def check_serializer(value: Union[Serializer, int]) -> Serializer:
    try:
        return Serializer(value)
    except ValueError:
        raise ValueError(
            f"unknown serializer {value!r}; use rpcx.MSGPACK, rpcx.JSON, rpcx.PROTOBUF or rpcx.RAW"
        ) from None


def check_metadata(metadata: Optional[Mapping[str, str]]) -> Optional[dict[str, str]]:
    if metadata is None:
        return None
    md = dict(metadata)
    for k, v in md.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(
                f"metadata keys and values must be str, got {type(k).__name__}: {type(v).__name__}"
            )
    return md


def check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, got {type(timeout).__name__}")
    t = float(timeout)
    if not t >= 0 or t == float("inf"):
        raise ValueError(f"timeout must be a finite number of seconds >= 0, got {timeout!r}")
    return t


def check_max_unsent_bytes(n: Optional[int]) -> Optional[int]:
    """``max_unsent_bytes`` checked: ``None`` (the 16 MiB default) or an int > 0."""
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"max_unsent_bytes must be an int, got {type(n).__name__}")
    if n <= 0:
        raise ValueError(f"max_unsent_bytes must be > 0, got {n}")
    return n


class Request(NamedTuple):
    """One request's arguments, checked and encoded, in the order the raw clients' ``call``
    and ``start_call`` take them after the names."""

    serialize_type: int
    payload: bytes
    metadata: Optional[dict[str, str]]
    timeout: Optional[float]

    @classmethod
    def encode(
        cls,
        default: Serializer,
        args: Any,
        metadata: Optional[Mapping[str, str]],
        timeout: Optional[float],
        serializer: Optional[Union[Serializer, int]],
    ) -> Request:
        """Encodes ``args`` with ``serializer`` (the client's ``default`` when ``None``) and
        checks ``metadata`` and ``timeout``."""
        st = default if serializer is None else check_serializer(serializer)
        payload = _codec.encode(st, args)
        return cls(int(st), payload, check_metadata(metadata), check_timeout(timeout))

    def decode(self, data: bytes, reply_type: Any) -> Any:
        """The reply ``data``, decoded with this request's serializer."""
        return _codec.decode(self.serialize_type, data, reply_type)
