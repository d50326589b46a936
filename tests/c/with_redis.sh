#!/usr/bin/env bash
# Runs a test command next to a throwaway redis-server on a free loopback port (no
# persistence, in a temporary directory), with RPCX_REDIS_ADDR=127.0.0.1:<port> in its
# environment; redis-server is killed and the directory removed afterwards. Exits 77 (CTest:
# skipped) when no redis-server is installed (scripts/bootstrap-etcd.sh installs it), unless
# RPCX_REQUIRE_REDIS=1, which makes that a failure.
#   with_redis.sh <command> [args...]
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/throwaway_server.sh"

bin=$(command -v redis-server || true)
cli=$(command -v redis-cli || true)
if [ -z "$bin" ] || [ -z "$cli" ]; then
  missing "${RPCX_REQUIRE_REDIS:-}" \
    "with_redis: redis-server not found and RPCX_REQUIRE_REDIS=1 (run scripts/bootstrap-etcd.sh)" \
    "SKIP: no redis-server (scripts/bootstrap-etcd.sh installs it)"
fi

scratch_dir redis

launch() {
  port=$(free_port)
  "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    </dev/null >"$dir/redis.log" 2>&1 &
  pid=$!
}
up() { [ "$("$cli" -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]; }
start_server with_redis redis-server 100 "$dir/redis.log"

RPCX_REDIS_ADDR=127.0.0.1:$port "$@"
