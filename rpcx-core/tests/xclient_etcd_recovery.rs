//! The shared registration loop recovering from a lost lease, over a real etcd: when the
//! lease holding a server's keys is revoked behind the registry's back, the keys vanish, the
//! registry grants a new lease and writes them again, and a watching discovery sees the
//! server leave and come back. Skipped (with a note) when no etcd binary is installed,
//! unless `RPCX_REQUIRE_ETCD=1`.
#![cfg(feature = "etcd")]

#[path = "xclient_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use rpcx::registry::EtcdRegistry;
use rpcx::server::Plugin;
use rpcx::xclient::{Discovery, EtcdDiscovery, ServerEntry};
use support::{guard, start_named, wait_until, Etcd, GUARD};

const BASE: &str = "/rpcx_recovery";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_lease_is_replaced_and_the_keys_written_again() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    // A 3 s lease: kept alive (and checked) about every second.
    let reg = EtcdRegistry::connect(&[etcd.endpoint.as_str()], BASE, "", Duration::from_secs(3))
        .await
        .unwrap();
    let plugin: Arc<dyn Plugin> = Arc::new(reg.clone());
    let server = start_named("r", "127.0.0.1", "weight=2", vec![plugin]).await;
    guard(GUARD, "registry flush", reg.flush()).await.unwrap();
    let key = server.local_address().to_string();
    let node = format!("{BASE}/Who/{key}");
    assert_eq!(etcd.get(&node).await.as_deref(), Some("weight=2"));

    let d = EtcdDiscovery::connect(&[etcd.endpoint.as_str()], BASE, "Who")
        .await
        .unwrap();
    let registered = vec![ServerEntry::new(key.clone(), "weight=2")];
    assert_eq!(d.servers(), registered);

    let first_lease = reg.lease_id();
    let mut client = etcd.client().await;
    client.lease_revoke(first_lease).await.unwrap();

    // Revoking deleted every key of the lease; once the registry noticed, it granted a new
    // lease and wrote them again under it.
    wait_until(Duration::from_secs(30), "a new lease", || {
        reg.lease_id() != first_lease
    })
    .await;
    guard(GUARD, "registry flush", reg.flush()).await.unwrap();
    let got = client.get(node.as_str(), None).await.unwrap();
    let kv = got.kvs().first().expect("node key written again");
    assert_eq!(kv.value(), b"weight=2");
    assert_eq!(kv.lease(), reg.lease_id());
    wait_until(
        Duration::from_secs(30),
        "discovery lists the server",
        || d.servers() == registered,
    )
    .await;
    assert_eq!(
        etcd.get(&format!("{BASE}/Who")).await.as_deref(),
        Some("Who")
    );
    assert_eq!(etcd.get(BASE).await.as_deref(), Some("rpcx_path"));

    // A graceful stop still deletes the node key.
    server.shutdown(Duration::from_secs(2)).await;
    guard(GUARD, "registry flush", reg.flush()).await.unwrap();
    assert_eq!(etcd.get(&node).await, None);
    wait_until(Duration::from_secs(30), "server gone", || {
        d.servers().is_empty()
    })
    .await;
    reg.close();
    d.close();
}
