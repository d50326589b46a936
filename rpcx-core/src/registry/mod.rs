//! Server-side registry plugins: publish this server's services in a registry so that
//! XClients using the matching discovery find it.
//!
//! Both plugins write, for every registered service `S`, the keys
//! `<base>` = `rpcx_path`, `<base>/<S>` = `<S>` and `<base>/<S>/<service_address>` = the
//! service's metadata (set with [`Server::set_service_metadata`](crate::server::Server::set_service_metadata)
//! before registering the service). Registration is written at once (Go's plugin waits for
//! its first refresh tick); a graceful [`shutdown`](crate::server::ServerHandle::shutdown)
//! deletes the node keys at once; a process that dies loses its keys when its lease (etcd) or
//! session (Consul) expires.
//!
//! [`Plugin`] hooks are synchronous, so each plugin queues its writes
//! to a background task on the runtime it was created on; `flush().await` waits until every
//! queued write has been tried. That task is the same loop for every engine, written once
//! over the engine's key-value store (the crate-private `kv::KvStore` trait).
//!
//! ```no_run
//! # #[cfg(feature = "etcd")]
//! # async fn run() -> Result<(), rpcx::Error> {
//! use std::time::Duration;
//! use rpcx::registry::EtcdRegistry;
//! use rpcx::server::Server;
//!
//! // An empty service address means "the address the server listens on".
//! let registry = EtcdRegistry::connect(&["127.0.0.1:2379"], "/rpcx_test", "", Duration::from_secs(30)).await?;
//! let mut server = Server::builder().plugin(registry.clone()).build();
//! rpcx::arith::register(&mut server)?;
//! let handle = server.serve("tcp@127.0.0.1:8972").await?;
//! registry.flush().await?; // registered
//! handle.shutdown(Duration::from_secs(5)).await;
//! registry.flush().await?; // unregistered
//! # Ok(()) }
//! ```

#[cfg(feature = "consul")]
mod consul;
#[cfg(feature = "etcd")]
mod etcd;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "zookeeper")]
mod zookeeper;

pub use crate::server::registry_status::{prometheus_text, RegistryStatus, RegistryStatusHandle};

#[cfg(feature = "consul")]
pub use consul::ConsulRegistry;
#[cfg(feature = "etcd")]
pub use etcd::EtcdRegistry;
#[cfg(feature = "redis")]
pub use redis::RedisRegistry;
#[cfg(feature = "zookeeper")]
pub(crate) use zookeeper::store_base as zookeeper_store_base;
#[cfg(feature = "zookeeper")]
pub use zookeeper::ZookeeperRegistry;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::kv::{node_key, KvStore, StoreError};
use crate::server::Plugin;
use crate::Error;

/// Either registry plugin, for servers that keep a list of them (the C and Python servers):
/// add [`plugin`](Self::plugin) to the server, [`finish`] them after a graceful shutdown.
#[derive(Clone, Debug)]
pub enum AnyRegistry {
    /// An etcd v3 registry.
    #[cfg(feature = "etcd")]
    Etcd(EtcdRegistry),
    /// A Consul KV registry.
    #[cfg(feature = "consul")]
    Consul(ConsulRegistry),
    /// A Redis registry (Go's `RedisRegisterPlugin` layout).
    #[cfg(feature = "redis")]
    Redis(RedisRegistry),
    /// A [`ZookeeperRegistry`].
    #[cfg(feature = "zookeeper")]
    Zookeeper(ZookeeperRegistry),
}

#[cfg(feature = "redis")]
impl From<RedisRegistry> for AnyRegistry {
    fn from(r: RedisRegistry) -> AnyRegistry {
        AnyRegistry::Redis(r)
    }
}

#[cfg(feature = "zookeeper")]
impl From<ZookeeperRegistry> for AnyRegistry {
    fn from(r: ZookeeperRegistry) -> AnyRegistry {
        AnyRegistry::Zookeeper(r)
    }
}

#[cfg(feature = "etcd")]
impl From<EtcdRegistry> for AnyRegistry {
    fn from(r: EtcdRegistry) -> AnyRegistry {
        AnyRegistry::Etcd(r)
    }
}

#[cfg(feature = "consul")]
impl From<ConsulRegistry> for AnyRegistry {
    fn from(r: ConsulRegistry) -> AnyRegistry {
        AnyRegistry::Consul(r)
    }
}

