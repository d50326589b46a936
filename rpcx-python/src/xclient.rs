//! The XClient: calls to one service over the servers of a discovery (`Peer`,
//! `MultipleServers`, `Etcd`, `Consul`, `Redis`, `Zookeeper`, `Dns`), with the select and
//! fail modes of `rpcx::xclient`, broadcast and fork.
//!
//! A custom selector is a Python callable. The core calls selectors synchronously from inside
//! a call, wherever that call is polled; a task-local [`SelectScope`] set around each call
//! tells [`PySelector`] where the Python callable may run:
//!
//! - a blocking call is polled on the Python thread that made it (with the GIL released):
//!   the selector attaches to the interpreter there, for the Python call only;
//! - an async call runs on a runtime thread, which never takes the GIL: the selector is sent
//!   to the caller's event loop through its completion queue and runs there, on the loop
//!   thread, while the runtime thread waits out of the worker set (`block_in_place`) for the
//!   answer, for the loop closing, or for the caller giving up.
//!
//! An exception (or a bad return value) fails that call: the error is parked in the scope and
//! raised instead of the core's "no server" error.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use rpcx::client::{CallOptions, RawResponse};
use rpcx::protocol::SerializeType;
use rpcx::xclient::{
    BreakerConfig, Discovery, FailMode, HealthConfig, SelectMode,
    SelectRequest as CoreSelectRequest, Selector, ServerEntry, XClient, XClientOptions,
};

use crate::client::{options, seconds, serialize_type, LimitsTuple};
use crate::completion::{
    reply_tuple, spawn_with, CallHandle, Cancelled, CompletionQueue, Inner as Queue, Outcome,
};
use crate::errors::{closed, forked, rpc_error, to_py};
use crate::meta::MetaArg;
use crate::runtime::{handle, wait, Owned};

// -- discovery ------------------------------------------------------------------------------

/// `(address, metadata)` pairs of a server list.
fn entries_list(servers: Vec<ServerEntry>) -> Vec<(String, String)> {
    servers.into_iter().map(|s| (s.key, s.metadata)).collect()
}

/// Parses `["tcp@host:port", ("tcp@host:port", "weight=2"), ...]`.
fn parse_servers(servers: &Bound<'_, PyAny>) -> PyResult<Vec<ServerEntry>> {
    if servers.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "servers must be a list of addresses or (address, metadata) pairs, not a str",
        ));
    }
    let mut out = Vec::new();
    for item in servers.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "servers must be a list of addresses or (address, metadata) pairs, got {}",
            type_name(servers)
        ))
    })? {
        let item = item?;
        if let Ok(address) = item.extract::<String>() {
            out.push(ServerEntry::new(check_address(address)?, ""));
        } else if let Ok((address, metadata)) = item.extract::<(String, String)>() {
            out.push(ServerEntry::new(check_address(address)?, metadata));
        } else {
            return Err(PyTypeError::new_err(format!(
                "each server must be an address str or an (address, metadata) pair of str, got {}",
                type_name(&item)
            )));
        }
    }
    Ok(out)
}

fn check_address(address: String) -> PyResult<String> {
    if address.trim().is_empty() {
        return Err(PyValueError::new_err("a server address must not be empty"));
    }
    Ok(address)
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A discovery as the core sees it, with the process that made it.
struct Source {
    discovery: Owned<dyn Discovery>,
    /// False for discoveries that run a watch task on the runtime (etcd, consul, redis,
    /// zookeeper, dns): that task does not exist in a forked child.
    fork_safe: bool,
}

impl Source {
    /// A discovery kept in this process (fixed or updated by the program): fork-safe.
    fn in_process(discovery: impl Discovery) -> Source {
        Source {
            discovery: Owned::from_arc(Arc::new(discovery)),
            fork_safe: true,
        }
    }

    /// A discovery with a watch task on the runtime.
    fn watching(discovery: impl Discovery) -> Source {
        Source {
            discovery: Owned::from_arc(Arc::new(discovery)),
            fork_safe: false,
        }
    }

    fn servers(&self) -> Vec<(String, String)> {
        entries_list(self.discovery.servers())
    }

    fn live(&self, py: Python<'_>, what: &str) -> PyResult<Arc<dyn Discovery>> {
        if !self.fork_safe && self.discovery.inherited() {
            return Err(forked(py, what));
        }
        Ok(self.discovery.arc())
    }

    /// Stops watching (not in a forked child, where the watch task does not exist).
    fn close(&self) {
        if !self.discovery.inherited() {
            self.discovery.close();
        }
    }
}

/// The base class of the `Etcd`, `Consul`, `Redis` and `Zookeeper` discoveries
/// (`rpcx.StoreDiscovery`): the servers of one service registered in a store, watched in the
/// background, and the key prefix watched. It has no constructor: only its subclasses connect.
#[pyclass(subclass, frozen, module = "rpcx._rpcx")]
pub struct StoreDiscovery {
    src: Source,
    prefix: String,
}

impl StoreDiscovery {
    /// Waits (blocking, interruptible) for `connecting` to make the discovery; `prefix`
    /// spells its watched prefix for Python.
    fn connect<D: Discovery>(
        py: Python<'_>,
        connecting: impl Future<Output = Result<D, rpcx::Error>> + Send,
        prefix: impl FnOnce(&D) -> String,
    ) -> PyResult<PyClassInitializer<StoreDiscovery>> {
        let d = wait(py, connecting)?.map_err(|e| to_py(py, e))?;
        let base = StoreDiscovery {
            prefix: prefix(&d),
            src: Source::watching(d),
        };
        Ok(base.into())
    }
}

#[pymethods]
impl StoreDiscovery {
    /// `[(address, metadata)]`, as last read from the store.
    #[getter]
    fn servers(&self) -> Vec<(String, String)> {
        self.src.servers()
    }

    /// The watched prefix: etcd's key prefix `<base_path>/<service>`, Consul's KV prefix
    /// (the same without a leading slash), Redis's key prefix `/<base_path>/<service>`,
    /// ZooKeeper's znode `/<base_path>/<service>` (the base path without its leading `/`).
    #[getter]
    fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Stops watching (XClients keep the last list).
    fn close(&self) {
        self.src.close()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let this = slf.get();
        format!(
            "<rpcx.{} {} {} servers>",
            type_name(slf.as_any()),
            this.prefix,
            this.src.servers().len()
        )
    }
}

/// One fixed server (Go's `Peer2PeerDiscovery`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct Peer {
    src: Source,
}

