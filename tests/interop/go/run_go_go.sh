#!/usr/bin/env bash
# Go <-> Go control of the interop matrix: builds the Go interop binaries,
# starts the real Go rpcx server (goserver -auth secret) on a free loopback
# port, runs the real Go client checks (goclient) for every codec against it,
# stops the server and exits non-zero if any check failed.
#
# Usage: tests/interop/go/run_go_go.sh [BIN_DIR]
#   BIN_DIR  where to put the binaries (default: a temporary directory)
# Environment: CODECS (default "json msgpack protobuf raw"), AUTH (default "secret").
set -euo pipefail

# lib.sh expects here=tests/interop: it sets tmp, bin, the cleanup trap, build_go and start.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
codecs="${CODECS:-json msgpack protobuf raw}"
auth="${AUTH:-secret}"
# shellcheck source=../lib.sh
source "$here/lib.sh"
if [[ -n "${1:-}" ]]; then
  bin="$1"
  mkdir -p "$bin"
fi

echo "== building Go interop binaries into $bin"
build_go ./cmd/goserver ./cmd/goclient

echo "== starting goserver -auth $auth"
start goserver "$bin/goserver" -addr tcp@127.0.0.1:0 -auth "$auth" -quiet
addr="$ADDR"
server_pid="${pids[-1]}"

rc=0
total_pass=0 total_fail=0 total_skip=0
for codec in $codecs; do
  echo "== goclient -codec $codec"
  set +e
  timeout 300 "$bin/goclient" -addr "$addr" -codec "$codec" -auth "$auth" | tee "$tmp/client-$codec.out"
  status=${PIPESTATUS[0]}
  set -e
  if [[ $status -ne 0 ]]; then
    echo "goclient -codec $codec exited with $status" >&2
    rc=1
  fi
  total_pass=$((total_pass + $(grep -c '^PASS ' "$tmp/client-$codec.out" || true)))
  total_fail=$((total_fail + $(grep -c '^FAIL ' "$tmp/client-$codec.out" || true)))
  total_skip=$((total_skip + $(grep -c '^SKIP ' "$tmp/client-$codec.out" || true)))
done

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "goserver died during the run" >&2
  cat "$tmp/goserver.err" >&2 || true
  rc=1
fi

echo "go-go: $total_pass passed, $total_fail failed, $total_skip skipped"
exit $rc
