# Documentation that runs: the README's quickstarts (C, C++ and Python extracted by
# scripts/check-quickstarts.py; the Rust one is a doctest of rpcx-core), `cargo doc` without
# warnings, and `make demo` itself (every client language against the Rust server, then a C
# server called from Python). Included by the Makefile.
.PHONY: docs-test rustdoc

rustdoc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -q -p rpcx --no-deps --features etcd,consul,tls,tracing

docs-test: rustdoc c-lib py-install
	scripts/check-quickstarts.py README.md --python $(PY)
	scripts/demo.sh

TEST_TARGETS += docs-test
