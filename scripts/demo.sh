#!/usr/bin/env bash
# `make demo`: start the Rust Arith server on a free port and call it from every client the
# repository has (the Rust client, the rpcx CLI, and — when built — C, Python and Go).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"

cargo build -q -p rpcx --example arith_server --example arith_client
cargo build -q -p rpcx-cli
BIN=target/debug

out=$(mktemp)
"$BIN/examples/arith_server" --addr tcp@127.0.0.1:0 >"$out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 100); do grep -q LISTENING "$out" && break; sleep 0.05; done
addr=$(awk '/LISTENING/{print $2}' "$out")
[ -n "$addr" ] || { echo "demo: server did not start" >&2; exit 1; }
echo "== Rust Arith server listening on $addr"

echo "== Rust client"
"$BIN/examples/arith_client" "$addr"

echo "== rpcx CLI"
echo "\$ rpcx call $addr Arith.Mul '{\"A\":7,\"B\":8}'"
"$BIN/rpcx" call "$addr" Arith.Mul '{"A":7,"B":8}'
echo "\$ rpcx call --codec msgpack $addr Arith.Add '{\"A\":7,\"B\":8}'"
"$BIN/rpcx" call --codec msgpack "$addr" Arith.Add '{"A":7,"B":8}'
echo "\$ rpcx call $addr Arith.Div '{\"A\":1,\"B\":0}'"
"$BIN/rpcx" call "$addr" Arith.Div '{"A":1,"B":0}' || echo "(exit status $? — the service error, as expected)"

for extra in scripts/demo.d/*.sh; do
  [ -e "$extra" ] || continue
  bash "$extra" "$addr"
done
echo "== demo done"
