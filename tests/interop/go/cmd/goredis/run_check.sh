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

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$(cd "$here/../.." && pwd)"
repo="$(cd "$gomod/../../.." && pwd)"
redis_bin="${REDIS_SERVER:-redis-server}"
cargo="${CARGO:-cargo}"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
finish() {
  echo "goredis-check: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (≤ 20 s) until file $1 has a line starting with $2; prints that line.
wait_line() {
  for _ in $(seq 1 200); do
    if grep -m1 "^$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Stops process $1 with SIGTERM and waits (≤ 10 s).
stop() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

echo "== building (Rust arith_server with redis, rpcx CLI, Go goredis)"
(cd "$repo" && "$cargo" build -q -p rpcx --features redis --example arith_server && "$cargo" build -q -p rpcx-cli)
target_dir="$(cd "$repo" && "$cargo" metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
rs_server="$target_dir/debug/examples/arith_server"
rpcx="$target_dir/debug/rpcx"
(cd "$gomod" && go build -buildvcs=false -o "$tmp/goredis" ./cmd/goredis)
goredis="$tmp/goredis"

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

echo "== Rust server registered in Redis -> Go (libkv) discovery and calls"
"$rs_server" --addr tcp@127.0.0.1:0 --redis "$addr" --base-path rpcx_rs --meta 'lang=rust&weight=2' >"$tmp/rs.out" 2>"$tmp/rs.err" &
rs_pid=$!
pids+=("$rs_pid")
if wait_line "$tmp/rs.out" REGISTERED >/dev/null; then pass "rust server registered"; else fail "rust server registered: $(cat "$tmp/rs.err")"; finish; fi
if "$goredis" -mode client -redis "$addr" -base rpcx_rs -service Arith -want 1 -want-meta 'lang=rust&weight=2'; then
  pass "go client discovers and calls the rust server"
else
  fail "go client discovers and calls the rust server"
fi

for base in rpcx_go /rpcx_go_lead; do
  echo "== Go server registered in Redis under '$base' -> Rust list and calls"
  "$goredis" -mode server -redis "$addr" -base "$base" -meta 'lang=go&group=blue' >"$tmp/go.out" 2>"$tmp/go.err" &
  go_pid=$!
  pids+=("$go_pid")
  if go_line="$(wait_line "$tmp/go.out" LISTENING)" && wait_line "$tmp/go.out" REGISTERED >/dev/null; then
    go_addr="${go_line#LISTENING }"
    pass "go server registered at $go_addr"
  else
    fail "go server registered: $(cat "$tmp/go.err")"
    finish
  fi
  key="/$base/Arith/$go_addr"
  value="$(redis-cli -p "$port" --raw GET "$key")"
  # The exact KVPair JSON our RedisStore writes too (field order, base64 value).
  want_re="^\{\"Key\":\"${base}/Arith/${go_addr}\",\"Value\":\"$(printf 'lang=go&group=blue' | base64 -w0)\",\"LastIndex\":[0-9]+\}\$"
  if [[ "$value" =~ $want_re ]]; then pass "go wrote $key = $value"; else fail "key $key = [$value]: $(redis-cli -p "$port" KEYS '*' | tr '\n' ' ')"; fi
  listed="$("$rpcx" list --redis "$addr" --base-path "$base" Arith || true)"
  echo "$listed"
  want_line="$(printf 'Arith\t%s\t{"group":"blue","lang":"go"}' "$go_addr")"
  if [[ "$listed" == "$want_line" ]]; then pass "rpcx list shows the go server and its metadata"; else fail "rpcx list: got [$listed] want [$want_line]"; fi
  got="$("$rpcx" call --redis "$addr" --base-path "$base" --select round-robin --fail failover Arith.Mul '{"A":7,"B":8}' 2>&1 || true)"
  if [[ "$got" == '{"C":56}' ]]; then pass "rpcx call --redis reaches the go server"; else fail "rpcx call --redis: $got"; fi
  stop "$go_pid"
  listed="$("$rpcx" list --redis "$addr" --base-path "$base" Arith || true)"
  if [[ -z "$listed" ]]; then pass "go server unregistered on shutdown"; else fail "go server still listed: $listed"; fi
done

echo "== graceful stop of the Rust server unregisters"
stop "$rs_pid"
if "$goredis" -mode client -redis "$addr" -base rpcx_rs -service Arith -want 0 -timeout 10s; then
  pass "rust server unregistered on shutdown (go sees none)"
else
  fail "rust server unregistered on shutdown"
fi
finish
