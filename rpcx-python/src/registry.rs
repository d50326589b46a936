//! Registry plugins of a Python server (`rpcx.EtcdRegistry`, `rpcx.ConsulRegistry`,
//! `rpcx.RedisRegistry`, `rpcx.ZookeeperRegistry`): they publish the server's services in
//! etcd, Consul, Redis or ZooKeeper as Go's rpcx-etcd / rpcx-consul / rpcx-zookeeper plugins
//! and rpcx's own `RedisRegisterPlugin` do. A registry joins a server with
//! `RawServer.add_registry` (before or after start); the server's graceful stop deletes its
//! keys and closes it. Their base class `rpcx.Registry` holds the registry and carries the
//! members they share.

use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use rpcx::registry::{AnyRegistry, ConsulRegistry, EtcdRegistry, RedisRegistry, ZookeeperRegistry};

use crate::client::seconds;
use crate::errors::{closed, forked, to_py};
use crate::runtime::{wait, wait_for, Owned};
use crate::xclient::type_name;

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

/// The base class of `EtcdRegistry`, `ConsulRegistry`, `RedisRegistry` and
/// `ZookeeperRegistry` (`rpcx.Registry`): the registry they hold and the members they share.
/// It has no constructor: only its subclasses make registries.
#[pyclass(subclass, frozen, name = "Registry", module = "rpcx._rpcx")]
pub struct PyRegistry {
    inner: Owned<AnyRegistry>,
    base_path: String,
}

impl PyRegistry {
    /// Runs `connect` (blocking, interruptible, GIL released) and holds the registry it makes,
    /// whose base path is `base_path` (as given).
    fn connect<R: Into<AnyRegistry> + Send + 'static>(
        py: Python<'_>,
        base_path: &str,
        connect: impl std::future::Future<Output = Result<R, rpcx::Error>> + Send + 'static,
    ) -> PyResult<PyClassInitializer<PyRegistry>> {
        let reg = wait(py, connect)?.map_err(|e| to_py(py, e))?;
        let base = PyRegistry {
            inner: Owned::new(reg.into()),
            base_path: base_path.to_owned(),
        };
        Ok(base.into())
    }

    /// The registry, unless it is closed or was inherited through `fork()`; `what` names the
    /// class in the error.
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
}

#[pymethods]
impl PyRegistry {
    /// Waits (GIL released) until every write queued so far has been tried, at most
    /// `timeout` seconds; `False` if the time ran out. Raises the last write error when a
    /// write is still pending.
    #[pyo3(signature = (timeout=5.0))]
    fn flush(slf: &Bound<'_, Self>, timeout: f64) -> PyResult<bool> {
        let py = slf.py();
        let r = slf.get().registry(py, &type_name(slf.as_any()))?;
        let limit = seconds("timeout", timeout)?;
        match wait_for(py, async move { r.flush().await }, Some(limit))? {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(e)) => Err(to_py(py, e)),
        }
    }

    /// Stops the background work without deleting anything: an etcd lease or a Consul
    /// session is no longer renewed (the keys expire with it), Redis keys are no longer
    /// rewritten (they expire after two update intervals), a ZooKeeper session ends (its
    /// ephemeral nodes go with it).
    fn close(&self) {
        if !self.inner.inherited() {
            self.inner.close();
        }
    }

    /// Whether the keys are written, and why not (`rpcx.RegistryStatus`): a store that
    /// cannot be reached is retried about every refresh period while the server serves.
    #[getter]
    fn status(&self) -> PyRegistryStatus {
        PyRegistryStatus::from(self.inner.status_handle().get())
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The base path as given.
    #[getter]
    fn base_path(&self) -> &str {
        &self.base_path
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
/// `ZookeeperRegistry` object (any `rpcx.Registry`).
pub(crate) fn extract(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<AnyRegistry> {
    match obj.cast::<PyRegistry>() {
        Ok(r) => r.get().registry(py, &type_name(obj)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "registry must be rpcx.EtcdRegistry, rpcx.ConsulRegistry, rpcx.RedisRegistry or rpcx.ZookeeperRegistry, got {}",
            type_name(obj)
        ))),
    }
}

/// Publishes a server's services in etcd v3 (Go's rpcx-etcd layout) under one lease.
#[pyclass(extends = PyRegistry, frozen, name = "EtcdRegistry", module = "rpcx._rpcx")]
pub struct PyEtcdRegistry;

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
    ) -> PyResult<PyClassInitializer<PyEtcdRegistry>> {
        let endpoints = crate::xclient::endpoint_list(endpoints)?;
        let ttl = ttl(update_interval, expired)?;
        let tls = crate::tls::client_settings(tls.as_ref())?;
        let base = base_path.to_owned();
        let address = service_address.unwrap_or_default();
        let registry = PyRegistry::connect(py, base_path, async move {
            match tls {
                Some(tls) => {
                    EtcdRegistry::connect_tls(&endpoints, &base, &address, ttl, &tls).await
                }
                None => EtcdRegistry::connect(&endpoints, &base, &address, ttl).await,
            }
        })?;
        Ok(registry.add_subclass(PyEtcdRegistry))
    }

    /// The lease the keys are written under.
    #[getter]
    fn lease_id(slf: &Bound<'_, Self>) -> i64 {
        match &*slf.as_super().get().inner {
            AnyRegistry::Etcd(r) => r.lease_id(),
            _ => 0,
        }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!(
            "<rpcx.EtcdRegistry {} lease={}>",
            slf.as_super().get().base_path,
            Self::lease_id(slf)
        )
    }
}

