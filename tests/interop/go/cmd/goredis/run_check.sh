#!/usr/bin/env bash
# Go <-> Rust Redis discovery check (run by `make xclient-test`):
#   1. a throwaway redis-server on a free loopback port (no persistence, temp dir, killed at
#      exit);
#   2. the Rust arith_server registers itself (--redis) -> a Go program reading the keys
#      through libkv v0.5.1's redis store (goredis -mode client) finds it with its metadata
#      and calls Arith.Mul / Arith.Add;
#   3. a Go server registers with rpcx v1.9.4's RedisRegisterPlugin (goredis -mode server)
#      -> `rpcx list --redis` shows it with its metadata and `rpcx call --redis` calls it
#      (the CLI is over our RedisDiscovery), with a base path given with and without a
#      leading '/';
#   4. graceful stops: the Go server's key disappears (Rust sees no server), the Rust
#      server's key disappears (Go sees no server).
# Prints PASS/FAIL lines and "goredis-check: N passed, N failed"; exit 1 on any failure.
#
# Usage: tests/interop/go/cmd/goredis/run_check.sh
# Environment: REDIS_SERVER (default `redis-server`), CARGO (default `cargo`).
set -euo pipefail

rc_name=goredis-check
# shellcheck source=../registry_check_lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../registry_check_lib.sh"
redis_bin="${REDIS_SERVER:-redis-server}"
rc_build redis goredis

echo "== starting redis-server"
port="$(free_port)"
addr="127.0.0.1:$port"
"$redis_bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
ready=""
for _ in $(seq 1 100); do
  if [[ "$(redis-cli -p "$port" PING 2>/dev/null)" == PONG ]]; then ready=1; break; fi
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  cat "$tmp/redis.log" >&2
  fail "redis-server did not start"
  finish
fi
store="$addr"
go_flag=-redis
cli_flag=--redis

echo "== Rust server registered in Redis -> Go (libkv) discovery and calls"
rc_rust_to_go rpcx_rs rpcx_rs

for base in rpcx_go /rpcx_go_lead; do
  echo "== Go server registered in Redis under '$base' -> Rust list and calls"
  rc_go_server "$base"
  key="/$base/Arith/$go_addr"
  value="$(redis-cli -p "$port" --raw GET "$key")"
  # The exact KVPair JSON our RedisStore writes too (field order, base64 value).
  want_re="^\{\"Key\":\"${base}/Arith/${go_addr}\",\"Value\":\"$(printf 'lang=go&group=blue' | base64 -w0)\",\"LastIndex\":[0-9]+\}\$"
  if [[ "$value" =~ $want_re ]]; then pass "go wrote $key = $value"; else fail "key $key = [$value]: $(redis-cli -p "$port" KEYS '*' | tr '\n' ' ')"; fi
  rc_go_listed_and_called "$base"
  rc_go_unregistered "$base"
done

echo "== graceful stop of the Rust server unregisters"
rc_rust_unregistered rpcx_rs "go sees none"
finish
