#!/usr/bin/env bash
# Installs what the C ABI suite needs (make c-test): a C/C++ compiler with AddressSanitizer
# and UBSan, CMake, valgrind, pkg-config. Idempotent and quiet when everything is present;
# uses sudo only when not root. Debian/Ubuntu (apt-get).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }

have cc || need+=(build-essential)
have c++ || need+=(g++)
have cmake || need+=(cmake)
have ctest || need+=(cmake)
have valgrind || need+=(valgrind)
have pkg-config || need+=(pkg-config)

# The sanitizer runtimes ship with gcc on Debian, but check that a program links with them.
if have cc; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo 'int main(void){return 0;}' > "$tmp/t.c"
  if ! cc -fsanitize=address,undefined "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1; then
    gccver=$(cc -dumpversion | cut -d. -f1)
    need+=(libasan8 libubsan1 "libgcc-$gccver-dev")
  fi
fi

if [ "${#need[@]}" -gt 0 ]; then
  # Unique package names, in order.
  mapfile -t need < <(printf '%s\n' "${need[@]}" | awk '!seen[$0]++')
  echo "bootstrap-c: apt-get install ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
