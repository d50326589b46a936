#!/usr/bin/env bash
# Full Go <-> Rust interop matrix (tests/interop/README.md, "Interop matrix").
#
#   {Go client -> Rust server, Rust client -> Go server, Go -> Go control}
#     x {json, msgpack, protobuf, raw}, servers started with auth (-auth/--auth secret)
#   + the XClient row: the real Go XClient (MultipleServersDiscovery, RoundRobin + Failover)
#     over 2 Go + 2 Rust servers while one Rust and one Go server are killed with SIGKILL.
#
# Builds everything first (Go modules from the module proxy, `cargo build` of the Rust
# examples), starts every server on a free loopback port (port 0, address read from its
# `LISTENING` line), prints each case grouped per cell, a matrix table and finally
#
#   interop: N passed, N failed, N skipped
#
# Exit status non-zero on any failure. All servers are stopped on exit.
#
# Environment: CODECS (default "json msgpack protobuf raw"), AUTH (default "secret"),
# CARGO (default cargo), XCLIENT_SECONDS (default 4), CASE_TIMEOUT (default 60s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
codecs="${CODECS:-json msgpack protobuf raw}"
auth="${AUTH:-secret}"
xsecs="${XCLIENT_SECONDS:-4}"
case_timeout="${CASE_TIMEOUT:-60s}"

# ------------------------------------------------------------------ build
echo "== building Go interop binaries"
build_go ./cmd/goserver ./cmd/goclient ./cmd/goxclient
build_rust_peers

# ------------------------------------------------------------------ servers
# start_server go|rust NAME: starts a server with auth on a free port; sets SERVER_PID and
# SERVER_ADDR (network@host:port from its LISTENING line).
start_server() {
  local kind="$1" name="$2"
  case "$kind" in
    go) "$bin/goserver" -addr tcp@127.0.0.1:0 -auth "$auth" -quiet >"$tmp/$name.out" 2>"$tmp/$name.err" & ;;
    rust) "$rust_server" --addr tcp@127.0.0.1:0 --auth "$auth" >"$tmp/$name.out" 2>"$tmp/$name.err" & ;;
    *) echo "unknown server kind $kind" >&2; return 1 ;;
  esac
  SERVER_PID=$!
  disown "$SERVER_PID" # no "Killed" job notices when the XClient row kills it
  pids+=("$SERVER_PID")
  SERVER_ADDR="$(wait_listening "$name" "$SERVER_PID" "$name ($kind server)")" || return 1
  echo "== $name ($kind server, --auth $auth) listening on $SERVER_ADDR"
}

start_server go goserver
go_addr="$SERVER_ADDR"
go_pid="$SERVER_PID"
start_server rust rustserver
rust_addr="$SERVER_ADDR"
rust_pid="$SERVER_PID"

# ------------------------------------------------------------------ matrix cells
total_pass=0 total_fail=0 total_skip=0
declare -A cell_result
rows=("go-client -> rust-server" "rust-client -> go-server" "go-client -> go-server")

# run_cell ROW CODEC CMD...: runs one client for one codec, prints its cases indented.
run_cell() {
  local row="$1" codec="$2"
  shift 2
  local out="$tmp/cell.out" status p f s
  echo "-- $row [$codec]"
  set +e
  timeout 300 "$@" -codec "$codec" -auth "$auth" -case-timeout "$case_timeout" >"$out" 2>"$tmp/cell.err"
  status=$?
  set -e
  sed 's/^/     /' "$out"
  tally "$out" "$status" "$tmp/cell.err" "client: exited with status $status"
  if [[ $f -eq 0 ]]; then
    cell_result["$row|$codec"]="ok $p/$s"
  else
    cell_result["$row|$codec"]="FAIL $f"
  fi
}

for codec in $codecs; do
  run_cell "${rows[0]}" "$codec" "$bin/goclient" -addr "$rust_addr"
  run_cell "${rows[1]}" "$codec" "$rust_client" -addr "$go_addr"
  run_cell "${rows[2]}" "$codec" "$bin/goclient" -addr "$go_addr"
