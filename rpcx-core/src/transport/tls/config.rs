//! TLS settings as PEM material: what bindings, the CLI and registry connections configure,
//! turned into rustls configurations by `build`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::server::WebPkiClientVerifier;

use super::insecure::AcceptAnyServerCert;
use super::{pem, ClientTls};
use crate::Error;

/// The crypto provider of every configuration built here (ring), passed explicitly so no
/// process-wide default is needed.
pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server side of TLS: a certificate chain and its private key, and optionally the CAs
/// that client certificates must chain to (mutual TLS).
///
/// ```no_run
/// # fn run() -> Result<(), rpcx::Error> {
/// use rpcx::transport::tls::ServerTlsConfig;
/// let tls = ServerTlsConfig::from_files("server.pem", "server.key")?
///     .client_ca_file("clients-ca.pem", true)?; // mutual TLS: a client certificate is required
/// let server = rpcx::server::Server::builder().tls(tls.build()?).build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTlsConfig {
    cert_chain: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
    require_client_cert: bool,
}

impl fmt::Debug for ServerTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTlsConfig")
            .field("client_ca", &self.client_ca.is_some())
            .field("require_client_cert", &self.require_client_cert)
            .finish_non_exhaustive()
    }
}

impl ServerTlsConfig {
    /// A PEM certificate chain (the server's certificate first) and its PEM private key
    /// (PKCS#8, PKCS#1 or SEC1). Checked by [`build`](Self::build).
    pub fn from_pem(cert_chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        ServerTlsConfig {
            cert_chain: cert_chain.into(),
            key: key.into(),
            client_ca: None,
            require_client_cert: false,
        }
    }

    /// Like [`from_pem`](Self::from_pem), reading both files now.
    pub fn from_files(cert_chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(ServerTlsConfig::from_pem(
            pem::read_file("certificate file", cert_chain.as_ref())?,
            pem::read_file("key file", key.as_ref())?,
        ))
    }

    /// Verifies client certificates against the CAs of this PEM bundle (mutual TLS). With
    /// `required` a client without a certificate is refused during the handshake; without,
    /// clients may connect without one, and a certificate they do present must verify.
    pub fn client_ca_pem(mut self, ca: impl Into<Vec<u8>>, required: bool) -> Self {
        self.client_ca = Some(ca.into());
        self.require_client_cert = required;
        self
    }

    /// Like [`client_ca_pem`](Self::client_ca_pem), reading the file now.
    pub fn client_ca_file(self, ca: impl AsRef<Path>, required: bool) -> Result<Self, Error> {
        let pem = pem::read_file("client CA file", ca.as_ref())?;
        Ok(self.client_ca_pem(pem, required))
    }

    /// True when client certificates are verified (a client CA is set).
    pub fn verifies_clients(&self) -> bool {
        self.client_ca.is_some()
    }

