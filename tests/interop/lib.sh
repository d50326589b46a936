# Sourced by the tests/interop/run_*.sh scripts (after `set -euo pipefail` and
# here=<this directory>): what they all do before their cases, and helpers for them.
#
# Sets root (the checkout), PATH (cargo's and Go's directories first), cargo ($CARGO or cargo),
# tmp (a new temporary directory) and bin ($tmp/bin, where build_go puts its binaries), and
# pids (servers to stop). On exit (trap) cleanup runs the script's before_cleanup when it defines
# one, stops every pid in pids and removes $tmp. It sends SIGTERM, then SIGKILL to whatever
# still runs 5 s later; with stop_by=wait it waits for each pid after SIGTERM instead.

root="$(cd "$here/../.." && pwd)"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$PATH"
cargo="${CARGO:-cargo}"

tmp="$(mktemp -d)"
bin="$tmp/bin"
mkdir -p "$bin"
pids=()
stop_by=kill

cleanup() {
  local pid
  if declare -F before_cleanup >/dev/null; then
    before_cleanup || true
  fi
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  if [[ $stop_by == wait ]]; then
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  else
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
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build_go ./cmd/NAME...: the Go peers (module tests/interop/go) into $bin.
build_go() {
  (
    cd "$here/go"
    go mod download
    go build -buildvcs=false -o "$bin/" "$@"
  )
}

# cargo_build ARGS...: `cargo build ARGS...` in the checkout, its JSON messages appended to
# $tmp/cargo.json, where exe_of finds the executables.
build_json="$tmp/cargo.json"
cargo_build() {
  (cd "$root" && "$cargo" build "$@" --message-format=json-render-diagnostics >>"$build_json")
}
# exe_of NAME: the path of the executable NAME that cargo_build built last.
exe_of() {
  grep -o "\"executable\":\"[^\"]*/$1\"" "$build_json" | tail -n1 | cut -d'"' -f4
}

# build_rust_peers: the Rust examples arith_server and interop_client (features tls, snappy);
# sets rust_server and rust_client, exits 1 when they are not found.
build_rust_peers() {
  echo "== building Rust examples (arith_server, interop_client)"
  cargo_build -p rpcx --features tls,snappy --example arith_server --example interop_client
  rust_server="$(exe_of arith_server)"
  rust_client="$(exe_of interop_client)"
  if [[ ! -x "$rust_server" || ! -x "$rust_client" ]]; then
    echo "could not locate the built Rust examples (arith_server=$rust_server interop_client=$rust_client)" >&2
    exit 1
  fi
}

# debug_example NAME: where cargo puts the debug build of the example NAME.
debug_example() {
  echo "${CARGO_TARGET_DIR:-$root/target}/debug/examples/$1"
}

# wait_listening NAME PID [LABEL]: prints the address (network@host:port) of the LISTENING
# line in $tmp/NAME.out, polled for 10 s while PID lives; else says "LABEL did not report
# LISTENING" (LABEL defaults to NAME) and $tmp/NAME.err on stderr and returns 1.
wait_listening() {
  local name="$1" pid="$2" label="${3:-$1}" addr=""
  for _ in $(seq 1 100); do
    addr="$(awk '/^LISTENING /{print $2; exit}' "$tmp/$name.out" 2>/dev/null || true)"
    [[ -n "$addr" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$addr" ]]; then
    echo "$label did not report LISTENING" >&2
    cat "$tmp/$name.err" >&2 || true
    return 1
  fi
  echo "$addr"
}

# start NAME CMD...: starts a server (stdout and stderr in $tmp/NAME.out and .err, its pid
# added to pids) and sets ADDR from its LISTENING line; exits 1 when none comes.
start() {
  local name="$1"
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=("$pid")
  ADDR="$(wait_listening "$name" "$pid")" || exit 1
  echo "== $name listening on $ADDR"
}

# tally OUT STATUS ERR FAILURE: counts OUT's PASS/FAIL/SKIP lines into p, f and s; a non-zero
# STATUS without a FAIL line prints "     FAIL FAILURE" and the end of ERR and counts as one
# failure. Adds them to total_pass, total_fail and total_skip.
tally() {
  local out="$1" status="$2" err="$3" failure="$4"
  p=$(grep -c '^PASS ' "$out" || true)
  f=$(grep -c '^FAIL ' "$out" || true)
  s=$(grep -c '^SKIP ' "$out" || true)
  if [[ $status -ne 0 && $f -eq 0 ]]; then
    echo "     FAIL $failure"
    sed 's/^/       stderr: /' "$err" | tail -n 20
    f=$((f + 1))
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  total_skip=$((total_skip + s))
}

# result NAME ok|REASON: prints PASS NAME or FAIL NAME: REASON and counts it in pass or fail.
pass=0
fail=0
result() {
  if [[ "$2" == ok ]]; then
    echo "PASS $1"
    pass=$((pass + 1))
  else
    echo "FAIL $1: $2"
    fail=$((fail + 1))
  fi
}
