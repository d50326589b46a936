#!/usr/bin/env bash
# Runs a test command next to a throwaway redis-server on a free loopback port (no
# persistence, in a temporary directory), with RPCX_REDIS_ADDR=127.0.0.1:<port> in its
# environment; redis-server is killed and the directory removed afterwards. Exits 77 (CTest:
# skipped) when no redis-server is installed (scripts/bootstrap-etcd.sh installs it), unless
# RPCX_REQUIRE_REDIS=1, which makes that a failure.
#   with_redis.sh <command> [args...]
set -u

bin=$(command -v redis-server || true)
cli=$(command -v redis-cli || true)
if [ -z "$bin" ] || [ -z "$cli" ]; then
  if [ "${RPCX_REQUIRE_REDIS:-}" = 1 ]; then
    echo "with_redis: redis-server not found and RPCX_REQUIRE_REDIS=1 (run scripts/bootstrap-etcd.sh)" >&2
    exit 1
  fi
  echo "SKIP: no redis-server (scripts/bootstrap-etcd.sh installs it)" >&2
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/rpcx-c-redis.XXXXXX")
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

# A port nobody listens on (redis may still lose a race for it: then we try again).
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

ready=
for attempt in 1 2 3; do
  port=$(free_port)
  "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    </dev/null >"$dir/redis.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    if [ "$("$cli" -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] && break
  echo "with_redis: attempt $attempt: redis-server did not answer" >&2
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
done
if [ -z "$ready" ]; then
  echo "with_redis: redis-server did not start:" >&2
  cat "$dir/redis.log" >&2
  exit 1
fi

RPCX_REDIS_ADDR=127.0.0.1:$port "$@"
