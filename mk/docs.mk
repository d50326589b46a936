# Documentation that runs: the README's quickstarts (C, C++ and Python extracted by
# scripts/check-quickstarts.py; the Rust one is a doctest of rpcx-core), `cargo doc` without
# warnings, `make demo` itself (every client language against the Rust server, then a C
# server called from Python) and the capability table docs/parity.md, whose every cited test
# must exist (`make parity-check`). Included by the Makefile.
.PHONY: docs-test rustdoc parity-check

rustdoc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -q -p rpcx --no-deps --features etcd,consul,dns,redis,zookeeper,tls,tracing,otel,snappy

## docs/parity.md: each ✓ names a file and test that exist; no empty or malformed cell
## (scripts/check-parity.py, python3 only). Its --self-test proves it catches those.
parity-check:
	scripts/check-parity.py --self-test
	scripts/check-parity.py

docs-test: parity-check rustdoc c-lib py-install
	scripts/check-quickstarts.py README.md --python $(PY)
	scripts/demo.sh

TEST_TARGETS += docs-test
