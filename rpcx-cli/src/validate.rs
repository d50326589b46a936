//! Checks of single argument values: a timeout, a metadata pair, an address.

use std::time::Duration;

use crate::failure::Failure;

/// A timeout in seconds: positive, finite and representable (`--timeout 1e20` is refused,
/// not a panic).
pub(crate) fn timeout_secs(secs: f64) -> Result<Duration, Failure> {
    if secs.is_nan() || secs <= 0.0 {
        return Err(Failure::Input(format!(
            "--timeout {secs} must be a positive number of seconds"
        )));
    }
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= Duration::from_secs(100 * 365 * 24 * 3600))
        .ok_or_else(|| Failure::Input(format!("--timeout {secs} is too large")))
}

/// One `--meta KEY=VALUE`: a non-empty key.
pub(crate) fn meta_pair(kv: &str) -> Result<(String, String), Failure> {
    kv.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| {
            Failure::Input(format!(
                "--meta {kv:?} must be KEY=VALUE with a non-empty KEY"
            ))
        })
}

/// An address the client can dial: `network@address` (tcp, unix, http, ws, wss) or host:port;
/// a URL (`http://…`) gets "unsupported scheme".
pub(crate) fn check_address(address: &str) -> Result<(), Failure> {
    if let Some((scheme, _)) = address.split_once("://") {
        return Err(Failure::Input(format!(
            "unsupported scheme {scheme:?} in {address:?}: give network@host:port (tcp@, unix@, \
             http@ for HTTP CONNECT, ws@ or wss@ for a WebSocket) or host:port"
        )));
    }
    rpcx::transport::Address::parse(address)
        .map(|_| ())
        .map_err(|e| Failure::Input(e.to_string()))
}
