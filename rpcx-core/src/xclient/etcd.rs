//! etcd v3 discovery, wire-compatible with Go's `rpcxio/rpcx-etcd`.
//!
//! Servers of service `S` are the keys `<base>/<S>/<network@address>`, each holding the
//! server's metadata query string. The discovery lists the prefix `<base>/<S>/` once, then
//! watches it; on every batch of events it lists the whole prefix again (as Go does, so lease
//! expiries and deletes are seen the same way as puts) and publishes the complete list. When
//! the watch breaks it is re-created with a backoff of 1 s doubling to 10 s; meanwhile
//! subscribers keep the last list.
//!
//! ```no_run
//! use rpcx::xclient::{EtcdDiscovery, XClient, XClientOptions};
//! # async fn run() -> Result<(), rpcx::Error> {
//! let d = EtcdDiscovery::connect(&["http://127.0.0.1:2379"], "/rpcx_test", "Arith").await?;
//! let xc = XClient::new("Arith", d, XClientOptions::default())?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};

use super::discovery::ServerEntry;
use super::watched::{watched_discovery, Watched};
use crate::kv::etcd::EtcdStore;
use crate::kv::list_services;
use crate::Error;

pub use etcd_client::Client as EtcdClient;

/// Bound of one etcd request (Go's store uses 10 s).
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(10);

fn connect_options() -> ConnectOptions {
    ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_keep_alive(Duration::from_secs(10), Duration::from_secs(5))
}

/// Connects to an etcd cluster. Endpoints are `host:port` or `http://host:port`; the client
/// balances over all of them, a dead member's too: the requests of the discoveries and
/// registries built on it are tried again on another endpoint when they fail for want of an
/// answer, while a request made directly on the returned client may fail with "tcp connect
/// error". Connecting is lazy: the first request reveals an unreachable cluster. With the `tls` feature, `https://` endpoints are reached over TLS trusting the
/// system's CA bundle (see [`etcd_connect_tls`] for other CAs and client certificates).
pub async fn etcd_connect<E: AsRef<str>>(endpoints: &[E]) -> Result<Client, Error> {
    #[cfg(feature = "tls")]
    if endpoints
        .iter()
        .any(|e| e.as_ref().trim_start().starts_with("https://"))
    {
        let system = crate::transport::tls::ClientTlsConfig::new();
        return etcd_connect_tls(endpoints, &system).await;
    }
    Client::connect(endpoints, Some(connect_options()))
        .await
        .map_err(etcd_error)
}

/// Connects to an etcd cluster over TLS (feature `tls`): endpoints are `host:port` or
/// `https://host:port` (an `http://` endpoint is refused), the server certificates are
/// checked against `tls`'s CA (default: the system bundle) and name (default: each
/// endpoint's host), and `tls`'s client certificate is presented to an etcd started with
/// `--client-cert-auth`. `danger_accept_invalid_certs` is refused: etcd's gRPC transport
/// always verifies. Handshake failures come back with rustls' words (`invalid peer
/// certificate: UnknownIssuer`), on the first request since connecting is lazy.
#[cfg(feature = "tls")]
pub async fn etcd_connect_tls<E: AsRef<str>>(
    endpoints: &[E],
    tls: &crate::transport::tls::ClientTlsConfig,
) -> Result<Client, Error> {
    if tls.accepts_invalid_certs() {
        return Err(Error::Config(
            "etcd over TLS cannot skip certificate verification".into(),
        ));
    }
    // Our own parse first: its errors name the bad PEM, tonic's do not.
    let config = tls.rustls_config()?;
    if let Some(first) = endpoints.first() {
        probe_tls(first.as_ref(), config, tls.server_name_override()).await?;
    }
    let mut options = etcd_client::TlsOptions::new()
        .ca_certificate(etcd_client::Certificate::from_pem(tls.ca_bundle()?));
    if let Some((cert, key)) = tls.identity() {
        options = options.identity(etcd_client::Identity::from_pem(cert, key));
    }
    if let Some(name) = tls.server_name_override() {
        options = options.domain_name(name);
    }
    Client::connect(endpoints, Some(connect_options().with_tls(options)))
        .await
        .map_err(etcd_error)
}