    /// The rustls configuration for [`ServerBuilder::tls`](crate::server::ServerBuilder::tls).
    /// [`Error::Config`] when a PEM does not parse or the key does not match the certificate.
    pub fn build(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        let certs = pem::certificates("certificate", &self.cert_chain)?;
        let key = pem::private_key(&self.key)?;
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS server config: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = pem::roots("client CA", ca)?;
                let mut verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                if !self.require_client_cert {
                    verifier = verifier.allow_unauthenticated();
                }
                let verifier = verifier
                    .build()
                    .map_err(|e| Error::Config(format!("TLS client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(certs, key)
            .map_err(|e| Error::Config(format!("TLS certificate and key: {e}")))?;
        Ok(Arc::new(config))
    }
}

/// The client side of TLS: which CAs to trust (default: the system's CA bundle), the name
/// the server's certificate must carry (default: the host dialed), and optionally a client
/// certificate for servers that require one (mutual TLS).
///
/// ```no_run
/// # async fn run() -> Result<(), rpcx::Error> {
/// use rpcx::client::{Client, ClientOptions};
/// use rpcx::transport::tls::ClientTlsConfig;
/// let tls = ClientTlsConfig::new()
///     .ca_file("ca.pem")?
///     .client_cert_files("client.pem", "client.key")?; // only for mutual TLS
/// let client = Client::connect("tcp@127.0.0.1:8972", ClientOptions::default().with_tls(tls.build()?)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct ClientTlsConfig {
    ca: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    server_name: Option<String>,
    insecure: bool,
}

impl fmt::Debug for ClientTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsConfig")
            .field("ca", &self.ca.is_some())
            .field("client_cert", &self.identity.is_some())
            .field("server_name", &self.server_name)
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl ClientTlsConfig {
    /// Trusts the system's CA bundle, checks the name of the host dialed, no client
    /// certificate.
    pub fn new() -> Self {
        ClientTlsConfig::default()
    }

    /// Trusts exactly the CA certificates of this PEM bundle (instead of the system's).
    pub fn ca_pem(mut self, ca: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(ca.into());
        self
    }

    /// Like [`ca_pem`](Self::ca_pem), reading the file now.
    pub fn ca_file(self, ca: impl AsRef<Path>) -> Result<Self, Error> {
        let pem = pem::read_file("CA file", ca.as_ref())?;
        Ok(self.ca_pem(pem))
    }

    /// Presents this certificate chain (PEM, the client's certificate first) and private key
    /// to servers that ask for one (mutual TLS).
    pub fn client_cert_pem(
        mut self,
        cert_chain: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.identity = Some((cert_chain.into(), key.into()));
        self
    }

    /// Like [`client_cert_pem`](Self::client_cert_pem), reading both files now.
    pub fn client_cert_files(
        self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, Error> {
        let cert = pem::read_file("client certificate file", cert_chain.as_ref())?;
        let key = pem::read_file("client key file", key.as_ref())?;
        Ok(self.client_cert_pem(cert, key))
    }

    /// The name (DNS name or IP address) the server's certificate must be valid for, instead
    /// of the host of the address dialed. Needed for Unix sockets and for servers reached
    /// by an address their certificate does not name. An empty name restores the default.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into()).filter(|n| !n.is_empty());
        self
    }

    /// DANGER: accepts any server certificate — expired, self-signed, for another name —
    /// so anyone on the network path can impersonate the server. Handshake signatures are
    /// still checked. For tests against throwaway certificates only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.insecure = accept;
        self
    }

    /// True when [`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs) is on.
    pub fn accepts_invalid_certs(&self) -> bool {
        self.insecure
    }

    /// The explicit server name, if one was set.
    pub fn server_name_override(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The CA bundle trusted: the one given or the system's.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn ca_bundle(&self) -> Result<Vec<u8>, Error> {
        match &self.ca {
            Some(ca) => Ok(ca.clone()),
            None => pem::system_bundle(),
        }
    }

    /// The client certificate chain and key, if one was set.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn identity(&self) -> Option<(&[u8], &[u8])> {
        self.identity
            .as_ref()
            .map(|(c, k)| (c.as_slice(), k.as_slice()))
    }

    /// The rustls client configuration. [`Error::Config`] when a PEM does not parse, no CA
    /// is given and no system bundle exists, or the server name is not a DNS name or IP.
    pub fn rustls_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        let roots = match (&self.ca, self.insecure) {
            (_, true) => None,
            (Some(ca), false) => Some(pem::roots("CA", ca)?),
            (None, false) => Some(pem::system_roots()?),
        };
        self.config_with(roots)
    }

    /// Checks what was given — the CA bundle, the client certificate and its key, the server
    /// name — as [`rustls_config`](Self::rustls_config) would, without reading the system CA
    /// bundle (so settings can be checked one by one, in any order).
    pub fn check(&self) -> Result<(), Error> {
        let roots = match &self.ca {
            Some(ca) => pem::roots("CA", ca)?,
            None => rustls::RootCertStore::empty(),
        };
        self.config_with(Some(roots)).map(drop)
    }

    /// The configuration with `roots` (`None`: DANGER, no verification).
    fn config_with(
        &self,
        roots: Option<rustls::RootCertStore>,
    ) -> Result<Arc<rustls::ClientConfig>, Error> {
        if let Some(name) = &self.server_name {
            check_server_name(name)?;
        }
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS client config: {e}")))?;
        let builder = match roots {
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider))),
            Some(roots) => builder.with_root_certificates(roots),
        };
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    pem::certificates("client certificate", cert)?,
                    pem::private_key(key)?,
                )
                .map_err(|e| Error::Config(format!("TLS client certificate and key: {e}")))?,
        };
        Ok(Arc::new(config))
    }

    /// The TLS settings of [`ClientOptions::tls`](crate::client::ClientOptions::tls).
    pub fn build(&self) -> Result<ClientTls, Error> {
        Ok(ClientTls {
            config: self.rustls_config()?,
            server_name: self.server_name.clone().unwrap_or_default(),
        })
    }
}

/// Refuses names rustls cannot check a certificate against.
pub(super) fn check_server_name(name: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(name.to_owned()).map_err(|_| {
        Error::Config(format!(
            "TLS server name {name:?} is neither a DNS name nor an IP address"
        ))
    })
}
