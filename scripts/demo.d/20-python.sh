#!/usr/bin/env bash
# Demo step: the Python package (pip-installed into build/py-venv) calls the server, blocking
# and with asyncio.
set -euo pipefail
addr=$1
source scripts/lib/examples.sh
py=$(python_bin)
echo "== Python client (examples/python/arith_client.py)"
"$py" examples/python/arith_client.py "$addr" | sed 's/^/python client: /'
