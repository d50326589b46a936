#!/usr/bin/env bash
# Demo step: the real Go rpcx client (v1.9.4) calls the Rust server, when Go is installed.
set -euo pipefail
addr=$1
command -v go >/dev/null 2>&1 || { echo "== Go client: skipped (go not installed)"; exit 0; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
echo "== Go client (github.com/smallnest/rpcx v1.9.4)"
(cd tests/interop/go && go build -o "$bin/goclient" ./cmd/goclient)
for codec in msgpack json protobuf; do
  "$bin/goclient" -addr "$addr" -codec "$codec" -cases plain,service_error,unknown_method | sed "s/^/go client ($codec): /"
done
