#!/usr/bin/env bash
# Runs a test command next to a throwaway ZooKeeper (Debian's jar run with java, as its
# zkServer.sh does) on a free loopback port with a temporary dataDir and a generated zoo.cfg,
# with RPCX_ZOOKEEPER_ADDR=127.0.0.1:<port> in its environment; ZooKeeper is killed and the
# directory removed afterwards. Exits 77 (CTest: skipped) when ZooKeeper or java is not
# installed (scripts/bootstrap-etcd.sh installs it), unless RPCX_REQUIRE_ZOOKEEPER=1, which
# makes that a failure.
#   with_zookeeper.sh <command> [args...]
set -u

java=$(command -v java || true)
jar=${ZOOKEEPER_JAR:-/usr/share/java/zookeeper.jar}
if [ -z "$java" ] || [ ! -f "$jar" ]; then
  if [ "${RPCX_REQUIRE_ZOOKEEPER:-}" = 1 ]; then
    echo "with_zookeeper: ZooKeeper not found and RPCX_REQUIRE_ZOOKEEPER=1 (run scripts/bootstrap-etcd.sh)" >&2
    exit 1
  fi
  echo "SKIP: no ZooKeeper (scripts/bootstrap-etcd.sh installs it)" >&2
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/rpcx-c-zk.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# A port nobody listens on (ZooKeeper may still lose a race for it: then we try again).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# True when the server serves requests: `srvr` reports its Mode (`ruok` answers earlier,
# before sessions are accepted).
serving() {
  local out
  out=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null)
  case "$out" in *Mode:*) return 0 ;; esac
  return 1
}

ready=
for attempt in 1 2 3; do
  port=$(free_port)
  mkdir -p "$dir/data"
  printf 'tickTime=200\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n' \
    "$dir/data" "$port" >"$dir/zoo.cfg"
  "$java" -cp "/etc/zookeeper/conf:$jar" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
    </dev/null >"$dir/zk.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || break
    if serving "$port"; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] && break
  echo "with_zookeeper: attempt $attempt: ZooKeeper did not answer" >&2
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
done
if [ -z "$ready" ]; then
  echo "with_zookeeper: ZooKeeper did not start:" >&2
  cat "$dir/zk.log" >&2
  exit 1
fi

RPCX_ZOOKEEPER_ADDR=127.0.0.1:$port "$@"
