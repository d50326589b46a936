//! etcd failure drills, against real etcd processes started by the tests on free loopback
//! ports, with servers registered through `EtcdRegistry` and an `XClient` over
//! `EtcdDiscovery` calling them all along:
//!
//! - a 3-member cluster loses its leader (SIGKILL) under load: no call fails, the leases are
//!   kept alive through the new leader; with every endpoint given, the dead one too, a
//!   registry created afterwards writes its keys on its first flush and fresh discoveries
//!   connect, list and follow (each request that meets the dead member goes to another);
//!   the new server is found and called, a graceful stop is followed;
//! - the whole registry is down for 30 s, then back with its data directory, and separately
//!   back empty: no call fails, nothing busy-loops meanwhile (this process's CPU time is
//!   measured), the servers' keys are back (an empty registry is repopulated) and kept alive,
//!   the discovery follows again.
//!
//! Measured times are printed (run with `--nocapture`), never asserted. The two 30 s drills
//! sort first so that, with the default two test threads, they run side by side.
//! Skipped (with a note) when no etcd binary is installed, unless `RPCX_REQUIRE_ETCD=1`.
#![cfg(feature = "etcd")]

#[path = "drill_support.rs"]
mod drill_support;
#[path = "xclient_support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use drill_support::{CallLoop, CpuMeter};
use rpcx::registry::EtcdRegistry;
use rpcx::server::{Plugin, ServerHandle};
use rpcx::xclient::{Discovery, EtcdDiscovery, ServerEntry, XClient, XClientOptions};
use support::{guard, start_named, wait_until, DataDir, EtcdCluster, GUARD};

/// How many fresh discoveries connect while a cluster member is dead (each one's client
/// starts with no connection, so its first requests may meet the dead member).
const FRESH_DISCOVERIES: usize = 10;
/// Lease TTL of every registration: kept alive (and failed writes retried) every second.
const TTL: Duration = Duration::from_secs(3);
/// The registration loop's refresh period for [`TTL`] (a third of it).
const REFRESH: Duration = Duration::from_secs(1);
/// How long the whole registry stays down.
const OUTAGE: Duration = Duration::from_secs(30);

/// A server named `name` on loopback, registered (TTL 3 s) in the etcd at `endpoints` under
/// `base`, with its registry.
async fn registered(endpoints: &[String], base: &str, name: &str) -> (ServerHandle, EtcdRegistry) {
    let (server, reg, flushed) = registering(endpoints, base, name).await;
    flushed.unwrap();
    (server, reg)
}

/// Like [`registered`], returning what the first flush said instead of insisting on success
/// (a write that failed is retried every refresh period).
async fn registering(
    endpoints: &[String],
    base: &str,
    name: &str,
) -> (ServerHandle, EtcdRegistry, Result<(), rpcx::Error>) {
    let reg = EtcdRegistry::connect(endpoints, base, "", TTL)
        .await
        .unwrap();
    let plugin: Arc<dyn Plugin> = Arc::new(reg.clone());
    let server = start_named(name, "127.0.0.1", &format!("name={name}"), vec![plugin]).await;
    let flushed = guard(GUARD, "registry flush", reg.flush()).await;
    (server, reg, flushed)
}

/// The `Who` node key of `server` under `base`.
fn node(base: &str, server: &ServerHandle) -> String {
    format!("{base}/Who/{}", server.local_address())
}

/// The discovery's entry for a server registered by [`registered`].
fn entry(server: &ServerHandle, name: &str) -> ServerEntry {
    ServerEntry::new(server.local_address().to_string(), format!("name={name}"))
}

/// An XClient of `Who` over an `EtcdDiscovery` of `endpoints`.
async fn xclient(endpoints: &[String], base: &str) -> Arc<XClient> {
    let d = EtcdDiscovery::connect(endpoints, base, "Who")
        .await
        .unwrap();
    Arc::new(XClient::new("Who", d, XClientOptions::default()).unwrap())
}

