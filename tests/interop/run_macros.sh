#!/usr/bin/env bash
# Services and typed clients written with #[rpcx::service] (part of `make interop`), against Go
# and C peers, with the example examples/rust/arith_macros.rs:
#
#   go-client -> macros-server   Go's client (tests/interop/go/cmd/goclient, cases plain and
#                                service_error) against `arith_macros serve`, for json, msgpack,
#                                protobuf (Go's ProtoArith) and raw (Echo)
#   typed-client -> go-server    `arith_macros call` (the generated ArithClient) against Go's
#                                Arith / ProtoArith (tests/interop/go/cmd/goserver), same codecs
#   typed-client -> c-server     the same against the C example server (examples/c/arith_server.c,
#                                JSON)
#
# Prints every PASS/FAIL line and "macros: N passed, N failed, N skipped"; exit status 1 on a
# failure. Servers run on free loopback ports and are stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
codecs="${CODECS:-json msgpack protobuf raw}"
c_stdin_open=0
# The C server's stdin is closed first (lib.sh's cleanup).
before_cleanup() {
  if [[ $c_stdin_open -eq 1 ]]; then exec 3>&-; fi
}

echo "== building Go goserver and goclient"
build_go ./cmd/goserver ./cmd/goclient
echo "== building the Rust example arith_macros"
cargo_build -p rpcx --example arith_macros
macros="$(exe_of arith_macros)"
[[ -x "$macros" ]] || { echo "could not locate the built arith_macros example" >&2; exit 1; }
echo "== building librpcx and the C example server"
(cd "$root" && source scripts/lib/examples.sh && build_c_examples "$bin/c")

"$macros" serve --addr tcp@127.0.0.1:0 >"$tmp/macros.out" 2>"$tmp/macros.err" &
pids+=($!)
macros_addr="$(wait_listening macros $!)"
"$bin/goserver" -addr tcp@127.0.0.1:0 -quiet >"$tmp/goserver.out" 2>"$tmp/goserver.err" &
pids+=($!)
go_addr="$(wait_listening goserver $!)"
mkfifo "$tmp/c.stdin"
"$bin/c/arith_server" tcp@127.0.0.1:0 <"$tmp/c.stdin" >"$tmp/cserver.out" 2>"$tmp/cserver.err" &
pids+=($!)
c_pid=$!
exec 3>"$tmp/c.stdin" # the C server serves until its stdin closes
c_stdin_open=1
c_addr="$(wait_listening cserver $c_pid)"
echo "== arith_macros on $macros_addr, Go server on $go_addr, C server on $c_addr"

pass=0 fail=0 skipped=0
# run ROW CMD...: runs one client, prints its lines indented, counts PASS/FAIL/SKIP.
run() {
  local row="$1" status p f s
  shift
  echo "-- $row"
  set +e
  timeout 120 "$@" >"$tmp/run.out" 2>"$tmp/run.err"
  status=$?
  set -e
  sed 's/^/     /' "$tmp/run.out"
  p=$(grep -c '^PASS' "$tmp/run.out" || true)
  f=$(grep -c '^FAIL' "$tmp/run.out" || true)
  s=$(grep -c '^SKIP' "$tmp/run.out" || true)
  if [[ $status -ne 0 && $f -eq 0 ]] || [[ $status -eq 0 && $p -eq 0 && $s -eq 0 ]]; then
    echo "     FAIL client exited with status $status"
    sed 's/^/       stderr: /' "$tmp/run.err" | tail -n 20
    f=$((f + 1))
  fi
  pass=$((pass + p)) fail=$((fail + f)) skipped=$((skipped + s))
}

for codec in $codecs; do
  service=Arith
  [[ $codec == protobuf ]] && service=ProtoArith
  run "go-client -> macros-server [$codec]" \
    "$bin/goclient" -addr "$macros_addr" -codec "$codec" -cases plain,service_error -case-timeout 30s
  run "typed-client -> go-server [$codec]" "$macros" call "$go_addr" --codec "$codec" --service "$service"
done
run "typed-client -> c-server [json]" "$macros" call "$c_addr" --codec json
run "typed-client -> macros-server [msgpack]" "$macros" call "$macros_addr" --codec msgpack

for pid in "${pids[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL a server (pid $pid) died during the run"
    fail=$((fail + 1))
  fi
done

echo "macros: $pass passed, $fail failed, $skipped skipped"
[[ $fail -eq 0 ]]
