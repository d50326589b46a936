# End-to-end benchmarks against the Go reference (docs/benchmarks.md). Not part of `make test`.
.PHONY: bench bench-quick

## Full matrix {Go, Rust} client x {Go, Rust} server at c=100/1000 + limit row + client hooks;
## writes docs/benchmarks.{md,json,png}. BENCH_DURATION / BENCH_REPEAT / BENCH_CONCURRENCY tune it.
bench: bootstrap
	@scripts/bench/run.sh

## Under a minute: Rust<->Rust vs Go<->Go at c=100; the last line is the ratio.
bench-quick: bootstrap
	@scripts/bench/quick.sh
