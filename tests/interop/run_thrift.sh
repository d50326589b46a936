#!/usr/bin/env bash
# Thrift interop (part of `make interop`): serialize type 4 between our serde-based Thrift
# codec (rpcx::codec::thrift_encode, field ids by position) and Go's codec.ThriftCodec
# (Apache Thrift's TBinaryProtocol over hand-written TStructs, tests/interop/go/cmd/gothrift).
#
#   go-client   Go client -> Rust Arith server: Mul answers 56, Div by zero's error text
#   go-server   Rust client -> Go server: Mul, a Profile with string/list/map/optional/nested
#               fields echoed, a server error's text
#
# Prints PASS/FAIL per case and "thrift: N passed, N failed"; exit status 1 on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
cargo="${CARGO:-cargo}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== building the Go Thrift peer (gothrift)"
(
  cd "$here/go"
  go mod download
  go build -buildvcs=false -o "$tmp/" ./cmd/gothrift
)
echo "== building the Rust thrift_interop example"
(cd "$root" && "$cargo" build -q -p rpcx --example thrift_interop)
exe="$root/target/debug/examples/thrift_interop"
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
  exe="$CARGO_TARGET_DIR/debug/examples/thrift_interop"
fi
"$exe" "$tmp/gothrift"
