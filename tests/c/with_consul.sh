#!/usr/bin/env bash
# Runs a test command next to the fake Consul agent of tests/python/fake_consul.py (Consul's
# KV and session HTTP API on a free loopback port), with RPCX_CONSUL_ADDR=127.0.0.1:<port> in
# its environment; the fake stops when the command ends. With RPCX_CONSUL_TLS_DIR (a test PKI
# from the tls_certs example) it serves HTTPS and requires client certificates signed by its
# ca.pem. Exits 77 (CTest: skipped) without a python3.
#   with_consul.sh <command> [args...]
set -u

py=$(command -v python3 || true)
if [ -z "$py" ]; then
  echo "SKIP: no python3 for the fake Consul" >&2
  exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/rpcx-c-consul.XXXXXX")
mkfifo "$dir/in"
tls=()
[ -n "${RPCX_CONSUL_TLS_DIR:-}" ] && tls=(--tls "$RPCX_CONSUL_TLS_DIR")
"$py" "$here/../python/fake_consul.py" "${tls[@]}" <"$dir/in" >"$dir/out" 2>"$dir/err" &
pid=$!
exec 3>"$dir/in" # the fake serves until this descriptor closes
cleanup() {
  exec 3>&-
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

addr=
for _ in $(seq 100); do
  addr=$(awk '/^LISTENING /{print $2; exit}' "$dir/out" 2>/dev/null)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "with_consul: the fake Consul did not start:" >&2
  cat "$dir/err" >&2
  exit 1
fi

RPCX_CONSUL_ADDR=$addr "$@"
