//! TLS settings from `rpcx.TLSConfig` (rpcx/tls.py), which reads its PEM files and hands
//! them over as `(ca, cert, key, server_name, require_client_cert)`: bytes or `None`, str or
//! `None`, bool.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use rpcx::transport::tls::{rustls, ClientTls, ClientTlsConfig, ServerTlsConfig};

/// The PEM material of one `TLSConfig`.
struct Material {
    ca: Option<Vec<u8>>,
    cert: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    server_name: Option<String>,
    require_client_cert: bool,
}

fn pem(item: Bound<'_, PyAny>, what: &str) -> PyResult<Option<Vec<u8>>> {
    if item.is_none() {
        return Ok(None);
    }
    let bytes = item
        .cast::<PyBytes>()
        .map_err(|_| PyTypeError::new_err(format!("TLS {what} must be bytes or None")))?;
    Ok(Some(bytes.as_bytes().to_vec()))
}

/// The material of an `rpcx.TLSConfig`, or of the 5-tuple its `_material()` returns (what
/// the package's Python code passes).
fn material(tls: &Bound<'_, PyAny>) -> PyResult<Material> {
    let wrong = || {
        PyTypeError::new_err(format!(
            "tls must be an rpcx.TLSConfig or None, got {}",
            tls.get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string())
        ))
    };
    let config_class = tls.py().import("rpcx.tls")?.getattr("TLSConfig")?;
    let owned;
    let t = if tls.is_instance(&config_class)? {
        owned = tls.call_method0("_material")?;
        owned.cast::<PyTuple>().map_err(|_| wrong())?
    } else {
        tls.cast::<PyTuple>().map_err(|_| wrong())?
    };
    if t.len() != 5 {
        return Err(wrong());
    }
    Ok(Material {
        ca: pem(t.get_item(0)?, "CA")?,
        cert: pem(t.get_item(1)?, "certificate")?,
        key: pem(t.get_item(2)?, "key")?,
        server_name: t.get_item(3)?.extract()?,
        require_client_cert: t.get_item(4)?.extract()?,
    })
}

fn config_error(e: rpcx::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn client_config(m: Material) -> PyResult<ClientTlsConfig> {
    if m.require_client_cert {
        return Err(PyValueError::new_err(
            "require_client_cert is a server setting; a client's TLSConfig cannot use it",
        ));
    }
    let mut c = ClientTlsConfig::new();
    if let Some(ca) = m.ca {
        c = c.ca_pem(ca);
    }
    match (m.cert, m.key) {
        (Some(cert), Some(key)) => c = c.client_cert_pem(cert, key),
        (None, None) => {}
        _ => return Err(PyValueError::new_err("cert_file and key_file go together")),
    }
    if let Some(name) = m.server_name {
        c = c.server_name(name);
    }
    Ok(c)
}

/// The client-side settings of `tls` (`None`: plain TCP), unbuilt: registry connections
/// (etcd, Consul) take them as they are.
pub(crate) fn client_settings(tls: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ClientTlsConfig>> {
    tls.map(|t| client_config(material(t)?)).transpose()
}

/// The client-side TLS of `tls` (`None`: plain TCP); reads the system CA bundle when no CA
/// is given.
pub(crate) fn client(tls: Option<&Bound<'_, PyAny>>) -> PyResult<Option<ClientTls>> {
    client_settings(tls)?
        .map(|c| c.build().map_err(config_error))
        .transpose()
}

/// The server-side TLS of `tls` (`None`: plain TCP).
pub(crate) fn server(
    tls: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Arc<rustls::ServerConfig>>> {
    let Some(tls) = tls else { return Ok(None) };
    let m = material(tls)?;
    if m.server_name.is_some() {
        return Err(PyValueError::new_err(
            "server_name is a client setting; a server's TLSConfig cannot use it",
        ));
    }
    let (Some(cert), Some(key)) = (m.cert, m.key) else {
        return Err(PyValueError::new_err(
            "a server's TLSConfig needs cert_file and key_file",
        ));
    };
    let mut s = ServerTlsConfig::from_pem(cert, key);
    match m.ca {
        Some(ca) => s = s.client_ca_pem(ca, m.require_client_cert),
        None if m.require_client_cert => {
            return Err(PyValueError::new_err(
                "require_client_cert needs ca_file (the CA client certificates must chain to)",
            ))
        }
        None => {}
    }
    s.build().map(Some).map_err(config_error)
}

/// Checks the PEM material of a `TLSConfig` as it is made: the CA bundle parses, the
/// certificate and key parse and belong together, the server name is a DNS name or an IP.
/// Raises `ValueError` naming what is wrong.
#[pyfunction]
pub(crate) fn tls_check(tls: &Bound<'_, PyAny>) -> PyResult<()> {
    let mut m = material(tls)?;
    m.require_client_cert = false;
    client_config(m)?.check().map_err(config_error)
}
