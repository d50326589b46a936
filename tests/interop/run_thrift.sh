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
source "$here/lib.sh"

echo "== building the Go Thrift peer (gothrift)"
build_go ./cmd/gothrift
echo "== building the Rust thrift_interop example"
(cd "$root" && "$cargo" build -q -p rpcx --example thrift_interop)
"$(debug_example thrift_interop)" "$bin/gothrift"
