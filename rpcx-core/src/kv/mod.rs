//! The key-value store under every registry engine: one trait, [`KvStore`], implemented by
//! etcd ([`etcd::EtcdStore`]), Consul ([`consul::ConsulStore`]), Redis
//! ([`redis::RedisStore`]) and ZooKeeper ([`zookeeper::ZkStore`]), and driven by ONE
//! registration loop ([`crate::registry`]'s worker) and ONE watching discovery
//! ([`crate::xclient`]'s `watched` module). An engine only says how to talk to its store;
//! what is written, when it is refreshed, how a lost lease is recovered and how a broken
//! watch is retried is decided once, here and in those two places.
//!
//! Key layout, the same for every engine: `<base>` = `rpcx_path`,
//! `<base>/<Service>` = `<Service>`, `<base>/<Service>/<network@addr>` = the server's
//! URL-query metadata. The node keys are *ephemeral*: they hang on a lease (etcd) or session
//! (Consul) that the registration loop refreshes, carry a TTL that each refresh renews
//! (Redis), or are ephemeral znodes of a ZooKeeper session, so they vanish when the process
//! dies.
//!
//! Adding an engine (ZooKeeper, Redis…) means:
//! 1. a store type implementing [`KvStore`] in `kv/<engine>.rs`: ephemeral keys on a
//!    session it can refresh and re-create (reporting a lost one as [`StoreError::Lost`]),
//!    a prefix listing with a version, and a wait for the next change under a prefix;
//! 2. `registry/<engine>.rs`: a `…Registry { queue: Queue, … }` whose constructors build the
//!    store, call [`KvStore::new_session`] and `registry::spawn_worker`, then
//!    `registry_plugin!(…Registry)` for the shared methods and the `Plugin` impl; plus an
//!    `AnyRegistry` variant;
//! 3. `xclient/<engine>.rs`: a `…Discovery(Watched)` built with
//!    `xclient::watched::Watched::start(store, prefix)` (and [`list_services`] for
//!    `list_all`), then `watched_discovery!(…Discovery)`.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use crate::xclient::ServerEntry;
use crate::Error;

#[cfg(feature = "consul")]
pub(crate) mod consul;
#[cfg(feature = "etcd")]
pub(crate) mod etcd;
#[cfg(feature = "redis")]
pub(crate) mod redis;
#[cfg(feature = "zookeeper")]
pub(crate) mod zookeeper;

/// Why a write or a refresh failed.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// The lease or session holding the ephemeral keys is gone (expired while the store was
    /// unreachable, revoked, or the store came back empty): the registration loop opens a
    /// new one and writes every key again.
    Lost(Error),
    /// Anything else (unreachable, timed out, refused): retried on the next refresh.
    Failed(Error),
}

impl From<Error> for StoreError {
    fn from(e: Error) -> StoreError {
        StoreError::Failed(e)
    }
}

/// Every key under a prefix with its value, and the store's version of that listing (etcd's
/// revision, Consul's index): a later [`KvStore::wait_change`] waits for changes after it.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// `(key, value)` pairs, keys as the store spells them.
    pub(crate) pairs: Vec<(String, Vec<u8>)>,
    /// The version the listing was read at.
    pub(crate) version: u64,
}

