#!/usr/bin/env bash
# Runs a test command next to a throwaway ZooKeeper (Debian's jar run with java, as its
# zkServer.sh does) on a free loopback port with a temporary dataDir and a generated zoo.cfg,
# with RPCX_ZOOKEEPER_ADDR=127.0.0.1:<port> in its environment; ZooKeeper is killed and the
# directory removed afterwards. Exits 77 (CTest: skipped) when ZooKeeper or java is not
# installed (scripts/bootstrap-etcd.sh installs it), unless RPCX_REQUIRE_ZOOKEEPER=1, which
# makes that a failure.
#   with_zookeeper.sh <command> [args...]
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/throwaway_server.sh"

java=$(command -v java || true)
jar=${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}
if [ -z "$java" ] || [ ! -f "$jar" ]; then
  missing "${RPCX_REQUIRE_ZOOKEEPER:-}" \
    "with_zookeeper: ZooKeeper not found and RPCX_REQUIRE_ZOOKEEPER=1 (run scripts/bootstrap-etcd.sh)" \
    "SKIP: no ZooKeeper (scripts/bootstrap-etcd.sh installs it)"
fi

scratch_dir zk

# True when the server serves requests: `srvr` reports its Mode (`ruok` answers earlier,
# before sessions are accepted).
serving() {
  local out
  out=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null)
  case "$out" in *Mode:*) return 0 ;; esac
  return 1
}

launch() {
  port=$(free_port)
  mkdir -p "$dir/data"
  printf 'tickTime=200\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n' \
    "$dir/data" "$port" >"$dir/zoo.cfg"
  "$java" -cp "/etc/zookeeper/conf:$jar" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
    </dev/null >"$dir/zk.log" 2>&1 &
  pid=$!
}
up() { serving "$port"; }
start_server with_zookeeper ZooKeeper 300 "$dir/zk.log"

RPCX_ZOOKEEPER_ADDR=127.0.0.1:$port "$@"
