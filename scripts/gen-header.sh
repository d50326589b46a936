#!/usr/bin/env bash
# Generates include/rpcx.h from rpcx-ffi with a pinned cbindgen (installed on demand).
#   scripts/gen-header.sh           write include/rpcx.h
#   scripts/gen-header.sh --check   fail (exit 1, with a diff) when include/rpcx.h is stale
set -euo pipefail
CBINDGEN_VERSION=0.29.4
cd "$(dirname "$0")/.."
# `cargo install` puts binaries in $CARGO_HOME/bin (default ~/.cargo/bin).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"

if ! command -v cbindgen >/dev/null 2>&1 || [ "$(cbindgen --version)" != "cbindgen $CBINDGEN_VERSION" ]; then
  echo "gen-header: installing cbindgen $CBINDGEN_VERSION" >&2
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet >&2
fi

out=include/rpcx.h
tmp=$(mktemp)
config=$(mktemp)
trap 'rm -f "$tmp" "$config"' EXIT
# The version macros of the header, from the crate's version (cargo pkgid: …#rpcx-ffi@X.Y.Z).
version=$(cargo pkgid -p rpcx-ffi | sed 's/.*[#@]//')
IFS=. read -r major minor patch <<<"${version%%[-+]*}"
sed -e "s/@RPCX_VERSION_MAJOR@/$major/" -e "s/@RPCX_VERSION_MINOR@/$minor/" \
  -e "s/@RPCX_VERSION_PATCH@/$patch/" -e "s/@RPCX_VERSION@/$version/" \
  rpcx-ffi/cbindgen.toml > "$config"
cbindgen --quiet --config "$config" --crate rpcx-ffi --output "$tmp" rpcx-ffi

if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$out" "$tmp"; then
    echo "gen-header: $out is out of date; run scripts/gen-header.sh" >&2
    exit 1
  fi
  echo "gen-header: $out is up to date"
else
  mkdir -p include
  cp "$tmp" "$out"
  echo "gen-header: wrote $out"
fi
