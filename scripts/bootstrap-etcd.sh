#!/usr/bin/env bash
# Installs what the etcd/consul discovery suites need when missing: Debian's etcd-server
# (the `etcd` binary the tests start on free loopback ports; 3.4 on bookworm), etcd-client
# (`etcdctl`, handy for poking at a registry) and protobuf-compiler (`protoc`, needed to build
# the etcd-client crate behind rpcx's `etcd` feature). Idempotent and quiet when present.
# Also Debian's redis-server (+ redis-tools' redis-cli) for the Redis registry suites, and
# Debian's zookeeper (the server's jar, run by the tests with java) for the ZooKeeper ones.
# The packaged etcd, redis and zookeeper services are not needed: the tests run their own throwaway ones.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have etcd || need+=(etcd-server)
have etcdctl || need+=(etcd-client)
have protoc || need+=(protobuf-compiler)
# protoc's well-known types (google/protobuf/*.proto), which etcd-client's protos import;
# only a recommendation of protobuf-compiler, so --no-install-recommends leaves them out.
[ -f /usr/include/google/protobuf/descriptor.proto ] || need+=(libprotobuf-dev)
have curl || need+=(curl)
have redis-server || need+=(redis-server)
have redis-cli || need+=(redis-tools)
# The package `zookeeper` (not `zookeeperd`, the service) brings the jar and a Java runtime.
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)

if [ "${#need[@]}" -gt 0 ]; then
  echo "bootstrap-etcd: apt-get install ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  # Keep the package's own etcd service from starting (no systemd here anyway).
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
if have systemctl && systemctl is-active --quiet etcd 2>/dev/null; then
  echo "bootstrap-etcd: note: a system etcd service is running; the tests do not use it" >&2
fi
