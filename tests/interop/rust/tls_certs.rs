//! Writes a throwaway PKI for the TLS tests of C, Python, the CLI and the Go peers:
//!
//! ```text
//! cargo run -p rpcx --example tls_certs -- DIR
//! ```
//! creates DIR and writes `<name>.pem` (certificate) and `<name>.key` (private key, PKCS#8)
//! for `ca` (the CA the tests trust), `other-ca` (trusted by nobody), `server` (signed by
//! `ca`, for `localhost`, `127.0.0.1` and `::1`), `expired` (the same names, valid only in
//! 2000), `client` (a client certificate signed by `ca`) and `other-client` (signed by
//! `other-ca`), then prints `WROTE DIR`. The same PKI as the Rust TLS tests
//! (`rpcx-core/tests/tls_support.rs`), fresh keys on every run.

#[path = "../../../rpcx-core/tests/tls_support.rs"]
mod tls_support;

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: tls_certs DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) = tls_support::TestPki::generate().write_to(&dir) {
        eprintln!("tls_certs: cannot write {}: {e}", dir.display());
        std::process::exit(1);
    }
    println!("WROTE {}", dir.display());
}
