//! Registry plugins of a Python server (`rpcx.EtcdRegistry`, `rpcx.ConsulRegistry`,
//! `rpcx.RedisRegistry`, `rpcx.ZookeeperRegistry`): they publish the server's services in
//! etcd, Consul, Redis or ZooKeeper as Go's rpcx-etcd / rpcx-consul / rpcx-zookeeper plugins
//! and rpcx's own `RedisRegisterPlugin` do. A registry joins a server with
//! `RawServer.add_registry` (before or after start); the server's graceful stop deletes its
//! keys and closes it.

use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use rpcx::registry::{AnyRegistry, ConsulRegistry, EtcdRegistry, RedisRegistry, ZookeeperRegistry};

use crate::client::seconds;
use crate::errors::{closed, forked, to_py};
use crate::runtime::{wait, wait_for, Owned};

/// The node keys' time to live, as Go computes it: `update_interval + expired` (`expired`
/// defaults to `update_interval`).
fn ttl(update_interval: f64, expired: Option<f64>) -> PyResult<Duration> {
    let every = interval(update_interval)?;
    let expired = expired
        .map(|e| seconds("expired", e))
        .transpose()?
        .unwrap_or(every);
    Ok(every.saturating_add(expired))
}

/// `update_interval` seconds, which must be more than zero.
fn interval(update_interval: f64) -> PyResult<Duration> {
    let every = seconds("update_interval", update_interval)?;
    if every.is_zero() {
        return Err(PyValueError::new_err("update_interval must be > 0"));
    }
    Ok(every)
}

/// Refuses an empty store address (`store` names the store in the error).
fn check_address(address: &str, store: &str) -> PyResult<()> {
    if address.trim().is_empty() {
        return Err(PyValueError::new_err(format!(
            "the {store} address is empty"
        )));
    }
    Ok(())
}

/// The state every registry class shares.
struct Shared {
    inner: Owned<AnyRegistry>,
}

impl Shared {
    /// Runs `connect` (blocking, interruptible, GIL released) and holds the registry it makes.
    fn connect<R: Into<AnyRegistry> + Send + 'static>(
        py: Python<'_>,
        connect: impl std::future::Future<Output = Result<R, rpcx::Error>> + Send + 'static,
    ) -> PyResult<Shared> {
        let reg = wait(py, connect)?.map_err(|e| to_py(py, e))?;
        Ok(Shared {
            inner: Owned::new(reg.into()),
        })
    }

    fn registry(&self, py: Python<'_>, what: &str) -> PyResult<AnyRegistry> {
        if self.inner.inherited() {
            return Err(forked(py, what));
        }
        if self.inner.is_closed() {
            return Err(closed(
                py,
                &format!("this {what} is closed (a server stopped with it, or close() was called)"),
            ));
        }
        Ok(AnyRegistry::clone(&self.inner))
    }

    fn flush(&self, py: Python<'_>, timeout: f64, what: &str) -> PyResult<bool> {
        let r = self.registry(py, what)?;
        let limit = seconds("timeout", timeout)?;
        match wait_for(py, async move { r.flush().await }, Some(limit))? {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(e)) => Err(to_py(py, e)),
        }
    }

    fn close(&self) {
        if !self.inner.inherited() {
            self.inner.close();
        }
    }

    fn status(&self) -> PyRegistryStatus {
        PyRegistryStatus::from(self.inner.status_handle().get())
    }
}

/// What a registry has achieved (its `status` property): whether the server's keys are
/// written on a live lease or session, and why not.
#[pyclass(frozen, get_all, name = "RegistryStatus", module = "rpcx._rpcx")]
pub struct PyRegistryStatus {
    /// `"etcd"`, `"consul"`, `"redis"` or `"zookeeper"`.
    engine: String,
    /// The store address(es) as given.
    target: String,
    /// True while the keys are written on a live lease or session.
    up: bool,
    /// Why it is down (the store's last error); `None` while up.
    last_error: Option<String>,
    /// Store operations that failed since the registry was created.
    failures: u64,
    /// Seconds it has been down; `None` while up.
    down_for: Option<f64>,
}