/// Polls (every 50 ms, each read bounded) until member `i` holds every key in `keys`
/// (`present`) or none of them (`!present`); returns how long that took, panics after
/// `limit`.
async fn wait_keys(
    cluster: &EtcdCluster,
    i: usize,
    keys: &[String],
    present: bool,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let mut done = true;
        for k in keys {
            let found = cluster.try_get(i, k).await;
            if !matches!(found, Ok(Some(_)) if present) && !matches!(found, Ok(None) if !present) {
                done = false;
                break;
            }
        }
        if done {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "keys {keys:?} not all {} on {} within {limit:?}",
            if present { "present" } else { "gone" },
            cluster.endpoint(i)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The whole registry (one etcd) SIGKILLed for 30 s under load, then restarted on the same
/// port with `data`.
async fn registry_outage(base: &str, data: DataDir) {
    let tag = format!("[outage {data:?}]");
    let Some(mut etcd) = EtcdCluster::start(1).await else {
        return;
    };
    let endpoints = etcd.endpoints();
    let (a, reg_a) = registered(&endpoints, base, "a").await;
    let (b, reg_b) = registered(&endpoints, base, "b").await;
    let keys = [node(base, &a), node(base, &b)];
    let both = {
        let mut v = vec![entry(&a, "a"), entry(&b, "b")];
        v.sort();
        v
    };
    let xc = xclient(&endpoints, base).await;
    wait_until(GUARD, "the discovery lists both servers", || {
        xc.servers() == both
    })
    .await;

    let calls = CallLoop::start(Arc::clone(&xc), Duration::from_millis(50));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = calls.made();

    // Down for 30 s: the servers keep serving, the client keeps its last list.
    let cpu = CpuMeter::start();
    etcd.kill(0);
    tokio::time::sleep(OUTAGE).await;
    cpu.check(&tag);
    let during = calls.made() - before;
    eprintln!("{tag} {during} calls made while etcd was down");
    assert_eq!(xc.servers(), both, "{tag} the client kept its last list");
    assert!(during > 0, "{tag} calls went on during the outage");

    // Back: the registrations are there again (an empty etcd is repopulated) within a
    // bounded wait of about two refresh periods.
    etcd.restart(0, data).await;
    let back = Instant::now();
    let took = wait_keys(&etcd, 0, &keys, true, 2 * REFRESH + Duration::from_secs(3)).await;
    eprintln!("{tag} both node keys present {took:?} after etcd answered again");
    assert_eq!(
        etcd.try_get(0, base).await.unwrap().as_deref(),
        Some("rpcx_path")
    );
    assert_eq!(
        etcd.try_get(0, &format!("{base}/Who"))
            .await
            .unwrap()
            .as_deref(),
        Some("Who")
    );

    // ... and kept alive: still there after twice the TTL, on each registry's current lease.
    tokio::time::sleep(2 * TTL + REFRESH).await;
    for (key, reg) in keys.iter().zip([&reg_a, &reg_b]) {
        assert_eq!(
            etcd.lease_of(0, key).await,
            Some(reg.lease_id()),
            "{tag} {key} hangs on its registry's live lease"
        );
    }
    wait_until(GUARD, "the discovery lists both servers again", || {
        xc.servers() == both
    })
    .await;

    // The discovery follows changes again: a graceful stop deletes a's key and a is dropped.
    let t = Instant::now();
    a.shutdown(Duration::from_secs(2)).await;
    guard(GUARD, "registry flush", reg_a.flush()).await.unwrap();
    assert_eq!(etcd.try_get(0, &keys[0]).await.unwrap(), None);
    wait_until(GUARD, "the discovery drops the stopped server", || {
        xc.servers() == [entry(&b, "b")]
    })
    .await;
    eprintln!(
        "{tag} stopped server dropped by the discovery {:?} after its shutdown began ({:?} \
         after etcd came back)",
        t.elapsed(),
        back.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    calls.finish_checked(&tag, &["a", "b"]).await;
    xc.close();
    reg_a.close();
    reg_b.close();
    b.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_down_30s_then_back_with_its_data() {
    registry_outage("/rpcx_drill_kept", DataDir::Keep).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_down_30s_then_back_empty() {
    registry_outage("/rpcx_drill_fresh", DataDir::Fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_member_cluster_loses_its_leader_under_load() {
    const BASE: &str = "/rpcx_drill_leader";
    let Some(mut cluster) = EtcdCluster::start(3).await else {
        return;
    };
    let endpoints = cluster.endpoints();
    let (a, reg_a) = registered(&endpoints, BASE, "a").await;
    let (b, reg_b) = registered(&endpoints, BASE, "b").await;
    let keys = [node(BASE, &a), node(BASE, &b)];
    let leases = [reg_a.lease_id(), reg_b.lease_id()];
    let both = {
        let mut v = vec![entry(&a, "a"), entry(&b, "b")];
        v.sort();
        v
    };
    let xc = xclient(&endpoints, BASE).await;
    wait_until(GUARD, "the discovery lists both servers", || {
        xc.servers() == both
    })
    .await;

    let calls = CallLoop::start(Arc::clone(&xc), Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let leader = cluster.wait_leader(Duration::from_secs(15)).await;
    let killed_at = Instant::now();
    cluster.kill(leader);
    let next = cluster.wait_leader(Duration::from_secs(30)).await;
    eprintln!(
        "[leader] killed member {leader} ({}); member {next} leads {:?} later",
        cluster.endpoint(leader),
        killed_at.elapsed()
    );
    let survivor = next;

    // Twice the TTL later the keys are still there: their leases were kept alive through
    // the new leader.
    tokio::time::sleep(2 * TTL + REFRESH).await;
    for (key, reg) in keys.iter().zip([&reg_a, &reg_b]) {
        let lease = cluster.lease_of(survivor, key).await;
        assert_eq!(
            lease,
            Some(reg.lease_id()),
            "{key} present on a surviving member, on its registry's lease"
        );
    }
    eprintln!(
        "[leader] leases after the kill: {:?} (before: {leases:?})",
        [reg_a.lease_id(), reg_b.lease_id()]
    );
    assert_eq!(xc.servers(), both);

    // A server registering after the kill is found and called.
    // Its registry is given every endpoint, the dead one too, as a deployment would: its
    // requests that meet the dead member are sent again to a live one, so the first flush
    // has written every key.
    let t = Instant::now();
    let (c, reg_c, flushed) = registering(&endpoints, BASE, "c").await;
    let flush_took = t.elapsed();
    let c_keys = [
        node(BASE, &c),
        format!("{BASE}/Arith/{}", c.local_address()),
    ];
    eprintln!(
        "[leader] new registry's first flush: {flushed:?} {flush_took:?} after it was created; \
         status {:?}",
        reg_c.status()
    );
    assert!(
        flushed.is_ok(),
        "a registry given a dead endpoint among live ones flushes on its first try: \
         {flushed:?}"
    );
    let status = reg_c.status();
    assert!(
        status.up && status.failures == 0 && status.last_error.is_none(),
        "no write of the new registry failed: {status:?}"
    );
    for k in &c_keys {
        assert!(
            cluster.try_get(survivor, k).await.unwrap().is_some(),
            "{k} written by the first flush"
        );
    }
    assert_eq!(
        cluster
            .try_get(survivor, &node(BASE, &c))
            .await
            .unwrap()
            .as_deref(),
        Some("name=c")
    );
    let all = {
        let mut v = vec![entry(&a, "a"), entry(&b, "b"), entry(&c, "c")];
        v.sort();
        v
    };
    let t = Instant::now();
    wait_until(GUARD, "the discovery lists the new server", || {
        xc.servers() == all
    })
    .await;
    eprintln!(
        "[leader] new server listed {:?} after it registered",
        t.elapsed()
    );
    wait_until(GUARD, "calls reach the new server", || {
        calls.answered_by("c") > 0
    })
    .await;

    // Fresh discoveries given every endpoint, the dead one too, connect and list the three
    // servers (each connect is one listing, retried on a live member when it met the dead
    // one; a failure would be returned by connect).
    let mut fresh = Vec::new();
    let mut slowest = Duration::ZERO;
    for i in 0..FRESH_DISCOVERIES {
        let t = Instant::now();
        let d = guard(
            GUARD,
            "discovery connect",
            EtcdDiscovery::connect(&endpoints, BASE, "Who"),
        )
        .await
        .unwrap_or_else(|e| panic!("fresh discovery {i} with one endpoint dead: {e}"));
        slowest = slowest.max(t.elapsed());
        assert_eq!(
            d.servers(),
            all,
            "fresh discovery {i} lists the three servers"
        );
        fresh.push(d);
    }
    eprintln!(
        "[leader] {FRESH_DISCOVERIES} fresh discoveries (one endpoint of three dead) connected \
         and listed the three servers, slowest connect {slowest:?}"
    );

    // A graceful stop deletes a's key (a delete that failed is retried every refresh
    // period) and the discovery drops it.
    let t = Instant::now();
    a.shutdown(Duration::from_secs(2)).await;
    let flushed = guard(GUARD, "registry flush", reg_a.flush()).await;
    wait_keys(&cluster, survivor, &keys[..1], false, GUARD).await;
    eprintln!(
        "[leader] stopped server's key gone {:?} after its shutdown began (first flush: \
         {flushed:?})",
        t.elapsed()
    );
    let rest = {
        let mut v = vec![entry(&b, "b"), entry(&c, "c")];
        v.sort();
        v
    };
    wait_until(GUARD, "the discovery drops the stopped server", || {
        xc.servers() == rest
    })
    .await;
    // The fresh discoveries opened their watches with the dead member still listed: they
    // follow the stop too.
    wait_until(
        GUARD,
        "the fresh discoveries drop the stopped server",
        || fresh.iter().all(|d| d.servers() == rest),
    )
    .await;
    for d in &fresh {
        d.close();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let calls = calls.finish_checked("[leader]", &["a", "b", "c"]).await;
    assert!(calls.ok >= 200, "a few hundred calls were made");
    xc.close();
    for r in [&reg_a, &reg_b, &reg_c] {
        r.close();
    }
    b.shutdown(Duration::from_secs(2)).await;
    c.shutdown(Duration::from_secs(2)).await;
}
