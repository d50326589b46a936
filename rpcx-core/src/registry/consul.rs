//! Consul KV registry plugin, the counterpart of Go's `ConsulRegisterPlugin`.
//!
//! Node keys are held by one Consul session (`Behavior = delete`, `TTL` = half the node TTL
//! as libkv does, at least Consul's minimum of 10 s) that is renewed in the background; when
//! the process dies the session expires and Consul deletes the node keys. Base and service
//! keys are written without a session and stay.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{registry_plugin, spawn_worker, Queue, WorkerSpec};
use crate::kv::consul::ConsulStore;
use crate::kv::KvStore;
use crate::xclient::consul::{service_prefix, ConsulHttp};
use crate::Error;

/// Registers a server's services in Consul's KV store (see the [module docs](super)). Node
/// keys are held by one Consul session (`Behavior = delete`, TTL = half the node TTL as libkv
/// does, at least Consul's 10 s) renewed in the background; base and service keys are
/// written without a session. Cheap to clone.
#[derive(Clone)]
pub struct ConsulRegistry {
    pub(super) queue: Queue,
    session: Arc<Mutex<String>>,
}

impl std::fmt::Debug for ConsulRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulRegistry")
            .field("session", &self.session_id())
            .finish()
    }
}

impl ConsulRegistry {
    /// Connects to the Consul agent at `address` (`127.0.0.1:8500`), creates the session and
    /// starts renewing it. `ttl` is the node TTL (Go: UpdateInterval + Expired); the session
    /// TTL is `ttl / 2`, kept within Consul's 10 s – 24 h. An empty `service_address` means
    /// the address the server reports when it starts listening.
    pub async fn connect(
        address: &str,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<ConsulRegistry, Error> {
        let http = ConsulHttp::new(address)?;
        ConsulRegistry::start(http, address, base_path, service_address, ttl).await
    }

    /// Like [`connect`](Self::connect) over TLS (feature `tls`; see
    /// [`ConsulDiscovery::connect_tls`](crate::xclient::ConsulDiscovery::connect_tls)).
    #[cfg(feature = "tls")]
    pub async fn connect_tls(
        address: &str,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<ConsulRegistry, Error> {
        let http = ConsulHttp::with_tls(address, tls)?;
        ConsulRegistry::start(http, address, base_path, service_address, ttl).await
    }

    async fn start(
        http: ConsulHttp,
        target: &str,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<ConsulRegistry, Error> {
        let session_ttl = (ttl.as_secs() / 2).clamp(10, 86_400);
        let mut store = ConsulStore::new(http, session_ttl);
        let first_session = store.new_session().await;
        let session = store.session();
        let queue = spawn_worker(WorkerSpec {
            store,
            first_session,
            name: "consul registry",
            engine: "consul",
            target: target.to_owned(),
            base: service_prefix(base_path, ""),
            address: service_address.to_owned(),
        })?;
        Ok(ConsulRegistry { queue, session })
    }

    /// The current session id.
    pub fn session_id(&self) -> String {
        self.session.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

registry_plugin!(ConsulRegistry);
