#!/usr/bin/env bash
# Builds Shopify's Toxiproxy server (the chaos TCP proxy the network-fault suites drive over
# its HTTP API) from the Go module proxy into target/tools/bin/toxiproxy-server, once.
# Idempotent and quiet when present. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v2.12.0
bin="$PWD/target/tools/bin"
exe="$bin/toxiproxy-server"
stamp="$bin/.toxiproxy-$VERSION"
if [ ! -x "$exe" ] || [ ! -f "$stamp" ]; then
  mkdir -p "$bin"
  echo "bootstrap-toxiproxy: go install github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" >&2
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" >&2
  mv "$tmp/server" "$exe"
  rmdir "$tmp"
  touch "$stamp"
fi
echo "$exe"