#[pymethods]
impl Peer {
    #[new]
    #[pyo3(signature = (address, metadata=""))]
    fn new(address: String, metadata: &str) -> PyResult<Peer> {
        let d = rpcx::xclient::Peer::new(check_address(address)?, metadata);
        Ok(Peer {
            src: Source::in_process(d),
        })
    }

    /// `[(address, metadata)]`.
    #[getter]
    fn servers(&self) -> Vec<(String, String)> {
        self.src.servers()
    }

    fn __repr__(&self) -> String {
        let s = self.src.servers();
        format!(
            "<rpcx.Peer {}>",
            s.first().map(|s| s.0.as_str()).unwrap_or("")
        )
    }
}

/// A server list kept by the program; `update()` replaces it at run time and every XClient
/// using it follows (Go's `MultipleServersDiscovery`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct MultipleServers {
    core: Owned<rpcx::xclient::MultipleServers>,
    src: Source,
}

#[pymethods]
impl MultipleServers {
    #[new]
    fn new(servers: &Bound<'_, PyAny>) -> PyResult<MultipleServers> {
        let core = rpcx::xclient::MultipleServers::new(parse_servers(servers)?);
        Ok(MultipleServers {
            src: Source::in_process(core.clone()),
            core: Owned::new(core),
        })
    }

    /// Replaces the server list (addresses or `(address, metadata)` pairs).
    fn update(&self, servers: &Bound<'_, PyAny>) -> PyResult<()> {
        self.core.update(parse_servers(servers)?);
        Ok(())
    }

    /// `[(address, metadata)]`.
    #[getter]
    fn servers(&self) -> Vec<(String, String)> {
        self.src.servers()
    }

    fn __repr__(&self) -> String {
        format!(
            "<rpcx.MultipleServers {} servers>",
            self.src.servers().len()
        )
    }
}

/// Store addresses given as a str (comma-separated) or a list of str; at least one non-empty.
/// `arg` names the argument and `needs` finishes the error for none (`"etcd needs at least
/// one endpoint"`).
fn address_list(addresses: &Bound<'_, PyAny>, arg: &str, needs: &str) -> PyResult<Vec<String>> {
    let addresses: Vec<String> = if let Ok(one) = addresses.extract::<String>() {
        one.split(',').map(|s| s.trim().to_owned()).collect()
    } else {
        addresses.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "{arg} must be a str or a list of str, got {}",
                type_name(addresses)
            ))
        })?
    };
    if addresses.iter().all(|e| e.trim().is_empty()) {
        return Err(PyValueError::new_err(needs.to_owned()));
    }
    Ok(addresses)
}

/// etcd endpoints given as a str (comma-separated) or a list of str; at least one.
pub(crate) fn endpoint_list(endpoints: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    address_list(endpoints, "endpoints", "etcd needs at least one endpoint")
}

/// A ZooKeeper ensemble given as `"host:port[,host:port...]"` or a list of `host:port`, as
/// one connect string (the registry and the discovery take the same argument).
pub(crate) fn zookeeper_ensemble(servers: &Bound<'_, PyAny>) -> PyResult<String> {
    let servers = address_list(servers, "servers", "ZooKeeper needs at least one server")?;
    let servers: Vec<&str> = servers
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    Ok(servers.join(","))
}

/// Servers of one service registered in etcd v3 under `base_path` (Go's rpcx-etcd layout).
#[pyclass(extends = StoreDiscovery, frozen, module = "rpcx._rpcx")]
pub struct Etcd;