impl AnyRegistry {
    /// The registry as a server plugin (a clone sharing its background task).
    pub fn plugin(&self) -> Arc<dyn Plugin> {
        match self {
            #[cfg(feature = "etcd")]
            AnyRegistry::Etcd(r) => Arc::new(r.clone()),
            #[cfg(feature = "consul")]
            AnyRegistry::Consul(r) => Arc::new(r.clone()),
            #[cfg(feature = "redis")]
            AnyRegistry::Redis(r) => Arc::new(r.clone()),
            #[cfg(feature = "zookeeper")]
            AnyRegistry::Zookeeper(r) => Arc::new(r.clone()),
        }
    }

    /// Waits until every write queued so far has been tried (see [`EtcdRegistry::flush`]).
    pub async fn flush(&self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "etcd")]
            AnyRegistry::Etcd(r) => r.flush().await,
            #[cfg(feature = "consul")]
            AnyRegistry::Consul(r) => r.flush().await,
            #[cfg(feature = "redis")]
            AnyRegistry::Redis(r) => r.flush().await,
            #[cfg(feature = "zookeeper")]
            AnyRegistry::Zookeeper(r) => r.flush().await,
        }
    }

    /// Stops the background task (lease or session renewal) without deleting anything.
    pub fn close(&self) {
        match self {
            #[cfg(feature = "etcd")]
            AnyRegistry::Etcd(r) => r.close(),
            #[cfg(feature = "consul")]
            AnyRegistry::Consul(r) => r.close(),
            #[cfg(feature = "redis")]
            AnyRegistry::Redis(r) => r.close(),
            #[cfg(feature = "zookeeper")]
            AnyRegistry::Zookeeper(r) => r.close(),
        }
    }

    /// The registry's state, kept current (see [`RegistryStatus`]).
    pub fn status_handle(&self) -> RegistryStatusHandle {
        self.queue().status.clone()
    }

    fn queue(&self) -> &Queue {
        match self {
            #[cfg(feature = "etcd")]
            AnyRegistry::Etcd(r) => &r.queue,
            #[cfg(feature = "consul")]
            AnyRegistry::Consul(r) => &r.queue,
            #[cfg(feature = "redis")]
            AnyRegistry::Redis(r) => &r.queue,
            #[cfg(feature = "zookeeper")]
            AnyRegistry::Zookeeper(r) => &r.queue,
        }
    }

    /// True once [`close`](Self::close)d: it no longer writes anything.
    pub fn is_closed(&self) -> bool {
        self.queue().stop.is_cancelled()
    }
}

/// How long [`finish`] waits for one registry by default.
pub const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// What a server does with its registries after a graceful shutdown unregistered its
/// services: waits until each has tried its deletes (at most `limit` each), then closes
/// them all.
pub async fn finish(registries: &[AnyRegistry], limit: Duration) {
    for r in registries {
        let _ = tokio::time::timeout(limit, r.flush()).await;
    }
    for r in registries {
        r.close();
    }
    // Until each background task has ended and dropped its store connection (bounded:
    // closing wakes it at once unless a store request is under way).
    for r in registries {
        let _ = tokio::time::timeout(limit, r.queue().ended.cancelled()).await;
    }
}

/// The handle half of a registry plugin: the synchronous hooks queue [`Command`]s for the
/// background task, which stops when `stop` is cancelled.
#[derive(Clone, Debug)]
pub(crate) struct Queue {
    tx: mpsc::UnboundedSender<Command>,
    pub(crate) stop: CancellationToken,
    /// `"etcd registry"`, `"consul registry"`: the plugin name and the prefix of its errors.
    name: &'static str,
    /// What the background task has achieved.
    pub(crate) status: RegistryStatusHandle,
    /// Cancelled once the background task has ended (its store dropped).
    ended: CancellationToken,
}

impl Queue {
    /// A queue and the receiver its background task reads.
    fn new(
        name: &'static str,
        status: RegistryStatusHandle,
    ) -> (Queue, mpsc::UnboundedReceiver<Command>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        (
            Queue {
                tx,
                stop,
                name,
                status,
                ended: CancellationToken::new(),
            },
            rx,
        )
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn register(&self, service: &str, metadata: &str) {
        let _ = self.tx.send(Command::Register {
            service: service.to_owned(),
            metadata: metadata.to_owned(),
        });
    }

    pub(crate) fn unregister(&self, service: &str) {
        let _ = self.tx.send(Command::Unregister {
            service: service.to_owned(),
        });
    }

    pub(crate) fn started(&self, address: &str) {
        let _ = self.tx.send(Command::Started {
            address: address.to_owned(),
        });
    }

    /// The plugin's registration hook: refuses an empty name (Go's text), else publishes.
    pub(crate) fn on_register(&self, service: &str, metadata: &str) -> Result<(), String> {
        if service.trim().is_empty() {
            return Err("Register service `name` can't be empty".into());
        }
        self.register(service, metadata);
        Ok(())
    }

    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let closed = || Error::Registration(format!("{} is closed", self.name));
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Flush(reply)).map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?.map_err(Error::Registration)
    }
}

