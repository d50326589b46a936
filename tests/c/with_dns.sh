#!/usr/bin/env bash
# Runs a test command next to the DNS responder of tests/python/fake_dns.py (UDP on a free
# loopback port, answering for the name svc.rpcx.test), with RPCX_DNS_ADDR=127.0.0.1:<port>,
# RPCX_DNS_NAME and RPCX_DNS_RECORDS in its environment: the test writes the answer to the
# RPCX_DNS_RECORDS file (one address per line, or servfail / nxdomain / silent; replace it
# by rename), read at each query; the responder counts queries in "$RPCX_DNS_RECORDS.queries".
# It stops when the command ends. Exits 77 (CTest: skipped) without a python3.
#   with_dns.sh <command> [args...]
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/throwaway_server.sh"

scratch_dir dns
name=svc.rpcx.test
start_fake with_dns "the DNS responder" fake_dns.py "$name" "$dir/records"

RPCX_DNS_ADDR=$addr RPCX_DNS_NAME=$name RPCX_DNS_RECORDS=$dir/records "$@"