#[pymethods]
impl Etcd {
    /// Connects (blocking, interruptible), lists the servers and starts watching them.
    #[new]
    #[pyo3(signature = (endpoints, base_path, service, tls=None))]
    fn new(
        py: Python<'_>,
        endpoints: &Bound<'_, PyAny>,
        base_path: String,
        service: String,
        tls: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Etcd>> {
        let endpoints = endpoint_list(endpoints)?;
        let tls = crate::tls::client_settings(tls.as_ref())?;
        let connecting = async move {
            match tls {
                Some(tls) => {
                    let d = rpcx::xclient::EtcdDiscovery::connect_tls(
                        &endpoints, &base_path, &service, &tls,
                    );
                    d.await
                }
                None => {
                    rpcx::xclient::EtcdDiscovery::connect(&endpoints, &base_path, &service).await
                }
            }
        };
        let base = StoreDiscovery::connect(py, connecting, |d: &rpcx::xclient::EtcdDiscovery| {
            d.prefix().to_owned()
        })?;
        Ok(base.add_subclass(Etcd))
    }
}

/// Servers of one service registered in Consul's KV store under `base_path` (Go's
/// rpcx-consul layout).
#[pyclass(extends = StoreDiscovery, frozen, module = "rpcx._rpcx")]
pub struct Consul;

#[pymethods]
impl Consul {
    /// Connects to the Consul agent at `address` (`127.0.0.1:8500`; blocking,
    /// interruptible), lists the servers and starts watching them.
    #[new]
    #[pyo3(signature = (address, base_path, service, tls=None))]
    fn new(
        py: Python<'_>,
        address: String,
        base_path: String,
        service: String,
        tls: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Consul>> {
        let tls = crate::tls::client_settings(tls.as_ref())?;
        let connecting = async move {
            match tls {
                Some(tls) => {
                    let d = rpcx::xclient::ConsulDiscovery::connect_tls(
                        &address, &base_path, &service, &tls,
                    );
                    d.await
                }
                None => {
                    rpcx::xclient::ConsulDiscovery::connect(&address, &base_path, &service).await
                }
            }
        };
        let base =
            StoreDiscovery::connect(py, connecting, |d: &rpcx::xclient::ConsulDiscovery| {
                d.prefix().to_owned()
            })?;
        Ok(base.add_subclass(Consul))
    }
}

/// Servers of one service registered in Redis under `base_path` in the layout of Go rpcx's
/// `RedisRegisterPlugin` (keys `/<base_path>/<service>/<address>`, libkv `KVPair` values).
#[pyclass(extends = StoreDiscovery, frozen, module = "rpcx._rpcx")]
pub struct Redis;

#[pymethods]
impl Redis {
    /// Connects to the Redis server at `address` (`host:port` or
    /// `redis://[:password@]host:port[/db]`; blocking, interruptible), lists the servers and
    /// starts watching them through keyspace notifications.
    #[new]
    fn new(
        py: Python<'_>,
        address: String,
        base_path: String,
        service: String,
    ) -> PyResult<PyClassInitializer<Redis>> {
        let connecting = async move {
            rpcx::xclient::RedisDiscovery::connect(&address, &base_path, &service).await
        };
        let base = StoreDiscovery::connect(py, connecting, |d: &rpcx::xclient::RedisDiscovery| {
            d.prefix().to_owned()
        })?;
        Ok(base.add_subclass(Redis))
    }
}

/// Servers of one service registered in ZooKeeper under `base_path` in the layout of Go's
/// rpcx-zookeeper plugin (the children of the znode `/<base_path>/<service>`, each node's
/// data the metadata), followed through watches.
#[pyclass(extends = StoreDiscovery, frozen, module = "rpcx._rpcx")]
pub struct Zookeeper;

#[pymethods]
impl Zookeeper {
    /// Connects to the ensemble `servers` (`"host:port[,host:port...]"` or a list of
    /// `host:port`; blocking, interruptible), lists the servers and starts watching them.
    /// One leading `/` of `base_path` is dropped, as Go does.
    #[new]
    fn new(
        py: Python<'_>,
        servers: &Bound<'_, PyAny>,
        base_path: String,
        service: String,
    ) -> PyResult<PyClassInitializer<Zookeeper>> {
        let ensemble = zookeeper_ensemble(servers)?;
        let connecting = async move {
            rpcx::xclient::ZookeeperDiscovery::connect(&ensemble, &base_path, &service).await
        };
        let base =
            StoreDiscovery::connect(py, connecting, |d: &rpcx::xclient::ZookeeperDiscovery| {
                format!("/{}", d.prefix())
            })?;
        Ok(base.add_subclass(Zookeeper))
    }
}

/// The servers behind a DNS name (Go's `NewDNSDiscovery`): each A/AAAA record `ip` is
/// `network@ip:port` (IPv6 bracketed) with no metadata, looked up again every `interval`
/// seconds; a failed lookup keeps the last list.
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct Dns {
    src: Source,
    core: Arc<rpcx::xclient::DnsDiscovery>,
}

#[pymethods]
impl Dns {
    /// Looks `domain` up (blocking, interruptible) with the system's resolver, or with
    /// `nameservers` (`"ip[:port],..."` or a list of them), and starts refreshing it.
    #[new]
    #[pyo3(signature = (domain, port, network="tcp", interval=30.0, nameservers=None))]
    fn new(
        py: Python<'_>,
        domain: String,
        port: u16,
        network: &str,
        interval: f64,
        nameservers: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Dns> {
        let network = network.to_owned();
        if !(interval > 0.0 && interval.is_finite()) {
            return Err(PyValueError::new_err(
                "interval must be a positive number of seconds",
            ));
        }
        let interval = std::time::Duration::from_secs_f64(interval);
        let nameservers = match nameservers {
            None => None,
            Some(ns) => {
                let list: String = if let Ok(one) = ns.extract::<String>() {
                    one
                } else {
                    ns.extract::<Vec<String>>()
                        .map_err(|_| {
                            PyTypeError::new_err(format!(
                                "nameservers must be a str or a list of str, got {}",
                                type_name(&ns)
                            ))
                        })?
                        .join(",")
                };
                Some(
                    rpcx::xclient::DnsDiscovery::parse_nameservers(&list)
                        .map_err(|e| PyValueError::new_err(e.to_string()))?,
                )
            }
        };
        let looking_up = async move {
            match nameservers {
                Some(ns) => {
                    rpcx::xclient::DnsDiscovery::with_nameservers(
                        &domain, &network, port, interval, &ns,
                    )
                    .await
                }
                None => rpcx::xclient::DnsDiscovery::new(&domain, &network, port, interval).await,
            }
        };
        let d = match wait(py, looking_up)? {
            Ok(d) => Arc::new(d),
            Err(rpcx::Error::Config(m)) => return Err(PyValueError::new_err(m)),
            Err(e) => return Err(to_py(py, e)),
        };
        Ok(Dns {
            src: Source {
                discovery: Owned::from_arc(Arc::clone(&d) as Arc<dyn Discovery>),
                fork_safe: false,
            },
            core: d,
        })
    }

    /// `[(address, metadata)]`, as last looked up.
    #[getter]
    fn servers(&self) -> Vec<(String, String)> {
        self.src.servers()
    }

    /// The name looked up.
    #[getter]
    fn domain(&self) -> &str {
        self.core.domain()
    }

    /// Why the latest refresh kept the last list (a failed lookup, or the name without
    /// address); None once a lookup finds addresses again.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.core.last_error()
    }

