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

rc_name=gozk-check
# shellcheck source=../registry_check_lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../registry_check_lib.sh"
java_bin="${JAVA:-java}"
zk_jar="${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}"

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

rc_build zookeeper gozk

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
store="$addr"
go_flag=-zk
cli_flag=--zookeeper

echo "== Rust server registered in ZooKeeper -> Go (libkv) discovery and calls"
rc_rust_to_go /rpcx_rs rpcx_rs

for base in rpcx_go /rpcx_go_lead; do
  echo "== Go server registered in ZooKeeper under '$base' -> Rust list and calls"
  rc_go_server "$base"
  rc_go_listed_and_called "$base"
  rc_go_unregistered "$base"
done

echo "== graceful stop of the Rust server unregisters"
rc_rust_unregistered rpcx_rs "go sees none"
finish
