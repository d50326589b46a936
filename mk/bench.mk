# End-to-end benchmarks against the Go reference (docs/benchmarks.md). Not part of `make test`.
.PHONY: bench bench-quick bench-http bench-otel bench-files

## Full matrix {Go, Rust} client x {Go, Rust} server at c=100/1000 + limit row + client hooks;
## writes docs/benchmarks.{md,json,png}. BENCH_DURATION / BENCH_REPEAT / BENCH_CONCURRENCY tune it.
## Then the HTTP gateway case (Rust vs Go gateway calls/s over 1 and 16 keep-alive connections,
## scripts/bench/http_gateway.sh; HTTP_BENCH_* tune it), written into docs/benchmarks.md too.
## Then file transfer (scripts/bench/files.py): a 256 MiB upload and download through
## _filetransfer, our CLI and Go's XClient against our and Go's servers, MB/s and server RSS.
## Last, the Python table (`make py-bench`, rpcx-python/bench/bench.py: Python clients and
## servers against grpcio/grpc.aio and the Rust client, with the issue's goals), written into
## docs/benchmarks.md; PY_BENCH_SECONDS / PY_BENCH_ROUNDS tune it.
bench: bootstrap
	@scripts/bench/run.sh
	@scripts/bench/http_gateway.sh
	@scripts/bench/files.py
	@$(MAKE) --no-print-directory py-bench PY_BENCH_ARGS=--markdown

## Only the HTTP gateway case of `make bench` (about a minute once built).
bench-http: bootstrap
	@scripts/bench/http_gateway.sh

## Under a minute: Rust<->Rust vs Go<->Go at c=100; the last line is the ratio.
bench-quick: bootstrap
	@scripts/bench/quick.sh

## Cost of OpenTelemetry propagation (rpcx::otel) on the Rust<->Rust workload at c=100: off,
## unsampled and sampled (discarding exporter), alternating in one run (scripts/bench/otel.py).
bench-otel: bootstrap
	cargo build --release -q -p rpcx-bench
	python3 scripts/bench/otel.py

## File transfer only: 256 MiB up and down, {our CLI, Go XClient} x {our arith_server --files,
## Go FileTransfer}, MB/s and peak server RSS into docs/benchmarks.md (a few minutes).
bench-files: bootstrap
	@scripts/bench/files.py