/// A registry's key-value store, as the registration loop and the watching discovery use it.
///
/// Registration: [`new_session`](Self::new_session) once before the loop starts, then
/// [`put`](Self::put) / [`delete`](Self::delete) as services come and go,
/// [`refresh`](Self::refresh) every [`refresh_period`](Self::refresh_period), and
/// [`lost`](Self::lost) watched in between. Discovery: [`list`](Self::list) once, then
/// [`wait_change`](Self::wait_change) in a loop. Every call is bounded in time by the store.
pub(crate) trait KvStore: Send + 'static {
    /// How often the registration loop calls [`refresh`](Self::refresh) (and retries writes
    /// that failed): well within the lease or session TTL.
    fn refresh_period(&self) -> Duration;

    /// Opens a new lease or session for the ephemeral keys, replacing the previous one.
    fn new_session(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Keeps the lease or session alive. [`StoreError::Lost`] when the store no longer knows
    /// it.
    fn refresh(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Completes when the store reports, between refreshes, that the lease or session is
    /// gone (etcd's keep-alive answer with TTL 0); never completes for a store that only
    /// learns it from [`refresh`](Self::refresh). Must be cancel-safe.
    fn lost(&mut self) -> impl Future<Output = ()> + Send;

    /// Writes `key` = `value`; `ephemeral` keys hang on the current lease or session (taking
    /// the key over from another session if needed). [`StoreError::Lost`] when the lease or
    /// session turned out to be gone.
    fn put(
        &mut self,
        key: &str,
        value: &str,
        ephemeral: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes `key` (a missing key is not an error).
    fn delete(&mut self, key: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// Every key starting with `prefix`, read once.
    fn list(&mut self, prefix: &str) -> impl Future<Output = Result<Listing, Error>> + Send;

    /// Waits until the keys under `prefix` may have changed after version `since` (or a
    /// store-chosen wait elapsed), then returns a fresh listing of `prefix`. An error means
    /// the watch broke: the discovery backs off, lists again and waits again. Must be
    /// cancel-safe.
    fn wait_change(
        &mut self,
        prefix: &str,
        since: u64,
    ) -> impl Future<Output = Result<Listing, Error>> + Send;
}

/// The node key of a service.
pub(crate) fn node_key(base: &str, service: &str, address: &str) -> String {
    format!("{base}/{service}/{address}")
}

/// The servers of one service from a listing of `<prefix>/`: keys `<prefix>/<server>`,
/// sorted. Keys outside the prefix (a sibling service `Arith2`) and the service key itself
/// are skipped.
pub(crate) fn servers_of(prefix: &str, pairs: Vec<(String, Vec<u8>)>) -> Vec<ServerEntry> {
    let node_prefix = format!("{prefix}/");
    let mut out: Vec<ServerEntry> = pairs
        .into_iter()
        .filter_map(|(k, v)| {
            let server = k.strip_prefix(&node_prefix)?;
            (!server.is_empty())
                .then(|| ServerEntry::new(server, String::from_utf8_lossy(&v).into_owned()))
        })
        .collect();
    out.sort();
    out
}

/// Every service under `base` (no trailing `/`) with its servers, read once. Keys deeper
/// than `<base>/<service>/<server>` keep their `/` in the server part (`unix@/path`).
pub(crate) async fn list_services<S: KvStore>(
    store: &mut S,
    base: &str,
) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
    let base = format!("{base}/");
    let listing = store.list(&base).await?;
    let mut out: BTreeMap<String, Vec<ServerEntry>> = BTreeMap::new();
    for (key, value) in listing.pairs {
        let Some(rest) = key.strip_prefix(&base) else {
            continue;
        };
        match rest.split_once('/') {
            None if !rest.is_empty() => {
                out.entry(rest.to_owned()).or_default();
            }
            Some((service, server)) if !service.is_empty() && !server.is_empty() => {
                out.entry(service.to_owned())
                    .or_default()
                    .push(ServerEntry::new(
                        server,
                        String::from_utf8_lossy(&value).into_owned(),
                    ));
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_of_skips_siblings_and_the_service_key() {
        let e = servers_of(
            "b/Arith",
            vec![
                ("b/Arith".into(), b"Arith".to_vec()),
                ("b/Arith/".into(), b"".to_vec()),
                ("b/Arith/tcp@h:1".into(), b"w=1".to_vec()),
                ("b/Arith2/tcp@h:2".into(), b"".to_vec()),
            ],
        );
        assert_eq!(e, vec![ServerEntry::new("tcp@h:1", "w=1")]);
    }
}
