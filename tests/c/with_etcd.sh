#!/usr/bin/env bash
# Runs a test command next to a throwaway single-member etcd on free loopback ports, in a
# temporary directory, with RPCX_ETCD_ENDPOINT=http(s)://127.0.0.1:<port> in its environment;
# etcd is killed and the directory removed afterwards. Exits 77 (CTest: skipped) when no
# etcd binary is installed (scripts/bootstrap-etcd.sh installs one), unless
# RPCX_REQUIRE_ETCD=1, which makes that a failure. $RPCX_ETCD_BIN overrides the binary.
# With RPCX_ETCD_TLS_DIR (a test PKI from the tls_certs example: ca.pem, server.pem/.key,
# client.pem/.key) etcd serves https and requires client certificates signed by ca.pem.
#   with_etcd.sh <command> [args...]
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/throwaway_server.sh"

bin=${RPCX_ETCD_BIN:-$(command -v etcd || true)}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  missing "${RPCX_REQUIRE_ETCD:-}" \
    "with_etcd: etcd not found and RPCX_REQUIRE_ETCD=1 (run scripts/bootstrap-etcd.sh)" \
    "SKIP: no etcd binary (scripts/bootstrap-etcd.sh installs it)"
fi

scratch_dir etcd

tls=${RPCX_ETCD_TLS_DIR:-}
scheme=http
tls_flags=()
curl_tls=()
if [ -n "$tls" ]; then
  scheme=https
  tls_flags=(--cert-file "$tls/server.pem" --key-file "$tls/server.key"
             --trusted-ca-file "$tls/ca.pem" --client-cert-auth)
  curl_tls=(--cacert "$tls/ca.pem" --cert "$tls/client.pem" --key "$tls/client.key")
fi

healthy() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 1 "${curl_tls[@]}" "$1/health" 2>/dev/null | grep -q '"health":"true"'
  else
    (exec 3<>"/dev/tcp/127.0.0.1/${1##*:}") 2>/dev/null
  fi
}

launch() {
  cport=$(free_port)
  pport=$(free_port)
  [ "$cport" = "$pport" ] && return 1
  url=$scheme://127.0.0.1:$cport
  purl=http://127.0.0.1:$pport
  rm -rf "$dir/data"
  "$bin" --name rpcx-c-test --data-dir "$dir/data" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "$purl" --initial-advertise-peer-urls "$purl" \
    --initial-cluster "rpcx-c-test=$purl" --log-level warn "${tls_flags[@]}" \
    </dev/null >/dev/null 2>"$dir/etcd.log" &
  pid=$!
}
up() { healthy "$url"; }
miss="did not become healthy"
start_server with_etcd etcd 300 "$dir/etcd.log"

RPCX_ETCD_ENDPOINT=$url "$@"
