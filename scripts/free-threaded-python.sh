#!/usr/bin/env bash
# A free-threaded CPython (3.14t: configured with --disable-gil) for the rpcx-python tests
# (`make py-test-ft`), built from source: neither Debian bookworm nor trixie packages a
# free-threaded interpreter, and pyo3 0.30 (rpcx-python's) supports free-threaded CPython only
# from 3.14 (it dropped 3.13t), which bookworm and trixie do not have at all.
#
# The source is the upstream 3.14 tarball as Ubuntu 26.04 LTS ships it (the .orig.tar.xz of
# its python3.14 source package, kept in the archive for the release's lifetime); python.org
# is the fallback. The checksum is pinned, so either mirror gives the same bytes or the
# download is refused. The build needs a C compiler and the usual -dev packages (libssl, zlib,
# libffi, libbz2, liblzma, libsqlite3, libreadline, uuid); no --enable-optimizations (PGO
# would triple the build time of a test interpreter). About 3 CPU-minutes (5 minutes of wall
# time with make -j2 on a busy 2-core machine).
#
# Idempotent: the interpreter is cached under build/ (build/py314t) and reused while its stamp
# matches this version; the tarball is cached in build/cache. Concurrent runs wait on a lock.
# Prints the interpreter's path (only that, on stdout); progress goes to stderr and the
# configure/make output to build/py314t-build.log.
set -euo pipefail

VERSION=3.14.4
SHA256=d923c51303e38e249136fc1bdf3568d56ecb03214efdef48516176d3d7faaef8
TARBALL="python3.14_${VERSION}.orig.tar.xz"
URLS=(
  "http://archive.ubuntu.com/ubuntu/pool/main/p/python3.14/${TARBALL}"
  "https://www.python.org/ftp/python/${VERSION}/Python-${VERSION}.tar.xz"
)

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$ROOT/build"
PREFIX="$BUILD/py314t"
PYTHON="$PREFIX/bin/python3.14t"
STAMP="$PREFIX/.rpcx-ft-stamp"
LOG="$BUILD/py314t-build.log"
JOBS="${JOBS:-2}"

mkdir -p "$BUILD/cache"
exec 9>"$BUILD/py314t.lock"
flock 9

cached() {
  [[ -x "$PYTHON" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]] &&
    "$PYTHON" -c 'import sys, sysconfig; sys.exit(0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 1)'
}

if cached; then
  echo "$PYTHON"
  exit 0
fi

archive="$BUILD/cache/$TARBALL"
if ! echo "$SHA256  $archive" | sha256sum -c --status 2>/dev/null; then
  rm -f "$archive"
  for url in "${URLS[@]}"; do
    echo "free-threaded-python: downloading $url" >&2
    if curl -fsSL --retry 3 -o "$archive.part" "$url" &&
      echo "$SHA256  $archive.part" | sha256sum -c --status; then
      mv "$archive.part" "$archive"
      break
    fi
    echo "free-threaded-python: $url failed (download or checksum)" >&2
    rm -f "$archive.part"
  done
  [[ -f "$archive" ]] || { echo "free-threaded-python: no source tarball" >&2; exit 1; }
fi

src="$BUILD/cache/Python-$VERSION"
rm -rf "$src" "$PREFIX"
tar -xJf "$archive" -C "$BUILD/cache"

start=$SECONDS
echo "free-threaded-python: building CPython $VERSION --disable-gil (make -j$JOBS, log: $LOG)" >&2
(
  cd "$src"
  ./configure --disable-gil --prefix="$PREFIX" --with-ensurepip=install
  make -j"$JOBS"
  make install
) >"$LOG" 2>&1 || {
  echo "free-threaded-python: build failed; last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2
  exit 1
}
rm -rf "$src"

"$PYTHON" -c 'import sys; assert not sys._is_gil_enabled(), "the GIL is enabled"; import ssl, zlib, ctypes, sqlite3, lzma, bz2'
echo "$VERSION" >"$STAMP"
echo "free-threaded-python: built in $((SECONDS - start)) s" >&2
echo "$PYTHON"
