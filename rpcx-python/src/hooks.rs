//! The server plugins a Python server can add (`rpcx.IpFilter`, `rpcx.RateLimit`): the core's,
//! configured from Python. Interceptors are Python code (`rpcx.interceptors`) and need none of
//! this: they run on the worker threads with the handler.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use rpcx::server::plugins::{self, IpNet};
use rpcx::server::Plugin;

use crate::client::seconds;

/// Accepts or refuses connections by the client's IP address (the machinery under
/// `rpcx.IpFilter`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct IpFilter {
    inner: Arc<plugins::IpFilter>,
    allow: Vec<String>,
    deny: Vec<String>,
}

fn networks(what: &str, list: Option<Vec<String>>) -> PyResult<(Vec<IpNet>, Vec<String>)> {
    let list = list.unwrap_or_default();
    let nets = list
        .iter()
        .map(|s| {
            s.trim()
                .parse::<IpNet>()
                .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok((nets, list))
}

#[pymethods]
impl IpFilter {
    /// A filter refusing clients in `deny`, and with a non-empty `allow` any client outside
    /// it (CIDR strings such as `10.0.0.0/8`, `::1`).
    #[new]
    #[pyo3(signature = (allow=None, deny=None))]
    fn new(allow: Option<Vec<String>>, deny: Option<Vec<String>>) -> PyResult<IpFilter> {
        let (allow_nets, allow) = networks("allow", allow)?;
        let (deny_nets, deny) = networks("deny", deny)?;
        Ok(IpFilter {
            inner: Arc::new(plugins::IpFilter::new(allow_nets, deny_nets)),
            allow,
            deny,
        })
    }

    /// Whether a client at `peer` (`tcp@1.2.3.4:5678`) may connect.
    fn permits(&self, peer: &str) -> bool {
        self.inner.permits(peer)
    }

    /// The allowed networks, as given.
    #[getter]
    fn allow(&self) -> Vec<String> {
        self.allow.clone()
    }

    /// The denied networks, as given.
    #[getter]
    fn deny(&self) -> Vec<String> {
        self.deny.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "rpcx.IpFilter(allow={:?}, deny={:?})",
            self.allow, self.deny
        )
    }
}

/// A server-wide token bucket on requests (the machinery under `rpcx.RateLimit`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RateLimit {
    fill_interval: f64,
    capacity: u32,
}

#[pymethods]
impl RateLimit {
    /// `capacity` tokens, one more every `fill_interval` seconds.
    #[new]
    fn new(fill_interval: f64, capacity: u32) -> PyResult<RateLimit> {
        if seconds("fill_interval", fill_interval)?.is_zero() {
            return Err(PyValueError::new_err("fill_interval must be > 0"));
        }
        if capacity == 0 {
            return Err(PyValueError::new_err("capacity must be at least 1"));
        }
        Ok(RateLimit {
            fill_interval,
            capacity,
        })
    }

    /// Seconds between two new tokens.
    #[getter]
    fn fill_interval(&self) -> f64 {
        self.fill_interval
    }

    /// Tokens the bucket holds when full.
    #[getter]
    fn capacity(&self) -> u32 {
        self.capacity
    }

    fn __repr__(&self) -> String {
        format!(
            "rpcx.RateLimit(fill_interval={}, capacity={})",
            self.fill_interval, self.capacity
        )
    }
}

/// The core plugins of `objects` (each an `IpFilter` or a `RateLimit`), in order. A
/// `RateLimit` makes a fresh bucket per server.
pub(crate) fn plugins_of(objects: &[Bound<'_, PyAny>]) -> PyResult<Vec<Arc<dyn Plugin>>> {
    objects
        .iter()
        .map(|o| {
            if let Ok(f) = o.cast::<IpFilter>() {
                let p: Arc<dyn Plugin> = f.get().inner.clone();
                return Ok(p);
            }
            if let Ok(r) = o.cast::<RateLimit>() {
                let r = r.get();
                let every = seconds("fill_interval", r.fill_interval)?;
                let p: Arc<dyn Plugin> = Arc::new(plugins::RateLimit::new(every, r.capacity));
                return Ok(p);
            }
            Err(PyTypeError::new_err(format!(
                "plugins must be rpcx.IpFilter or rpcx.RateLimit objects, got {}",
                o.get_type().name()?
            )))
        })
        .collect()
}
