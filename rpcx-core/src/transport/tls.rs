//! TLS for server and client connections with rustls (cargo feature `tls`).
//!
//! ```no_run
//! # fn run(cert: &[u8], key: &[u8], ca: &[u8]) -> Result<(), rpcx::Error> {
//! use rpcx::transport::tls;
//! let server_tls = tls::server_config_from_pem(cert, key)?;
//! let client_tls = tls::client_config_from_pem(ca)?;
//! let server = rpcx::server::Server::builder().tls(server_tls).build();
//! let options = rpcx::client::ClientOptions::default().tls(client_tls, "localhost");
//! # Ok(()) }
//! ```

use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{Connection, Stream};
use crate::Error;

/// Client-side TLS settings: the rustls configuration and the name the server's certificate
/// must carry.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// rustls client configuration (roots, client certificate…).
    pub config: Arc<rustls::ClientConfig>,
    /// Server name checked against the certificate (`localhost`, `api.example.com`).
    pub server_name: String,
}

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config_from_pem(
    cert_chain: &[u8],
    key: &[u8],
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Config(format!("TLS certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(
            "TLS certificate PEM holds no certificate".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| Error::Config(format!("TLS key PEM: {e}")))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Config(format!("TLS server config: {e}")))?;
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA certificates of a PEM bundle.
pub fn client_config_from_pem(ca: &[u8]) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca) {
        let cert = cert.map_err(|e| Error::Config(format!("TLS CA PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::Config(format!("TLS CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(Error::Config("TLS CA PEM holds no certificate".into()));
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
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
    Ok(Connection {
        read: Box::new(r),
        write: Box::new(w),
        peer,
    })
}

/// Runs the client side of the handshake on a dialed stream.
pub async fn connect(
    tls: &ClientTls,
    stream: Stream,
    peer: String,
    timeout: Duration,
) -> io::Result<Connection> {
    let name = ServerName::try_from(tls.server_name.clone()).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("TLS server name: {e}"))
    })?;
    let connector = TlsConnector::from(Arc::clone(&tls.config));
    let stream = tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    let (r, w) = tokio::io::split(stream);
    Ok(Connection {
        read: Box::new(r),
        write: Box::new(w),
        peer,
    })
}