impl From<rpcx::registry::RegistryStatus> for PyRegistryStatus {
    fn from(s: rpcx::registry::RegistryStatus) -> PyRegistryStatus {
        PyRegistryStatus {
            engine: s.engine.to_owned(),
            target: s.target,
            up: s.up,
            last_error: s.last_error,
            failures: s.failures,
            down_for: s.down_for.map(|d| d.as_secs_f64()),
        }
    }
}

#[pymethods]
impl PyRegistryStatus {
    fn __repr__(&self) -> String {
        match &self.last_error {
            None => format!(
                "<rpcx.RegistryStatus {} {} up, {} failures>",
                self.engine, self.target, self.failures
            ),
            Some(e) => format!(
                "<rpcx.RegistryStatus {} {} down: {e:?}, {} failures>",
                self.engine, self.target, self.failures
            ),
        }
    }
}

/// The registry held by an `EtcdRegistry`, `ConsulRegistry`, `RedisRegistry` or
/// `ZookeeperRegistry` object.
pub(crate) fn extract(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<AnyRegistry> {
    if let Ok(r) = obj.cast::<PyEtcdRegistry>() {
        return r.get().shared.registry(py, "EtcdRegistry");
    }
    if let Ok(r) = obj.cast::<PyConsulRegistry>() {
        return r.get().shared.registry(py, "ConsulRegistry");
    }
    if let Ok(r) = obj.cast::<PyRedisRegistry>() {
        return r.get().shared.registry(py, "RedisRegistry");
    }
    if let Ok(r) = obj.cast::<PyZookeeperRegistry>() {
        return r.get().shared.registry(py, "ZookeeperRegistry");
    }
    Err(PyTypeError::new_err(format!(
        "registry must be rpcx.EtcdRegistry, rpcx.ConsulRegistry, rpcx.RedisRegistry or rpcx.ZookeeperRegistry, got {}",
        crate::xclient::type_name(obj)
    )))
}

/// Publishes a server's services in etcd v3 (Go's rpcx-etcd layout) under one lease.
#[pyclass(frozen, name = "EtcdRegistry", module = "rpcx._rpcx")]
pub struct PyEtcdRegistry {
    shared: Shared,
    base_path: String,
}

#[pymethods]
impl PyEtcdRegistry {
    /// Connects (blocking, interruptible) and grants the lease, kept alive in the background.
    #[new]
    #[pyo3(signature = (endpoints, base_path="/rpcx", update_interval=60.0, expired=None, service_address=None, tls=None))]
    fn new(
        py: Python<'_>,
        endpoints: &Bound<'_, PyAny>,
        base_path: &str,
        update_interval: f64,
        expired: Option<f64>,
        service_address: Option<String>,
        tls: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyEtcdRegistry> {
        let endpoints = crate::xclient::endpoint_list(endpoints)?;
        let ttl = ttl(update_interval, expired)?;
        let tls = crate::tls::client_settings(tls.as_ref())?;
        let base = base_path.to_owned();
        let address = service_address.unwrap_or_default();
        let shared = Shared::connect(py, async move {
            match tls {
                Some(tls) => {
                    EtcdRegistry::connect_tls(&endpoints, &base, &address, ttl, &tls).await
                }
                None => EtcdRegistry::connect(&endpoints, &base, &address, ttl).await,
            }
        })?;
        Ok(PyEtcdRegistry {
            shared,
            base_path: base_path.to_owned(),
        })
    }

    /// Waits (GIL released) until every write queued so far has been tried, at most
    /// `timeout` seconds; `False` if the time ran out. Raises the last write error when a
    /// write is still pending.
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        self.shared.flush(py, timeout, "EtcdRegistry")
    }

    /// Stops keeping the lease alive, without deleting anything (keys expire with it).
    fn close(&self) {
        self.shared.close()
    }

    /// Whether the keys are written, and why not (`rpcx.RegistryStatus`): a store that
    /// cannot be reached is retried about every refresh period while the server serves.
    #[getter]
    fn status(&self) -> PyRegistryStatus {
        self.shared.status()
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.shared.inner.is_closed()
    }

    /// The lease the keys are written under.
    #[getter]
    fn lease_id(&self) -> i64 {
        match &*self.shared.inner {
            AnyRegistry::Etcd(r) => r.lease_id(),
            _ => 0,
        }
    }

    #[getter]
    fn base_path(&self) -> &str {
        &self.base_path
    }

    fn __repr__(&self) -> String {
        format!(
            "<rpcx.EtcdRegistry {} lease={}>",
            self.base_path,
            self.lease_id()
        )
    }
}

/// Publishes a server's services in Consul's KV store (Go's rpcx-consul layout), the node
/// keys held by one session renewed in the background.
#[pyclass(frozen, name = "ConsulRegistry", module = "rpcx._rpcx")]
pub struct PyConsulRegistry {
    shared: Shared,
    base_path: String,
}

#[pymethods]
impl PyConsulRegistry {
    /// Connects to the agent at `address` (`127.0.0.1:8500`; blocking, interruptible) and
    /// creates the session.
    #[new]
    #[pyo3(signature = (address, base_path="/rpcx", update_interval=60.0, expired=None, service_address=None, tls=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        address: &str,
        base_path: &str,
        update_interval: f64,
        expired: Option<f64>,
        service_address: Option<String>,
        tls: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyConsulRegistry> {
        check_address(address, "Consul")?;
        let ttl = ttl(update_interval, expired)?;
        let tls = crate::tls::client_settings(tls.as_ref())?;
        let (agent, base) = (address.to_owned(), base_path.to_owned());
        let service_address = service_address.unwrap_or_default();
        let shared = Shared::connect(py, async move {
            match tls {
                Some(tls) => {
                    ConsulRegistry::connect_tls(&agent, &base, &service_address, ttl, &tls).await
                }
                None => ConsulRegistry::connect(&agent, &base, &service_address, ttl).await,
            }
        })?;
        Ok(PyConsulRegistry {
            shared,
            base_path: base_path.to_owned(),
        })
    }

    /// As `EtcdRegistry.flush`.
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        self.shared.flush(py, timeout, "ConsulRegistry")
    }

    /// Stops renewing the session, without deleting anything (node keys expire with it).
    fn close(&self) {
        self.shared.close()
    }

    /// Whether the keys are written, and why not (`rpcx.RegistryStatus`): a store that
    /// cannot be reached is retried about every refresh period while the server serves.
    #[getter]
    fn status(&self) -> PyRegistryStatus {
        self.shared.status()
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.shared.inner.is_closed()
    }

    /// The Consul session holding the node keys.
    #[getter]
    fn session_id(&self) -> String {
        match &*self.shared.inner {
            AnyRegistry::Consul(r) => r.session_id(),
            _ => String::new(),
        }
    }

    #[getter]
    fn base_path(&self) -> &str {
        &self.base_path
    }

    fn __repr__(&self) -> String {
        format!(
            "<rpcx.ConsulRegistry {} session={}>",
            self.base_path,
            self.session_id()
        )
    }
}