/// Publishes a server's services in Consul's KV store (Go's rpcx-consul layout), the node
/// keys held by one session renewed in the background.
#[pyclass(extends = PyRegistry, frozen, name = "ConsulRegistry", module = "rpcx._rpcx")]
pub struct PyConsulRegistry;

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
    ) -> PyResult<PyClassInitializer<PyConsulRegistry>> {
        check_address(address, "Consul")?;
        let ttl = ttl(update_interval, expired)?;
        let tls = crate::tls::client_settings(tls.as_ref())?;
        let (agent, base) = (address.to_owned(), base_path.to_owned());
        let service_address = service_address.unwrap_or_default();
        let registry = PyRegistry::connect(py, base_path, async move {
            match tls {
                Some(tls) => {
                    ConsulRegistry::connect_tls(&agent, &base, &service_address, ttl, &tls).await
                }
                None => ConsulRegistry::connect(&agent, &base, &service_address, ttl).await,
            }
        })?;
        Ok(registry.add_subclass(PyConsulRegistry))
    }

    /// The Consul session holding the node keys.
    #[getter]
    fn session_id(slf: &Bound<'_, Self>) -> String {
        match &*slf.as_super().get().inner {
            AnyRegistry::Consul(r) => r.session_id(),
            _ => String::new(),
        }
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!(
            "<rpcx.ConsulRegistry {} session={}>",
            slf.as_super().get().base_path,
            Self::session_id(slf)
        )
    }
}

/// Publishes a server's services in Redis in the layout of Go rpcx's `RedisRegisterPlugin`
/// (libkv's redis store): node keys rewritten every `update_interval` seconds, expiring after
/// twice that.
#[pyclass(extends = PyRegistry, frozen, name = "RedisRegistry", module = "rpcx._rpcx")]
pub struct PyRedisRegistry;

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
    ) -> PyResult<PyClassInitializer<PyRedisRegistry>> {
        check_address(address, "Redis")?;
        let every = interval(update_interval)?;
        let (redis, base) = (address.to_owned(), base_path.to_owned());
        let service_address = service_address.unwrap_or_default();
        let registry = PyRegistry::connect(py, base_path, async move {
            RedisRegistry::connect(&redis, &base, &service_address, every).await
        })?;
        Ok(registry.add_subclass(PyRedisRegistry))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!("<rpcx.RedisRegistry {}>", slf.as_super().get().base_path)
    }
}

/// Publishes a server's services in ZooKeeper in the layout of Go's rpcx-zookeeper plugin:
/// persistent nodes `/<base>` (data `rpcx_path`) and `/<base>/<Service>` (the service name),
/// and an ephemeral node `/<base>/<Service>/<address>` (the metadata) of the registry's
/// session, which asks for a timeout of twice `update_interval`; an expired session is
/// replaced and every node written again.
#[pyclass(extends = PyRegistry, frozen, name = "ZookeeperRegistry", module = "rpcx._rpcx")]
pub struct PyZookeeperRegistry {
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
    ) -> PyResult<PyClassInitializer<PyZookeeperRegistry>> {
        let ensemble = crate::xclient::zookeeper_ensemble(servers)?;
        let every = interval(update_interval)?;
        let (zk, base) = (ensemble.clone(), base_path.to_owned());
        let service_address = service_address.unwrap_or_default();
        let registry = PyRegistry::connect(py, base_path, async move {
            ZookeeperRegistry::connect(&zk, &base, &service_address, every).await
        })?;
        Ok(registry.add_subclass(PyZookeeperRegistry { servers: ensemble }))
    }

    /// The ensemble's connect string (`host:port[,host:port...]`).
    #[getter]
    fn servers(&self) -> &str {
        &self.servers
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!(
            "<rpcx.ZookeeperRegistry {} {}>",
            slf.get().servers,
            slf.as_super().get().base_path
        )
    }
}
