# Shared steps of the Go <-> Rust registry checks (goetcd/, goredis/, gozk/run_check.sh),
# sourced by them after `set -euo pipefail`. The caller starts its store, then sets:
#   store     the store's address, as the Rust tools and the Go command take it;
#   go_flag   the Go command's flag for it (-etcd, -redis, -zk);
#   cli_flag  the rpcx CLI's and arith_server's flag for it (--etcd, --redis, --zookeeper).
# Defines: gomod, repo, cargo (CARGO, default `cargo`), tmp (removed at exit), pids (stopped
# at exit), pass/fail/finish, free_port, wait_line, stop, and the rc_* steps below, which
# print the same PASS/FAIL lines in every check.

rc_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$(cd "$rc_lib_dir/.." && pwd)"
repo="$(cd "$gomod/../../.." && pwd)"
cargo="${CARGO:-cargo}"

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The name in the summary line ("<rc_name>: N passed, N failed"); set by the caller.
rc_name="${rc_name:-registry-check}"
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
finish() {
  echo "$rc_name: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (≤ 20 s) until file $1 has a line starting with $2; prints that line.
wait_line() {
  for _ in $(seq 1 200); do
    if grep -m1 "^$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Stops process $1 with SIGTERM and waits (≤ 10 s).
stop() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# Builds the Rust arith_server with cargo feature $1, the rpcx CLI and the Go command
# cmd/$2; sets rs_server, rpcx and gocmd (the Go binary).
rc_build() {
  echo "== building (Rust arith_server with $1, rpcx CLI, Go $2)"
  (cd "$repo" && "$cargo" build -q -p rpcx --features "$1" --example arith_server && "$cargo" build -q -p rpcx-cli)
  local target_dir
  target_dir="$(cd "$repo" && "$cargo" metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  rs_server="$target_dir/debug/examples/arith_server"
  rpcx="$target_dir/debug/rpcx"
  (cd "$gomod" && go build -buildvcs=false -o "$tmp/$2" "./cmd/$2")
  gocmd="$tmp/$2"
}

# The Rust arith_server registers under base $1 (metadata lang=rust&weight=2; sets rs_pid)
# and the Go command's client mode, given base $2, finds it with its metadata and calls it.
rc_rust_to_go() {
  "$rs_server" --addr tcp@127.0.0.1:0 "$cli_flag" "$store" --base-path "$1" --meta 'lang=rust&weight=2' >"$tmp/rs.out" 2>"$tmp/rs.err" &
  rs_pid=$!
  pids+=("$rs_pid")
  if wait_line "$tmp/rs.out" REGISTERED >/dev/null; then pass "rust server registered"; else fail "rust server registered: $(cat "$tmp/rs.err")"; finish; fi
  if "$gocmd" -mode client "$go_flag" "$store" -base "$2" -service Arith -want 1 -want-meta 'lang=rust&weight=2'; then
    pass "go client discovers and calls the rust server"
  else
    fail "go client discovers and calls the rust server"
  fi
}

# The Go command's server mode registers under base $1 with metadata lang=go&group=blue;
# sets go_pid and go_addr (tcp@host:port).
rc_go_server() {
  "$gocmd" -mode server "$go_flag" "$store" -base "$1" -meta 'lang=go&group=blue' >"$tmp/go.out" 2>"$tmp/go.err" &
  go_pid=$!
  pids+=("$go_pid")
  local go_line
  if go_line="$(wait_line "$tmp/go.out" LISTENING)" && wait_line "$tmp/go.out" REGISTERED >/dev/null; then
    go_addr="${go_line#LISTENING }"
    pass "go server registered at $go_addr"
  else
    fail "go server registered: $(cat "$tmp/go.err")"
    finish
  fi
}

# `rpcx list` under base $1 shows exactly the Go server with its metadata, and `rpcx call`
# reaches it.
rc_go_listed_and_called() {
  local listed want_line got
  listed="$("$rpcx" list "$cli_flag" "$store" --base-path "$1" Arith || true)"
  echo "$listed"
  want_line="$(printf 'Arith\t%s\t{"group":"blue","lang":"go"}' "$go_addr")"
  if [[ "$listed" == "$want_line" ]]; then pass "rpcx list shows the go server and its metadata"; else fail "rpcx list: got [$listed] want [$want_line]"; fi
  got="$("$rpcx" call "$cli_flag" "$store" --base-path "$1" --select round-robin --fail failover Arith.Mul '{"A":7,"B":8}' 2>&1 || true)"
  if [[ "$got" == '{"C":56}' ]]; then pass "rpcx call $cli_flag reaches the go server"; else fail "rpcx call $cli_flag: $got"; fi
}

# Stops the Go server gracefully; `rpcx list` under base $1 then shows nothing.
rc_go_unregistered() {
  stop "$go_pid"
  local listed
  listed="$("$rpcx" list "$cli_flag" "$store" --base-path "$1" Arith || true)"
  if [[ -z "$listed" ]]; then pass "go server unregistered on shutdown"; else fail "go server still listed: $listed"; fi
}

# Stops the Rust server gracefully; the Go client mode, given base $1, then lists none
# ($2: what the PASS line says it saw).
rc_rust_unregistered() {
  stop "$rs_pid"
  if "$gocmd" -mode client "$go_flag" "$store" -base "$1" -service Arith -want 0 -timeout 10s; then
    pass "rust server unregistered on shutdown ($2)"
  else
    fail "rust server unregistered on shutdown"
  fi
}
