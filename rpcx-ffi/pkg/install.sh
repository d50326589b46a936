#!/usr/bin/env bash
# Installs librpcx from a cargo target directory into a prefix:
#   rpcx-ffi/pkg/install.sh <target-dir-with-librpcx> <prefix>
# lib/librpcx.so.<version> with the symlinks lib/librpcx.so.<major> (its SONAME, what programs
# load) and lib/librpcx.so (what `-lrpcx` links), lib/librpcx.a, include/rpcx.h,
# include/rpcx.hpp, lib/pkgconfig/rpcx.pc, lib/cmake/rpcx/rpcxConfig.cmake and
# rpcxConfigVersion.cmake. DESTDIR is honoured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
libdir_in=${1:?usage: install.sh <target-dir> <prefix>}
prefix=${2:?usage: install.sh <target-dir> <prefix>}
case "$prefix" in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
dest="${DESTDIR:-}$prefix"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
major=${version%%.*}

for f in librpcx.so librpcx.a; do
  [ -f "$libdir_in/$f" ] || { echo "install.sh: $libdir_in/$f is missing (build rpcx-ffi first)" >&2; exit 1; }
done
# The library's SONAME must be the one this version installs under.
soname=$(readelf -d "$libdir_in/librpcx.so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != "librpcx.so.$major" ]; then
  echo "install.sh: $libdir_in/librpcx.so has SONAME '$soname', expected librpcx.so.$major (stale build?)" >&2
  exit 1
fi
install -d "$dest/lib/pkgconfig" "$dest/lib/cmake/rpcx" "$dest/include"
install -m 0755 "$libdir_in/librpcx.so" "$dest/lib/librpcx.so.$version"
ln -sfn "librpcx.so.$version" "$dest/lib/librpcx.so.$major"
ln -sfn "librpcx.so.$major" "$dest/lib/librpcx.so"
install -m 0644 "$libdir_in/librpcx.a" "$dest/lib/librpcx.a"
install -m 0644 "$root/include/rpcx.h" "$dest/include/rpcx.h"
install -m 0644 "$root/bindings/cpp/rpcx.hpp" "$dest/include/rpcx.hpp"
subst() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" "$1" > "$2"
  chmod 0644 "$2"
}
subst "$here/rpcx.pc.in" "$dest/lib/pkgconfig/rpcx.pc"
subst "$here/rpcxConfig.cmake.in" "$dest/lib/cmake/rpcx/rpcxConfig.cmake"
subst "$here/rpcxConfigVersion.cmake.in" "$dest/lib/cmake/rpcx/rpcxConfigVersion.cmake"
echo "installed librpcx $version into $dest"
