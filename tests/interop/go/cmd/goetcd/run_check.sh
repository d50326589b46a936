#!/usr/bin/env bash
# Go <-> Rust etcd discovery check (run by `make xclient-test`):
#   1. a throwaway etcd on free loopback ports (temp data dir, killed at exit);
#   2. the Rust arith_server registers itself (--etcd) -> the Go rpcx-etcd discovery
#      (goetcd -mode client) finds it with its metadata and calls Arith.Mul / Arith.Add;
#   3. a Go server registers with the Go EtcdV3RegisterPlugin (goetcd -mode server) ->
#      `rpcx list` shows it with its metadata and `rpcx call --etcd` calls it;
#   4. graceful stops: the Go server's key disappears (Rust sees no server), the Rust
#      server's key disappears (Go sees no server).
# Prints PASS/FAIL lines and "goetcd-check: N passed, N failed"; exit 1 on any failure.
#
# Usage: tests/interop/go/cmd/goetcd/run_check.sh
# Environment: ETCD (etcd binary, default `etcd`), CARGO (default `cargo`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$(cd "$here/../.." && pwd)"
repo="$(cd "$gomod/../../.." && pwd)"
etcd_bin="${ETCD:-etcd}"
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
  echo "goetcd-check: $passed passed, $failed failed"
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

echo "== building (Rust arith_server with etcd, rpcx CLI, Go goetcd)"
(cd "$repo" && "$cargo" build -q -p rpcx --features etcd --example arith_server && "$cargo" build -q -p rpcx-cli)
target_dir="$(cd "$repo" && "$cargo" metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
rs_server="$target_dir/debug/examples/arith_server"
rpcx="$target_dir/debug/rpcx"
(cd "$gomod" && go build -buildvcs=false -o "$tmp/goetcd" ./cmd/goetcd)
goetcd="$tmp/goetcd"

echo "== starting etcd"
cport="$(free_port)"
pport="$(free_port)"
ep="http://127.0.0.1:$cport"
"$etcd_bin" --name goetcd-check --data-dir "$tmp/etcd" \
  --listen-client-urls "$ep" --advertise-client-urls "$ep" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "goetcd-check=http://127.0.0.1:$pport" --log-level warn >"$tmp/etcd.log" 2>&1 &
pids+=($!)
ready=""
for _ in $(seq 1 150); do
  if curl -sf "$ep/health" 2>/dev/null | grep -q '"health":"true"'; then ready=1; break; fi
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  cat "$tmp/etcd.log" >&2
  fail "etcd did not start"
  finish
fi

echo "== Rust server registered in etcd -> Go discovery and calls"
"$rs_server" --addr tcp@127.0.0.1:0 --etcd "$ep" --base-path /rpcx_rs --meta 'lang=rust&weight=2' >"$tmp/rs.out" 2>"$tmp/rs.err" &
rs_pid=$!
pids+=("$rs_pid")
if wait_line "$tmp/rs.out" REGISTERED >/dev/null; then pass "rust server registered"; else fail "rust server registered: $(cat "$tmp/rs.err")"; finish; fi
if "$goetcd" -mode client -etcd "$ep" -base /rpcx_rs -service Arith -want 1 -want-meta 'lang=rust&weight=2'; then
  pass "go client discovers and calls the rust server"
else
  fail "go client discovers and calls the rust server"
fi

echo "== Go server registered in etcd -> Rust list and calls"
"$goetcd" -mode server -etcd "$ep" -base /rpcx_go -meta 'lang=go&group=blue' >"$tmp/go.out" 2>"$tmp/go.err" &
go_pid=$!
pids+=("$go_pid")
if go_line="$(wait_line "$tmp/go.out" LISTENING)" && wait_line "$tmp/go.out" REGISTERED >/dev/null; then
  go_addr="${go_line#LISTENING }"
  pass "go server registered at $go_addr"
else
  fail "go server registered: $(cat "$tmp/go.err")"
  finish
fi
listed="$("$rpcx" list --etcd "$ep" --base-path /rpcx_go Arith || true)"
echo "$listed"
want_line="$(printf 'Arith\t%s\t{"group":"blue","lang":"go"}' "$go_addr")"
if [[ "$listed" == "$want_line" ]]; then pass "rpcx list shows the go server and its metadata"; else fail "rpcx list: got [$listed] want [$want_line]"; fi
got="$("$rpcx" call --etcd "$ep" --base-path /rpcx_go --select round-robin --fail failover Arith.Mul '{"A":7,"B":8}' 2>&1 || true)"
if [[ "$got" == '{"C":56}' ]]; then pass "rpcx call --etcd reaches the go server"; else fail "rpcx call --etcd: $got"; fi
got="$("$rpcx" call --etcd "$ep" --base-path /rpcx_go --group red Arith.Mul '{"A":7,"B":8}' 2>&1 || true)"
if [[ "$got" == *"can not found any server"* ]]; then pass "group filter on go metadata"; else fail "group red should find no server: $got"; fi

echo "== graceful stops unregister"
stop "$go_pid"
listed="$("$rpcx" list --etcd "$ep" --base-path /rpcx_go Arith || true)"
if [[ -z "$listed" ]]; then pass "go server unregistered on shutdown"; else fail "go server still listed: $listed"; fi
stop "$rs_pid"
if "$goetcd" -mode client -etcd "$ep" -base /rpcx_rs -service Arith -want 0 -timeout 10s; then
  pass "rust server unregistered on shutdown (go discovery sees none)"
else
  fail "rust server unregistered on shutdown"
fi
finish
