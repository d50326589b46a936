#!/usr/bin/env bash
# File transfer and streams interop (part of `make interop`): Go rpcx's XClient
# SendFile/DownloadFile/Stream against our server (arith_server --files DIR --stream-echo),
# and our XClient send_file/download_file/stream (the files_interop example) against Go's
# FileTransfer and StreamService (tests/interop/go/cmd/gofiles). A 64 MiB random file,
# SHA-256 checked at every hop; a stream echoing 10,000 length-prefixed messages.
#
#   go_upload_rust      Go SendFile (MsgPack) -> our server: the saved file's hash
#   go_download_rust    Go DownloadFile (JSON) <- our server: the received hash
#   go_stream_rust      Go Stream (MsgPack) -> our echo: 10,000 messages back in order
#   rust_upload_go      our send_file (MsgPack) -> Go server: the hash Go saved
#   rust_download_go    our download_file (JSON) <- Go server: the received hash
#   rust_stream_go      our stream (JSON) -> Go echo: 10,000 messages back in order
#
# Prints PASS/FAIL per case and "files interop: N passed, N failed"; exit status 1 on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
stop_by=wait
mkdir -p "$tmp/src" "$tmp/rustdir" "$tmp/godir"

echo "== building gofiles, arith_server and files_interop"
build_go ./cmd/gofiles
cargo_build -p rpcx --features tls,snappy --example arith_server --example files_interop
rust_server="$(exe_of arith_server)"
rust_client="$(exe_of files_interop)"
for b in "$rust_server" "$rust_client"; do
  [[ -x "$b" ]] || { echo "could not locate a built binary ($b)" >&2; exit 1; }
done

head -c $((64 << 20)) /dev/urandom >"$tmp/src/big.bin"
want="$(sha256sum "$tmp/src/big.bin" | cut -d' ' -f1)"
cp "$tmp/src/big.bin" "$tmp/rustdir/served.bin"
cp "$tmp/src/big.bin" "$tmp/godir/served.bin"

start rust "$rust_server" --addr tcp@127.0.0.1:0 --files "$tmp/rustdir" --stream-echo
rust="$ADDR"
start go "$bin/gofiles" -mode server -addr tcp@127.0.0.1:0 -dir "$tmp/godir"
go="$ADDR"

# run NAME CMD...: runs a client (bounded), its stdout in $tmp/NAME.out; 0 on success.
run() {
  local name="$1"
  shift
  timeout 180 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Our server saves an upload under a temporary name and renames it when complete: wait for it.
wait_file() {
  for _ in $(seq 1 600); do
    [[ -f "$1" ]] && return 0
    sleep 0.1
  done
  return 1
}

if run go_upload_rust "$bin/gofiles" -mode upload -addr "$rust" -file "$tmp/src/big.bin" &&
  wait_file "$tmp/rustdir/big.bin"; then
  got="$(sha_of "$tmp/rustdir/big.bin")"
  [[ "$got" == "$want" ]] && result go_upload_rust ok || result go_upload_rust "saved sha256 $got"
else
  result go_upload_rust "$(cat "$tmp/go_upload_rust.err")"
fi

if run go_download_rust "$bin/gofiles" -mode download -json -addr "$rust" -file served.bin -out "$tmp/dl_go"; then
  got="$(awk '/^SHA256 /{print $2}' "$tmp/go_download_rust.out")"
  [[ "$got" == "$want" && "$(sha_of "$tmp/dl_go")" == "$want" ]] && result go_download_rust ok ||
    result go_download_rust "received sha256 $got"
else
  result go_download_rust "$(cat "$tmp/go_download_rust.err")"
fi

if run go_stream_rust "$bin/gofiles" -mode stream -addr "$rust" -n 10000 &&
  grep -qx "ECHOED 10000" "$tmp/go_stream_rust.out"; then
  result go_stream_rust ok
else
  result go_stream_rust "$(cat "$tmp/go_stream_rust.err")"
fi

if run rust_upload_go "$rust_client" upload --addr "$go" --file "$tmp/src/big.bin"; then
  got=""
  for _ in $(seq 1 600); do
    got="$(awk '/^SAVED big.bin /{print $3}' "$tmp/go.out")"
    [[ -n "$got" ]] && break
    sleep 0.1
  done
  [[ "$got" == "$want" && "$(sha_of "$tmp/godir/big.bin")" == "$want" ]] && result rust_upload_go ok ||
    result rust_upload_go "Go saved sha256 '$got'"
else
  result rust_upload_go "$(cat "$tmp/rust_upload_go.err")"
fi

if run rust_download_go "$rust_client" download --json --addr "$go" --file served.bin --out "$tmp/dl_rust"; then
  got="$(sha_of "$tmp/dl_rust")"
  [[ "$got" == "$want" ]] && result rust_download_go ok || result rust_download_go "received sha256 $got"
else
  result rust_download_go "$(cat "$tmp/rust_download_go.err")"
fi

if run rust_stream_go "$rust_client" stream --json --addr "$go" --n 10000 &&
  grep -qx "ECHOED 10000" "$tmp/rust_stream_go.out"; then
  result rust_stream_go ok
else
  result rust_stream_go "$(cat "$tmp/rust_stream_go.err")"
fi

echo "files interop: $pass passed, $fail failed"
[[ "$fail" -eq 0 ]]
