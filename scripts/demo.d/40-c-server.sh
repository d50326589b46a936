#!/usr/bin/env bash
# Demo step: the ABI serving — an Arith server written in C (examples/c/arith_server.c) called
# from Python and from the rpcx CLI.
set -euo pipefail
source scripts/lib/examples.sh
bin=$(mktemp -d)
server=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  [ -n "$server" ] && { wait "$server" 2>/dev/null || true; }
  rm -rf "$bin"
}
trap cleanup EXIT
build_c_examples "$bin"
py=$(python_bin)
mkfifo "$bin/stdin"
"$bin/arith_server" tcp@127.0.0.1:0 <"$bin/stdin" >"$bin/out" &
server=$!
exec 3>"$bin/stdin"  # the server runs until this closes
for _ in $(seq 1 100); do grep -q LISTENING "$bin/out" && break; sleep 0.05; done
addr=$(awk '/LISTENING/{print $2}' "$bin/out")
[ -n "$addr" ] || { echo "demo: the C server did not start" >&2; exit 1; }
echo "== C Arith server (examples/c/arith_server.c) on $addr, called from Python"
"$py" - "$addr" <<'PY' | sed 's/^/python -> c server: /'
import sys, rpcx
with rpcx.Client(sys.argv[1], serializer=rpcx.JSON, timeout=5) as c:
    mul = c.call("Arith", "Mul", {"A": 6, "B": 7})
    add = c.call("Arith", "Add", {"A": 6, "B": 7})
    print("Arith.Mul {A:6, B:7} ->", mul)
    print("Arith.Add {A:6, B:7} ->", add)
    assert mul == {"C": 42} and add == {"C": 13}, (mul, add)
    try:
        c.call("Arith", "Mul", {"A": "six"})
        raise SystemExit("the C server accepted a string")
    except rpcx.ServiceError as e:
        print("Arith.Mul {A:'six'} -> ServiceError:", e)
PY
echo "\$ rpcx call $addr Arith.Mul '{\"A\":9,\"B\":9}'"
target/debug/rpcx call "$addr" Arith.Mul '{"A":9,"B":9}'
