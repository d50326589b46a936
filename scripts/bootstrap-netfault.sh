#!/usr/bin/env bash
# What the network-fault suites (make netfault) need: Shopify's Toxiproxy server (the chaos
# TCP proxy they drive over its HTTP API), built from the Go module proxy into
# target/tools/bin/toxiproxy-server once, and iproute2's `ip` (network namespaces; Debian's
# package when missing). Idempotent and quiet when present. Prints Toxiproxy's path.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ip >/dev/null 2>&1; then
  echo "bootstrap-netfault: apt-get install iproute2" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends iproute2 >&2 \
    || { $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends iproute2 >&2; }
fi
VERSION=v2.12.0
bin="$PWD/target/tools/bin"
exe="$bin/toxiproxy-server"
stamp="$bin/.toxiproxy-$VERSION"
if [ ! -x "$exe" ] || [ ! -f "$stamp" ]; then
  mkdir -p "$bin"
  echo "bootstrap-netfault: go install github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" >&2
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" >&2
  mv "$tmp/server" "$exe"
  rmdir "$tmp"
  touch "$stamp"
fi
echo "$exe"
