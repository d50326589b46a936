# Network-fault suites (rpcx-core/tests/netfault_*.rs): servers behind Toxiproxy (Shopify's
# chaos TCP proxy, v2.12.0 from the Go module proxy, built into target/tools/bin by
# scripts/bootstrap-netfault.sh) with black holes, latency and resets toggled over its API
# during a test, servers that accept and stall, and a server in a network namespace of its own
# whose link is set down (root and iproute2; the example arith_server runs in it).
# RPCX_NETFAULT=1 makes a missing tool a failure; without it (a plain `cargo test`) these
# suites print SKIP.
.PHONY: netfault netfault-bootstrap

netfault-bootstrap:
	@scripts/bootstrap-netfault.sh >/dev/null

netfault: netfault-bootstrap
	$(CARGO) build -q -p rpcx --example arith_server
	RPCX_NETFAULT=1 RPCX_ARITH_SERVER=$(CURDIR)/target/debug/examples/arith_server \
	  $(CARGO) test -p rpcx --test 'netfault_*'

TEST_TARGETS += netfault
