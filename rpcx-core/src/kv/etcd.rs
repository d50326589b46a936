//! etcd v3 as a [`KvStore`]: ephemeral keys on one lease kept alive over a keep-alive
//! stream; changes followed with a prefix watch.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, GetOptions, LeaseKeepAliveStream, LeaseKeeper, PutOptions, WatchOptions, WatchStream,
};

use super::{KvStore, Listing, StoreError};
use crate::xclient::etcd::request;
use crate::Error;

/// An etcd client with the registration's lease and the discovery's watch.
pub(crate) struct EtcdStore {
    client: Client,
    /// Lease TTL in seconds.
    ttl: i64,
    /// The current lease id, shared with the registry handle.
    lease: Arc<AtomicI64>,
    keeper: Option<(LeaseKeeper, LeaseKeepAliveStream)>,
    /// The open watch and the prefix it watches.
    watch: Option<(String, WatchStream)>,
}

impl EtcdStore {
    /// A store over `client`; `ttl` is the lease TTL for registrations (etcd rounds very
    /// short TTLs up to its minimum, about 2 s).
    pub(crate) fn new(client: Client, ttl: Duration) -> EtcdStore {
        EtcdStore {
            client,
            ttl: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).max(1),
            lease: Arc::new(AtomicI64::new(0)),
            keeper: None,
            watch: None,
        }
    }

    /// The lease id cell, updated whenever a new lease is granted.
    pub(crate) fn lease(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.lease)
    }
}

impl KvStore for EtcdStore {
    fn refresh_period(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.ttl).unwrap_or(1).saturating_mul(1000) / 3)
            .max(Duration::from_millis(500))
    }

    async fn new_session(&mut self) -> Result<(), Error> {
        self.keeper = None;
        let ttl = self.ttl;
        let granted = request(&self.client, |mut c| async move {
            c.lease_grant(ttl, None).await
        })
        .await?;
        self.lease.store(granted.id(), Ordering::Release);
        Ok(())
    }

    /// Sends one keep-alive, opening the keep-alive stream first if needed. A broken stream
    /// is re-opened on the next refresh; the answer (TTL 0 for a lost lease) arrives through
    /// [`lost`](KvStore::lost).
    async fn refresh(&mut self) -> Result<(), StoreError> {
        if self.keeper.is_none() {
            let id = self.lease.load(Ordering::Acquire);
            let opened = request(
                &self.client,
                |mut c| async move { c.lease_keep_alive(id).await },
            )
            .await;
            self.keeper = Some(opened.map_err(lease_error)?);
        }
        if let Some((keeper, _)) = self.keeper.as_mut() {
            if keeper.keep_alive().await.is_err() {
                self.keeper = None;
            }
        }
        Ok(())
    }

    async fn lost(&mut self) {
        loop {
            let Some((_, stream)) = self.keeper.as_mut() else {
                return std::future::pending().await;
            };
            match stream.message().await {
                Ok(Some(resp)) if resp.ttl() > 0 => {}
                Ok(Some(_)) => return, // lease expired or revoked
                _ => self.keeper = None,
            }
        }
    }

    /// Every key, ephemeral or not, is written under the lease (as etcd registrations always
    /// were here): a dead server leaves nothing behind.
    async fn put(&mut self, key: &str, value: &str, _ephemeral: bool) -> Result<(), StoreError> {
        let lease = self.lease.load(Ordering::Acquire);
        request(&self.client, |mut c| async move {
            c.put(key, value, Some(PutOptions::new().with_lease(lease)))
                .await
        })
        .await
        .map(drop)
        .map_err(lease_error)
    }

    async fn delete(&mut self, key: &str) -> Result<(), Error> {
        request(
            &self.client,
            |mut c| async move { c.delete(key, None).await },
        )
        .await
        .map(drop)
    }

    async fn list(&mut self, prefix: &str) -> Result<Listing, Error> {
        let resp = request(&self.client, |mut c| async move {
            c.get(prefix, Some(GetOptions::new().with_prefix())).await
        })
        .await?;
        let version = resp
            .header()
            .map_or(0, |h| u64::try_from(h.revision()).unwrap_or(0));
        let pairs = resp
            .kvs()
            .iter()
            .filter_map(|kv| Some((kv.key_str().ok()?.to_owned(), kv.value().to_vec())))
            .collect();
        Ok(Listing { pairs, version })
    }

    /// Watches `prefix` from revision `since + 1` (the watch stays open across calls) and
    /// lists it again after every batch of events, as Go does, so lease expiries and deletes
    /// are seen the same way as puts.
    async fn wait_change(&mut self, prefix: &str, since: u64) -> Result<Listing, Error> {
        if self.watch.as_ref().is_none_or(|(p, _)| p != prefix) {
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(i64::try_from(since).unwrap_or(i64::MAX - 1) + 1);
            let stream = request(&self.client, |mut c| {
                let options = options.clone();
                async move { c.watch(prefix, Some(options)).await }
            })
            .await?;
            self.watch = Some((prefix.to_owned(), stream));
        }
        loop {
            let Some((_, stream)) = self.watch.as_mut() else {
                return Err(watch_broken());
            };
            match stream.message().await {
                Ok(Some(resp)) if !resp.canceled() => {
                    if resp.events().is_empty() {
                        continue; // the "created" notice or a progress report
                    }
                    let listed = self.list(prefix).await;
                    if listed.is_err() {
                        self.watch = None;
                    }
                    return listed;
                }
                _ => {
                    self.watch = None;
                    return Err(watch_broken());
                }
            }
        }
    }
}

/// A request refused because the lease is gone is [`StoreError::Lost`]; anything else is
/// retried.
fn lease_error(e: Error) -> StoreError {
    if e.to_string().contains("lease not found") {
        StoreError::Lost(e)
    } else {
        StoreError::Failed(e)
    }
}

fn watch_broken() -> Error {
    Error::Io(std::io::Error::other("etcd: the watch was closed"))
}
