# XClient discovery suites: etcd v3 (a real etcd started by the tests on free loopback ports),
# Consul (an in-test fake of Consul's HTTP API), both also over mutual TLS (feature `tls`),
# DNS (an in-test UDP DNS responder), Redis (a real redis-server on a free loopback port),
# ZooKeeper (Debian's ZooKeeper run with java on a free loopback port),
# the Go <-> Rust etcd check with the Go rpcx-etcd plugin, and the Go <-> Rust Redis check with
# rpcx v1.9.4's RedisRegisterPlugin (tests/interop/go/cmd/goredis), and the Go <-> Rust
# ZooKeeper check over libkv v0.5.1's zookeeper store (tests/interop/go/cmd/gozk). scripts/bootstrap-etcd.sh installs etcd, protoc, redis-server and zookeeper when missing.
.PHONY: xclient-test xclient-bootstrap

# rpcx-cli turns on rpcx's `etcd` feature, so every workspace build (lint included) needs
# protoc: install it (and etcd) as part of `make bootstrap`.
bootstrap: xclient-bootstrap

xclient-bootstrap:
	@scripts/bootstrap-etcd.sh

xclient-test: xclient-bootstrap
	RPCX_REQUIRE_ETCD=1 RPCX_REQUIRE_REDIS=1 RPCX_REQUIRE_ZOOKEEPER=1 $(CARGO) test -p rpcx --features etcd,consul,dns,redis,zookeeper,tls,tracing --test 'xclient_*'
	tests/interop/go/cmd/goetcd/run_check.sh
	tests/interop/go/cmd/goredis/run_check.sh
	tests/interop/go/cmd/gozk/run_check.sh

TEST_TARGETS += xclient-test
