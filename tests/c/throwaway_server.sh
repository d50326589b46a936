# Sourced by with_etcd.sh, with_redis.sh, with_zookeeper.sh and with_toxiproxy.sh: running a
# test command next to a throwaway server on a free loopback port. The script defines
#   launch  picks the port(s), starts the server in the background and sets pid (a non-zero
#           status skips the attempt: two ports that collide)
#   up      true once the server serves
# then calls start_server; $dir is its temporary directory, $pid the server's process: the EXIT
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
  trap cleanup EXIT
  trap 'exit 143' TERM INT
}
cleanup() {
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
