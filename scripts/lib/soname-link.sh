#!/usr/bin/env bash
# Makes a cargo target directory (target/debug, target/release) usable as a run-time library
# directory: librpcx.so carries the SONAME librpcx.so.<major>, which programs linked against it
# record and look for at run time, but cargo only writes librpcx.so. This adds the symlink
# librpcx.so.<major> -> librpcx.so (idempotent). `make install` installs proper links instead.
#   scripts/lib/soname-link.sh <dir-of-librpcx.so>
set -euo pipefail
dir=${1:?usage: soname-link.sh <dir-of-librpcx.so>}
lib="$dir/librpcx.so"
[ -f "$lib" ] || { echo "soname-link.sh: $lib is missing (build rpcx-ffi first)" >&2; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ -n "$soname" ] && [ "$soname" != librpcx.so ]; then
  ln -sfn librpcx.so "$dir/$soname"
fi
