# Python package (rpcx-python): a venv under build/, the wheel built by maturin through pip
# (`pip install ./rpcx-python`, the documented install), stubs checked with mypy.stubtest, and
# the pytest suite in tests/python.

PY_VENV ?= build/py-venv
PY_BIN := $(abspath $(PY_VENV))/bin
PY := $(PY_BIN)/python
PY_TOOLS := "maturin>=1.9.4,<2" pytest mypy msgpack protobuf
# The benchmark's comparison (rpcx-python/bench/bench.py), not needed by the tests.
PY_BENCH_TOOLS := grpcio
PY_ENV := PATH="$(PY_BIN):$$PATH"

.PHONY: py-venv py-install py-test py-bench

$(PY_VENV)/.tools-stamp:
	python3 -m venv $(PY_VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PY_TOOLS)
	touch $@

py-venv: $(PY_VENV)/.tools-stamp

## Build the extension and install the package into the venv (rpcx's etcd feature is on:
## building it needs protoc, which xclient-bootstrap installs).
py-install: py-venv xclient-bootstrap
	$(PY_ENV) $(PY) -m pip install -q --no-build-isolation --force-reinstall --no-deps ./rpcx-python

## Stubs (stubtest) and the Python test suite.
py-test: py-install
	cd $(PY_VENV) && $(PY_ENV) $(PY) -m mypy.stubtest rpcx
	$(PY_ENV) $(PY) -m pytest tests/python -q

TEST_TARGETS += py-test

## Calls/s of the Python clients (and a Python handler) against grpcio doing the same work.
py-bench: py-install
	$(PY) -m pip install -q $(PY_BENCH_TOOLS)
	$(CARGO) build --release -p rpcx-bench
	$(PY_ENV) $(PY) rpcx-python/bench/bench.py --rpcx-bench target/release/rpcx-bench