/// The methods every registry type with a `queue: Queue` field shares, and its `impl
/// Plugin`: registration, shutdown and start hooks go to the queue.
macro_rules! registry_plugin {
    ($t:ty) => {
        impl $t {
            /// Publishes `service` with `metadata` (what registering it on a server with this
            /// plugin does). Registering again with other metadata updates the node key.
            pub fn register(&self, service: &str, metadata: &str) {
                self.queue.register(service, metadata);
            }

            /// Deletes `service`'s node key (what a graceful shutdown does for every service).
            pub fn unregister(&self, service: &str) {
                self.queue.unregister(service);
            }

            /// Waits until every write queued so far has been tried; returns the last write
            /// error if any is still pending (failed writes are retried on every refresh,
            /// about every third of the TTL).
            pub async fn flush(&self) -> Result<(), $crate::Error> {
                self.queue.flush().await
            }

            /// Stops refreshing the lease or session and writing, without deleting anything:
            /// the node keys vanish when it expires, exactly as if the process had been
            /// killed.
            pub fn close(&self) {
                self.queue.stop.cancel();
            }

            /// Whether the server's keys are written on a live lease or session, and why
            /// not (see [`RegistryStatus`](crate::registry::RegistryStatus)). A registry whose
            /// store cannot be reached (at start or later) keeps retrying every refresh
            /// period while the server serves on.
            pub fn status(&self) -> $crate::registry::RegistryStatus {
                self.queue.status.get()
            }

            /// A shared view of [`status`](Self::status), e.g. for
            /// [`Metrics::track_registry`](crate::server::Metrics::track_registry).
            pub fn status_handle(&self) -> $crate::registry::RegistryStatusHandle {
                self.queue.status.clone()
            }
        }

        impl $crate::server::Plugin for $t {
            fn name(&self) -> &str {
                self.queue.name()
            }

            fn on_register(
                &self,
                service: &str,
                _method: &str,
                metadata: &str,
            ) -> Result<(), String> {
                self.queue.on_register(service, metadata)
            }

            fn on_unregister(&self, service: &str) {
                self.queue.unregister(service);
            }

            fn on_start(&self, address: &str) {
                self.queue.started(address);
            }
        }
    };
}
use registry_plugin;

/// Work queued by the synchronous plugin hooks for a registry's background task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Publish (or re-publish) a service with this metadata.
    Register { service: String, metadata: String },
    /// Delete this service's node key.
    Unregister { service: String },
    /// The server listens here (used when no service address was configured).
    Started { address: String },
    /// Answer once everything queued before has been tried.
    Flush(oneshot::Sender<Result<(), String>>),
}

/// The registered services of one server and what still has to be written.
#[derive(Debug, Default)]
pub(crate) struct Published {
    /// service → metadata.
    pub(crate) services: std::collections::BTreeMap<String, String>,
    /// Services whose keys must be (re)written.
    pub(crate) dirty: std::collections::BTreeSet<String>,
    /// Node keys to delete (services unregistered), not yet done.
    pub(crate) deletes: std::collections::BTreeSet<String>,
    /// Last write error, reported by the next flush.
    pub(crate) last_error: Option<String>,
}

impl Published {
    /// Applies a register / unregister command.
    pub(crate) fn apply(&mut self, cmd: &Command) {
        match cmd {
            Command::Register { service, metadata } => {
                if self.services.get(service) != Some(metadata) {
                    self.services.insert(service.clone(), metadata.clone());
                    self.dirty.insert(service.clone());
                }
                self.deletes.remove(service);
            }
            Command::Unregister { service } => {
                if self.services.remove(service).is_some() {
                    self.dirty.remove(service);
                    self.deletes.insert(service.clone());
                }
            }
            Command::Started { .. } | Command::Flush(_) => {}
        }
    }

    /// Marks every registered service for rewriting (after a lease or session was lost).
    pub(crate) fn all_dirty(&mut self) {
        self.dirty = self.services.keys().cloned().collect();
    }
}

