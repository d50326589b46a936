#!/usr/bin/env bash
# Regenerates ../pb/*.pb.go from the .proto files. The generated code is
# committed, so building the interop binaries needs neither protoc nor this script.
# Needs: protoc (Debian: apt-get install protobuf-compiler) and protoc-gen-go:
#   GOBIN=/tmp/gobin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
plugin="${PROTOC_GEN_GO:-$(command -v protoc-gen-go || echo /tmp/gobin/protoc-gen-go)}"
cd "$here/.."
protoc --plugin=protoc-gen-go="$plugin" -I proto --go_out=pb --go_opt=paths=source_relative \
  proto/benchmark.proto proto/arith.proto
