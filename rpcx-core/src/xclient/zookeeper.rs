//! ZooKeeper discovery, reading what Go's rpcx-zookeeper plugin writes (libkv v0.5.1's
//! zookeeper store): the servers of service `S` are the children of `/<base>/<S>`, each
//! node's data the metadata query string. Followed with one-shot watches on the children and
//! their data, listing again after each event and every 15 s anyway.

use std::collections::BTreeMap;
use std::time::Duration;

use super::discovery::ServerEntry;
use super::watched::{watched_discovery, Watched};
use crate::kv::list_services;
use crate::kv::zookeeper::{check_servers, ZkStore, RESYNC};
use crate::registry::zookeeper_store_base;
use crate::Error;

/// The discovery's session timeout (it has no ephemeral nodes).
const SESSION: Duration = Duration::from_secs(20);

/// Service discovery from ZooKeeper in the layout of Go's rpcx-zookeeper plugin: the servers
/// of service `S` are the children of `/<base>/<S>` (one leading `/` of the base path
/// dropped, as Go does), each node's data the metadata. Followed through watches on the
/// children and their data, listing again after each event and every 15 s anyway. While
/// ZooKeeper is unreachable XClients keep the last list and the watch is retried with a
/// 1 s → 10 s backoff.
pub struct ZookeeperDiscovery(Watched);

watched_discovery!(ZookeeperDiscovery);

impl ZookeeperDiscovery {
    /// Lists the servers of `service` under `base_path` from the ensemble `servers`
    /// (`host:port[,host:port…]`) and starts watching them. Fails if ZooKeeper cannot be
    /// reached; no server yet is fine.
    pub async fn connect(
        servers: &str,
        base_path: &str,
        service: &str,
    ) -> Result<ZookeeperDiscovery, Error> {
        check_servers(servers)?;
        if service.is_empty() || service.contains('/') {
            return Err(Error::Config(format!(
                "zookeeper: invalid service name {service:?}"
            )));
        }
        let base = zookeeper_store_base(base_path)?;
        let store = ZkStore::new(servers, SESSION, RESYNC);
        Watched::start(store, format!("{base}/{service}"))
            .await
            .map(ZookeeperDiscovery)
    }

    /// The watched prefix, as the store spells it (`<base>/<service>`, no leading `/`).
    pub fn prefix(&self) -> &str {
        self.0.prefix()
    }

    /// Every service under `base_path` with its servers, read once.
    pub async fn list_all(
        servers: &str,
        base_path: &str,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        check_servers(servers)?;
        let base = zookeeper_store_base(base_path)?;
        let mut store = ZkStore::new(servers, SESSION, RESYNC);
        list_services(&mut store, &base).await
    }
}
