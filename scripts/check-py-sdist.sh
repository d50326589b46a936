#!/bin/sh
# The Python source distribution installs on a machine without a system protoc:
# `maturin sdist`, then `pip install` of that sdist (with build isolation, as a user would)
# into a fresh venv, under a PATH that has every command of this one except protoc. The
# installed package must work, ship the LICENSE, carry the POSIX classifiers and a stripped
# extension module.
#
# usage: scripts/check-py-sdist.sh PYTHON   (PYTHON: a python with maturin, build/py-venv's)
# The sdist is unpacked into target/py-sdist/src and pip installs that tree (what pip does
# with the archive, at a fixed path), with CARGO_TARGET_DIR target/py-sdist/target: both are
# kept between runs, so only the first run compiles every dependency, later ones what
# changed; that target dir only ever sees builds without a system protoc.
set -eu

py=${1:?usage: $0 PYTHON}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$py" -m maturin sdist -m "$root/rpcx-python/Cargo.toml" -o "$tmp/dist" >/dev/null
sdist=$(ls "$tmp"/dist/rpcx_rs-*.tar.gz)
echo "sdist: $(basename "$sdist")"

# Every command on PATH but protoc.
mkdir "$tmp/bin"
old_ifs=$IFS
IFS=:
for dir in $PATH; do
    [ -d "$dir" ] || continue
    for f in "$dir"/*; do
        name=$(basename "$f")
        [ "$name" = protoc ] && continue
        [ -e "$tmp/bin/$name" ] || ln -s "$f" "$tmp/bin/$name"
    done
done
IFS=$old_ifs
if PATH="$tmp/bin" command -v protoc >/dev/null 2>&1; then
    echo "check-py-sdist: protoc is still on the trimmed PATH" >&2
    exit 1
fi

work="$root/target/py-sdist"
rm -rf "$work/src"
mkdir -p "$work/src"
tar -xzf "$sdist" -C "$work/src" --strip-components=1
"$py" -m venv "$tmp/venv"
PATH="$tmp/venv/bin:$tmp/bin" CARGO_TARGET_DIR="$work/target" \
    "$tmp/venv/bin/python" -m pip install -q "$work/src"

PATH="$tmp/venv/bin:$tmp/bin" "$tmp/venv/bin/python" - <<'PY'
import importlib.metadata as md
import os

import rpcx
from rpcx import _rpcx

dist = md.distribution("rpcx-rs")
files = [str(f) for f in dist.files or []]
assert any(f.endswith("licenses/LICENSE") or f.endswith("/LICENSE") for f in files), files
assert "MIT License" in (dist.locate_file(next(f for f in files if f.endswith("LICENSE"))).read_text())
classifiers = dist.metadata.get_all("Classifier") or []
assert "Operating System :: POSIX :: Linux" in classifiers, classifiers
assert "Programming Language :: Python :: 3.9" in classifiers, classifiers
size = os.path.getsize(_rpcx.__file__)
# A stripped release build is about 11 MB (HTTP server, DNS resolver, etcd, Consul and Redis
# clients); one with debug info is several times that, which is what this catches.
assert size < 16 * 1024 * 1024, f"{_rpcx.__file__} is {size} bytes"
assert hasattr(rpcx, "Etcd") and hasattr(rpcx, "Consul")

server = rpcx.Server(workers=1)
server.register("Arith.Mul", lambda a: {"C": a["A"] * a["B"]})
with server:
    port = server.start("tcp@127.0.0.1:0")
    with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
        assert c.call("Arith", "Mul", {"A": 7, "B": 8}) == {"C": 56}
print(f"sdist install ok: {os.path.basename(_rpcx.__file__)} {size / 1e6:.1f} MB, "
      f"License-Expression {dist.metadata['License-Expression']}")
PY
