//! etcd v3 registry plugin (§5.3), the counterpart of Go's `EtcdV3RegisterPlugin`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper, PutOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{node_key, registry_plugin, Command, Published, Queue};
use crate::xclient::etcd::{bounded, etcd_connect};
use crate::Error;

/// Registers a server's services in etcd under one lease kept alive in the background (see
/// the [module docs](super)). Cheap to clone: add one clone to the server's plugins and keep
/// another to [`flush`](Self::flush) or [`close`](Self::close).
#[derive(Clone)]
pub struct EtcdRegistry {
    pub(super) queue: Queue,
    lease: Arc<AtomicI64>,
}

impl std::fmt::Debug for EtcdRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdRegistry")
            .field("lease", &self.lease_id())
            .finish()
    }
}

impl EtcdRegistry {
    /// Connects to `endpoints`, grants a lease of `ttl` (Go: 30 s; etcd rounds very short TTLs
    /// up to its minimum, about 2 s) and starts keeping it alive. `service_address` is the key
    /// clients dial (`tcp@10.0.0.5:8972`); empty means the address the server reports when it
    /// starts listening — fine for a concrete IP, useless for `0.0.0.0`.
    pub async fn connect<E: AsRef<str>>(
        endpoints: &[E],
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<EtcdRegistry, Error> {
        let client = etcd_connect(endpoints).await?;
        EtcdRegistry::from_client(client, base_path, service_address, ttl).await
    }

    /// Like [`connect`](Self::connect) over TLS (feature `tls`; see
    /// [`etcd_connect_tls`](crate::xclient::etcd_connect_tls)).
    #[cfg(feature = "tls")]
    pub async fn connect_tls<E: AsRef<str>>(
        endpoints: &[E],
        base_path: &str,
        service_address: &str,
        ttl: Duration,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<EtcdRegistry, Error> {
        let client = crate::xclient::etcd::etcd_connect_tls(endpoints, tls).await?;
        EtcdRegistry::from_client(client, base_path, service_address, ttl).await
    }

    /// Like [`connect`](Self::connect) over an existing client.
    pub async fn from_client(
        mut client: Client,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<EtcdRegistry, Error> {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).max(1);
        let granted = bounded(client.lease_grant(ttl, None)).await?;
        let lease = Arc::new(AtomicI64::new(granted.id()));
        let (queue, rx) = Queue::new("etcd registry");
        let worker = Worker {
            client,
            base: base_path.trim_end_matches('/').to_owned(),
            address: service_address.to_owned(),
            ttl,
            lease: Arc::clone(&lease),
            keeper: None,
            state: Published::default(),
        };
        tokio::spawn(worker.run(rx, queue.stop.clone()));
        Ok(EtcdRegistry { queue, lease })
    }

    /// Publishes `service` with `metadata` (what registering it on a server with this plugin
    /// does). Registering again with other metadata updates the node key.
    pub fn register(&self, service: &str, metadata: &str) {
        self.queue.register(service, metadata);
    }

    /// Deletes `service`'s node key (what a graceful shutdown does for every service).
    pub fn unregister(&self, service: &str) {
        self.queue.unregister(service);
    }

    /// Waits until every write queued so far has been tried; returns the last write error if
    /// any is still pending (failed writes are retried about every TTL/3).
    pub async fn flush(&self) -> Result<(), Error> {
        self.queue.flush().await
    }

    /// The current lease id (changes if the lease had to be granted again).
    pub fn lease_id(&self) -> i64 {
        self.lease.load(Ordering::Acquire)
    }

    /// Stops keeping the lease alive and writing, without deleting anything: the keys vanish
    /// when the lease expires, exactly as if the process had been killed.
    pub fn close(&self) {
        self.queue.stop.cancel();
    }
}

registry_plugin!(EtcdRegistry);

struct Worker {
    client: Client,
    base: String,
    address: String,
    ttl: i64,
    lease: Arc<AtomicI64>,
    keeper: Option<(LeaseKeeper, LeaseKeepAliveStream)>,
    state: Published,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>, stop: CancellationToken) {
        let period = Duration::from_millis(u64::try_from(self.ttl).unwrap_or(1) * 1000 / 3)
            .max(Duration::from_millis(500));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Command::Flush(reply)) => {
                        self.sync().await;
                        let _ = reply.send(match self.state.last_error.clone() {
                            Some(e) if self.pending() => Err(e),
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
                    self.keep_alive().await;
                    self.sync().await;
                }
                msg = next_keep_alive(&mut self.keeper) => match msg {
                    Ok(Some(resp)) if resp.ttl() > 0 => {}
                    Ok(Some(_)) => self.regrant().await, // lease expired or revoked
                    _ => self.keeper = None,
                },
            }
        }
    }

