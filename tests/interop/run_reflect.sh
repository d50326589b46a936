#!/usr/bin/env bash
# Reflection interop (part of `make interop`): Go rpcx's reflection service (github.com/
# smallnest/rpcx/reflection, registered as "Reflection" the way the rpcx examples do) and ours
# (arith_server --reflection), each serving Arith, ProtoArith and Hello.
#
#   cli_list_go           rpcx list GO: the four service names
#   cli_list_go_arith     rpcx list GO Arith: Arith's seven methods
#   cli_describe_go       rpcx describe GO Arith: Go's text (package, Args struct, Mul's line)
#   cli_describe_go_nope  rpcx describe GO Nope: exit 5, "server error: not found service Nope"
#   cli_same_lists        rpcx list of our server prints what it prints for Go's (both levels)
#   go_client_rust_json   Go's client decodes our GetServices and GetService replies into Go
#   go_client_rust_msgpack  strings (JSON, MsgPack): Arith's struct and method lines, Go's error
#                         text for an unknown service
#
# Prints PASS/FAIL per case and "reflection interop: N passed, N failed"; exit status 1 on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
stop_by=wait

echo "== building goreflect, arith_server and the rpcx CLI"
build_go ./cmd/goreflect
cargo_build -p rpcx --example arith_server
cargo_build -p rpcx-cli
rust_server="$(exe_of arith_server)"
cli="$(exe_of rpcx)"
for b in "$rust_server" "$cli"; do
  [[ -x "$b" ]] || { echo "could not locate a built binary ($b)" >&2; exit 1; }
done

start rust "$rust_server" --addr tcp@127.0.0.1:0 --reflection
rust="$ADDR"
start go "$bin/goreflect" -mode server -addr tcp@127.0.0.1:0
go="$ADDR"

# run NAME CMD...: runs CMD with stdout/stderr in $tmp/NAME.{out,err}; its exit status.
run() {
  local name="$1"
  shift
  set +e
  timeout 60 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
  local rc=$?
  set -e
  return $rc
}
# has FILE TEXT: FILE contains TEXT (printf escapes in TEXT), across lines.
has() { python3 -c 'import sys; sys.exit(0 if sys.argv[2].encode().decode("unicode_escape") in open(sys.argv[1]).read() else 1)' "$1" "$2"; }

services=$'Arith\nHello\nProtoArith\nReflection'
arith_methods=$'Arith.Add\nArith.Div\nArith.Echo\nArith.Meta\nArith.Mul\nArith.Push\nArith.Sleep'

if run cli_list_go "$cli" list "$go"; then
  [[ "$(cat "$tmp/cli_list_go.out")" == "$services" ]] && result cli_list_go ok ||
    result cli_list_go "printed: $(cat "$tmp/cli_list_go.out")"
else
  result cli_list_go "$(cat "$tmp/cli_list_go.err")"
fi

if run cli_list_go_arith "$cli" list "$go" Arith; then
  [[ "$(cat "$tmp/cli_list_go_arith.out")" == "$arith_methods" ]] && result cli_list_go_arith ok ||
    result cli_list_go_arith "printed: $(cat "$tmp/cli_list_go_arith.out")"
else
  result cli_list_go_arith "$(cat "$tmp/cli_list_go_arith.err")"
fi

if run cli_describe_go "$cli" describe "$go" Arith; then
  f="$tmp/cli_describe_go.out"
  if has "$f" 'package svc\n\ntype Arith struct{}\n' &&
    has "$f" 'type Args struct {\n\tA int64 \n\tB int64 \n}\n' &&
    has "$f" 'type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {\n\treturn nil\n}\n' &&
    ! has "$f" 'type Hello struct{}'; then
    result cli_describe_go ok
  else
    result cli_describe_go "printed: $(cat "$f")"
  fi
else
  result cli_describe_go "$(cat "$tmp/cli_describe_go.err")"
fi

set +e
timeout 60 "$cli" describe "$go" Nope >"$tmp/nope.out" 2>"$tmp/nope.err"
rc=$?
set -e
if [[ $rc -eq 5 && "$(cat "$tmp/nope.err")" == "error: server error: not found service Nope" ]]; then
  result cli_describe_go_nope ok
else
  result cli_describe_go_nope "exit $rc: $(cat "$tmp/nope.err")"
fi

if run cli_list_rust "$cli" list "$rust" && run cli_list_rust_arith "$cli" list "$rust" Arith; then
  if [[ "$(cat "$tmp/cli_list_rust.out")" == "$services" &&
    "$(cat "$tmp/cli_list_rust_arith.out")" == "$arith_methods" ]]; then
    result cli_same_lists ok
  else
    result cli_same_lists "printed: $(cat "$tmp/cli_list_rust.out" "$tmp/cli_list_rust_arith.out")"
  fi
else
  result cli_same_lists "$(cat "$tmp/cli_list_rust.err" "$tmp/cli_list_rust_arith.err" 2>/dev/null)"
fi

for codec in json msgpack; do
  name="go_client_rust_$codec"
  if ! run "$name" "$bin/goreflect" -mode client -addr "$rust" -codec "$codec" -service Arith; then
    result "$name" "$(cat "$tmp/$name.out" "$tmp/$name.err")"
    continue
  fi
  f="$tmp/$name.out"
  if ! { has "$f" '== GetServices\npackage rpcx\n\ntype Arith struct{}\n' &&
    has "$f" 'type (s *Hello) Say(ctx context.Context, arg *BenchmarkMessage, reply *BenchmarkMessage) error {' &&
    has "$f" '== GetService Arith\npackage rpcx\n\ntype Arith struct{}\n' &&
    has "$f" 'type Args struct {\n\tA int64\n\tB int64\n}\n\ntype Reply struct {\n\tC int64\n}\n\ntype (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {\n\treturn nil\n}\n'; }; then
    result "$name" "printed: $(cat "$f")"
    continue
  fi
  # An unknown service: Go's client gets Go's error text (and exits 1).
  if run "${name}_nope" "$bin/goreflect" -mode client -addr "$rust" -codec "$codec" -service Nope; then
    result "$name" "unknown service answered: $(cat "$tmp/${name}_nope.out")"
  elif grep -qx "error: not found service Nope" "$tmp/${name}_nope.out"; then
    result "$name" ok
  else
    result "$name" "unknown service: $(cat "$tmp/${name}_nope.out" "$tmp/${name}_nope.err")"
  fi
done

echo "reflection interop: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