    /// Stops refreshing (XClients keep the last list).
    fn close(&self) {
        self.src.close()
    }

    fn __repr__(&self) -> String {
        format!(
            "<rpcx.Dns {} {} servers>",
            self.core.domain(),
            self.src.servers().len()
        )
    }
}

fn discovery_of(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Arc<dyn Discovery>> {
    if let Ok(d) = obj.cast::<Peer>() {
        return d.get().src.live(py, "Peer");
    }
    if let Ok(d) = obj.cast::<MultipleServers>() {
        return d.get().src.live(py, "MultipleServers");
    }
    if let Ok(d) = obj.cast::<StoreDiscovery>() {
        let what = format!("{} discovery", type_name(obj));
        return d.get().src.live(py, &what);
    }
    if let Ok(d) = obj.cast::<Dns>() {
        return d.get().src.live(py, "Dns discovery");
    }
    Err(PyTypeError::new_err(format!(
        "discovery must be rpcx.Peer, rpcx.MultipleServers, rpcx.Etcd, rpcx.Consul, rpcx.Redis, rpcx.Zookeeper or rpcx.Dns, got {}",
        type_name(obj)
    )))
}

// -- custom selector ------------------------------------------------------------------------

tokio::task_local! {
    /// Where the custom selector of the call running in this task runs, and its failure.
    static SELECT_SCOPE: Arc<SelectScope>;
}

/// What [`PySelector`] needs to know about the call it serves (see the module documentation).
struct SelectScope {
    /// The first selector failure of the call.
    failure: Mutex<Option<PyErr>>,
    /// For async calls: the caller's event loop, reached through its completion queue.
    on_loop: Option<(Arc<Queue>, Cancelled)>,
}

impl SelectScope {
    fn park(&self, err: PyErr) {
        if let Ok(mut s) = self.failure.lock() {
            s.get_or_insert(err);
        }
    }
}

/// What a custom selector is told about the call being placed.
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct SelectRequest {
    service: String,
    method: String,
    payload: Bytes,
}

#[pymethods]
impl SelectRequest {
    /// The service path.
    #[getter]
    fn service(&self) -> &str {
        &self.service
    }

    /// The method.
    #[getter]
    fn method(&self) -> &str {
        &self.method
    }

    /// The encoded arguments.
    #[getter]
    fn payload(&self) -> &[u8] {
        &self.payload
    }

    fn __repr__(&self) -> String {
        format!(
            "<rpcx.SelectRequest {}.{} {} bytes>",
            self.service,
            self.method,
            self.payload.len()
        )
    }
}

/// A selector calling `func(servers, request)`.
struct PySelector {
    state: Arc<SelectorState>,
}

struct SelectorState {
    func: Py<PyAny>,
    servers: RwLock<Arc<Vec<String>>>,
}

/// The request a selector is asked about, owned (to travel to the loop thread).
struct Pick {
    service: String,
    method: String,
    payload: Bytes,
}

impl Pick {
    fn of(req: &CoreSelectRequest<'_>) -> Pick {
        Pick {
            service: req.service.to_owned(),
            method: req.method.to_owned(),
            payload: Bytes::copy_from_slice(req.args),
        }
    }
}

fn selector_error(py: Python<'_>, text: &str) -> PyErr {
    rpc_error(py, "RpcError", text, None, None, Some("selector"))
}

impl SelectorState {
    /// Runs the Python selector (on a Python thread, with the GIL).
    fn pick(&self, py: Python<'_>, req: Pick) -> PyResult<Option<String>> {
        let servers = self
            .servers
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default();
        let list = PyList::new(py, servers.iter())?;
        let request = SelectRequest {
            service: req.service,
            method: req.method,
            payload: req.payload,
        };
        let got = self.func.bind(py).call1((list, request)).map_err(|e| {
            let err = selector_error(py, &format!("custom selector raised {}", describe(py, &e)));
            err.set_cause(py, Some(e));
            err
        })?;
        if got.is_none() {
            return Ok(None);
        }
        let Ok(address) = got.extract::<String>() else {
            return Err(selector_error(
                py,
                &format!(
                    "custom selector must return a server address (str) or None, got {}",
                    type_name(&got)
                ),
            ));
        };
        if !servers.contains(&address) {
            return Err(selector_error(
                py,
                &format!(
                    "custom selector returned {address:?}, which is not one of the servers {:?}",
                    servers.as_slice()
                ),
            ));
        }
        Ok(Some(address))
    }
}

fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an exception".into());
    let text = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if text.is_empty() {
        name
    } else {
        format!("{name}: {text}")
    }
}

impl PySelector {
    /// On the Python thread polling a blocking call.
    fn pick_here(&self, req: Pick) -> PyResult<Option<String>> {
        Python::try_attach(|py| self.state.pick(py, req)).unwrap_or_else(|| {
            Err(PyRuntimeError::new_err(
                "the Python interpreter is shutting down; the custom selector cannot run",
            ))
        })
    }

