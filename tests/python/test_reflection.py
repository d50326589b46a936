"""Go's reflection service on the Python server (``Server(reflection=True)``):
``Reflection.GetServices`` / ``GetService`` over MsgPack and JSON, handlers described from
their annotations (dataclasses and protobuf messages as Go structs, ``any`` when
unannotated), a method registered while running, Go's error for an unknown service."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pytest

import rpcx
from conftest import Args, ProtoArgs, ProtoReply, Reply


@dataclasses.dataclass
class Point:
    x: float = 0.0
    label: str = ""


@dataclasses.dataclass
class Shape:
    name: str = ""
    points: list[Point] = dataclasses.field(default_factory=list)
    tags: Optional[dict[str, int]] = None


def _server() -> rpcx.Server:
    s = rpcx.Server(reflection=True, workers=2)

    @s.register("Arith.Mul")
    def mul(args: Args) -> Reply:
        return Reply(args.A * args.B)

    @s.register("Geo.Area")
    async def area(shape: Shape, ctx: rpcx.Context) -> float:
        return float(len(shape.points))

    @s.register("Geo.Raw")
    def raw(args):  # type: ignore[no-untyped-def]
        return args

    @s.register("Proto.Mul")
    def proto_mul(args: ProtoArgs) -> ProtoReply:  # type: ignore[valid-type]
        return ProtoReply(C=args.A * args.B)

    return s


ARITH_MUL = (
    "type Args struct {\n\tA int64\n\tB int64\n}\n\n"
    "type Reply struct {\n\tC int64\n}\n\n"
    "type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {\n"
    "\treturn nil\n}\n"
)

GEO_AREA = (
    "type Shape struct {\n\tName   string `json:\"name\"`\n\tPoints []Point `json:\"points\"`\n"
    "\tTags   *map[string]int64 `json:\"tags\"`\n}\n\n"
    "type Point struct {\n\tX     float64 `json:\"x\"`\n\tLabel string `json:\"label\"`\n}\n\n\n"
    "type (s *Geo) Area(ctx context.Context, arg *Shape, reply *float64) error {\n"
    "\treturn nil\n}\n"
)


@pytest.mark.parametrize("serializer", [rpcx.MSGPACK, rpcx.JSON])
def test_reflection_describes_python_handlers(serializer: rpcx.SerializeType) -> None:
    with _server() as s:
        s.start()
        with rpcx.Client(s.address, serializer=serializer) as c:
            everything = c.call("Reflection", "GetServices", "")
            assert isinstance(everything, str)
            assert everything.startswith("package rpcx\n\ntype Arith struct{}\n\n")
            assert everything.count("package ") == 1
            assert ARITH_MUL in everything
            assert GEO_AREA in everything
            assert (
                "\n\n\ntype (s *Geo) Raw(ctx context.Context, arg *any, reply *any) error {"
                in everything
            )
            assert (
                "type ProtoArgs struct {\n\tA int64\n\tB int64\n}\n\n"
                "type ProtoReply struct {\n\tC int64\n}\n\n"
                "type (s *Proto) Mul(ctx context.Context, arg *ProtoArgs, reply *ProtoReply)"
                in everything
            )
            names = ["Arith", "Geo", "Proto", "Reflection"]
            places = [everything.index(f"type {n} struct{{}}") for n in names]
            assert places == sorted(places)

            geo = c.call("Reflection", "GetService", "Geo")
            assert geo.startswith("package rpcx\n\ntype Geo struct{}\n\n")
            assert GEO_AREA in geo and "Arith" not in geo

            with pytest.raises(rpcx.ServiceError) as e:
                c.call("Reflection", "GetService", "Nope")
            assert str(e.value) == "not found service Nope"


def test_reflection_follows_registrations_while_running() -> None:
    with _server() as s:
        s.start()
        with rpcx.Client(s.address) as c:
            with pytest.raises(rpcx.ServiceError):
                c.call("Reflection", "GetService", "Late")

            def late(n: int) -> list[str]:
                return [str(n)]

            s.register("Late.Count", late)
            text = c.call("Reflection", "GetService", "Late")
            assert text == (
                "package rpcx\n\ntype Late struct{}\n\n\n\n\n"
                "type (s *Late) Count(ctx context.Context, arg *int64, reply *[]string) error {\n"
                "\treturn nil\n}\n\n"
            )
            assert c.call("Late", "Count", 4) == ["4"]
            s.unregister("Late")
            with pytest.raises(rpcx.ServiceError) as e:
                c.call("Reflection", "GetService", "Late")
            assert str(e.value) == "not found service Late"


def test_reflection_is_off_by_default() -> None:
    with rpcx.Server(workers=1) as s:
        s.register("Arith.Mul", lambda a: a)
        s.start()
        with rpcx.Client(s.address) as c:
            with pytest.raises(rpcx.ServiceError) as e:
                c.call("Reflection", "GetServices", "")
            assert str(e.value) == "rpcx: can't find service Reflection"


def test_unannotated_and_any() -> None:
    from rpcx import _reflect

    def f(a: Any, ctx: Any) -> None:
        return None

    assert _reflect.describe(f, Any, 2) == ("any", "", "any", "")
    assert _reflect.describe(lambda: 1, None, 0) == ("any", "", "any", "")
    assert _reflect.go_type(bytes, {}) == "[]byte"
    assert _reflect.go_type(dict, {}) == "map[string]any"
    assert _reflect.go_type(tuple[int, ...], {}) == "[]int64"


@pytest.mark.parametrize("reflection", [True, False])
def test_unhashable_annotation_registers(reflection: bool) -> None:
    from typing import Annotated

    from rpcx import _reflect

    def scale(args, ctx):  # type: ignore[no-untyped-def]
        return args * 2

    # Real objects, not strings (this module defers its own annotations); the unresolvable
    # return name makes typing.get_type_hints fail, so the raw (unhashable) Annotated is seen.
    scale.__annotations__ = {
        "args": Annotated[int, {"unit": "m"}],
        "ctx": rpcx.Context,
        "return": "NoSuchType",
    }
    assert _reflect.go_type(Annotated[int, {"unit": "m"}], {}) == "int64"
    assert _reflect.go_type([1], {}) == "any"  # an unhashable non-type annotation
    with rpcx.Server(reflection=reflection, workers=1) as s:
        s.register("Scale.Twice", scale)
        s.start()
        with rpcx.Client(s.address) as c:
            assert c.call("Scale", "Twice", 21) == 42
            if reflection:
                text = c.call("Reflection", "GetService", "Scale")
                assert (
                    "type (s *Scale) Twice(ctx context.Context, arg *int64, reply *any) error {"
                    in text
                ), text
