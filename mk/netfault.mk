# Network-fault suites (rpcx-core/tests/netfault_*.rs): servers behind Toxiproxy (Shopify's
# chaos TCP proxy, v2.12.0 from the Go module proxy, built into target/tools/bin by
# scripts/bootstrap-netfault.sh) with black holes, latency and resets toggled over its API
# during a test, servers that accept and stall, and a server in a network namespace of its own
# whose link is set down (root and iproute2; the example arith_server runs in it).
# RPCX_NETFAULT=1 makes a missing tool a failure; without it (a plain `cargo test`) these
# suites print SKIP.
# Then the same faults through C and C++ (tests/c/test_netfault.c, a black hole behind
# Toxiproxy via tests/c/with_toxiproxy.sh; tests/c/test_cpp_netfault.cpp, a silent server):
# the CTest label netfault of the plain C build, which `make c-test` leaves out.
# arith_server is built with `tls,snappy` as `make c-lib` builds it (one binary at one path, whichever
# target ran last).
.PHONY: netfault netfault-bootstrap

netfault-bootstrap:
	@scripts/bootstrap-netfault.sh >/dev/null

netfault: netfault-bootstrap c-bootstrap
	$(CARGO) build -q -p rpcx --features tls,snappy --example arith_server
	RPCX_NETFAULT=1 RPCX_ARITH_SERVER=$(CURDIR)/target/debug/examples/arith_server \
	  $(CARGO) test -p rpcx --test 'netfault_*'
	@$(MAKE) --no-print-directory c-lib
	cmake -S tests/c -B $(C_BUILD_DIR)/plain $(C_CMAKE_FLAGS) -DRPCX_VALGRIND=ON
	cmake --build $(C_BUILD_DIR)/plain -j 2 --target test_netfault test_cpp_netfault
	cd $(C_BUILD_DIR)/plain && RPCX_NETFAULT=1 \
	  RPCX_TOXIPROXY=$(CURDIR)/target/tools/bin/toxiproxy-server \
	  ctest -L netfault --output-on-failure --timeout 300

TEST_TARGETS += netfault
