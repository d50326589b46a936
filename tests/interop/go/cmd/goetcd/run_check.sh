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

rc_name=goetcd-check
# shellcheck source=../registry_check_lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../registry_check_lib.sh"
etcd_bin="${ETCD:-etcd}"
rc_build etcd goetcd

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
store="$ep"
go_flag=-etcd
cli_flag=--etcd

echo "== Rust server registered in etcd -> Go discovery and calls"
rc_rust_to_go /rpcx_rs /rpcx_rs

echo "== Go server registered in etcd -> Rust list and calls"
rc_go_server /rpcx_go
rc_go_listed_and_called /rpcx_go
got="$("$rpcx" call --etcd "$ep" --base-path /rpcx_go --group red Arith.Mul '{"A":7,"B":8}' 2>&1 || true)"
if [[ "$got" == *"can not found any server"* ]]; then pass "group filter on go metadata"; else fail "group red should find no server: $got"; fi

echo "== graceful stops unregister"
rc_go_unregistered /rpcx_go
rc_rust_unregistered /rpcx_rs "go discovery sees none"
finish
