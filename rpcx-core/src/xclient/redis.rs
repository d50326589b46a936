//! Redis discovery, reading what Go rpcx v1.9.4's `RedisRegisterPlugin` writes (libkv
//! v0.5.1's redis store): the servers of service `S` are the keys `/<base>/<S>/<address>`,
//! each a JSON `KVPair` whose base64 `Value` is the metadata query string.
//!
//! The discovery lists them (`SCAN` + `MGET`), then follows them through keyspace
//! notifications (`PSUBSCRIBE __keyspace*:/<base>/<S>/*`, turned on with `CONFIG SET
//! notify-keyspace-events KEA` as libkv does), listing again after each; it also lists every
//! 15 s without one, and every second when the server refuses to turn notifications on.
//! When Redis is unreachable, subscribers keep the last list while the watch is retried with
//! a 1 s → 10 s backoff.

use std::collections::BTreeMap;

use super::discovery::ServerEntry;
use super::watched::{watched_discovery, Watched};
use crate::kv::list_services;
use crate::kv::redis::{normalize, redis_client, RedisStore};
use crate::Error;

/// The store spelling of a path: trailing `/` removed, one `/` put in front (libkv).
fn store_path(base_path: &str, service: &str) -> String {
    let base = base_path.trim_end_matches('/');
    if service.is_empty() {
        normalize(base)
    } else {
        normalize(&format!("{base}/{service}"))
    }
}

/// Service discovery from Redis in the layout of Go's `RedisRegisterPlugin`: the servers of
/// service `S` are the keys `/<base>/<S>/<address>`, each a libkv `KVPair` JSON whose base64
/// `Value` is the metadata. Lists them (`SCAN` + `MGET`), then follows them through keyspace
/// notifications (turned on with `CONFIG SET notify-keyspace-events KEA`, as libkv does),
/// listing again after each one and every 15 s anyway (every second when the server refuses
/// `CONFIG SET`). While Redis is unreachable XClients keep the last list and the watch is
/// retried with a 1 s → 10 s backoff.
pub struct RedisDiscovery(Watched);

watched_discovery!(RedisDiscovery);

impl RedisDiscovery {
    /// Lists the servers of `service` under `base_path` from the Redis server at `address`
    /// (`host:port`, or a `redis://[:password@]host:port[/db]` URL) and starts watching
    /// them. Fails if Redis cannot be reached; no server yet is fine.
    pub async fn connect(
        address: &str,
        base_path: &str,
        service: &str,
    ) -> Result<RedisDiscovery, Error> {
        let store = RedisStore::new(redis_client(address)?, crate::kv::redis::RESYNC);
        Watched::start(store, store_path(base_path, service))
            .await
            .map(RedisDiscovery)
    }

    /// The watched prefix, as Redis spells it (`/<base>/<service>`).
    pub fn prefix(&self) -> &str {
        self.0.prefix()
    }

    /// Every service under `base_path` with its servers, read once.
    pub async fn list_all(
        address: &str,
        base_path: &str,
    ) -> Result<BTreeMap<String, Vec<ServerEntry>>, Error> {
        let mut store = RedisStore::new(redis_client(address)?, crate::kv::redis::RESYNC);
        list_services(&mut store, &store_path(base_path, "")).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_as_libkv_normalises_them() {
        assert_eq!(super::store_path("rpcx", "Arith"), "/rpcx/Arith");
        assert_eq!(super::store_path("/rpcx/", "Arith"), "//rpcx/Arith");
        assert_eq!(super::store_path("rpcx", ""), "/rpcx");
    }
}
