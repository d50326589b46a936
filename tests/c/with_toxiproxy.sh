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
bin=${RPCX_TOXIPROXY:-$here/../../target/tools/bin/toxiproxy-server}
if [ ! -x "$bin" ]; then
  if [ "${RPCX_NETFAULT:-}" = 1 ]; then
    echo "with_toxiproxy: no toxiproxy-server at $bin and RPCX_NETFAULT=1 (scripts/bootstrap-netfault.sh builds it)" >&2
    exit 1
  fi
  echo "SKIP: no toxiproxy-server at $bin (make netfault builds it and runs this test)" >&2
  exit 77
fi

log=$(mktemp "${TMPDIR:-/tmp}/rpcx-c-toxiproxy.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# A port nobody listens on (toxiproxy may still lose a race for it: then we try again).
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

ready=
for attempt in 1 2 3; do
  port=$(free_port)
  "$bin" -host 127.0.0.1 -port "$port" </dev/null >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    if answers "$port" 2>/dev/null; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] && break
  echo "with_toxiproxy: attempt $attempt: toxiproxy-server did not answer on port $port" >&2
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
done
if [ -z "$ready" ]; then
  echo "with_toxiproxy: toxiproxy-server did not start:" >&2
  cat "$log" >&2
  exit 1
fi

RPCX_TOXIPROXY_API=127.0.0.1:$port "$@"
status=$?
exit "$status"