/// Publishes a server's services in Redis in the layout of Go rpcx's `RedisRegisterPlugin`
/// (libkv's redis store): node keys rewritten every `update_interval` seconds, expiring after
/// twice that.
#[pyclass(frozen, name = "RedisRegistry", module = "rpcx._rpcx")]
pub struct PyRedisRegistry {
    shared: Shared,
    base_path: String,
}

#[pymethods]
impl PyRedisRegistry {
    /// Connects to the Redis server at `address` (`host:port` or
    /// `redis://[:password@]host:port[/db]`; blocking, interruptible) and turns keyspace
    /// notifications on, as libkv does.
    #[new]
    #[pyo3(signature = (address, base_path="/rpcx", update_interval=60.0, service_address=None))]
    fn new(
        py: Python<'_>,
        address: &str,
        base_path: &str,
        update_interval: f64,
        service_address: Option<String>,
    ) -> PyResult<PyRedisRegistry> {
        check_address(address, "Redis")?;
        let every = interval(update_interval)?;
        let (redis, base) = (address.to_owned(), base_path.to_owned());
        let service_address = service_address.unwrap_or_default();
        let shared = Shared::connect(py, async move {
            RedisRegistry::connect(&redis, &base, &service_address, every).await
        })?;
        Ok(PyRedisRegistry {
            shared,
            base_path: base_path.to_owned(),
        })
    }

