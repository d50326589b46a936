#!/usr/bin/env bash
# Runs a test command next to a throwaway toxiproxy-server (Shopify's chaos TCP proxy, built
# into target/tools/bin by scripts/bootstrap-netfault.sh) whose API listens on a free loopback
# port, with RPCX_TOXIPROXY_API=127.0.0.1:<port> in its environment; the server is killed
# afterwards, whatever the test did. The binary is $RPCX_TOXIPROXY, or
# target/tools/bin/toxiproxy-server of this checkout. Exits 77 (CTest: skipped) when there is
# none, unless RPCX_NETFAULT=1 (make netfault), which makes that a failure.
#   with_toxiproxy.sh <command> [args...]
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/throwaway_server.sh"

bin=${RPCX_TOXIPROXY:-$here/../../target/tools/bin/toxiproxy-server}
if [ ! -x "$bin" ]; then
  missing "${RPCX_NETFAULT:-}" \
    "with_toxiproxy: no toxiproxy-server at $bin and RPCX_NETFAULT=1 (scripts/bootstrap-netfault.sh builds it)" \
    "SKIP: no toxiproxy-server at $bin (make netfault builds it and runs this test)"
fi

scratch_dir toxiproxy

# Whether the API on port $1 answers GET /version with 200 (in a subshell: fd 3 stays local).
answers() (
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
  read -r -t 5 line <&3
  case "$line" in
    "HTTP/1."?" 200"*) return 0 ;;
    *) return 1 ;;
  esac
)

launch() {
  port=$(free_port)
  "$bin" -host 127.0.0.1 -port "$port" </dev/null >"$dir/toxiproxy.log" 2>&1 &
  pid=$!
  miss="did not answer on port $port"
}
up() { answers "$port" 2>/dev/null; }
start_server with_toxiproxy toxiproxy-server 100 "$dir/toxiproxy.log"

RPCX_TOXIPROXY_API=127.0.0.1:$port "$@"
status=$?
exit "$status"
