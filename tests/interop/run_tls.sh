#!/usr/bin/env bash
# TLS interop (part of `make interop`): the real Go rpcx (server.WithTLSConfig, client
# Option.TLSConfig) and the Rust Arith example server (--tls-cert/--tls-key/--tls-client-ca)
# over TLS and mutual TLS, and the `rpcx` CLI (--tls-ca/--tls-cert/--tls-key/
# --tls-server-name/--tls-insecure) calling the Go server. Certificates come from the
# tls_certs example (a fresh CA, server, expired and client certificates).
#
#   go_client_rust_mtls        Go client with a client certificate -> Rust mutual-TLS server
#   go_client_rust_mtls_nocert Go client without one: refused ("certificate required", or
#                              the closed connection when its write fails first)
#   go_client_rust_tls         Go client -> Rust TLS server (no client certificates asked)
#   go_client_go_mtls          Go -> Go control
#   cli_go_mtls                rpcx call -> Go mutual-TLS server, JSON and MsgPack
#   cli_go_mtls_proto(_hello)  rpcx call --proto examples/proto/*.proto -> Go's ProtoArith.Mul
#                              and Hello.Say (protobuf from JSON, reply printed as JSON)
#   cli_go_nocert / cli_wrong_ca / cli_wrong_name / cli_expired
#                              each refused with its reason on stderr, exit status 1
#   cli_insecure               --tls-insecure accepts the expired certificate, with a warning
#   cli_rust_tls               rpcx call -> Rust TLS server by name (localhost:port)
#
# Prints PASS/FAIL per case and "tls interop: N passed, N failed"; exit status 1 on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
stop_by=wait

echo "== building the Go peers, the Rust examples (tls) and the rpcx CLI"
(cd "$here/go" && go build -buildvcs=false -o "$bin/" ./cmd/goserver ./cmd/goclient)
cargo_build -p rpcx --features tls,snappy --example arith_server --example tls_certs
cargo_build -p rpcx-cli
rust_server="$(exe_of arith_server)"
certs="$(exe_of tls_certs)"
cli="$(exe_of rpcx)"
for b in "$rust_server" "$certs" "$cli"; do
  [[ -x "$b" ]] || { echo "could not locate a built binary ($b)" >&2; exit 1; }
done
pki="$tmp/pki"
"$certs" "$pki" >/dev/null

tls_flags=(--tls-cert "$pki/server.pem" --tls-key "$pki/server.key")
mtls_flags=("${tls_flags[@]}" --tls-client-ca "$pki/ca.pem")
start go_mtls "$bin/goserver" -addr tcp@127.0.0.1:0 -quiet "${mtls_flags[@]}"
go_mtls="$ADDR"
start go_expired "$bin/goserver" -addr tcp@127.0.0.1:0 -quiet \
  --tls-cert "$pki/expired.pem" --tls-key "$pki/expired.key"