    /// On the caller's event loop: sent through its completion queue, waited for here (a
    /// runtime thread, out of the worker set) without the GIL.
    fn pick_on_loop(
        &self,
        queue: &Queue,
        cancelled: &Cancelled,
        req: Pick,
    ) -> PyResult<Option<String>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let state = Arc::clone(&self.state);
        let sent = queue.run_on_loop(Box::new(move |py| {
            let _ = tx.send(state.pick(py, req));
        }));
        if !sent {
            return Err(PyRuntimeError::new_err(
                "the event loop of this call is closed; the custom selector cannot run",
            ));
        }
        let answer = || {
            crossbeam_channel::select! {
                recv(rx) -> r => r.unwrap_or_else(|_| Err(PyRuntimeError::new_err(
                    "the event loop of this call closed before the custom selector ran",
                ))),
                recv(cancelled.0) -> _ => Err(PyRuntimeError::new_err("the call was cancelled")),
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(answer)
            }
            _ => answer(),
        }
    }
}

impl Selector for PySelector {
    fn select(&self, req: &CoreSelectRequest<'_>) -> Option<String> {
        let Ok(scope) = SELECT_SCOPE.try_with(Arc::clone) else {
            // Not inside a call of this extension: there is no thread the selector may use.
            return None;
        };
        let req = Pick::of(req);
        let outcome = match &scope.on_loop {
            Some((queue, cancelled)) => self.pick_on_loop(queue, cancelled, req),
            None => self.pick_here(req),
        };
        match outcome {
            Ok(pick) => pick,
            Err(e) => {
                scope.park(e);
                None
            }
        }
    }

    fn update(&self, servers: &[ServerEntry]) {
        let mut keys: Vec<String> = servers.iter().map(|s| s.key.clone()).collect();
        keys.sort_unstable();
        keys.dedup();
        if let Ok(mut s) = self.state.servers.write() {
            *s = Arc::new(keys);
        }
    }
}

// -- the client -----------------------------------------------------------------------------

/// Which fan-out or call a request is.
#[derive(Clone, Copy)]
enum Kind {
    Call,
    Broadcast,
    Fork,
}

impl Kind {
    fn from_name(name: &str) -> PyResult<Kind> {
        match name {
            "call" => Ok(Kind::Call),
            "broadcast" => Ok(Kind::Broadcast),
            "fork" => Ok(Kind::Fork),
            other => Err(PyValueError::new_err(format!(
                "unknown call kind {other:?} (call, broadcast, fork)"
            ))),
        }
    }
}

struct Inner {
    xc: XClient,
    /// The client's serialize type (calls that set none use it).
    serialize: SerializeType,
    custom: bool,
    closed: AtomicBool,
}

/// One request: its serialize type (the client's when the call sets none), payload and
/// options.
struct Request {
    st: SerializeType,
    payload: Bytes,
    options: CallOptions,
}

/// The event loop an async call came from (its completion queue) and the signal that its
/// caller gave up; `None` for blocking calls.
type Origin = Option<(Arc<Queue>, Cancelled)>;

impl Inner {
    /// Runs one call (`kind`).
    async fn run(
        self: Arc<Self>,
        kind: Kind,
        method: String,
        r: Request,
        origin: Origin,
    ) -> Result<RawResponse, Failure> {
        let xc = self.xc.clone();
        let (st, payload, options) = (r.st, r.payload, r.options);
        let call = async move {
            match kind {
                Kind::Call => xc.call_raw(&method, st, payload, options).await,
                Kind::Broadcast => xc.broadcast_raw(&method, st, payload, options).await,
                Kind::Fork => xc.fork_raw(&method, st, payload, options).await,
            }
        };
        self.guarded(call, origin).await
    }

