//! TLS for server and client connections with rustls (cargo feature `tls`), including
//! mutual TLS (client certificates verified by the server).
//!
//! [`ServerTlsConfig`] and [`ClientTlsConfig`] take PEM material (bytes or file paths) and
//! build the rustls configurations; rustls' own configurations can be passed as well.
//!
//! ```no_run
//! # fn run(cert: &[u8], key: &[u8], ca: &[u8]) -> Result<(), rpcx::Error> {
//! use rpcx::transport::tls::{self, ClientTlsConfig, ServerTlsConfig};
//! let server_tls = ServerTlsConfig::from_pem(cert, key).build()?;
//! let client_tls = ClientTlsConfig::new().ca_pem(ca).server_name("localhost").build()?;
//! let server = rpcx::server::Server::builder().tls(server_tls).build();
//! let options = rpcx::client::ClientOptions::default().with_tls(client_tls);
//! // Or with rustls configurations made elsewhere:
//! let options = rpcx::client::ClientOptions::default()
//!     .tls(tls::client_config_from_pem(ca)?, "localhost");
//! # Ok(()) }
//! ```
//!
//! Handshake failures keep rustls' words: a client sees `invalid peer certificate:
//! UnknownIssuer` (a CA it does not trust), `invalid peer certificate: certificate expired:
//! …`, `invalid peer certificate: certificate not valid for name …`, or, refused by a
//! mutual-TLS server, `received fatal alert: CertificateRequired` (no client certificate) or
//! another alert; each inside [`Error::Connect`] (or, when the server refuses after the
//! client finished its handshake, [`Error::ConnectionLost`] on the first call).

mod config;
mod insecure;
mod pem;

use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use config::{ClientTlsConfig, ServerTlsConfig};
pub use tokio_rustls::rustls;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{Address, Connection, Stream};
use crate::Error;

/// Client-side TLS settings: the rustls configuration and the name the server's certificate
/// must carry.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// rustls client configuration (roots, client certificate…).
    pub config: Arc<rustls::ClientConfig>,
    /// Server name checked against the certificate (`localhost`, `api.example.com`,
    /// `10.0.0.5`). Empty: the host of the address dialed (each server's own for an
    /// XClient).
    pub server_name: String,
}

/// A server configuration from a PEM certificate chain and a PEM private key (no client
/// certificates; see [`ServerTlsConfig`] for mutual TLS).
pub fn server_config_from_pem(
    cert_chain: &[u8],
    key: &[u8],
) -> Result<Arc<rustls::ServerConfig>, Error> {
    ServerTlsConfig::from_pem(cert_chain, key).build()
}

/// A client configuration trusting the CA certificates of a PEM bundle (see
/// [`ClientTlsConfig`] for client certificates).
pub fn client_config_from_pem(ca: &[u8]) -> Result<Arc<rustls::ClientConfig>, Error> {
    ClientTlsConfig::new().ca_pem(ca).rustls_config()
}

/// Runs the server side of the handshake on an accepted stream (bounded by `timeout`).
pub async fn accept(
    config: &Arc<rustls::ServerConfig>,
    stream: Stream,
    peer: String,
    timeout: Duration,
) -> io::Result<Connection> {
    let acceptor = TlsAcceptor::from(Arc::clone(config));
    let tls = tokio::time::timeout(timeout, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    let (r, w) = tokio::io::split(tls);
    Ok(Connection::new(Box::new(r), Box::new(w), peer))
}

/// Runs the client side of the handshake on a dialed stream, checking the server's
/// certificate against `tls.server_name` (which must not be empty here; see
/// [`connect_to`]).
pub async fn connect(
    tls: &ClientTls,
    stream: Stream,
    peer: String,
    timeout: Duration,
) -> io::Result<Connection> {
    let name = config::check_server_name(&tls.server_name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let connector = TlsConnector::from(Arc::clone(&tls.config));
    let stream = tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
        .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
    let (r, w) = tokio::io::split(stream);
    Ok(Connection::new(Box::new(r), Box::new(w), peer))
}

/// Like [`connect`], with the host of `addr` as the server name when `tls.server_name` is
/// empty (a Unix socket has no host: a server name must be set then).
pub async fn connect_to(
    tls: &ClientTls,
    addr: &Address,
    stream: Stream,
    peer: String,
    timeout: Duration,
) -> io::Result<Connection> {
    if !tls.server_name.is_empty() {
        return connect(tls, stream, peer, timeout).await;
    }
    let host = host_of(addr).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("TLS to {addr} needs a server name (the address has no host to check)"),
        )
    })?;
    let named = ClientTls {
        config: Arc::clone(&tls.config),
        server_name: host.to_owned(),
    };
    connect(&named, stream, peer, timeout).await
}

/// The host part of a TCP address (`[::1]:80` → `::1`).
fn host_of(addr: &Address) -> Option<&str> {
    let (host, _port) = addr.host_port()?.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        let host = |s: &str| host_of(&Address::parse(s).unwrap()).map(str::to_owned);
        assert_eq!(host("tcp@127.0.0.1:8972").as_deref(), Some("127.0.0.1"));
        assert_eq!(host("localhost:1").as_deref(), Some("localhost"));
        assert_eq!(host("tcp@[::1]:8972").as_deref(), Some("::1"));
        assert_eq!(host("unix@/tmp/x.sock"), None);
    }
}
