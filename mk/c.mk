# The C ABI: librpcx (crate rpcx-ffi), the generated header include/rpcx.h, the C++17 wrapper
# bindings/cpp/rpcx.hpp, and their tests (tests/c, CMake + CTest). Included by the Makefile.
#
#   make c-test         build librpcx, check the header, run the C/C++ tests plainly and under
#                       valgrind, then again built with ASan+UBSan; the tests include building
#                       examples/c against an installed copy
#   make header         regenerate include/rpcx.h (pinned cbindgen, scripts/gen-header.sh)
#   make header-check   fail when include/rpcx.h differs from what the sources generate
#   make c-install PREFIX=/usr/local    (`make install` also installs the rpcx command): release librpcx.so/.a, rpcx.h,
#                       rpcx.hpp, rpcx.pc and the CMake package (find_package(rpcx))
#
# C_PROFILE=release tests the release build of librpcx (default debug, shared with rust-test).

C_PROFILE ?= debug
C_INSTALL_PROFILE ?= release
PREFIX ?= /usr/local

c_cargo_flags = $(if $(filter release,$(1)),--release,)
C_LIB_DIR = $(CURDIR)/target/$(C_PROFILE)
C_BUILD_DIR = $(CURDIR)/target/c-build/$(C_PROFILE)
# The Rust Arith server for the interop test (skipped when the example does not exist).
C_ARITH_SERVER = $(if $(wildcard examples/rust/arith_server.rs),$(C_LIB_DIR)/examples/arith_server,)
# The Go interop peers for C client -> Go server and Go client -> C server (when Go is here).
C_GO_BIN = $(CURDIR)/target/go-peers
C_HAVE_GO := $(shell PATH="$(PATH)" command -v go 2>/dev/null)
C_GO_FLAGS = $(if $(C_HAVE_GO),-DRPCX_GO_SERVER=$(C_GO_BIN)/goserver -DRPCX_GO_CLIENT=$(C_GO_BIN)/goclient -DRPCX_GO_FILES=$(C_GO_BIN)/gofiles,)
# The test PKI of the TLS tests (rpcx's tls_certs example).
C_TLS_CERTS = $(C_LIB_DIR)/examples/tls_certs
C_CMAKE_FLAGS = -DRPCX_LIB_DIR=$(C_LIB_DIR) -DRPCX_INCLUDE_DIR=$(CURDIR)/include \
	-DRPCX_ARITH_SERVER=$(C_ARITH_SERVER) $(C_GO_FLAGS) -DRPCX_TLS_CERTS=$(C_TLS_CERTS) \
	--log-level=WARNING
# The netfault label (Toxiproxy; tests/c/CMakeLists.txt) runs under `make netfault` instead.
C_CTEST = ctest --output-on-failure --timeout 300 -j 2 -LE netfault

TEST_TARGETS += c-test

.PHONY: c-test c-bootstrap c-lib header header-check c-install cli-install install

# librpcx has the etcd feature (protoc to build) and the etcd test starts a real etcd.
c-bootstrap:
	@scripts/bootstrap-c.sh
	@scripts/bootstrap-etcd.sh

header:
	@scripts/gen-header.sh

header-check:
	@scripts/gen-header.sh --check

c-lib:
	$(CARGO) build -p rpcx-ffi $(call c_cargo_flags,$(C_PROFILE))
	scripts/lib/soname-link.sh $(C_LIB_DIR)
	$(CARGO) build -p rpcx --features tls,snappy --example tls_certs \
		$(if $(C_ARITH_SERVER),--example arith_server) $(call c_cargo_flags,$(C_PROFILE))
	$(if $(C_HAVE_GO),cd tests/interop/go && go build -o $(C_GO_BIN)/ ./cmd/goserver ./cmd/goclient ./cmd/gofiles)

c-test: c-bootstrap
	@$(MAKE) --no-print-directory c-lib
	@$(MAKE) --no-print-directory header-check
	@echo "== C/C++ tests, plain and under valgrind ($(C_PROFILE) librpcx)"
	cmake -S tests/c -B $(C_BUILD_DIR)/plain $(C_CMAKE_FLAGS) -DRPCX_VALGRIND=ON
	cmake --build $(C_BUILD_DIR)/plain -j 2
	cd $(C_BUILD_DIR)/plain && $(C_CTEST)
	@echo "== C/C++ tests built with AddressSanitizer + UndefinedBehaviorSanitizer"
	cmake -S tests/c -B $(C_BUILD_DIR)/asan $(C_CMAKE_FLAGS) -DRPCX_SANITIZE=ON
	cmake --build $(C_BUILD_DIR)/asan -j 2
	cd $(C_BUILD_DIR)/asan && $(C_CTEST)

c-install:
	$(CARGO) build -p rpcx-ffi $(call c_cargo_flags,$(C_INSTALL_PROFILE))
	rpcx-ffi/pkg/install.sh $(CURDIR)/target/$(C_INSTALL_PROFILE) $(PREFIX)

## The `rpcx` command (release) into $(PREFIX)/bin.
cli-install:
	$(CARGO) build -p rpcx-cli --release
	install -D -m 755 target/release/rpcx $(DESTDIR)$(PREFIX)/bin/rpcx

install: c-install cli-install
