# Go <-> Rust interop matrix (tests/interop/run_matrix.sh): Go client -> Rust server,
# Rust client -> Go server and the Go -> Go control for json/msgpack/protobuf/raw with auth,
# plus the Go XClient failover row over 2 Go + 2 Rust servers; then TLS and mutual TLS
# (tests/interop/run_tls.sh): Go client <-> Rust server, the rpcx CLI -> Go server. Needs Go (bootstrap installs
# it) and the Go module proxy; takes well under a minute once everything is built.
.PHONY: interop

interop: bootstrap
	CARGO="$(CARGO)" tests/interop/run_matrix.sh
	CARGO="$(CARGO)" tests/interop/run_tls.sh

TEST_TARGETS += interop