go_expired="$ADDR"
start rust_mtls "$rust_server" --addr tcp@127.0.0.1:0 "${mtls_flags[@]}"
rust_mtls="$ADDR"
start rust_tls "$rust_server" --addr tcp@127.0.0.1:0 "${tls_flags[@]}"
rust_tls="$ADDR"

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# go_case NAME ADDR WANT(ok|refused:TEXT|refused~REGEX) goclient-args...
go_case() {
  local name="$1" addr="$2" want="$3" out status
  shift 3
  set +e
  out="$(timeout 120 "$bin/goclient" -addr "$addr" -codec json "$@" 2>&1)"
  status=$?
  set -e
  case "$want" in
    ok) [[ $status -eq 0 ]] && pass "$name" || fail "$name" "$(tr '\n' ' ' <<<"$out")" ;;
    refused:*)
      if [[ $status -ne 0 && "$out" == *"${want#refused:}"* ]]; then pass "$name"
      else fail "$name" "status $status: $(tr '\n' ' ' <<<"$out")"; fi ;;
    refused~*)
      if [[ $status -ne 0 && "$out" =~ ${want#refused~} ]]; then pass "$name"
      else fail "$name" "status $status: $(tr '\n' ' ' <<<"$out")"; fi ;;
  esac
}

client_cert=(-tls-ca "$pki/ca.pem" -tls-cert "$pki/client.pem" -tls-key "$pki/client.key")
cases=plain,service_error,unknown_method,metadata,oneway,heartbeat,concurrent,push
go_case go_client_rust_mtls "$rust_mtls" ok "${client_cert[@]}" -cases "$cases"
# TLS 1.3 refuses a missing client certificate after the client's handshake: Go's client
# names the alert when it reads it before its first write fails, else the closed connection.
nocert='certificate required|connection is shut down|use of closed network connection|connection reset by peer|broken pipe'
go_case go_client_rust_mtls_nocert "$rust_mtls" "refused~$nocert" \
  -tls-ca "$pki/ca.pem" -cases plain
go_case go_client_rust_tls "$rust_tls" ok -tls-ca "$pki/ca.pem" -cases "$cases"
go_case go_client_go_mtls "$go_mtls" ok "${client_cert[@]}" -cases "$cases"

# cli_case NAME WANT(stdout text|refused:TEXT) rpcx-call-args... (a refused TLS handshake is
# exit status 3: the server could not be reached, docs/cli.md)
cli_case() {
  local name="$1" want="$2" status
  shift 2
  set +e
  timeout 60 "$cli" call --timeout 10 "$@" >"$tmp/cli.out" 2>"$tmp/cli.err"
  status=$?
  set -e
  local out err
  out="$(cat "$tmp/cli.out")" err="$(cat "$tmp/cli.err")"
  case "$want" in
    refused:*)
      if [[ $status -eq 3 && "$err" == *"${want#refused:}"* ]]; then
        pass "$name"; echo "     $err"
      else fail "$name" "status $status, stdout $out, stderr $err"; fi ;;
    *)
      if [[ $status -eq 0 && "$out" == "$want" ]]; then pass "$name"
      else fail "$name" "status $status, stdout $out, stderr $err"; fi ;;
  esac
}

cli_cert=(--tls-ca "$pki/ca.pem" --tls-cert "$pki/client.pem" --tls-key "$pki/client.key")
mul='{"A":7,"B":8}'
cli_case cli_go_mtls '{"C":56}' "${cli_cert[@]}" "$go_mtls" Arith.Mul "$mul"
cli_case cli_go_mtls_msgpack '{"C":56}' "${cli_cert[@]}" --codec msgpack "$go_mtls" Arith.Mul "$mul"
# Protobuf driven by .proto files (compiled in-process by the CLI): Go's ProtoArith and Hello.
cli_case cli_go_mtls_proto '{"C":56}' "${cli_cert[@]}" --proto "$root/examples/proto/arith.proto" \
  "$go_mtls" ProtoArith.Mul "$mul"
cli_case cli_go_mtls_proto_hello '{"field1":"OK","field2":100,"field3":2}' "${cli_cert[@]}" \
  --proto "$root/examples/proto/hello.proto" "$go_mtls" Hello.Say '{"field1":"hi","field2":1,"field3":2}'
cli_case cli_go_nocert "refused:received fatal alert: CertificateRequired" \
  --tls-ca "$pki/ca.pem" "$go_mtls" Arith.Mul "$mul"
cli_case cli_wrong_ca "refused:invalid peer certificate: UnknownIssuer" \
  --tls-ca "$pki/other-ca.pem" --tls-cert "$pki/client.pem" --tls-key "$pki/client.key" \
  "$go_mtls" Arith.Mul "$mul"
cli_case cli_wrong_name 'refused:certificate not valid for name "wrong.example.com"' \
  "${cli_cert[@]}" --tls-server-name wrong.example.com "$go_mtls" Arith.Mul "$mul"
cli_case cli_expired "refused:invalid peer certificate: certificate expired" \
  --tls-ca "$pki/ca.pem" "$go_expired" Arith.Mul "$mul"
cli_case cli_insecure '{"C":56}' --tls-insecure "$go_expired" Arith.Mul "$mul"
grep -q "certificate is NOT verified" "$tmp/cli.err" \
  && pass cli_insecure_warns || fail cli_insecure_warns "no warning on stderr"
cli_case cli_rust_tls '{"C":56}' --tls-ca "$pki/ca.pem" "localhost:${rust_tls##*:}" Arith.Mul "$mul"

echo "tls interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