done

for pair in "goserver:$go_pid" "rustserver:$rust_pid"; do
  if ! kill -0 "${pair#*:}" 2>/dev/null; then
    echo "FAIL ${pair%%:*} died during the matrix run"
    sed 's/^/  stderr: /' "$tmp/${pair%%:*}.err" | tail -n 20
    total_fail=$((total_fail + 1))
  fi
done

# ------------------------------------------------------------------ XClient failover row
xrow="go-xclient -> 2 go + 2 rust (RoundRobin+Failover, SIGKILL 1 rust + 1 go)"
echo "-- $xrow"
start_server go xgo1
xgo1="$SERVER_ADDR"; xgo1_pid="$SERVER_PID"
start_server go xgo2
xgo2="$SERVER_ADDR"; xgo2_pid="$SERVER_PID"
start_server rust xrust1
xrust1="$SERVER_ADDR"; xrust1_pid="$SERVER_PID"
start_server rust xrust2
xrust2="$SERVER_ADDR"; xrust2_pid="$SERVER_PID"
set +e
"$bin/goxclient" -servers "go1=$xgo1,go2=$xgo2,rust1=$xrust1,rust2=$xrust2" \
  -duration "${xsecs}s" -auth "$auth" >"$tmp/xclient.out" 2>"$tmp/xclient.err" &
xpid=$!
pids+=("$xpid")
# Kill one Rust server about a third into the run and one Go server at about 60 %.
sleep "$(awk -v d="$xsecs" 'BEGIN{printf "%.2f", d*0.33}')"
kill -KILL "$xrust1_pid"
echo "     killed rust1 ($xrust1) with SIGKILL"
sleep "$(awk -v d="$xsecs" 'BEGIN{printf "%.2f", d*0.27}')"
kill -KILL "$xgo1_pid"
echo "     killed go1 ($xgo1) with SIGKILL"
timeout 60 tail --pid="$xpid" -f /dev/null
wait "$xpid"
xstatus=$?
set -e
sed 's/^/     /' "$tmp/xclient.out"
[[ -s "$tmp/xclient.err" ]] && sed 's/^/     stderr: /' "$tmp/xclient.err" | tail -n 20
xline="$(grep '^xclient:' "$tmp/xclient.out" || true)"
xfailed="$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$xline")"
xcalls="$(sed -n 's/.*calls=\([0-9]*\).*/\1/p' <<<"$xline")"
xok=1
[[ $xstatus -eq 0 && "$xfailed" == "0" && -n "$xcalls" && "$xcalls" -gt 0 ]] || xok=0
for p in "$xgo2_pid" "$xrust2_pid"; do
  kill -0 "$p" 2>/dev/null || { echo "     a surviving server died"; xok=0; }
done
for p in "$xgo1_pid" "$xrust1_pid"; do
  kill -0 "$p" 2>/dev/null && { echo "     a killed server is still alive"; xok=0; }
done
if [[ $xok -eq 1 ]]; then
  echo "     PASS xclient_failover"
  total_pass=$((total_pass + 1))
  xresult="ok calls=$xcalls failed=0"
else
  echo "     FAIL xclient_failover: status $xstatus, ${xline:-no summary line}"
  total_fail=$((total_fail + 1))
  xresult="FAIL calls=${xcalls:-?} failed=${xfailed:-?}"
fi

# ------------------------------------------------------------------ table and summary
echo
echo "== interop matrix (ok passed/skipped | FAIL failed)"
printf '%-28s' "client -> server"
for codec in $codecs; do printf ' %-12s' "$codec"; done
echo
for row in "${rows[@]}"; do
  printf '%-28s' "$row"
  for codec in $codecs; do printf ' %-12s' "${cell_result["$row|$codec"]:-?}"; done
  echo
done
printf '%-28s %s\n' "go-xclient -> 2 go + 2 rust" "$xresult (RoundRobin+Failover, SIGKILL rust1 and go1 mid-run)"
echo "interop: $total_pass passed, $total_fail failed, $total_skip skipped"
[[ $total_fail -eq 0 ]]
