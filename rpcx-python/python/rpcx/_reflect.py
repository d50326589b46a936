"""Descriptions of Python handlers for the reflection service (``Server(reflection=True)``):
Go-like type names and struct definitions from annotations, dataclasses and protobuf
message classes, in the shape Go rpcx's ``reflection`` package prints."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, Callable, Optional, Union

_SCALARS: dict[Any, str] = {
    int: "int64",
    float: "float64",
    str: "string",
    bool: "bool",
    bytes: "[]byte",
    bytearray: "[]byte",
    memoryview: "[]byte",
    type(None): "any",
    Any: "any",
    object: "any",
}

# google.protobuf FieldDescriptor.TYPE_* → Go types (messages and enums handled apart).
_PROTO_TYPES = {
    1: "float64",
    2: "float32",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "uint64",
    7: "uint32",
    8: "bool",
    9: "string",
    12: "[]byte",
    13: "uint32",
    14: "int32",
    15: "int32",
    16: "int64",
    17: "int32",
    18: "int64",
}


def _go_field(name: str) -> str:
    """An exported Go field name (``count`` → ``Count``, ``max_size`` → ``MaxSize``)."""
    out = "".join(p[:1].upper() + p[1:] for p in name.replace("-", "_").split("_") if p)
    if not out:
        return "X"
    return "X" + out if out[0].isdigit() else out


def _struct(name: str, fields: list[tuple[str, str]]) -> str:
    """``type NAME struct {…}`` with aligned fields and json tags where the key differs."""
    if not fields:
        return f"type {name} struct{{}}\n"
    rows = [(_go_field(key), ty, key) for key, ty in fields]
    width = max(len(f) for f, _, _ in rows)
    lines = [f"type {name} struct {{"]
    for field, ty, key in rows:
        tag = "" if field == key else f' `json:"{key}"`'
        lines.append(f"\t{field:<{width}} {ty}{tag}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def go_type(t: Any, defs: dict[str, str]) -> str:
    """Go's name for the Python type ``t``; struct definitions it needs go into ``defs``
    (name → text), in the order met."""
    if t is inspect.Parameter.empty or t is None:
        return "any"
    try:
        scalar = _SCALARS.get(t)
    except TypeError:  # unhashable: Annotated[int, {...}], an instance used as annotation…
        scalar = None
    if scalar is not None:
        return scalar
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is typing.Annotated and args:  # left by get_type_hints' fallback
        return go_type(args[0], defs)
    if origin is Union or (origin is not None and getattr(origin, "__name__", "") == "UnionType"):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(rest) < len(args):
            return "*" + go_type(rest[0], defs)
        return "any"
    if origin in (list, tuple, set, frozenset) or (
        origin is not None and getattr(origin, "__name__", "") in ("Sequence", "Iterable")
    ):
        items = [a for a in args if a is not Ellipsis]
        return "[]" + (go_type(items[0], defs) if items else "any")
    if origin is dict or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        if len(args) == 2:
            return f"map[{go_type(args[0], defs)}]{go_type(args[1], defs)}"
        return "map[string]any"
    if t in (list, tuple, set, frozenset):
        return "[]any"
    if t is dict:
        return "map[string]any"
    if isinstance(t, type) and dataclasses.is_dataclass(t):
        name = t.__name__
        if name not in defs:
            defs[name] = ""  # reserved: recursive types
            try:
                hints = typing.get_type_hints(t)
            except Exception:
                hints = {}
            fields = [
                (f.name, go_type(hints.get(f.name, f.type), defs)) for f in dataclasses.fields(t)
            ]
            defs[name] = _struct(name, fields)
        return name
    descriptor = getattr(t, "DESCRIPTOR", None)
    if isinstance(t, type) and descriptor is not None and hasattr(descriptor, "fields"):
        return _proto(descriptor, defs)
    if isinstance(t, type):
        return t.__name__
    return "any"


def _proto(descriptor: Any, defs: dict[str, str]) -> str:
    """A protobuf message: its fields as a Go struct (keys are the proto field names)."""
    name = str(descriptor.name)
    if name in defs:
        return name
    defs[name] = ""
    fields = []
    for f in descriptor.fields:
        if f.type == 11 and f.message_type is not None:  # TYPE_MESSAGE
            ty = "*" + _proto(f.message_type, defs)
        else:
            ty = _PROTO_TYPES.get(f.type, "any")
        repeated = getattr(f, "is_repeated", None)
        if repeated is None:
            repeated = getattr(f, "label", 0) == 3
        fields.append((str(f.name), "[]" + ty if repeated else ty))
    defs[name] = _struct(name, fields)
    return name


def describe(func: Callable[..., Any], arg_type: Any, arity: int) -> tuple[str, str, str, str]:
    """``(args_type, args_definition, reply_type, reply_definition)`` of a handler: the
    argument from ``arg_type`` (the explicit one or the first parameter's annotation), the
    reply from the return annotation; ``any`` when unannotated."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = dict(getattr(func, "__annotations__", {}) or {})
    args_defs: dict[str, str] = {}
    args = go_type(arg_type, args_defs) if arity > 0 else "any"
    reply_hint = hints.get("return", inspect.Parameter.empty)
    if isinstance(reply_hint, str):
        reply_hint = inspect.Parameter.empty
    reply_defs: dict[str, str] = {}
    reply = go_type(reply_hint, reply_defs)
    return (
        args,
        "\n".join(d for d in args_defs.values() if d),
        reply,
        "\n".join(d for d in reply_defs.values() if d),
    )
