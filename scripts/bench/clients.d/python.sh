#!/usr/bin/env bash
# bench-label: Python asyncio client
# The benchmark workload from Python (rpcx-python/bench/benchclient.py: asyncio tasks over
# rpcx.AsyncClient, google.protobuf message encoded and checked per call), with the package
# pip-installed into build/py-venv. Contract: scripts/bench/clients.d/README.md.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
py=build/py-venv/bin/python
case "${1:-}" in
  build)
    command -v python3 >/dev/null && command -v protoc >/dev/null || exit 77
    make --no-print-directory -s py-install >&2
    ;;
  run)
    shift
    exec "$py" rpcx-python/bench/benchclient.py "$@"
    ;;
  *) echo "usage: $0 build | run --addr A -c C --pool P -d SECONDS" >&2; exit 2 ;;
esac
