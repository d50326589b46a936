//! HTTP on the rpcx port: the `rpcx.Server(http_gateway=…, jsonrpc=…, http_connect=…,
//! websocket=…, cors=…, http_request_timeout=…, http_max_header_bytes=…, http_max_headers=…)`
//! options as the core's [`HttpOptions`], and the CORS settings of `rpcx.CorsOptions`.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use rpcx::server::{CorsOptions, HttpOptions};

use crate::client::seconds;

/// `rpcx.CorsOptions` as `(allowed_origins, allowed_methods, allowed_headers, exposed_headers,
/// allow_credentials, max_age)` (checked by the Python class).
pub(crate) type CorsTuple = (
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    bool,
    u32,
);

/// Longest request timeout accepted, in seconds (about 31 years: longer ones would overflow
/// the deadlines computed from it).
const MAX_REQUEST_TIMEOUT_SECS: u64 = 1_000_000_000;

/// The HTTP options of a server from `rpcx.Server`'s arguments; `None` keeps the default.
#[allow(clippy::too_many_arguments)]
pub(crate) fn http_options(
    gateway: bool,
    jsonrpc: bool,
    connect: bool,
    websocket: bool,
    cors: Option<CorsTuple>,
    request_timeout: Option<f64>,
    max_header_bytes: Option<usize>,
    max_headers: Option<usize>,
) -> PyResult<HttpOptions> {
    let mut http = HttpOptions {
        gateway,
        jsonrpc,
        connect,
        websocket,
        cors: cors.map(
            |(origins, methods, headers, exposed, credentials, max_age)| CorsOptions {
                allowed_origins: origins,
                allowed_methods: methods,
                allowed_headers: headers,
                exposed_headers: exposed,
                allow_credentials: credentials,
                max_age_secs: max_age,
            },
        ),
        ..HttpOptions::default()
    };
    if let Some(t) = request_timeout {
        let d = seconds("http_request_timeout", t)?;
        if d.is_zero() || d > Duration::from_secs(MAX_REQUEST_TIMEOUT_SECS) {
            return Err(PyValueError::new_err(format!(
                "http_request_timeout must be more than 0 and at most {MAX_REQUEST_TIMEOUT_SECS} seconds, got {t}"
            )));
        }
        http.request_timeout = d;
    }
    if let Some(n) = max_header_bytes {
        if n == 0 {
            return Err(PyValueError::new_err(
                "http_max_header_bytes must be at least 1",
            ));
        }
        http.max_header_bytes = n;
    }
    if let Some(n) = max_headers {
        http.max_headers = n;
    }
    Ok(http)
}

/// The settings of `rpcx.CorsOptions.allow_all()`: Go's `AllowAllCORSOptions()` as the core
/// defines it.
#[pyfunction]
pub(crate) fn cors_allow_all() -> CorsTuple {
    let c = CorsOptions::allow_all();
    (
        c.allowed_origins,
        c.allowed_methods,
        c.allowed_headers,
        c.exposed_headers,
        c.allow_credentials,
        c.max_age_secs,
    )
}