    /// Calls every server and collects each one's outcome.
    async fn inform(
        self: Arc<Self>,
        method: String,
        r: Request,
        origin: Origin,
    ) -> Result<Vec<rpcx::xclient::Receipt<RawResponse>>, Failure> {
        let xc = self.xc.clone();
        let call = async move { xc.inform_raw(&method, r.st, r.payload, r.options).await };
        self.guarded(call, origin).await
    }

    /// Sends one oneway request.
    async fn send(
        self: Arc<Self>,
        method: String,
        r: Request,
        origin: Origin,
    ) -> Result<(), Failure> {
        let xc = self.xc.clone();
        let call = async move { xc.send_raw(&method, r.st, r.payload, r.options).await };
        self.guarded(call, origin).await
    }

    /// Runs `call`; with a custom selector, inside the [`SelectScope`] that says where the
    /// selector runs, and a selector failure parked during the call replaces the core's
    /// error.
    async fn guarded<T>(
        &self,
        call: impl Future<Output = Result<T, rpcx::Error>>,
        origin: Origin,
    ) -> Result<T, Failure> {
        if !self.custom {
            return call.await.map_err(Failure::Rpc);
        }
        let scope = Arc::new(SelectScope {
            failure: Mutex::new(None),
            on_loop: origin,
        });
        let result = SELECT_SCOPE.scope(Arc::clone(&scope), call).await;
        result.map_err(
            |e| match scope.failure.lock().ok().and_then(|mut s| s.take()) {
                Some(py_err) => Failure::Py(py_err),
                None => Failure::Rpc(e),
            },
        )
    }
}

/// Why an XClient call failed.
pub(crate) enum Failure {
    Rpc(rpcx::Error),
    Py(PyErr),
}

impl Failure {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Rpc(e) => to_py(py, e),
            Failure::Py(e) => e,
        }
    }
}

impl From<Failure> for Outcome {
    fn from(f: Failure) -> Outcome {
        match f {
            Failure::Rpc(e) => Outcome::Err(e),
            Failure::Py(e) => Outcome::PyErr(e),
        }
    }
}

fn call_options(
    serialize: Option<u8>,
    metadata: Option<MetaArg>,
    timeout: Option<f64>,
) -> PyResult<CallOptions> {
    Ok(CallOptions {
        metadata: MetaArg::take(metadata),
        timeout: timeout.map(|t| seconds("timeout", t)).transpose()?,
        serialize_type: serialize.map(serialize_type).transpose()?,
    })
}

fn select_mode(mode: u16, location: Option<(f64, f64)>) -> PyResult<SelectMode> {
    Ok(match mode {
        0 => SelectMode::Random,
        1 => SelectMode::RoundRobin,
        2 => SelectMode::WeightedRoundRobin,
        3 => SelectMode::WeightedIcmp,
        4 => SelectMode::ConsistentHash,
        5 => {
            let (latitude, longitude) = location.ok_or_else(|| {
                PyValueError::new_err("SelectMode.CLOSEST needs location=(latitude, longitude)")
            })?;
            if !latitude.is_finite() || !longitude.is_finite() {
                return Err(PyValueError::new_err("location must be finite degrees"));
            }
            SelectMode::Closest {
                latitude,
                longitude,
            }
        }
        6 => SelectMode::HeartbeatRtt,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown select mode {other} (0..=6, or a selector callable)"
            )))
        }
    })
}

fn fail_mode(mode: u8) -> PyResult<FailMode> {
    Ok(match mode {
        0 => FailMode::Failover,
        1 => FailMode::Failfast,
        2 => FailMode::Failtry,
        3 => FailMode::Failbackup,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown fail mode {other} (0..=3)"
            )))
        }
    })
}

/// Calls to one service over the servers of a discovery (the machinery under `rpcx.XClient`
/// and `rpcx.AsyncXClient`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RawXClient {
    inner: Owned<Inner>,
}

impl RawXClient {
    /// The live client and one request made of the call's arguments.
    fn request(
        &self,
        py: Python<'_>,
        serialize_type: Option<u8>,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
    ) -> PyResult<(Arc<Inner>, Request)> {
        let inner = self.live(py)?;
        let options = call_options(serialize_type, metadata, timeout)?;
        let r = Request {
            st: options.serialize_type.unwrap_or(inner.serialize),
            payload: Bytes::copy_from_slice(payload),
            options,
        };
        Ok((inner, r))
    }

    fn live(&self, py: Python<'_>) -> PyResult<Arc<Inner>> {
        if self.inner.inherited() {
            return Err(forked(py, "XClient"));
        }
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(closed(py, "XClient is closed"));
        }
        Ok(self.inner.arc())
    }
}

