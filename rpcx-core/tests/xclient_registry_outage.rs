//! The whole registry down for 30 s under load, for the Redis and ZooKeeper engines (etcd's
//! drills are in `xclient_etcd_drills.rs`): a real `redis-server` / ZooKeeper is killed while
//! two registered servers are called through an XClient every 50 ms, then started again on
//! the same port — Redis empty (it keeps no data), ZooKeeper with its data directory and,
//! separately, empty. Every call before, during and after succeeds (the client keeps its
//! last list, and an empty store does not empty it), nothing spins while the store is down
//! (this process's CPU time is measured), the registries report the outage in their status
//! and write every key again once the store is back, and the discovery follows a graceful
//! stop afterwards. Measured times are printed (`--nocapture`), never asserted beyond
//! bounded waits. Skipped (with a note) without the servers, unless `RPCX_REQUIRE_REDIS=1` /
//! `RPCX_REQUIRE_ZOOKEEPER=1`.
#![cfg(all(feature = "redis", feature = "zookeeper"))]

#[path = "drill_support.rs"]
mod drill_support;
#[path = "redis_support.rs"]
mod redis_support;
#[path = "xclient_support.rs"]
mod support;
#[path = "zookeeper_support.rs"]
mod zookeeper_support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drill_support::{CallLoop, CpuMeter};
use rpcx::registry::{AnyRegistry, RedisRegistry, ZookeeperRegistry};
use rpcx::server::ServerHandle;
use rpcx::xclient::{RedisDiscovery, XClient, XClientOptions, ZookeeperDiscovery};
use support::{guard, start_named, wait_until, GUARD};

/// The registries' update interval: keys rewritten (or the session checked) every second.
const INTERVAL: Duration = Duration::from_secs(1);
/// How long the store stays down.
const OUTAGE: Duration = Duration::from_secs(30);

/// A store the drill can kill and start again, and read directly.
trait Store {
    const ENGINE: &'static str;
    fn kill(&mut self);
    /// Starts it again on the same port; `fresh`: with no data.
    fn restart(&mut self, fresh: bool) -> impl Future<Output = ()>;
    /// The server keys registered for `Who` under `base`, read from the store itself.
    fn registered(&self, base: &str) -> impl Future<Output = Vec<String>>;
    fn registry(&self, base: &str) -> impl Future<Output = AnyRegistry>;
    fn xclient(&self, base: &str) -> impl Future<Output = Arc<XClient>>;
}

impl Store for redis_support::Redis {
    const ENGINE: &'static str = "redis";
    fn kill(&mut self) {
        redis_support::Redis::kill(self);
    }
    async fn restart(&mut self, fresh: bool) {
        assert!(fresh, "this redis-server keeps no data");
        self.restart_empty().await;
    }
    async fn registered(&self, base: &str) -> Vec<String> {
        let all = RedisDiscovery::list_all(&self.address, base).await;
        keys_of(all.ok().and_then(|mut m| m.remove("Who")))
    }
    async fn registry(&self, base: &str) -> AnyRegistry {
        RedisRegistry::connect(&self.address, base, "", INTERVAL)
            .await
            .unwrap()
            .into()
    }
    async fn xclient(&self, base: &str) -> Arc<XClient> {
        let d = RedisDiscovery::connect(&self.address, base, "Who")
            .await
            .unwrap();
        Arc::new(XClient::new("Who", d, XClientOptions::default()).unwrap())
    }
}

impl Store for zookeeper_support::ZooKeeper {
    const ENGINE: &'static str = "zookeeper";
    fn kill(&mut self) {
        zookeeper_support::ZooKeeper::kill(self);
    }
    async fn restart(&mut self, fresh: bool) {
        zookeeper_support::ZooKeeper::restart(self, fresh).await;
    }
    async fn registered(&self, base: &str) -> Vec<String> {
        let all = ZookeeperDiscovery::list_all(&self.address, base).await;
        keys_of(all.ok().and_then(|mut m| m.remove("Who")))
    }
    async fn registry(&self, base: &str) -> AnyRegistry {
        ZookeeperRegistry::connect(&self.address, base, "", INTERVAL)
            .await
            .unwrap()
            .into()
    }
    async fn xclient(&self, base: &str) -> Arc<XClient> {
        let d = ZookeeperDiscovery::connect(&self.address, base, "Who")
            .await
            .unwrap();
        Arc::new(XClient::new("Who", d, XClientOptions::default()).unwrap())
    }
}

