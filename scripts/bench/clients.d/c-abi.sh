#!/usr/bin/env bash
# bench-label: C ABI client
# The benchmark workload through librpcx (rpcx-bench/c/benchclient.c, async call chains),
# linked against the release librpcx. Contract: scripts/bench/clients.d/README.md.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
bin=build/bench/bin/c-benchclient
case "${1:-}" in
  build)
    command -v cc >/dev/null || exit 77
    cargo build --release -q -p rpcx-ffi
    scripts/lib/soname-link.sh target/release
    mkdir -p build/bench/bin
    cc -std=c11 -O2 -Wall -Wextra -Werror -pedantic -Iinclude rpcx-bench/c/benchclient.c \
      -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lrpcx -lpthread -o "$bin"
    ;;
  run)
    shift
    exec "$bin" "$@"
    ;;
  *) echo "usage: $0 build | run --addr A -c C --pool P -d SECONDS" >&2; exit 2 ;;
esac