#[pymethods]
impl RawXClient {
    /// An XClient of `service`. `select_mode` uses Go's numbers (0 random … 5 closest);
    /// `selector`, when given, replaces it. `breaker` is `(failures, open_seconds)`; `health`
    /// is the dead-server detector's `(probe_timeout, max_backoff)` in seconds, `None`: off.
    #[new]
    #[pyo3(signature = (service, discovery, *, fail_mode=0, select_mode=1, selector=None, location=None, retries=3, retry_interval=0.0, group=None, backup_latency=0.01, breaker=None, health=Some((1.0, 2.0)), broadcast_timeout=60.0, serialize_type=3, timeout=None, connect_timeout=1.0, auth=None, compress=None, heartbeat=None, heartbeat_timeout=30.0, limits=None, tls=None, max_unsent_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        service: String,
        discovery: &Bound<'_, PyAny>,
        fail_mode: u8,
        select_mode: u16,
        selector: Option<Bound<'_, PyAny>>,
        location: Option<(f64, f64)>,
        retries: usize,
        retry_interval: f64,
        group: Option<String>,
        backup_latency: f64,
        breaker: Option<(u32, f64)>,
        health: Option<(f64, f64)>,
        broadcast_timeout: f64,
        serialize_type: u8,
        timeout: Option<f64>,
        connect_timeout: f64,
        auth: Option<String>,
        compress: Option<(u8, usize)>,
        heartbeat: Option<f64>,
        heartbeat_timeout: f64,
        limits: Option<LimitsTuple>,
        tls: Option<Bound<'_, PyAny>>,
        max_unsent_bytes: Option<usize>,
    ) -> PyResult<RawXClient> {
        if service.is_empty() {
            return Err(PyValueError::new_err("service must be a non-empty str"));
        }
        let discovery = discovery_of(py, discovery)?;
        let client = options(
            serialize_type,
            timeout,
            connect_timeout,
            auth,
            compress,
            heartbeat,
            heartbeat_timeout,
            limits,
            max_unsent_bytes,
            tls.as_ref(),
        )?;
        let breaker = match breaker {
            None => None,
            Some((threshold, open_for)) => {
                if threshold == 0 {
                    return Err(PyValueError::new_err("breaker failures must be at least 1"));
                }
                Some(BreakerConfig {
                    threshold,
                    open_for: seconds("breaker open time", open_for)?,
                })
            }
        };
        let opts = XClientOptions {
            fail_mode: self::fail_mode(fail_mode)?,
            select_mode: if selector.is_some() {
                SelectMode::RoundRobin
            } else {
                self::select_mode(select_mode, location)?
            },
            retries,
            retry_interval: seconds("retry_interval", retry_interval)?,
            group,
            backup_latency: seconds("backup_latency", backup_latency)?,
            breaker,
            health: match health {
                None => None,
                Some((probe, backoff)) => {
                    let config = HealthConfig {
                        probe_timeout: seconds("health probe timeout", probe)?,
                        max_backoff: seconds("health max backoff", backoff)?,
                    };
                    config
                        .validate()
                        .map_err(|e| PyValueError::new_err(e.to_string()))?;
                    Some(config)
                }
            },
            client,
            broadcast_timeout: seconds("broadcast_timeout", broadcast_timeout)?,
        };
        let custom = selector.is_some();
        let selector: Arc<dyn Selector> = match selector {
            Some(f) => {
                if !f.is_callable() {
                    return Err(PyTypeError::new_err(format!(
                        "selector must be callable as selector(servers, request), got {}",
                        type_name(&f)
                    )));
                }
                Arc::new(PySelector {
                    state: Arc::new(SelectorState {
                        func: f.unbind(),
                        servers: RwLock::new(Arc::new(Vec::new())),
                    }),
                })
            }
            None => opts.select_mode.build(),
        };
        let rt = handle()?;
        let _entered = rt.enter();
        let xc = XClient::with_selector(&service, discovery, selector, opts)
            .map_err(|e| to_py(py, e))?;
        Ok(RawXClient {
            inner: Owned::new(Inner {
                xc,
                serialize: self::serialize_type(serialize_type)?,
                custom,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// A call (`kind`: "call", "broadcast" or "fork"); waits with the GIL released,
    /// interruptible: `(payload, metadata)`.
    #[pyo3(signature = (kind, method, serialize_type, payload, metadata=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn call<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        method: String,
        serialize_type: Option<u8>,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (inner, r) = self.request(py, serialize_type, payload, metadata, timeout)?;
        let kind = Kind::from_name(kind)?;
        let reply = wait(py, inner.run(kind, method, r, None))?;
        reply_tuple(py, &reply.map_err(|f| f.into_py(py))?)
    }

    /// Starts a call; `(payload, metadata)` or the exception arrives on `cq` under `token`.
    #[pyo3(signature = (cq, token, kind, method, serialize_type, payload, metadata=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_call(
        &self,
        py: Python<'_>,
        cq: &CompletionQueue,
        token: u64,
        kind: &str,
        method: String,
        serialize_type: Option<u8>,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
    ) -> PyResult<CallHandle> {
        let (inner, r) = self.request(py, serialize_type, payload, metadata, timeout)?;
        let kind = Kind::from_name(kind)?;
        spawn_with(cq, token, |queue, cancelled| {
            inner.run(kind, method, r, Some((queue, cancelled)))
        })
    }

    /// Calls every server (Go's Inform); waits with the GIL released, interruptible:
    /// `[(server, (payload, metadata) or None, exception or None), ...]` in server order.
    #[pyo3(signature = (method, serialize_type, payload, metadata=None, timeout=None))]
    fn inform<'py>(
        &self,
        py: Python<'py>,
        method: String,
        serialize_type: Option<u8>,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (inner, r) = self.request(py, serialize_type, payload, metadata, timeout)?;
        let receipts = wait(py, inner.inform(method, r, None))?.map_err(|f| f.into_py(py))?;
        crate::completion::receipts_list(py, receipts)
    }

    /// Starts an inform; its list (as `inform` returns) or the exception arrives on `cq`
    /// under `token`.
    #[pyo3(signature = (cq, token, method, serialize_type, payload, metadata=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_inform(
        &self,
        py: Python<'_>,
        cq: &CompletionQueue,
        token: u64,
        method: String,
        serialize_type: Option<u8>,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
    ) -> PyResult<CallHandle> {
        let (inner, r) = self.request(py, serialize_type, payload, metadata, timeout)?;
        spawn_with(cq, token, |queue, cancelled| {
            inner.inform(method, r, Some((queue, cancelled)))
        })
    }

    /// Sends a oneway request to one selected server (no fail mode).
    #[pyo3(signature = (method, serialize_type, payload, metadata=None))]
    fn send(
        &self,
        py: Python<'_>,
        method: String,
        serialize_type: Option<u8>,
        payload: &[u8],
        metadata: Option<MetaArg>,
    ) -> PyResult<()> {
        let (inner, r) = self.request(py, serialize_type, payload, metadata, None)?;
        wait(py, inner.send(method, r, None))?.map_err(|f| f.into_py(py))
    }

    /// Starts a oneway send; `None` or the exception arrives on `cq` under `token`.
    #[pyo3(signature = (cq, token, method, serialize_type, payload, metadata=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_send(
        &self,
        py: Python<'_>,
        cq: &CompletionQueue,
        token: u64,
        method: String,
        serialize_type: Option<u8>,
        payload: &[u8],
        metadata: Option<MetaArg>,
    ) -> PyResult<CallHandle> {
        let (inner, r) = self.request(py, serialize_type, payload, metadata, None)?;
        spawn_with(cq, token, |queue, cancelled| {
            inner.send(method, r, Some((queue, cancelled)))
        })
    }

    /// Uploads the file at `path` (`TransferFile` on this XClient's service, usually
    /// `_filetransfer`) at most `rate` bytes per second (`None`: no limit), on the runtime:
    /// `RawUpload.wait` gives the bytes sent.
    #[pyo3(signature = (path, rate=None, metadata=None))]
    fn send_file(
        &self,
        py: Python<'_>,
        path: std::path::PathBuf,
        rate: Option<u64>,
        metadata: Option<HashMap<String, String>>,
    ) -> PyResult<crate::transfer::RawUpload> {
        let inner = self.live(py)?;
        let (rate, meta) = (
            crate::transfer::rate(rate)?,
            crate::transfer::meta(metadata),
        );
        crate::transfer::RawUpload::start(async move { inner.xc.send_file(path, rate, meta).await })
    }

    /// Starts downloading `name` (`DownloadFile` on this XClient's service); read the bytes
    /// from the returned `RawDownload`.
    #[pyo3(signature = (name, metadata=None))]
    fn download_file(
        &self,
        py: Python<'_>,
        name: String,
        metadata: Option<HashMap<String, String>>,
    ) -> PyResult<crate::transfer::RawDownload> {
        let inner = self.live(py)?;
        let meta = crate::transfer::meta(metadata);
        crate::transfer::RawDownload::start(move |mut pipe| async move {
            inner.xc.download_file(&name, &mut pipe, meta).await
        })
    }

    /// Opens a stream (`Stream` on this XClient's service, usually `_streamservice`); waits
    /// (GIL released, interruptible) and returns the connection's blocking descriptor, which
    /// the caller owns.
    #[pyo3(signature = (metadata=None))]
    fn stream(
        &self,
        py: Python<'_>,
        metadata: Option<HashMap<String, String>>,
    ) -> PyResult<crate::transfer::RawSock> {
        let inner = self.live(py)?;
        let meta = crate::transfer::meta(metadata);
        wait(py, async move {
            crate::transfer::into_fd(inner.xc.stream(meta).await?)
        })?
        .map_err(|e| to_py(py, e))
    }

    /// The stream of server pushes of every connection (`RawPushes`); only once: `None`
    /// afterwards.
    fn take_pushes(&self, py: Python<'_>) -> PyResult<Option<crate::push::RawPushes>> {
        let inner = self.live(py)?;
        Ok(inner.xc.take_pushes().map(crate::push::RawPushes::new))
    }

    /// The servers in use: `[(address, metadata)]` after state and group filtering.
    #[getter]
    fn servers(&self) -> Vec<(String, String)> {
        entries_list(self.inner.xc.servers())
    }

    /// The service path.
    #[getter]
    fn service(&self) -> String {
        self.inner.xc.service().to_owned()
    }

    /// Closes every connection; later calls raise `ClosedError`. Idempotent.
    fn close(&self) {
        if !self.inner.inherited() && !self.inner.closed.swap(true, Ordering::AcqRel) {
            self.inner.xc.close();
        }
    }

    /// True once closed (always true in a forked child).
    #[getter]
    fn closed(&self) -> bool {
        self.inner.inherited() || self.inner.closed.load(Ordering::Acquire)
    }
}
