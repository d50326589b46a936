#!/usr/bin/env bash
# Installs what a fresh machine lacks for building, testing and running the demo.
# Idempotent and quiet when everything is present; called by `make test` and `make demo`.
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }

# Rust toolchain and the components the test target uses.
if ! have cargo; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "bootstrap: installing Rust with rustup" >&2
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >&2
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
if have rustup; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" >&2
  done
fi

# C toolchain pieces (later suites), Go for the interop peers.
have cc || need_apt+=(build-essential)
have pkg-config || need_apt+=(pkg-config)
have go || need_apt+=(golang-go)
# curl for the README's HTTP quickstart.
have curl || need_apt+=(curl)

if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "bootstrap: apt-get install ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq "${need_apt[@]}" >&2
fi
