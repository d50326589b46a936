#!/usr/bin/env bash
# Runs a test command next to the fake Consul agent of tests/python/fake_consul.py (Consul's
# KV and session HTTP API on a free loopback port), with RPCX_CONSUL_ADDR=127.0.0.1:<port> in
# its environment; the fake stops when the command ends. With RPCX_CONSUL_TLS_DIR (a test PKI
# from the tls_certs example) it serves HTTPS and requires client certificates signed by its
# ca.pem. Exits 77 (CTest: skipped) without a python3.
#   with_consul.sh <command> [args...]
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/throwaway_server.sh"

scratch_dir consul
tls=()
[ -n "${RPCX_CONSUL_TLS_DIR:-}" ] && tls=(--tls "$RPCX_CONSUL_TLS_DIR")
start_fake with_consul "the fake Consul" fake_consul.py "${tls[@]}"

RPCX_CONSUL_ADDR=$addr "$@"
