#!/usr/bin/env bash
# HTTP on the rpcx port, side by side with the Go reference (tests/interop/README.md, "HTTP").
#
#   1. httpcompare: the same raw HTTP requests (gateway with every serializer, metadata, oneway,
#      errors, malformed headers, DELETE/OPTIONS, bad tokens; JSON-RPC 2.0; the CONNECT and
#      WebSocket handshakes) to the Go v1.9.4 server and to the Rust Arith server; status,
#      X-RPCX-* headers and bodies compared, deliberate differences named per case.
#   2. Tunnels both ways, x {json, msgpack, protobuf, raw}, servers with auth:
#        go-client  http@ -> rust-server (its tcp port)     goclient, Go's CONNECT dialer
#        go-client  ws@   -> rust-server (its tcp port)     goclient, x/net/websocket
#        rust-client http@ -> go-server Serve("http")        interop_client
#        rust-client ws@   -> go-server Serve("ws")          interop_client
#      plus two controls proving the Go servers speak rpcx only inside their tunnel (a plain
#      tcp@ dial and a CONNECT to the ws server must both fail).
#
# Builds everything first, starts every server on a free loopback port (port 0, address read
# from its LISTENING line), stops them all on exit (trap), and ends with
#
#   http interop: N passed, N failed, N skipped
#
# Exit status non-zero on any failure. Environment: CODECS (default "json msgpack protobuf
# raw"), AUTH (default "secret"), CARGO (default cargo), CASE_TIMEOUT (default 60s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
codecs="${CODECS:-json msgpack protobuf raw}"
auth="${AUTH:-secret}"
case_timeout="${CASE_TIMEOUT:-60s}"

# ------------------------------------------------------------------ build
echo "== building Go interop binaries (goserver, goclient, httpcompare)"
build_go ./cmd/goserver ./cmd/goclient ./cmd/httpcompare
build_rust_peers

# ------------------------------------------------------------------ servers
# start NAME CMD... (lib.sh) sets ADDR (network@host:port from its LISTENING line).
start go-tcp "$bin/goserver" -addr tcp@127.0.0.1:0 -auth "$auth" -quiet
go_tcp="${ADDR#*@}"
start go-http "$bin/goserver" -addr http@127.0.0.1:0 -auth "$auth" -quiet
go_http="${ADDR#*@}"
start go-ws "$bin/goserver" -addr ws@127.0.0.1:0 -auth "$auth" -quiet
go_ws="${ADDR#*@}"
start rust "$rust_server" --addr tcp@127.0.0.1:0 --auth "$auth"
rust="${ADDR#*@}"

total_pass=0 total_fail=0 total_skip=0
declare -A result

# count OUT STATUS KEY: adds OUT's PASS/FAIL/SKIP lines to the totals (a non-zero STATUS
# without a FAIL line counts as one failure) and records KEY's cell.
count() {
  local out="$1" status="$2" key="$3" p f s
  tally "$out" "$status" "$tmp/run.err" "exited with status $status"
  if [[ $f -eq 0 ]]; then result["$key"]="ok $p/$s"; else result["$key"]="FAIL $f"; fi
}

# ------------------------------------------------------------------ 1. raw HTTP, Go vs Rust
echo "-- httpcompare: Go tcp@$go_tcp (+ http@$go_http, ws@$go_ws) vs Rust tcp@$rust"
set +e
timeout 300 "$bin/httpcompare" -go "$go_tcp" -go-http "$go_http" -go-ws "$go_ws" -rust "$rust" \
  -auth "$auth" >"$tmp/run.out" 2>"$tmp/run.err"
status=$?
set -e
sed 's/^/     /' "$tmp/run.out"
count "$tmp/run.out" "$status" compare

# ------------------------------------------------------------------ 2. tunnels both ways
rows=("go-client http@ -> rust-server" "go-client ws@ -> rust-server"
  "rust-client http@ -> go-server" "rust-client ws@ -> go-server")
run_cell() {
  local row="$1" codec="$2" status
  shift 2
  echo "-- $row [$codec]"
  set +e
  timeout 300 "$@" -codec "$codec" -auth "$auth" -case-timeout "$case_timeout" >"$tmp/run.out" 2>"$tmp/run.err"
  status=$?
  set -e
  sed 's/^/     /' "$tmp/run.out"
  count "$tmp/run.out" "$status" "$row|$codec"
}
for codec in $codecs; do
  run_cell "${rows[0]}" "$codec" "$bin/goclient" -addr "http@$rust"
  run_cell "${rows[1]}" "$codec" "$bin/goclient" -addr "ws@$rust"
  run_cell "${rows[2]}" "$codec" "$rust_client" -addr "http@$go_http"
  run_cell "${rows[3]}" "$codec" "$rust_client" -addr "ws@$go_ws"
done

# Controls: the Go servers must refuse rpcx outside their tunnel, else the rows above would
# not prove that the clients tunnel.
control() {
  local name="$1" addr="$2" status
  set +e
  timeout 60 "$rust_client" -addr "$addr" -codec json -auth "$auth" -cases plain \
    -case-timeout 3s >"$tmp/run.out" 2>"$tmp/run.err"
  status=$?
  set -e
  if [[ $status -ne 0 ]] && grep -q '^FAIL plain' "$tmp/run.out"; then
    echo "     PASS $name (refused: $(grep '^FAIL plain' "$tmp/run.out" | cut -c12-150))"
    total_pass=$((total_pass + 1))
    result["$name"]="ok refused"
  else
    echo "     FAIL $name: the call did not fail as it should (status $status)"
    sed 's/^/       /' "$tmp/run.out"
    total_fail=$((total_fail + 1))
    result["$name"]="FAIL"
  fi
}
echo "-- controls"
control control_plain_tcp_to_go_http_server "tcp@$go_http"
control control_connect_to_go_ws_server "http@$go_ws"

for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "FAIL a server (pid ${pids[$i]}) died during the run"
    total_fail=$((total_fail + 1))
  fi
done

# ------------------------------------------------------------------ table and summary
echo
echo "== HTTP interop (ok passed/skipped | FAIL failed)"
printf '%-34s %s\n' "httpcompare (Go vs Rust, raw HTTP)" "${result[compare]:-?}"
printf '%-34s' "client -> server"
for codec in $codecs; do printf ' %-12s' "$codec"; done
echo
for row in "${rows[@]}"; do
  printf '%-34s' "$row"
  for codec in $codecs; do printf ' %-12s' "${result["$row|$codec"]:-?}"; done
  echo
done
printf '%-34s %s\n' "controls (tunnel required)" \
  "${result[control_plain_tcp_to_go_http_server]:-?}, ${result[control_connect_to_go_ws_server]:-?}"
echo "http interop: $total_pass passed, $total_fail failed, $total_skip skipped"
[[ $total_fail -eq 0 ]]