fn keys_of(entries: Option<Vec<rpcx::xclient::ServerEntry>>) -> Vec<String> {
    let mut keys: Vec<String> = entries
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.key)
        .collect();
    keys.sort();
    keys
}

fn client_keys(xc: &XClient) -> Vec<String> {
    keys_of(Some(xc.servers()))
}

async fn registered_server<S: Store>(
    store: &S,
    base: &str,
    name: &str,
) -> (ServerHandle, AnyRegistry) {
    let registry = store.registry(base).await;
    let server = start_named(
        name,
        "127.0.0.1",
        &format!("name={name}"),
        vec![registry.plugin()],
    )
    .await;
    guard(GUARD, "registry flush", registry.flush())
        .await
        .unwrap();
    (server, registry)
}

/// Polls the store until `want` are exactly the registered servers; returns how long that
/// took, panics after `limit`.
async fn wait_registered<S: Store>(
    store: &S,
    base: &str,
    want: &[String],
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let got = store.registered(base).await;
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{}: registered {got:?}, not {want:?}, within {limit:?}",
            S::ENGINE
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn outage<S: Store>(mut store: S, base: &str, fresh: bool) {
    let tag = format!(
        "[{} down {OUTAGE:?}, back {}]",
        S::ENGINE,
        if fresh { "empty" } else { "with its data" }
    );
    let (a, reg_a) = registered_server(&store, base, "a").await;
    let (b, reg_b) = registered_server(&store, base, "b").await;
    let both = {
        let mut v = vec![a.local_address().to_string(), b.local_address().to_string()];
        v.sort();
        v
    };
    wait_registered(&store, base, &both, GUARD).await;
    let xc = store.xclient(base).await;
    wait_until(GUARD, "the discovery lists both servers", || {
        client_keys(&xc) == both
    })
    .await;
    let calls = CallLoop::start(Arc::clone(&xc), Duration::from_millis(50));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = calls.made();

    // Down: the servers serve, the client keeps its list, the registries retry calmly.
    let cpu = CpuMeter::start();
    store.kill();
    tokio::time::sleep(OUTAGE).await;
    cpu.check(&tag);
    let during = calls.made() - before;
    let status = reg_a.status_handle().get();
    eprintln!(
        "{tag} {during} calls made while down; registry status: up={} failures={} error={:?}",
        status.up, status.failures, status.last_error
    );
    assert!(
        !status.up && status.failures > 0,
        "{tag} the outage is not in the status: {status:?}"
    );
    assert_eq!(
        client_keys(&xc),
        both,
        "{tag} the client kept its last list"
    );
    assert!(during > 0, "{tag} calls went on during the outage");

    // Back: every key is written again, the registries are up, the client still has both.
    store.restart(fresh).await;
    let took = wait_registered(&store, base, &both, 2 * INTERVAL + Duration::from_secs(10)).await;
    eprintln!("{tag} both servers registered again {took:?} after the store answered");
    wait_until(GUARD, "both registries up", || {
        reg_a.status_handle().get().up && reg_b.status_handle().get().up
    })
    .await;
    tokio::time::sleep(2 * INTERVAL).await;
    assert_eq!(
        client_keys(&xc),
        both,
        "{tag} the client lists both servers"
    );

    // The discovery follows changes again: a graceful stop removes a.
    let t = Instant::now();
    a.shutdown(Duration::from_secs(2)).await;
    guard(GUARD, "registry flush", reg_a.flush()).await.unwrap();
    let only_b = vec![b.local_address().to_string()];
    wait_until(GUARD, "the discovery drops the stopped server", || {
        client_keys(&xc) == only_b
    })
    .await;
    eprintln!(
        "{tag} stopped server dropped by the discovery {:?} after its shutdown began",
        t.elapsed()
    );

    calls.finish_checked(&tag, &["a", "b"]).await;
    xc.close();
    reg_a.close();
    reg_b.close();
    b.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_30s_then_back_empty() {
    let Some(redis) = redis_support::Redis::start().await else {
        return;
    };
    outage(redis, "rpcx_outage", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_down_30s_then_back_with_its_data() {
    let Some(zk) = zookeeper_support::ZooKeeper::start().await else {
        return;
    };
    outage(zk, "rpcx_outage_kept", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_down_30s_then_back_empty() {
    let Some(zk) = zookeeper_support::ZooKeeper::start().await else {
        return;
    };
    outage(zk, "rpcx_outage_fresh", true).await;
}
