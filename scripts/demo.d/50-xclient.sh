#!/usr/bin/env bash
# Demo step: the Rust XClient (examples/rust/xclient.rs) over three servers with a custom
# zone-preferring selector; one server is shut down mid-run and Failover hides it.
set -euo pipefail
cargo build -q -p rpcx --example xclient
echo "== Rust XClient: MultipleServers discovery, custom selector, Failover, broadcast"
target/debug/examples/xclient | sed 's/^/xclient: /'