    fn pending(&self) -> bool {
        !self.state.dirty.is_empty() || !self.state.deletes.is_empty()
    }

    /// Sends one keep-alive, opening the keep-alive stream first if needed.
    async fn keep_alive(&mut self) {
        if self.keeper.is_none() {
            let id = self.lease.load(Ordering::Acquire);
            match bounded(self.client.lease_keep_alive(id)).await {
                Ok(k) => self.keeper = Some(k),
                Err(e) => {
                    self.state.last_error = Some(e.to_string());
                    return;
                }
            }
        }
        if let Some((keeper, _)) = self.keeper.as_mut() {
            if keeper.keep_alive().await.is_err() {
                self.keeper = None;
            }
        }
    }

    /// The lease is gone: grant a new one and rewrite every key under it.
    async fn regrant(&mut self) {
        if self.grant().await {
            self.sync().await;
        }
    }

    async fn grant(&mut self) -> bool {
        self.keeper = None;
        match bounded(self.client.lease_grant(self.ttl, None)).await {
            Ok(g) => {
                self.lease.store(g.id(), Ordering::Release);
                self.state.all_dirty();
                true
            }
            Err(e) => {
                self.state.last_error = Some(e.to_string());
                false
            }
        }
    }

    /// Writes what is pending; failures stay pending for the next tick. A write refused
    /// because the lease expired (etcd unreachable for longer than the TTL) gets a new lease.
    async fn sync(&mut self) {
        if self.address.is_empty() {
            return;
        }
        for _ in 0..2 {
            if !self.sync_once().await || !self.grant().await {
                break;
            }
        }
        if !self.pending() {
            self.state.last_error = None;
        }
    }

    /// One pass over the pending writes; true when the lease turned out to be gone.
    async fn sync_once(&mut self) -> bool {
        let lease = self.lease.load(Ordering::Acquire);
        let deletes: Vec<String> = self.state.deletes.iter().cloned().collect();
        for service in deletes {
            let key = node_key(&self.base, &service, &self.address);
            match bounded(self.client.delete(key, None)).await {
                Ok(_) => {
                    self.state.deletes.remove(&service);
                }
                Err(e) => self.state.last_error = Some(e.to_string()),
            }
        }
        let dirty: Vec<String> = self.state.dirty.iter().cloned().collect();
        for service in dirty {
            let Some(metadata) = self.state.services.get(&service).cloned() else {
                self.state.dirty.remove(&service);
                continue;
            };
            let writes = [
                (self.base.clone(), "rpcx_path".to_owned()),
                (format!("{}/{service}", self.base), service.clone()),
                (node_key(&self.base, &service, &self.address), metadata),
            ];
            let mut ok = true;
            for (key, value) in writes {
                let put = self
                    .client
                    .put(key, value, Some(PutOptions::new().with_lease(lease)));
                if let Err(e) = bounded(put).await {
                    let text = e.to_string();
                    let lost = text.contains("lease not found");
                    self.state.last_error = Some(text);
                    if lost {
                        return true;
                    }
                    ok = false;
                    break;
                }
            }
            if ok {
                self.state.dirty.remove(&service);
            }
        }
        false
    }
}

async fn next_keep_alive(
    keeper: &mut Option<(LeaseKeeper, LeaseKeepAliveStream)>,
) -> Result<Option<etcd_client::LeaseKeepAliveResponse>, etcd_client::Error> {
    match keeper.as_mut() {
        Some((_, stream)) => stream.message().await,
        None => std::future::pending().await,
    }
}