/// What a registry's constructor hands to [`spawn_worker`]: the store, whose first
/// [`KvStore::new_session`] it has tried, and where it publishes.
pub(crate) struct WorkerSpec<S> {
    pub(crate) store: S,
    /// The outcome of the first `new_session`: a failure does not stop the registry, whose
    /// loop retries every refresh period while the server serves.
    pub(crate) first_session: Result<(), Error>,
    /// `"etcd registry"`…: the plugin name.
    pub(crate) name: &'static str,
    /// `"etcd"`…: the engine label of its status and metrics.
    pub(crate) engine: &'static str,
    /// The configured endpoints, for status, metrics and log lines.
    pub(crate) target: String,
    /// The store's spelling of the base path.
    pub(crate) base: String,
    /// The service address, empty for "the address the server starts on".
    pub(crate) address: String,
}

/// Starts the one registration loop over a store and returns the queue its plugin hooks
/// write to. A first session that failed because the store is unreachable or refusing for
/// now is retried by the loop; one that failed for a reason retrying cannot cure (a
/// certificate the store does not accept, or it ours, refused credentials, a bad setting)
/// is returned, so that a misconfiguration is reported where it is made.
pub(crate) fn spawn_worker<S: KvStore>(spec: WorkerSpec<S>) -> Result<Queue, Error> {
    if let Err(e) = &spec.first_session {
        if is_permanent(e) {
            return Err(spec.first_session.unwrap_err());
        }
    }
    let status = RegistryStatusHandle::new(spec.engine, spec.target.clone());
    let (queue, rx) = Queue::new(spec.name, status.clone());
    let mut worker = Worker {
        session: spec.first_session.is_ok(),
        store: spec.store,
        name: spec.name,
        target: spec.target,
        base: spec.base,
        address: spec.address,
        state: Published::default(),
        status,
        failing: false,
        last_ok: spec.first_session.is_ok(),
        retry_at: None,
    };
    match spec.first_session {
        Ok(()) => worker.settle(),
        Err(e) => {
            worker.failed(&e.to_string());
            worker.retry_at = Some(std::time::Instant::now() + worker.store.refresh_period() / 4);
        }
    }
    let (stop, ended) = (queue.stop.clone(), queue.ended.clone());
    tokio::spawn(async move {
        worker.run(rx, stop).await;
        ended.cancel();
    });
    Ok(queue)
}

