#!/usr/bin/env bash
# Installs librpcx into a scratch prefix, then builds the out-of-tree example (examples/c)
# against that installed copy — with CMake (find_package(rpcx): shared, static and C++) and
# with pkg-config — and runs every build.
#   install_example.sh <dir-of-librpcx> <scratch-dir>
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
libdir=${1:?usage: install_example.sh <dir-of-librpcx> <scratch-dir>}
work=${2:?usage: install_example.sh <dir-of-librpcx> <scratch-dir>}
prefix="$work/prefix"
rm -rf "$work"
mkdir -p "$work"

"$root/rpcx-ffi/pkg/install.sh" "$libdir" "$prefix"

# The versioned layout: the real file librpcx.so.<version>, the SONAME link and the dev link.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
major=${version%%.*}
[ -f "$prefix/lib/librpcx.so.$version" ] && [ ! -L "$prefix/lib/librpcx.so.$version" ]
[ "$(readlink "$prefix/lib/librpcx.so.$major")" = "librpcx.so.$version" ]
[ "$(readlink "$prefix/lib/librpcx.so")" = "librpcx.so.$major" ]
readelf -d "$prefix/lib/librpcx.so.$version" | grep -F "Library soname: [librpcx.so.$major]" >/dev/null

# The installed copy only: nothing from the source tree on the include path.
cmake -S "$root/examples/c" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror -pedantic" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror -pedantic" \
  --log-level=WARNING >/dev/null
cmake --build "$work/build" -j 2 >/dev/null
"$work/build/hello"
"$work/build/hello_static"
"$work/build/hello_cpp"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion rpcx)" = "$version" ]
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -pedantic "$root/examples/c/hello.c" $(pkg-config --cflags --libs rpcx) \
  -Wl,-rpath,"$prefix/lib" -o "$work/hello_pkgconfig"
"$work/hello_pkgconfig"
# The binaries record the SONAME and load the installed library, not the build tree's.
# (grep without -q: an early exit would SIGPIPE ldd and fail the pipeline under pipefail)
for exe in "$work/build/hello" "$work/build/hello_cpp" "$work/hello_pkgconfig"; do
  readelf -d "$exe" | grep -F "Shared library: [librpcx.so.$major]" >/dev/null
  ldd "$exe" | grep -F "$prefix/lib/librpcx.so.$major" >/dev/null
done
echo "install_example: ok"
