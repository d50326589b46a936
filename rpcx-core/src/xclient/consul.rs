//! Consul KV discovery, wire-compatible with Go's `rpcxio/rpcx-consul` (libkv).
//!
//! Keys have no leading slash: servers of service `S` are `<base>/<S>/<network@address>` in
//! Consul's KV store (not the service catalog), each holding the metadata query string. The
//! discovery lists `<base>/<S>/` recursively, then follows it with blocking queries
//! (`?index=N&wait=15s`), publishing the complete list whenever it changes; on errors it
//! retries with a backoff of 1 s doubling to 10 s while subscribers keep the last list.
//!
//! Consul is spoken over HTTP/1.1 (hyper), plain or, with the `tls` feature, over TLS for
//! `https://` agents (`connect_tls` for a CA of your own or a client certificate). No ACL
//! token support yet.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::consul_conn::{Connector, LastIoError};
use super::discovery::ServerEntry;
use super::watched::{watched_discovery, Watched};
use crate::kv::consul::ConsulStore;
use crate::kv::list_services;
use crate::Error;

/// Wait time of a blocking query (Go: 15 s).
pub(crate) const WATCH_WAIT: Duration = Duration::from_secs(15);
/// Bound of a non-blocking request.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// A minimal Consul HTTP API client (KV and sessions).
#[derive(Clone)]
pub(crate) struct ConsulHttp {
    client: Client<Connector, Full<Bytes>>,
    base: String,
    /// The last I/O error of the client's connections (see [`LastIoError`]).
    last_io_error: LastIoError,
}

/// One answer of the HTTP API.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// `X-Consul-Index`, 0 when absent.
    pub(crate) index: u64,
    pub(crate) body: Bytes,
}

pub(crate) fn consul_error(what: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("consul: {what}")))
}

/// `address` with its scheme: the one given, else `default_scheme`.
fn base_url(address: &str, default_scheme: &str) -> Result<String, Error> {
    let address = address.trim().trim_end_matches('/');
    let base = if address.starts_with("http://") || address.starts_with("https://") {
        address.to_owned()
    } else {
        format!("{default_scheme}://{address}")
    };
    if base.ends_with("://") {
        return Err(Error::Config("consul: empty address".into()));
    }
    Ok(base)
}

impl ConsulHttp {
    /// `address` is `host:port` or `http://host:port` (Consul's HTTP API, default port 8500);
    /// with the `tls` feature also `https://host:port`, trusting the system's CA bundle.
    pub(crate) fn new(address: &str) -> Result<ConsulHttp, Error> {
        let base = base_url(address, "http")?;
        if base.starts_with("https://") {
            #[cfg(feature = "tls")]
            return ConsulHttp::with_tls(&base, &crate::transport::tls::ClientTlsConfig::new());
            #[cfg(not(feature = "tls"))]
            return Err(Error::Config(
                "consul: https needs rpcx's `tls` feature".into(),
            ));
        }
        Ok(ConsulHttp::over(Connector::plain(), base))
    }

    /// Over TLS: `address` is `host:port` or `https://host:port` (`http://` is refused).
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls(
        address: &str,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<ConsulHttp, Error> {
        let base = base_url(address, "https")?;
        if !base.starts_with("https://") {
            return Err(Error::Config(format!(
                "consul: TLS settings given for a plain http:// address ({base})"
            )));
        }
        Ok(ConsulHttp::over(Connector::tls(tls.build()?), base))
    }

    fn over(connector: Connector, base: String) -> ConsulHttp {
        let last_io_error = connector.last_error.clone();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        ConsulHttp {
            client,
            base,
            last_io_error,
        }
    }

    /// Sends a request and reads the whole answer within `timeout`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Answer, Error> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path_and_query}", self.base))
            .body(Full::new(body.unwrap_or_default()))
            .map_err(consul_error)?;
        // Only an I/O error met while this request is under way explains its failure.
        self.last_io_error.take();
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                let mut text = crate::error::with_sources(&e);
                // The cause hyper dropped (e.g. a TLS alert after the handshake).
                if let Some(io) = self.last_io_error.take() {
                    text.push_str(&format!(" (connection error: {io})"));
                }
                consul_error(text)
            })?;
            let status = resp.status();
            let index = resp
                .headers()
                .get("X-Consul-Index")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(consul_error)?
                .to_bytes();
            Ok::<_, Error>(Answer {
                status,
                index,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(consul_error(format!("no answer within {timeout:?}"))),
        }
    }

    /// Lists every key under `prefix` (recursively) with its value; `index` makes it a
    /// blocking query. Returns the pairs and the new index. 404 = no key = empty list.
    pub(crate) async fn list(
        &self,
        prefix: &str,
        index: Option<u64>,
    ) -> Result<(Vec<(String, Vec<u8>)>, u64), Error> {
        let mut path = format!("/v1/kv/{}?recurse", escape_key(prefix));
        let mut timeout = OP_TIMEOUT;
        if let Some(i) = index {
            path.push_str(&format!("&index={i}&wait={}s", WATCH_WAIT.as_secs()));
            // Consul adds up to wait/16 of jitter.
            timeout = WATCH_WAIT + WATCH_WAIT / 16 + OP_TIMEOUT;
        }
        let a = self.send(Method::GET, &path, None, timeout).await?;
        match a.status {
            StatusCode::NOT_FOUND => Ok((Vec::new(), a.index)),
            s if s.is_success() => Ok((parse_kv_list(&a.body)?, a.index)),
            s => Err(consul_error(format!(
                "GET {prefix}: {s}: {}",
                String::from_utf8_lossy(&a.body)
            ))),
        }
    }

    /// PUT a key (`acquire` = session id to lock it with). Returns Consul's true/false.
    pub(crate) async fn put(
        &self,
        key: &str,
        value: &str,
        acquire: Option<&str>,
    ) -> Result<bool, Error> {
        let mut path = format!("/v1/kv/{}", escape_key(key));
        if let Some(s) = acquire {
            path.push_str(&format!("?acquire={}", escape_key(s)));
        }
        let a = self
            .send(
                Method::PUT,
                &path,
                Some(Bytes::from(value.to_owned())),
                OP_TIMEOUT,
            )
            .await?;
        if !a.status.is_success() {
            return Err(consul_error(format!(
                "PUT {key}: {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            )));
        }
        Ok(a.body.trim_ascii() == b"true")
    }

    /// DELETE a key.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), Error> {
        let a = self
            .send(
                Method::DELETE,
                &format!("/v1/kv/{}", escape_key(key)),
                None,
                OP_TIMEOUT,
            )
            .await?;
        if a.status.is_success() {
            Ok(())
        } else {
            Err(consul_error(format!("DELETE {key}: {}", a.status)))
        }
    }
}

/// Percent-encodes a KV key for a URL path, keeping `/`, `:` and `@` readable.
pub(crate) fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for &c in key.as_bytes() {
        match c {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'/'
            | b':'
            | b'@' => out.push(c as char),
            _ => out.push_str(&format!("%{c:02X}")),
        }
    }
    out
}