/// Whether a failed first session is a misconfiguration rather than an outage.
fn is_permanent(e: &Error) -> bool {
    if matches!(e, Error::Config(_)) {
        return true;
    }
    let text = e.to_string().to_ascii_lowercase();
    [
        "certificate",
        "unknownissuer",
        "wrongpass",
        "noauth",
        "authentication",
        "permission denied",
        "invalid username or password",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// The registration loop, the same for every store: writes the keys of every registered
/// service at once, refreshes the lease or session every [`KvStore::refresh_period`]
/// (retrying failed writes then), opens a new session and rewrites every key when the old
/// one was lost or could never be opened, and deletes a service's node key when it is
/// unregistered. While the store is unreachable it tries once per refresh period (each try
/// bounded by the store's operation timeout), logs one line when it starts failing and one
/// when it is back, and keeps [`RegistryStatus`] current.
struct Worker<S> {
    store: S,
    name: &'static str,
    target: String,
    base: String,
    address: String,
    state: Published,
    status: RegistryStatusHandle,
    /// A lease or session is open (as far as we know).
    session: bool,
    /// An outage is under way (logged once, when it began; over once the registry is up).
    failing: bool,
    /// The last store operation succeeded.
    last_ok: bool,
    /// No new session is tried before this (set when one failed): a burst of commands
    /// while the store is down makes one attempt, not one each.
    retry_at: Option<std::time::Instant>,
}

impl<S: KvStore> Worker<S> {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.store.refresh_period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick completes at once
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Command::Flush(reply)) => {
                        self.sync().await;
                        let _ = reply.send(match self.state.last_error.clone() {
                            Some(e) if self.pending() || !self.session => Err(e),
                            _ => Ok(()),
                        });
                    }
                    Some(Command::Started { address }) => {
                        if self.address.is_empty() {
                            self.address = address;
                            self.state.all_dirty();
                        }
                        self.sync().await;
                    }
                    Some(cmd) => {
                        self.state.apply(&cmd);
                        self.sync().await;
                    }
                },
                _ = tick.tick() => {
                    if self.session {
                        match self.store.refresh().await {
                            Ok(()) => self.succeeded(),
                            Err(StoreError::Lost(e)) => {
                                self.failed(&e.to_string());
                                self.session = false;
                            }
                            Err(StoreError::Failed(e)) => self.failed(&e.to_string()),
                        }
                    }
                    self.sync().await;
                }
                () = self.store.lost(), if self.session => {
                    self.session = false;
                    self.sync().await;
                }
            }
            self.settle();
        }
    }

    fn pending(&self) -> bool {
        !self.state.dirty.is_empty() || !self.state.deletes.is_empty()
    }

    /// Records a failed store operation; the first of an outage is logged.
    fn failed(&mut self, error: &str) {
        self.last_ok = false;
        self.state.last_error = Some(error.to_owned());
        self.status.failed(error);
        if !self.failing {
            self.failing = true;
            log_failing(self.name, &self.target, error, self.store.refresh_period());
        }
    }

    /// Records a store operation that succeeded (the outage ends only when the registry is
    /// up again, see [`settle`](Self::settle): a store that answers some requests and
    /// refuses one key every time logs its failure once, not every period).
    fn succeeded(&mut self) {
        self.last_ok = true;
    }

    /// Publishes whether the registry is up now; logs a return after an outage.
    fn settle(&mut self) {
        let up = self.session && self.last_ok && !self.pending();
        if up {
            self.failing = false;
        }
        if let (false, Some(down_for)) = self.status.set_up(up) {
            if up && self.status.get().failures > 0 {
                log_back(self.name, &self.target, down_for);
            }
        }
    }

    /// The lease or session is gone (or was never opened): open a new one and mark every
    /// key for rewriting.
    async fn renew(&mut self) -> bool {
        match self.store.new_session().await {
            Ok(()) => {
                self.session = true;
                self.succeeded();
                self.state.all_dirty();
                true
            }
            Err(e) => {
                self.session = false;
                self.retry_at = Some(std::time::Instant::now() + self.store.refresh_period() / 4);
                self.failed(&e.to_string());
                false
            }
        }
    }

    /// Writes what is pending, first opening a session if there is none; failures stay
    /// pending for the next tick. A write refused because the session was lost (the store
    /// unreachable for longer than the TTL) gets a new session and one more pass.
    async fn sync(&mut self) {
        if !self.session {
            let wait = self.retry_at.is_some_and(|t| std::time::Instant::now() < t);
            if wait || !self.renew().await {
                return;
            }
        }
        if self.address.is_empty() {
            return;
        }
        for _ in 0..2 {
            if !self.sync_once().await || !self.renew().await {
                break;
            }
        }
        if !self.pending() {
            self.state.last_error = None;
        }
    }

    /// One pass over the pending writes; true when the session turned out to be gone.
    async fn sync_once(&mut self) -> bool {
        let deletes: Vec<String> = self.state.deletes.iter().cloned().collect();
        for service in deletes {
            let key = node_key(&self.base, &service, &self.address);
            match self.store.delete(&key).await {
                Ok(()) => {
                    self.succeeded();
                    self.state.deletes.remove(&service);
                }
                Err(e) => self.failed(&e.to_string()),
            }
        }
        let dirty: Vec<String> = self.state.dirty.iter().cloned().collect();
        for service in dirty {
            let Some(metadata) = self.state.services.get(&service).cloned() else {
                self.state.dirty.remove(&service);
                continue;
            };
            let writes = [
                (self.base.clone(), "rpcx_path".to_owned(), false),
                (format!("{}/{service}", self.base), service.clone(), false),
                (
                    node_key(&self.base, &service, &self.address),
                    metadata,
                    true,
                ),
            ];
            let mut ok = true;
            for (key, value, ephemeral) in writes {
                match self.store.put(&key, &value, ephemeral).await {
                    Ok(()) => self.succeeded(),
                    Err(StoreError::Lost(e)) => {
                        self.failed(&e.to_string());
                        self.session = false;
                        return true;
                    }
                    Err(StoreError::Failed(e)) => {
                        self.failed(&e.to_string());
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                self.state.dirty.remove(&service);
            }
        }
        false
    }
}

/// The one line an outage logs when it starts.
fn log_failing(name: &str, target: &str, error: &str, retry: Duration) {
    tracing::warn!(
        registry = %name,
        target = %target,
        error = %error,
        retry_every = ?retry,
        "rpcx: registry writes fail; the server serves on and retries"
    );
}

/// The one line an outage logs when it ends.
fn log_back(name: &str, target: &str, down_for: Duration) {
    tracing::info!(
        registry = %name,
        target = %target,
        down_for = ?down_for,
        "rpcx: registry keys written again"
    );
}
