# Sourced by the tests/c/with_*.sh wrappers: running a test command next to a throwaway server
# on a free loopback port. For a real server (with_etcd.sh, with_redis.sh, with_zookeeper.sh,
# with_toxiproxy.sh) the script defines
#   launch  picks the port(s), starts the server in the background and sets pid (a non-zero
#           status skips the attempt: two ports that collide)
#   up      true once the server serves
# then calls start_server; a fake of tests/python (with_consul.sh, with_dns.sh) is started by
# start_fake. $dir is the temporary directory (scratch_dir), $pid the server's process: the EXIT
# trap kills it and removes the directory, whatever the test did.

# missing REQUIRED FAILURE SKIP: the server is not installed: exit 1 with FAILURE when REQUIRED
# is 1, else 77 (CTest: skipped) with SKIP.
missing() {
  if [ "$1" = 1 ]; then
    echo "$2" >&2
    exit 1
  fi
  echo "$3" >&2
  exit 77
}

# scratch_dir NAME: sets dir (a new ${TMPDIR:-/tmp}/rpcx-c-NAME.XXXXXX) and the traps that
# kill $pid and remove it.
scratch_dir() {
  dir=$(mktemp -d "${TMPDIR:-/tmp}/rpcx-c-$1.XXXXXX")
  pid=
  fifo=
  trap cleanup EXIT
  trap 'exit 143' TERM INT
}
cleanup() {
  [ -n "$fifo" ] && exec 3>&-
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}

# A port nobody listens on (the server may still lose a race for it: then we try again).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# start_server TAG WHAT POLLS LOG: up to 3 attempts, each calling launch, then up every 0.1 s,
# POLLS times, while the server lives; a failed attempt says "TAG: attempt N: WHAT $miss"
# (miss defaults to "did not answer"; launch may set it). When all 3 fail: "TAG: WHAT did not
# start:", LOG, exit 1.
start_server() {
  local tag=$1 what=$2 polls=$3 log=$4 ready= attempt
  for attempt in 1 2 3; do
    launch || continue
    for _ in $(seq "$polls"); do
      kill -0 "$pid" 2>/dev/null || break
      if up; then
        ready=1
        break
      fi
      sleep 0.1
    done
    [ -n "$ready" ] && break
    echo "$tag: attempt $attempt: $what ${miss:-did not answer}" >&2
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
  done
  if [ -z "$ready" ]; then
    echo "$tag: $what did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
}

# start_fake TAG WHAT SCRIPT ARGS...: runs python3 tests/python/SCRIPT ARGS... (a fake server
# that serves until its stdin, a fifo held open here on descriptor 3, closes) in $dir and sets
# addr from its LISTENING line; when none comes: "TAG: WHAT did not start:", its stderr, exit 1.
# Without a python3: "SKIP: no python3 for WHAT", exit 77 (CTest: skipped).
start_fake() {
  local tag=$1 what=$2 script=$3 py
  shift 3
  py=$(command -v python3 || true)
  if [ -z "$py" ]; then
    echo "SKIP: no python3 for $what" >&2
    exit 77
  fi
  mkfifo "$dir/in"
  "$py" "$here/../python/$script" "$@" <"$dir/in" >"$dir/out" 2>"$dir/err" &
  pid=$!
  exec 3>"$dir/in"
  fifo=1
  addr=
  for _ in $(seq 100); do
    addr=$(awk '/^LISTENING /{print $2; exit}' "$dir/out" 2>/dev/null)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "$tag: $what did not start:" >&2
    cat "$dir/err" >&2
    exit 1
  fi
}