/// One TLS connection to `endpoint` that reads until the server speaks (gRPC servers send
/// their HTTP/2 settings at once): a refusal by the server — a mutual-TLS etcd rejecting our
/// certificate or its absence, which TLS 1.3 reports only after the client finished its
/// handshake — comes back with the server's alert (`received fatal alert:
/// CertificateRequired`), where the gRPC client would only say "connection closed". An
/// endpoint that cannot be dialed is left to the etcd client (another endpoint may be up).
#[cfg(feature = "tls")]
async fn probe_tls(
    endpoint: &str,
    config: Arc<crate::transport::tls::rustls::ClientConfig>,
    server_name: Option<&str>,
) -> Result<(), Error> {
    use tokio::io::AsyncReadExt;

    const WAIT: Duration = Duration::from_secs(5);
    let host_port = endpoint.trim().trim_start_matches("https://");
    let host_port = host_port.split('/').next().unwrap_or_default();
    let Ok(addr) = crate::transport::Address::parse(host_port) else {
        return Ok(()); // the etcd client reports the bad endpoint
    };
    let Ok((stream, peer)) = crate::transport::dial_stream(&addr, WAIT).await else {
        return Ok(());
    };
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tls = crate::transport::tls::ClientTls {
        config: Arc::new(config),
        server_name: server_name.unwrap_or_default().to_owned(),
    };
    let refused = |e: &dyn std::fmt::Display| {
        Error::Io(std::io::Error::other(format!("etcd: {endpoint}: {e}")))
    };
    let mut conn = crate::transport::tls::connect_to(&tls, &addr, stream, peer, WAIT)
        .await
        .map_err(|e| refused(&e))?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(WAIT, conn.read.read(&mut byte)).await {
        Ok(Err(e)) => Err(refused(&format_args!("TLS: {e}"))),
        Ok(Ok(0)) => Err(refused(
            &"the server closed the connection after the TLS handshake",
        )),
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

pub(crate) fn etcd_error(e: etcd_client::Error) -> Error {
    Error::Io(std::io::Error::other(format!(
        "etcd: {}",
        crate::error::with_sources(&e)
    )))
}

/// How many times one request is tried, the first included, when the tries fail for a
/// transport reason (see [`request`]).
const TRIES: u32 = 8;
/// The pause before the second try; it doubles before each further try, up to
/// [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// Runs one etcd request, `op` sending it over a clone of `client`, within [`OP_TIMEOUT`]
/// in all.
///
/// The client balances its requests over every endpoint, a dead member's too: a request
/// sent there fails at once with "tcp connect error … Connection refused" (a known
/// limitation of etcd-client's balanced channel). Such a failure, and any other that etcd
/// did not answer itself or that it answered with `Unavailable` (no leader, leader changed,
/// request timed out, server stopping: try again), is tried again, at first at once, then
/// after a pause of 20 ms doubling to 250 ms, up to [`TRIES`] times — each try goes to an
/// endpoint picked afresh, so with one member of three down a request fails only if all
/// eight tries pick the dead one. A cluster that is entirely unreachable is reported after
/// 0.8 s of pauses. An answer from etcd such as "lease not found" comes back at once. Every
/// request made here may be sent twice without harm: puts write the same value on the same
/// lease, a lease granted by a try whose answer was lost expires after its TTL.
pub(crate) async fn request<T, F, Fut>(client: &Client, mut op: F) -> Result<T, Error>
where
    F: FnMut(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
{
    let deadline = tokio::time::Instant::now() + OP_TIMEOUT;
    let mut pause = Duration::ZERO;
    let mut tries = 1;
    loop {
        let e = match tokio::time::timeout_at(deadline, op(client.clone())).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("etcd: no answer within {OP_TIMEOUT:?}"),
                )))
            }
        };
        if tries >= TRIES
            || !worth_another_try(&e)
            || tokio::time::Instant::now() + pause >= deadline
        {
            return Err(etcd_error(e));
        }
        tracing::debug!(error = %e, try_number = tries, "rpcx: etcd request failed; trying again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).clamp(FIRST_PAUSE, MAX_PAUSE);
        tries += 1;
    }
}

