//! etcd v3 registry plugin, the counterpart of Go's `EtcdV3RegisterPlugin`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::Client;

use super::{registry_plugin, spawn_worker, Queue, WorkerSpec};
use crate::kv::etcd::EtcdStore;
use crate::kv::KvStore;
use crate::xclient::etcd::etcd_connect;
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
        EtcdRegistry::start(client, join(endpoints), base_path, service_address, ttl).await
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
        EtcdRegistry::start(client, join(endpoints), base_path, service_address, ttl).await
    }

    /// Like [`connect`](Self::connect) over an existing client.
    pub async fn from_client(
        client: Client,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<EtcdRegistry, Error> {
        EtcdRegistry::start(
            client,
            "etcd client".into(),
            base_path,
            service_address,
            ttl,
        )
        .await
    }

    async fn start(
        client: Client,
        target: String,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<EtcdRegistry, Error> {
        let mut store = EtcdStore::new(client, ttl);
        let first_session = store.new_session().await;
        let lease = store.lease();
        let queue = spawn_worker(WorkerSpec {
            store,
            first_session,
            name: "etcd registry",
            engine: "etcd",
            target,
            base: base_path.trim_end_matches('/').to_owned(),
            address: service_address.to_owned(),
        })?;
        Ok(EtcdRegistry { queue, lease })
    }

    /// The current lease id (changes if the lease had to be granted again).
    pub fn lease_id(&self) -> i64 {
        self.lease.load(Ordering::Acquire)
    }
}

registry_plugin!(EtcdRegistry);

fn join<E: AsRef<str>>(endpoints: &[E]) -> String {
    endpoints
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}