    /// As `EtcdRegistry.flush`.
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        self.shared.flush(py, timeout, "RedisRegistry")
    }

    /// Stops rewriting the node keys, without deleting anything (they expire after two
    /// update intervals).
    fn close(&self) {
        self.shared.close()
    }

    /// Whether the keys are written, and why not (`rpcx.RegistryStatus`): a store that
    /// cannot be reached is retried about every refresh period while the server serves.
    #[getter]
    fn status(&self) -> PyRegistryStatus {
        self.shared.status()
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.shared.inner.is_closed()
    }

    #[getter]
    fn base_path(&self) -> &str {
        &self.base_path
    }

    fn __repr__(&self) -> String {
        format!("<rpcx.RedisRegistry {}>", self.base_path)
    }
}

/// Publishes a server's services in ZooKeeper in the layout of Go's rpcx-zookeeper plugin:
/// persistent nodes `/<base>` (data `rpcx_path`) and `/<base>/<Service>` (the service name),
/// and an ephemeral node `/<base>/<Service>/<address>` (the metadata) of the registry's
/// session, which asks for a timeout of twice `update_interval`; an expired session is
/// replaced and every node written again.
#[pyclass(frozen, name = "ZookeeperRegistry", module = "rpcx._rpcx")]
pub struct PyZookeeperRegistry {
    shared: Shared,
    base_path: String,
    servers: String,
}

#[pymethods]
impl PyZookeeperRegistry {
    /// Opens the session with the ensemble `servers` (`"host:port[,host:port...]"` or a list
    /// of `host:port`; blocking, interruptible); while the ensemble is unreachable the
    /// registry retries in the background and `flush` raises why. One leading `/` of
    /// `base_path` is dropped, as Go does.
    #[new]
    #[pyo3(signature = (servers, base_path="/rpcx", update_interval=60.0, service_address=None))]
    fn new(
        py: Python<'_>,
        servers: &Bound<'_, PyAny>,
        base_path: &str,
        update_interval: f64,
        service_address: Option<String>,
    ) -> PyResult<PyZookeeperRegistry> {
        let ensemble = crate::xclient::zookeeper_ensemble(servers)?;
        let every = interval(update_interval)?;
        let (zk, base) = (ensemble.clone(), base_path.to_owned());
        let service_address = service_address.unwrap_or_default();
        let shared = Shared::connect(py, async move {
            ZookeeperRegistry::connect(&zk, &base, &service_address, every).await
        })?;
        Ok(PyZookeeperRegistry {
            shared,
            base_path: base_path.to_owned(),
            servers: ensemble,
        })
    }

    /// As `EtcdRegistry.flush`.
    #[pyo3(signature = (timeout=5.0))]
    fn flush(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        self.shared.flush(py, timeout, "ZookeeperRegistry")
    }

    /// Stops checking the session and the nodes and ends the session, without deleting
    /// anything itself: the ephemeral nodes go with the session.
    fn close(&self) {
        self.shared.close()
    }

    /// Whether the keys are written, and why not (`rpcx.RegistryStatus`): a store that
    /// cannot be reached is retried about every refresh period while the server serves.
    #[getter]
    fn status(&self) -> PyRegistryStatus {
        self.shared.status()
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.shared.inner.is_closed()
    }

    /// The base path as given.
    #[getter]
    fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The ensemble's connect string (`host:port[,host:port...]`).
    #[getter]
    fn servers(&self) -> &str {
        &self.servers
    }

    fn __repr__(&self) -> String {
        format!(
            "<rpcx.ZookeeperRegistry {} {}>",
            self.servers, self.base_path
        )
    }
}
