#!/usr/bin/env bash
# Go client -> C server: the Go interop client (real github.com/smallnest/rpcx) runs its JSON
# check list against examples/c/arith_server.c served through librpcx (pushes included: the Go
# XClient's server-message channel receives what the C handler pushes).
#   go_client_c_server.sh <arith_server (C)> <goclient>
set -euo pipefail
server_bin=$1 goclient=$2
dir=$(mktemp -d)
server=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  [ -n "$server" ] && { wait "$server" 2>/dev/null || true; }
  rm -rf "$dir"
}
trap cleanup EXIT
mkfifo "$dir/stdin"
"$server_bin" tcp@127.0.0.1:0 <"$dir/stdin" >"$dir/out" 2>"$dir/err" &
server=$!
exec 3>"$dir/stdin" # the C server serves until this closes
for _ in $(seq 1 200); do grep -q LISTENING "$dir/out" && break; sleep 0.05; done
addr=$(awk '/LISTENING/{print $2}' "$dir/out")
[ -n "$addr" ] || { echo "the C server did not start:"; cat "$dir/err"; exit 1; }
"$goclient" -addr "$addr" -codec json \
  -cases plain,service_error,unknown_service,unknown_method,metadata,oneway,heartbeat,push
exec 3>&-
wait "$server"
server=""
# The server's call observer logged the calls and its metrics were printed at shutdown.
grep -q 'rpcx_server_calls_total{service="Arith",method="Mul"}' "$dir/err" \
  || { echo "no metrics from the C server:"; cat "$dir/err"; exit 1; }
echo "go client -> C server: ok"
