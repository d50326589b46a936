"""Payload serializations, done in Python on the caller's (or worker's) thread.

The wire conventions are Go's: MsgPack and JSON encode structs as maps
keyed by field name, so a dataclass travels as a map of its field names; ``bytes`` are
MsgPack ``bin`` and base64 strings in JSON; Protobuf payloads are ``google.protobuf``
messages; RAW payloads are bytes as they are.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import typing
from typing import Any, Callable, Optional

import msgpack  # type: ignore[import-untyped]

from .errors import SerializationError

__all__ = ["Serializer", "encode", "decode", "coerce"]


class Serializer(enum.IntEnum):
    """The serialize type written in the rpcx header."""

    RAW = 0
    JSON = 1
    PROTOBUF = 2
    MSGPACK = 3


def _fields_as_map(obj: Any) -> Optional[dict[str, Any]]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return None


def _msgpack_default(obj: Any) -> Any:
    as_map = _fields_as_map(obj)
    if as_map is not None:
        return as_map
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, memoryview):
        return obj.tobytes()
    raise TypeError(f"cannot encode object of type {type(obj).__name__}")


def _json_default(obj: Any) -> Any:
    as_map = _fields_as_map(obj)
    if as_map is not None:
        return as_map
    if isinstance(obj, (bytes, bytearray, memoryview)):
        # Go's encoding/json writes []byte as standard base64 with padding.
        return base64.b64encode(bytes(obj)).decode("ascii")
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _is_proto_message(obj: Any) -> bool:
    return hasattr(obj, "SerializeToString") and hasattr(obj, "ParseFromString")


def encode(serializer: int, obj: Any) -> bytes:
    """Encodes ``obj``; raises :class:`SerializationError` with the reason when it can't."""
    try:
        if serializer == Serializer.MSGPACK:
            packed: bytes = msgpack.packb(obj, default=_msgpack_default, use_bin_type=True)
            return packed
        if serializer == Serializer.JSON:
            return json.dumps(
                obj,
                default=_json_default,
                separators=(",", ":"),
                ensure_ascii=False,
                allow_nan=False,
            ).encode("utf-8")
        if serializer == Serializer.PROTOBUF:
            if not _is_proto_message(obj):
                raise TypeError(
                    f"{type(obj).__name__} is not a protobuf message "
                    "(PROTOBUF needs google.protobuf message objects)"
                )
            serialized: bytes = obj.SerializeToString()
            return serialized
        if serializer == Serializer.RAW:
            if not isinstance(obj, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"RAW serializer needs bytes, bytearray or memoryview, got {type(obj).__name__}"
                )
            return bytes(obj)
    except SerializationError:
        raise
    except Exception as e:  # msgpack, json and protobuf raise assorted types
        name = _name(serializer)
        raise SerializationError(f"cannot encode {type(obj).__name__} as {name}: {e}") from e
    raise SerializationError(f"unsupported serializer {serializer!r}")


def decode(serializer: int, data: bytes, type_: Any = None) -> Any:
    """Decodes a payload. ``type_`` is required for PROTOBUF (a message class); for MSGPACK
    and JSON a dataclass ``type_`` turns a map into an instance."""
    try:
        if serializer == Serializer.MSGPACK:
            if not data:
                return None if type_ is None else coerce(type_, None)
            return coerce(type_, msgpack.unpackb(data, raw=False, strict_map_key=False))
        if serializer == Serializer.JSON:
            if not data:
                return None if type_ is None else coerce(type_, None)
            text = data.decode("utf-8")
            # Like Go's streaming decoder: the first value counts, trailing bytes are ignored.
            value, _ = json.JSONDecoder().raw_decode(text.lstrip())
            return coerce(type_, value)
        if serializer == Serializer.PROTOBUF:
            if type_ is None or not hasattr(type_, "FromString"):
                raise TypeError(
                    "no message class to decode into (pass reply_type= to a call; annotate "
                    "a handler's first parameter or give arg_type= to register())"
                    if type_ is None
                    else f"{type_!r} is not a protobuf message class"
                )
            return type_.FromString(data)
        if serializer == Serializer.RAW:
            return bytes(data)
    except SerializationError:
        raise
    except Exception as e:
        name = _name(serializer)
        raise SerializationError(f"cannot decode {name} payload: {e}") from e
    raise SerializationError(f"unsupported serializer {serializer!r}")


def _name(serializer: int) -> str:
    try:
        return Serializer(serializer).name
    except ValueError:
        return f"serializer {serializer}"


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        try:
            hints = typing.get_type_hints(cls)
        except Exception:
            hints = {}
        _HINTS[cls] = hints
    return hints


def coerce(type_: Any, value: Any) -> Any:
    """Turns a decoded map into an instance of a dataclass ``type_`` (recursively for
    fields annotated with dataclasses); any other value or type is returned unchanged.
    Keys match field names exactly, as Go's msgpack does; unknown keys are ignored and a
    nil map gives the dataclass's defaults."""
    if type_ is None or not (isinstance(type_, type) and dataclasses.is_dataclass(type_)):
        return value
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise TypeError(f"expected a map for {type_.__name__}, got {type(value).__name__}")
    hints = _hints(type_)
    kwargs = {}
    for f in dataclasses.fields(type_):
        if not f.init or f.name not in value:
            continue
        kwargs[f.name] = coerce(hints.get(f.name), value[f.name])
    return type_(**kwargs)


def arg_type_of(func: Callable[..., Any]) -> Any:
    """The annotation of ``func``'s first parameter, or ``None``."""
    import inspect

    try:
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        return None
    if not params:
        return None
    first = params[0]
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    ann = hints.get(first.name, first.annotation)
    if ann is inspect.Parameter.empty or isinstance(ann, str):
        return None
    return ann
