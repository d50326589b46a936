//! ZooKeeper registry and discovery against a real ZooKeeper (Debian's, started per test on
//! a free loopback port): the exact nodes and data Go's rpcx-zookeeper plugin writes
//! (persistent `/<base>` = `rpcx_path` and `/<base>/<Service>` = the name, ephemeral
//! `/<base>/<Service>/<address>` = the metadata), discovery following servers coming and
//! going, the ephemeral node gone when the registry's session ends, an expired session
//! replaced and its nodes re-created, and the graceful stop deleting the nodes.
#![cfg(feature = "zookeeper")]

#[path = "xclient_support.rs"]
mod support;
#[path = "zookeeper_support.rs"]
mod zookeeper_support;

use std::sync::Arc;
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::registry::ZookeeperRegistry;
use rpcx::server::{Plugin, ServerHandle};
use rpcx::xclient::{Discovery, ServerEntry, XClient, XClientOptions, ZookeeperDiscovery};
use support::{guard, start_named, wait_until, GUARD};
use zookeeper_client as zk;
use zookeeper_support::{children, node, Proxy, ZooKeeper};

async fn registered(
    servers: &str,
    base: &str,
    name: &str,
    meta: &str,
    interval: Duration,
) -> (ServerHandle, ZookeeperRegistry) {
    let reg = ZookeeperRegistry::connect(servers, base, "", interval)
        .await
        .unwrap();
    let plugin: Arc<dyn Plugin> = Arc::new(reg.clone());
    let h = start_named(name, "127.0.0.1", meta, vec![plugin]).await;
    guard(GUARD, "registry flush", reg.flush()).await.unwrap();
    (h, reg)
}

fn addr(h: &ServerHandle) -> String {
    h.local_address().to_string()
}