/// Whether a failed request may succeed on another endpoint: a transport failure (no
/// answer from etcd: connection refused or reset, TLS or HTTP/2 failure — tonic keeps the
/// cause as the status' source, while a status etcd sent has none) or etcd's
/// `Unavailable`.
fn worth_another_try(e: &etcd_client::Error) -> bool {
    use std::error::Error as _;
    const UNAVAILABLE: i32 = 14;
    match e {
        etcd_client::Error::GRpcStatus(status) => {
            i32::from(status.code()) == UNAVAILABLE || status.source().is_some()
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        _ => false,
    }
}

/// The watched prefix of a service: `base + "/" + service`, trailing `/` removed (Go).
pub(crate) fn service_prefix(base_path: &str, service: &str) -> String {
    let mut p = format!("{base_path}/{service}");
    while p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    p
}

/// Service discovery from etcd v3: lists `<base>/<service>/` once, then watches the prefix
/// and re-lists it on every event batch (as Go does), publishing the complete list; a broken
/// watch is re-created with a 1 s → 10 s backoff while subscribers keep the last list.
///
/// ```no_run
/// use rpcx::xclient::{EtcdDiscovery, XClient, XClientOptions};
/// # async fn run() -> Result<(), rpcx::Error> {
/// let d = EtcdDiscovery::connect(&["http://127.0.0.1:2379"], "/rpcx_test", "Arith").await?;
/// let xc = XClient::new("Arith", d, XClientOptions::default())?;
/// # Ok(()) }
/// ```
pub struct EtcdDiscovery(Watched);

watched_discovery!(EtcdDiscovery);

impl EtcdDiscovery {
    /// Connects to `endpoints`, lists the servers of `service` under `base_path` (e.g.
    /// `/rpcx_test`) and starts watching. Fails if etcd cannot be reached; an empty list is
    /// fine (servers may register later; Go's `allowKeyNotFound = true`).
    pub async fn connect<E: AsRef<str>>(
        endpoints: &[E],
        base_path: &str,
        service: &str,
    ) -> Result<EtcdDiscovery, Error> {
        let client = etcd_connect(endpoints).await?;
        EtcdDiscovery::from_client(client, base_path, service).await
    }

    /// Like [`connect`](Self::connect) over TLS (feature `tls`; see [`etcd_connect_tls`]).
    #[cfg(feature = "tls")]
    pub async fn connect_tls<E: AsRef<str>>(
        endpoints: &[E],
        base_path: &str,
        service: &str,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<EtcdDiscovery, Error> {
        let client = etcd_connect_tls(endpoints, tls).await?;
        EtcdDiscovery::from_client(client, base_path, service).await
    }

    /// Like [`connect`](Self::connect) over an existing client (one connection can serve the
    /// discoveries of many services).
    pub async fn from_client(
        client: Client,
        base_path: &str,
        service: &str,
    ) -> Result<EtcdDiscovery, Error> {
        let store = EtcdStore::new(client, Duration::ZERO);
        Watched::start(store, service_prefix(base_path, service))
            .await
            .map(EtcdDiscovery)
    }

    /// The watched key prefix (`<base>/<service>`).
    pub fn prefix(&self) -> &str {
        self.0.prefix()
    }

    /// Every service under `base_path` with its servers, read once (for tools such as
    /// `rpcx list`). Keys deeper than `<base>/<service>/<server>` keep their `/` in the server
    /// part (`unix@/path`).
    pub async fn list_all<E: AsRef<str>>(
        endpoints: &[E],
        base_path: &str,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        EtcdDiscovery::list_all_from(etcd_connect(endpoints).await?, base_path).await
    }

    /// Like [`list_all`](Self::list_all) over TLS (feature `tls`; see [`etcd_connect_tls`]).
    #[cfg(feature = "tls")]
    pub async fn list_all_tls<E: AsRef<str>>(
        endpoints: &[E],
        base_path: &str,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        EtcdDiscovery::list_all_from(etcd_connect_tls(endpoints, tls).await?, base_path).await
    }

    /// Like [`list_all`](Self::list_all) over an existing client.
    pub async fn list_all_from(
        client: Client,
        base_path: &str,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        let base = service_prefix(base_path, "");
        let mut store = EtcdStore::new(client, Duration::ZERO);
        list_services(&mut store, base.trim_end_matches('/')).await
    }
}

#[cfg(test)]
mod tests {
    use super::service_prefix;

    #[test]
    fn prefixes_like_go() {
        assert_eq!(service_prefix("/rpcx_test", "Arith"), "/rpcx_test/Arith");
        assert_eq!(service_prefix("rpcx", "Arith/"), "rpcx/Arith");
        assert_eq!(service_prefix("/rpcx_test/", ""), "/rpcx_test");
    }
}
