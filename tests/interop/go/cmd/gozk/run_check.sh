#!/usr/bin/env bash
# Go <-> Rust ZooKeeper discovery check (run by `make xclient-test`):
#   1. a throwaway ZooKeeper (Debian's jar run with java, as its zkServer.sh does) on a free
#      loopback port with a temp dataDir and a generated zoo.cfg (killed at exit);
#   2. the Rust arith_server registers itself (--zookeeper) -> a Go program reading the nodes
#      through libkv v0.5.1's zookeeper store (gozk -mode client) finds it with its metadata,
#      checks the base (rpcx_path) and service nodes, and calls Arith.Mul / Arith.Add;
#   3. a Go server registers as the rpcx-zookeeper plugin does, over the same libkv store
#      (gozk -mode server) -> `rpcx list --zookeeper` shows it with its metadata and `rpcx
#      call --zookeeper` calls it (the CLI is over our ZookeeperDiscovery), with a base path
#      given with and without a leading '/';
#   4. graceful stops: the Go server's node disappears (Rust sees no server), the Rust
#      server's node disappears (Go sees no server).
# Prints PASS/FAIL lines and "gozk-check: N passed, N failed"; exit 1 on any failure.
#
# Usage: tests/interop/go/cmd/gozk/run_check.sh
# Environment: JAVA (default `java`), ZOOKEEPER_JAR (default /usr/share/java/zookeeper.jar),
# CARGO (default `cargo`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$(cd "$here/../.." && pwd)"
repo="$(cd "$gomod/../../.." && pwd)"
java_bin="${JAVA:-java}"
zk_jar="${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}"
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
  echo "gozk-check: $passed passed, $failed failed"
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

# True when the ZooKeeper on port $1 serves requests (`srvr` reports its Mode; `ruok` says
# imok earlier, before sessions are accepted).
serving() { python3 -c 'import socket,sys
try:
    s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),2); s.sendall(b"srvr"); s.shutdown(socket.SHUT_WR)
    out=b""
    while True:
        b=s.recv(4096)
        if not b: break
        out+=b
    sys.exit(0 if b"Mode:" in out else 1)
except OSError: sys.exit(1)' "$1"; }

echo "== building (Rust arith_server with zookeeper, rpcx CLI, Go gozk)"
(cd "$repo" && "$cargo" build -q -p rpcx --features zookeeper --example arith_server && "$cargo" build -q -p rpcx-cli)
target_dir="$(cd "$repo" && "$cargo" metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
rs_server="$target_dir/debug/examples/arith_server"
rpcx="$target_dir/debug/rpcx"
(cd "$gomod" && go build -buildvcs=false -o "$tmp/gozk" ./cmd/gozk)
gozk="$tmp/gozk"

echo "== starting ZooKeeper"
port="$(free_port)"
addr="127.0.0.1:$port"
mkdir -p "$tmp/data"
printf 'tickTime=200\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n' "$tmp/data" "$port" >"$tmp/zoo.cfg"
"$java_bin" -cp "/etc/zookeeper/conf:$zk_jar" org.apache.zookeeper.server.quorum.QuorumPeerMain "$tmp/zoo.cfg" >"$tmp/zk.log" 2>&1 &
pids+=($!)
ready=""
for _ in $(seq 1 300); do
  if serving "$port"; then ready=1; break; fi
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  cat "$tmp/zk.log" >&2
  fail "ZooKeeper did not start"
  finish
fi

echo "== Rust server registered in ZooKeeper -> Go (libkv) discovery and calls"
"$rs_server" --addr tcp@127.0.0.1:0 --zookeeper "$addr" --base-path /rpcx_rs --meta 'lang=rust&weight=2' >"$tmp/rs.out" 2>"$tmp/rs.err" &
rs_pid=$!
pids+=("$rs_pid")
if wait_line "$tmp/rs.out" REGISTERED >/dev/null; then pass "rust server registered"; else fail "rust server registered: $(cat "$tmp/rs.err")"; finish; fi
if "$gozk" -mode client -zk "$addr" -base rpcx_rs -service Arith -want 1 -want-meta 'lang=rust&weight=2'; then
  pass "go client discovers and calls the rust server"
else
  fail "go client discovers and calls the rust server"
fi

for base in rpcx_go /rpcx_go_lead; do
  echo "== Go server registered in ZooKeeper under '$base' -> Rust list and calls"
  "$gozk" -mode server -zk "$addr" -base "$base" -meta 'lang=go&group=blue' >"$tmp/go.out" 2>"$tmp/go.err" &
  go_pid=$!
  pids+=("$go_pid")
  if go_line="$(wait_line "$tmp/go.out" LISTENING)" && wait_line "$tmp/go.out" REGISTERED >/dev/null; then
    go_addr="${go_line#LISTENING }"
    pass "go server registered at $go_addr"
  else
    fail "go server registered: $(cat "$tmp/go.err")"
    finish
  fi
  listed="$("$rpcx" list --zookeeper "$addr" --base-path "$base" Arith || true)"
  echo "$listed"
  want_line="$(printf 'Arith\t%s\t{"group":"blue","lang":"go"}' "$go_addr")"
  if [[ "$listed" == "$want_line" ]]; then pass "rpcx list shows the go server and its metadata"; else fail "rpcx list: got [$listed] want [$want_line]"; fi
  got="$("$rpcx" call --zookeeper "$addr" --base-path "$base" --select round-robin --fail failover Arith.Mul '{"A":7,"B":8}' 2>&1 || true)"
  if [[ "$got" == '{"C":56}' ]]; then pass "rpcx call --zookeeper reaches the go server"; else fail "rpcx call --zookeeper: $got"; fi
  stop "$go_pid"
  listed="$("$rpcx" list --zookeeper "$addr" --base-path "$base" Arith || true)"
  if [[ -z "$listed" ]]; then pass "go server unregistered on shutdown"; else fail "go server still listed: $listed"; fi
done

echo "== graceful stop of the Rust server unregisters"
stop "$rs_pid"
if "$gozk" -mode client -zk "$addr" -base rpcx_rs -service Arith -want 0 -timeout 10s; then
  pass "rust server unregistered on shutdown (go sees none)"
else
  fail "rust server unregistered on shutdown"
fi
finish
