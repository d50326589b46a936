#!/usr/bin/env bash
# Runs a test command next to the DNS responder of tests/python/fake_dns.py (UDP on a free
# loopback port, answering for the name svc.rpcx.test), with RPCX_DNS_ADDR=127.0.0.1:<port>,
# RPCX_DNS_NAME and RPCX_DNS_RECORDS in its environment: the test writes the answer to the
# RPCX_DNS_RECORDS file (one address per line, or servfail / nxdomain / silent; replace it
# by rename), read at each query; the responder counts queries in "$RPCX_DNS_RECORDS.queries".
# It stops when the command ends. Exits 77 (CTest: skipped) without a python3.
#   with_dns.sh <command> [args...]
set -u

py=$(command -v python3 || true)
if [ -z "$py" ]; then
  echo "SKIP: no python3 for the DNS responder" >&2
  exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/rpcx-c-dns.XXXXXX")
mkfifo "$dir/in"
name=svc.rpcx.test
"$py" "$here/../python/fake_dns.py" "$name" "$dir/records" <"$dir/in" >"$dir/out" 2>"$dir/err" &
pid=$!
exec 3>"$dir/in" # the responder serves until this descriptor closes
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
  echo "with_dns: the DNS responder did not start:" >&2
  cat "$dir/err" >&2
  exit 1
fi

RPCX_DNS_ADDR=$addr RPCX_DNS_NAME=$name RPCX_DNS_RECORDS=$dir/records "$@"
