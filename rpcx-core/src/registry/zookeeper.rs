//! ZooKeeper registry plugin, the counterpart of Go's rpcx-zookeeper `ZooKeeperRegisterPlugin`
//! (over libkv v0.5.1's zookeeper store).
//!
//! Nodes: `/<base>` (data `rpcx_path`) and `/<base>/<Service>` (data the service name) are
//! persistent; `/<base>/<Service>/<address>` (data the URL-query metadata) is an ephemeral
//! node of the registry's ZooKeeper session, so it disappears when the process dies. One
//! leading `/` of the base path is dropped, as Go does. An expired session is replaced and
//! every node written again; a graceful stop deletes the nodes.

use std::time::Duration;

use super::{registry_plugin, spawn_worker, Queue, WorkerSpec};
use crate::kv::zookeeper::{check_servers, ZkStore};
use crate::kv::KvStore;
use crate::Error;

/// Registers a server's services in ZooKeeper in the layout of Go's rpcx-zookeeper plugin:
/// persistent nodes `/<base>` = `rpcx_path` and `/<base>/<Service>` = the service name, and
/// an ephemeral node `/<base>/<Service>/<address>` = the metadata on the registry's session
/// (asked for a timeout of twice the update interval; the server bounds it). An expired
/// session is replaced and every node written again. Cheap to clone: add one clone to the
/// server's plugins and keep another to [`flush`](Self::flush) or [`close`](Self::close).
#[derive(Clone, Debug)]
pub struct ZookeeperRegistry {
    pub(super) queue: Queue,
}

impl ZookeeperRegistry {
    /// Connects to the ZooKeeper ensemble `servers` (`host:port[,host:port…]`).
    /// `update_interval` is Go's `UpdateInterval`: the session timeout asked for is twice
    /// that, and the session and the nodes are checked every interval (it must be more than
    /// zero). One leading `/` of `base_path` is dropped, as Go does. An empty
    /// `service_address` means the address the server reports when it starts listening.
    pub async fn connect(
        servers: &str,
        base_path: &str,
        service_address: &str,
        update_interval: Duration,
    ) -> Result<ZookeeperRegistry, Error> {
        if update_interval.is_zero() {
            return Err(Error::Config(
                "zookeeper registry: the update interval must be more than zero".into(),
            ));
        }
        check_servers(servers)?;
        let base = store_base(base_path)?;
        let mut store = ZkStore::new(servers, update_interval * 2, update_interval);
        let first_session = store.new_session().await;
        let queue = spawn_worker(WorkerSpec {
            store,
            first_session,
            name: "zookeeper registry",
            engine: "zookeeper",
            target: servers.to_owned(),
            base,
            address: service_address.to_owned(),
        })?;
        Ok(ZookeeperRegistry { queue })
    }
}

/// The base path inside the store: one leading `/` and any trailing `/` dropped.
pub(crate) fn store_base(base_path: &str) -> Result<String, Error> {
    let base = base_path.strip_prefix('/').unwrap_or(base_path);
    let base = base.trim_end_matches('/');
    if base.is_empty() || base.split('/').any(str::is_empty) {
        return Err(Error::Config(format!(
            "zookeeper: base path {base_path:?} is not a ZooKeeper path"
        )));
    }
    Ok(base.to_owned())
}

registry_plugin!(ZookeeperRegistry);

#[cfg(test)]
mod tests {
    #[test]
    fn base_paths_as_go_strips_them() {
        assert_eq!(super::store_base("/rpcx_test").unwrap(), "rpcx_test");
        assert_eq!(super::store_base("rpcx/a/").unwrap(), "rpcx/a");
        assert!(super::store_base("/").is_err());
        assert!(super::store_base("a//b").is_err());
    }
}
