#!/usr/bin/env bash
# Demo step: a C program (examples/c/arith_client.c, linked against librpcx) calls the server.
set -euo pipefail
addr=$1
source scripts/lib/examples.sh
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
build_c_examples "$bin"
echo "== C client (examples/c/arith_client.c over librpcx)"
"$bin/arith_client" "$addr" | sed 's/^/c client: /'
