# Network-fault suites (rpcx-core/tests/netfault_*.rs): servers behind Toxiproxy (Shopify's
# chaos TCP proxy, v2.12.0 from the Go module proxy, built into target/tools/bin by
# scripts/bootstrap-toxiproxy.sh) with black holes, latency and resets toggled over its API
# during a test, and servers that accept and stall. RPCX_NETFAULT=1 makes a missing tool a
# failure; without it (a plain `cargo test`) these suites print SKIP.
.PHONY: netfault netfault-bootstrap

netfault-bootstrap:
	@scripts/bootstrap-toxiproxy.sh >/dev/null

netfault: netfault-bootstrap
	RPCX_NETFAULT=1 $(CARGO) test -p rpcx --test 'netfault_*'

TEST_TARGETS += netfault
