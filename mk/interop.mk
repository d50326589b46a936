# Go <-> Rust interop matrix (tests/interop/run_matrix.sh): Go client -> Rust server,
# Rust client -> Go server and the Go -> Go control for json/msgpack/protobuf/raw with auth,
# plus the Go XClient failover row over 2 Go + 2 Rust servers; then TLS and mutual TLS
# (tests/interop/run_tls.sh): Go client <-> Rust server, the rpcx CLI -> Go server; then HTTP on the
# rpcx port (tests/interop/run_http.sh): the same raw HTTP requests to the Go and Rust servers
# compared, Go's http/ws clients -> Rust server, Rust http@/ws@ clients -> Go's Serve("http"/"ws");
# then OpenTelemetry (tests/interop/run_otel.sh): a Go client span is our server span's parent,
# our client span is the parent a Go server extracts (W3C trace context in the metadata).
# then Thrift (tests/interop/run_thrift.sh): serialize type 4, Go client -> our Arith and our
# client -> a Go server with hand-written TStructs (strings, lists, maps, optional, nested);
# then file transfer and streams (tests/interop/run_files.sh): Go SendFile/DownloadFile/Stream
# against our server and our send_file/download_file/stream against Go's FileTransfer and
# StreamService (64 MiB, SHA-256 checked; 10,000 echoed messages); then reflection
# (tests/interop/run_reflect.sh): our CLI's list/describe against Go's reflection plugin, and
# Go's client decoding our server's GetServices/GetService; then services written with
# #[rpcx::service] (tests/interop/run_macros.sh): Go's client -> examples/rust/arith_macros.rs,
# its generated typed client -> Go's and the C example's Arith servers.
# Needs Go (bootstrap installs it) and the Go module proxy; about two minutes once everything is built.
.PHONY: interop

interop: bootstrap
	CARGO="$(CARGO)" tests/interop/run_matrix.sh
	CARGO="$(CARGO)" tests/interop/run_tls.sh
	CARGO="$(CARGO)" tests/interop/run_http.sh
	CARGO="$(CARGO)" tests/interop/run_otel.sh
	CARGO="$(CARGO)" tests/interop/run_thrift.sh
	CARGO="$(CARGO)" tests/interop/run_files.sh
	CARGO="$(CARGO)" tests/interop/run_reflect.sh
	CARGO="$(CARGO)" tests/interop/run_macros.sh

TEST_TARGETS += interop
