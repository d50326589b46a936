#!/usr/bin/env bash
# Checks the ABI surface of the built shared library:
#   - its SONAME is librpcx.so.<RPCX_VERSION_MAJOR of rpcx.h>, and it is marked NODELETE;
#   - it exports (defines, dynamically) only rpcx_* symbols, exactly the functions rpcx.h
#     declares — no Rust std or dependency symbols.
#   check_abi.sh <dir-of-librpcx.so> <dir-of-rpcx.h>
set -euo pipefail
lib=${1:?usage: check_abi.sh <dir-of-librpcx.so> <dir-of-rpcx.h>}/librpcx.so
header=${2:?usage: check_abi.sh <dir-of-librpcx.so> <dir-of-rpcx.h>}/rpcx.h
fail() { echo "check_abi: $*" >&2; exit 1; }

major=$(sed -n 's/^#define RPCX_VERSION_MAJOR \([0-9]*\)$/\1/p' "$header")
[ -n "$major" ] || fail "no RPCX_VERSION_MAJOR in $header"
dynamic=$(readelf -d "$lib")
soname=$(sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p' <<<"$dynamic")
[ "$soname" = "librpcx.so.$major" ] || fail "SONAME is '$soname', expected librpcx.so.$major"
grep -E 'FLAGS_1.*NODELETE' >/dev/null <<<"$dynamic" || fail "librpcx.so is not linked with -z nodelete"

exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
[ -n "$exported" ] || fail "no exported symbols in $lib"
stray=$(grep -v '^rpcx_' <<<"$exported" || true)
[ -z "$stray" ] || fail "exports symbols outside rpcx_*:"$'\n'"$stray"
# Function declarations of the header: `<type> rpcx_name(` at the start of a line.
declared=$(grep -oE '^[a-z][a-z_0-9 ]*[ *]rpcx_[a-z0-9_]+\(' "$header" |
  sed -E 's/.*[ *](rpcx_[a-z0-9_]+)\($/\1/' | sort -u)
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
[ -z "$missing" ] || fail "declared in rpcx.h but not exported:"$'\n'"$missing"
undeclared=$(comm -23 <(echo "$exported") <(echo "$declared"))
[ -z "$undeclared" ] || fail "exported but not declared in rpcx.h:"$'\n'"$undeclared"
echo "check_abi: $soname, NODELETE, $(wc -l <<<"$exported") rpcx_* exports, all declared"
