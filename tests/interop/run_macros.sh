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
root="$(cd "$here/../.." && pwd)"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
cargo="${CARGO:-cargo}"
codecs="${CODECS:-json msgpack protobuf raw}"

tmp="$(mktemp -d)"
bin="$tmp/bin"
mkdir -p "$bin"
pids=()
c_stdin_open=0

cleanup() {
  local pid
  [[ $c_stdin_open -eq 1 ]] && exec 3>&-
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building Go goserver and goclient"
(
  cd "$here/go"
  go mod download
  go build -buildvcs=false -o "$bin/" ./cmd/goserver ./cmd/goclient
)
echo "== building the Rust example arith_macros"
build_json="$tmp/cargo.json"
(cd "$root" && "$cargo" build -p rpcx --example arith_macros --message-format=json-render-diagnostics >"$build_json")
macros="$(grep -o '"executable":"[^"]*/arith_macros"' "$build_json" | tail -n1 | cut -d'"' -f4)"
[[ -x "$macros" ]] || { echo "could not locate the built arith_macros example" >&2; exit 1; }
echo "== building librpcx and the C example server"
(cd "$root" && source scripts/lib/examples.sh && build_c_examples "$bin/c")

# wait_listening NAME PID: prints the address of NAME's LISTENING line (from $tmp/NAME.out).
wait_listening() {
  local name="$1" pid="$2" addr=""
  for _ in $(seq 1 100); do
    addr="$(awk '/^LISTENING /{print $2; exit}' "$tmp/$name.out" 2>/dev/null || true)"
    [[ -n "$addr" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$addr" ]]; then
    echo "$name did not report LISTENING" >&2
    cat "$tmp/$name.err" >&2 || true
    return 1
  fi
  echo "$addr"
}

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