/// Polls `path` (at most [`GUARD`]) until `cond` holds for its (data, owner).
async fn wait_node<F: Fn(&Option<(String, i64)>) -> bool>(
    c: &zk::Client,
    path: &str,
    what: &str,
    cond: F,
) -> Option<(String, i64)> {
    for _ in 0..(GUARD.as_millis() / 50) {
        let n = node(c, path).await;
        if cond(&n) {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {path} is still {:?}", node(c, path).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_layout_discovery_and_graceful_stop() {
    let Some(zkd) = ZooKeeper::start().await else {
        return;
    };
    let c = zkd.client().await;
    let interval = Duration::from_secs(30);
    // Go drops one leading '/' of the base path: "/rpcx_test" is the node /rpcx_test.
    let (a, reg_a) = registered(
        &zkd.address,
        "/rpcx_test",
        "a",
        "weight=1&group=x",
        interval,
    )
    .await;
    let ka = addr(&a);
    assert_eq!(children(&c, "/").await, vec!["rpcx_test", "zookeeper"]);
    assert_eq!(children(&c, "/rpcx_test").await, vec!["Arith", "Who"]);
    assert_eq!(children(&c, "/rpcx_test/Arith").await, vec![ka.clone()]);
    assert_eq!(
        node(&c, "/rpcx_test").await,
        Some(("rpcx_path".to_owned(), 0)),
        "base node: persistent, data rpcx_path"
    );
    assert_eq!(
        node(&c, "/rpcx_test/Arith").await,
        Some(("Arith".to_owned(), 0)),
        "service node: persistent, data the name"
    );
    let node_a = format!("/rpcx_test/Arith/{ka}");
    let (data, owner) = node(&c, &node_a).await.unwrap();
    assert_eq!(data, "weight=1&group=x");
    assert_ne!(owner, 0, "server node is ephemeral");
    assert_ne!(owner, c.session_id().0);
    let (_, who_owner) = node(&c, &format!("/rpcx_test/Who/{ka}")).await.unwrap();
    assert_eq!(
        who_owner, owner,
        "one session holds every node of a registry"
    );

    let d = ZookeeperDiscovery::connect(&zkd.address, "rpcx_test", "Arith")
        .await
        .unwrap();
    assert_eq!(d.prefix(), "rpcx_test/Arith");
    assert_eq!(d.servers(), vec![ServerEntry::new(&ka, "weight=1&group=x")]);
    let xc = XClient::new("Arith", d, XClientOptions::default()).unwrap();
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 7, b: 8 }))
        .await
        .unwrap();
    assert_eq!(r.c, 56);

    // A second server appears through the watches, and a metadata change too.
    let (b, _reg_b) = registered(&zkd.address, "rpcx_test", "b", "", interval).await;
    let kb = addr(&b);
    wait_until(GUARD, "b discovered", || xc.servers().len() == 2).await;
    c.set_data(&format!("/rpcx_test/Arith/{kb}"), b"weight=5", None)
        .await
        .unwrap();
    wait_until(GUARD, "b's new metadata seen", || {
        xc.servers().contains(&ServerEntry::new(&kb, "weight=5"))
    })
    .await;
    let all = ZookeeperDiscovery::list_all(&zkd.address, "rpcx_test")
        .await
        .unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), vec!["Arith", "Who"]);
    assert_eq!(all["Arith"].len(), 2);
    assert_eq!(all["Who"].len(), 2);

    // Graceful stop: a's nodes are deleted at once, and a is dropped.
    guard(GUARD, "shutdown", a.shutdown(Duration::from_secs(2))).await;
    guard(GUARD, "flush", reg_a.flush()).await.unwrap();
    assert_eq!(node(&c, &node_a).await, None, "node deleted on shutdown");
    assert_eq!(node(&c, &format!("/rpcx_test/Who/{ka}")).await, None);
    assert!(
        node(&c, "/rpcx_test/Arith").await.is_some(),
        "service node stays"
    );
    wait_until(GUARD, "a dropped", || {
        xc.servers() == vec![ServerEntry::new(&kb, "weight=5")]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_node_gone_when_the_session_ends() {
    let Some(zkd) = ZooKeeper::start().await else {
        return;
    };
    let c = zkd.client().await;
    let d = ZookeeperDiscovery::connect(&zkd.address, "b", "Arith")
        .await
        .unwrap();
    assert!(d.servers().is_empty(), "no server yet is fine");
    let (a, reg) = registered(&zkd.address, "b", "a", "", Duration::from_secs(1)).await;
    let path = format!("/b/Arith/{}", addr(&a));
    assert!(node(&c, &path).await.is_some());
    wait_until(GUARD, "a discovered", || d.servers().len() == 1).await;
    // Closing the registry without unregistering (as a dying process would) ends its
    // session: ZooKeeper removes the ephemeral node itself, and the discovery sees it.
    reg.close();
    wait_node(&c, &path, "ephemeral node removed", Option::is_none).await;
    wait_until(GUARD, "a dropped", || d.servers().is_empty()).await;
    assert!(node(&c, "/b/Arith").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_expired_session_is_replaced_and_nodes_recreated() {
    let Some(zkd) = ZooKeeper::start().await else {
        return;
    };
    let c = zkd.client().await;
    let proxy = Proxy::start(&zkd.address).await;
    // Session timeout asked: 2 x 1 s (the server allows 400 ms .. 4 s).
    let (a, reg) = registered(&proxy.address, "b", "a", "w=1", Duration::from_secs(1)).await;
    let path = format!("/b/Arith/{}", addr(&a));
    let (_, first) = node(&c, &path).await.unwrap();
    assert_ne!(first, 0);
    let d = ZookeeperDiscovery::connect(&zkd.address, "b", "Arith")
        .await
        .unwrap();
    assert_eq!(d.servers(), vec![ServerEntry::new(addr(&a), "w=1")]);

    // Cut the registry off until ZooKeeper expires its session (and removes the node)...
    proxy.cut();
    wait_node(&c, &path, "node removed on session expiry", Option::is_none).await;
    wait_until(GUARD, "discovery saw the node go", || {
        d.servers().is_empty()
    })
    .await;
    // ...then let it back: it learns its session expired, opens a new one, writes again.
    proxy.restore();
    let (data, second) = wait_node(&c, &path, "node re-created", Option::is_some)
        .await
        .unwrap();
    assert_eq!(data, "w=1");
    assert_ne!(second, 0, "re-created as an ephemeral node");
    assert_ne!(second, first, "on a new session");
    wait_until(GUARD, "rediscovered", || d.servers().len() == 1).await;
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    guard(GUARD, "shutdown", a.shutdown(Duration::from_secs(2))).await;
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    assert_eq!(node(&c, &path).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_bad_input_fails_cleanly() {
    let dead = support::dead_address();
    let addr = dead.trim_start_matches("tcp@");
    // An unreachable ZooKeeper is an outage, not an error: the registry retries (its status
    // says why it is down, and its flush reports the error); a discovery fails.
    let reg = ZookeeperRegistry::connect(addr, "b", "", Duration::from_secs(1))
        .await
        .unwrap();
    let status = reg.status();
    assert!(!status.up && status.last_error.is_some(), "{status:?}");
    assert!(guard(GUARD, "flush", reg.flush()).await.is_err());
    reg.close();
    assert!(ZookeeperDiscovery::connect(addr, "b", "S").await.is_err());
    assert!(ZookeeperDiscovery::list_all(addr, "b").await.is_err());
    for (servers, base) in [
        ("", "b"),
        ("127.0.0.1:1/chroot", "b"),
        ("127.0.0.1:1", "/"),
        ("127.0.0.1:1", "a//b"),
    ] {
        assert!(
            ZookeeperRegistry::connect(servers, base, "", Duration::from_secs(1))
                .await
                .is_err(),
            "{servers} {base}"
        );
    }
    assert!(
        ZookeeperRegistry::connect("127.0.0.1:1", "b", "", Duration::ZERO)
            .await
            .is_err()
    );
    assert!(ZookeeperDiscovery::connect("127.0.0.1:1", "b", "a/b")
        .await
        .is_err());
}