/// Parses a `GET /v1/kv/...?recurse` answer: `[{"Key": "...", "Value": "<base64>|null"}]`.
fn parse_kv_list(body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(consul_error)?;
    let items = v
        .as_array()
        .ok_or_else(|| consul_error("KV answer is not a JSON array"))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(key) = item.get("Key").and_then(|k| k.as_str()) else {
            continue;
        };
        let value = match item.get("Value").and_then(|v| v.as_str()) {
            Some(b64) => base64_decode(b64).ok_or_else(|| consul_error("bad base64 value"))?,
            None => Vec::new(),
        };
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// Standard base64 (with or without padding), as Consul encodes KV values.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The KV prefix of a service: leading `/` removed (libkv), `base/service`, no trailing `/`.
pub(crate) fn service_prefix(base_path: &str, service: &str) -> String {
    let base = base_path.trim_start_matches('/').trim_end_matches('/');
    let p = if base.is_empty() {
        service.to_owned()
    } else {
        format!("{base}/{service}")
    };
    p.trim_end_matches('/').to_owned()
}

/// Service discovery from Consul's KV store: lists `<base>/<service>/` (keys without a
/// leading slash), then follows it with blocking queries (`?index=N&wait=15s`), publishing
/// the complete list whenever it changes; on errors it retries with a 1 s → 10 s backoff
/// while subscribers keep the last list. Plain HTTP, no ACL token.
pub struct ConsulDiscovery(Watched);

watched_discovery!(ConsulDiscovery);

impl ConsulDiscovery {
    /// Lists the servers of `service` under `base_path` from the Consul agent at `address`
    /// (`127.0.0.1:8500`) and starts watching them. Fails if Consul cannot be reached; no
    /// server yet is fine.
    pub async fn connect(
        address: &str,
        base_path: &str,
        service: &str,
    ) -> Result<ConsulDiscovery, Error> {
        ConsulDiscovery::start(ConsulHttp::new(address)?, base_path, service).await
    }

    /// Like [`connect`](Self::connect) over TLS (feature `tls`): `address` is `host:port` or
    /// `https://host:port`; the agent's certificate is checked against `tls`'s CA (default:
    /// the system bundle) and name (default: the host of `address`), and `tls`'s client
    /// certificate is presented to an agent that verifies clients.
    #[cfg(feature = "tls")]
    pub async fn connect_tls(
        address: &str,
        base_path: &str,
        service: &str,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<ConsulDiscovery, Error> {
        ConsulDiscovery::start(ConsulHttp::with_tls(address, tls)?, base_path, service).await
    }

    async fn start(
        http: ConsulHttp,
        base_path: &str,
        service: &str,
    ) -> Result<ConsulDiscovery, Error> {
        let store = ConsulStore::new(http, 0);
        Watched::start(store, service_prefix(base_path, service))
            .await
            .map(ConsulDiscovery)
    }

    /// The KV prefix watched (`<base>/<service>`, no leading slash).
    pub fn prefix(&self) -> &str {
        self.0.prefix()
    }

    /// Every service under `base_path` with its servers, read once.
    pub async fn list_all(
        address: &str,
        base_path: &str,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        ConsulDiscovery::list_all_over(ConsulHttp::new(address)?, base_path).await
    }

    /// Like [`list_all`](Self::list_all) over TLS (feature `tls`; see
    /// [`connect_tls`](Self::connect_tls)).
    #[cfg(feature = "tls")]
    pub async fn list_all_tls(
        address: &str,
        base_path: &str,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        ConsulDiscovery::list_all_over(ConsulHttp::with_tls(address, tls)?, base_path).await
    }

    async fn list_all_over(
        http: ConsulHttp,
        base_path: &str,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        let base = service_prefix(base_path, "");
        list_services(&mut ConsulStore::new(http, 0), &base).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_keys() {
        assert_eq!(base64_decode("d2VpZ2h0PTU=").unwrap(), b"weight=5");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("a*==").is_none());
        assert_eq!(service_prefix("/rpcx_test", "Arith"), "rpcx_test/Arith");
        assert_eq!(service_prefix("rpcx_test/", ""), "rpcx_test");
        assert_eq!(
            escape_key("rpcx/Arith/tcp@127.0.0.1:1 x"),
            "rpcx/Arith/tcp@127.0.0.1:1%20x"
        );
    }
}
