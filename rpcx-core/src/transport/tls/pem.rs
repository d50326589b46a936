//! PEM material: reading files, parsing certificates, keys and CA bundles, and the system's
//! CA bundle. Every failure is an [`Error::Config`] naming what was being loaded.

use std::path::Path;

use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::RootCertStore;

use crate::Error;

/// Where the system CA bundle is looked for when no CA is given (after `SSL_CERT_FILE`):
/// Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE, and macOS/BSD.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn config(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Config(format!("TLS {what}: {detail}"))
}

/// Reads a PEM file; `what` names it in the error (`CA file`, `certificate file`…).
pub(super) fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| config(what, format!("{}: {e}", path.display())))
}

fn pem_error(e: pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "no PEM block of the expected kind found".into(),
        other => other.to_string(),
    }
}

/// Every certificate of a PEM bundle (at least one).
pub(super) fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| config(what, pem_error(e)))?;
    if certs.is_empty() {
        return Err(config(what, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
pub(super) fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => config("private key", "no PRIVATE KEY block found"),
        other => config("private key", other),
    })
}

/// A root store of every certificate of a PEM bundle (at least one).
pub(super) fn roots(what: &str, pem: &[u8]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(what, pem)? {
        roots.add(cert).map_err(|e| config(what, e))?;
    }
    Ok(roots)
}

/// The system CA bundle: `SSL_CERT_FILE` when set, else the first of the usual files.
pub(super) fn system_bundle() -> Result<Vec<u8>, Error> {
    if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
        return read_file("CA file (SSL_CERT_FILE)", Path::new(&path));
    }
    for path in SYSTEM_BUNDLES {
        if let Ok(pem) = std::fs::read(path) {
            return Ok(pem);
        }
    }
    Err(config(
        "CA",
        "no CA certificate given and no system CA bundle found (give a CA file or set SSL_CERT_FILE)",
    ))
}

/// The system roots; unparsable entries of the bundle are skipped (at least one must load).
pub(super) fn system_roots() -> Result<RootCertStore, Error> {
    let pem = system_bundle()?;
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
    roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(config(
            "CA",
            "the system CA bundle holds no usable certificate",
        ));
    }
    Ok(roots)
}
