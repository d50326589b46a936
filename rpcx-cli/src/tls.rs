//! TLS settings of the client from the `--tls-*` flags.

use std::path::PathBuf;

use rpcx::transport::tls::ClientTlsConfig;

use crate::cli::TlsArgs;

impl TlsArgs {
    /// The TLS settings, or `None` for plain TCP.
    pub(crate) fn config(&self) -> Result<Option<ClientTlsConfig>, String> {
        let on = self.tls
            || self.tls_ca.is_some()
            || self.tls_cert.is_some()
            || self.tls_server_name.is_some()
            || self.tls_insecure;
        if !on {
            return Ok(None);
        }
        if self.tls_insecure {
            eprintln!("warning: --tls-insecure: the server's certificate is NOT verified");
        }
        let mut c = client_tls(
            self.tls_ca.as_ref(),
            self.tls_cert.as_ref(),
            self.tls_key.as_ref(),
        )?
        .danger_accept_invalid_certs(self.tls_insecure);
        if let Some(name) = &self.tls_server_name {
            c = c.server_name(name);
        }
        Ok(Some(c))
    }
}

/// Client TLS settings from a CA file and a client certificate and key.
pub(crate) fn client_tls(
    ca: Option<&PathBuf>,
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
) -> Result<ClientTlsConfig, String> {
    let mut c = ClientTlsConfig::new();
    if let Some(ca) = ca {
        c = c.ca_file(ca).map_err(|e| e.to_string())?;
    }
    if let (Some(cert), Some(key)) = (cert, key) {
        c = c.client_cert_files(cert, key).map_err(|e| e.to_string())?;
    }
    Ok(c)
}
