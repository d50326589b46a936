//! Redis registry plugin, the counterpart of Go rpcx v1.9.4's `RedisRegisterPlugin` (over
//! libkv v0.5.1's redis store).
//!
//! Keys are libkv's normalised names, `/<base>/<Service>/<address>` (a base path given with a
//! leading `/` gives `//<base>/…`, as in Go); each value is the JSON of libkv's `KVPair`
//! (`{"Key":…,"Value":<base64>,"LastIndex":…}`). Base and service keys (`rpcx_path`, the
//! service name) have no TTL; node keys expire after 2 × the update interval and are
//! written again every interval, so a killed server disappears within two intervals. When
//! Redis restarts empty the next refresh notices the missing base or service key and writes
//! every key again.

use std::time::Duration;

use super::{registry_plugin, spawn_worker, Queue, WorkerSpec};
use crate::kv::redis::{redis_client, RedisStore};
use crate::kv::KvStore;
use crate::Error;

/// Registers a server's services in Redis in the layout of Go's `RedisRegisterPlugin` (libkv's
/// redis store): keys `/<base>/<Service>/<address>` (a base with a leading `/` gives
/// `//<base>/…`, as in Go), values libkv `KVPair` JSON; node keys expire after twice the
/// update interval and are written again every interval, and every key is written again
/// when Redis comes back empty. Base and service keys have no TTL. Cheap to clone: add one clone to the server's plugins and keep another to
/// [`flush`](Self::flush) or [`close`](Self::close).
#[derive(Clone, Debug)]
pub struct RedisRegistry {
    pub(super) queue: Queue,
}

impl RedisRegistry {
    /// Connects to the Redis server at `address` (`host:port`, or a
    /// `redis://[:password@]host:port[/db]` URL) and turns keyspace notifications on (as
    /// libkv does). `update_interval` is Go's `UpdateInterval`: node keys are written with a
    /// TTL of twice that and refreshed every interval (Go's examples use 1 minute; it must
    /// be more than zero). An empty `service_address` means the address the server reports
    /// when it starts listening — fine for a concrete IP, useless for `0.0.0.0`.
    pub async fn connect(
        address: &str,
        base_path: &str,
        service_address: &str,
        update_interval: Duration,
    ) -> Result<RedisRegistry, Error> {
        if update_interval.is_zero() {
            return Err(Error::Config(
                "redis registry: the update interval must be more than zero".into(),
            ));
        }
        let mut store = RedisStore::new(redis_client(address)?, update_interval);
        let first_session = store.new_session().await;
        let queue = spawn_worker(WorkerSpec {
            store,
            first_session,
            name: "redis registry",
            engine: "redis",
            target: address.to_owned(),
            base: base_path.trim_end_matches('/').to_owned(),
            address: service_address.to_owned(),
        })?;
        Ok(RedisRegistry { queue })
    }
}

registry_plugin!(RedisRegistry);
