#!/usr/bin/env bash
# A free-threaded CPython (3.13t: configured with --disable-gil) for the rpcx-python tests
# (`make py-test-ft`), built from source because neither Debian bookworm nor trixie packages
# a free-threaded interpreter (trixie's python3.13 source builds GIL variants only).
#
# The source is the upstream 3.13 tarball, which Debian also ships unchanged as the
# .orig.tar.xz of its python3.13 source package (same bytes, so one checksum covers both
# mirrors). The build needs a C compiler and the usual -dev packages (libssl, zlib, libffi,
# libbz2, liblzma, libsqlite3, libreadline, uuid); no --enable-optimizations (PGO would triple
# the build time for a test interpreter).
#
# Idempotent: the interpreter is cached under build/ (build/py313t) and reused while its stamp
# matches this version; the tarball is cached in build/cache. Concurrent runs wait on a lock.
# Prints the interpreter's path (only that, on stdout); progress goes to stderr and the
# configure/make output to build/py313t-build.log.
set -euo pipefail

VERSION=3.13.5
SHA256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640
TARBALL="python3.13_${VERSION}.orig.tar.xz"
URLS=(
  "https://deb.debian.org/debian/pool/main/p/python3.13/${TARBALL}"
  "https://www.python.org/ftp/python/${VERSION}/Python-${VERSION}.tar.xz"
)

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$ROOT/build"
PREFIX="$BUILD/py313t"
PYTHON="$PREFIX/bin/python3.13t"
STAMP="$PREFIX/.rpcx-ft-stamp"
LOG="$BUILD/py313t-build.log"
JOBS="${JOBS:-2}"

mkdir -p "$BUILD/cache"
exec 9>"$BUILD/py313t.lock"
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
