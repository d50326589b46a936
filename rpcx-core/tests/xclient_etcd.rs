//! XClient over a real etcd (Debian's etcd-server 3.4, started per test on free loopback
//! ports): registration, discovery, graceful and abrupt server exits, failover under load,
//! every selector, group/state filtering, a custom selector and the circuit breaker.
//! Skipped (with a note) when no etcd binary is installed, unless `RPCX_REQUIRE_ETCD=1`.
#![cfg(feature = "etcd")]

#[path = "xclient_support.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::registry::EtcdRegistry;
use rpcx::server::{Plugin, ServerHandle};
use rpcx::xclient::{
    BreakerConfig, ConsistentHash, Discovery, EtcdDiscovery, FailMode, SelectMode, SelectRequest,
    Selector, ServerEntry, XClient, XClientOptions,
};
use rpcx::Error;
use support::{guard, start_named, wait_until, Etcd, GUARD};

const BASE: &str = "/rpcx_test";
const TTL: Duration = Duration::from_secs(30);

async fn registry(etcd: &Etcd, ttl: Duration) -> EtcdRegistry {
    EtcdRegistry::connect(&[etcd.endpoint.as_str()], BASE, "", ttl)
        .await
        .unwrap()
}

/// A named server registered in etcd (address taken from the listener).
async fn registered(etcd: &Etcd, name: &str, meta: &str) -> (ServerHandle, EtcdRegistry) {
    registered_on(etcd, name, "127.0.0.1", meta, TTL).await
}

async fn registered_on(
    etcd: &Etcd,
    name: &str,
    ip: &str,
    meta: &str,
    ttl: Duration,
) -> (ServerHandle, EtcdRegistry) {
    let reg = registry(etcd, ttl).await;
    let plugin: Arc<dyn Plugin> = Arc::new(reg.clone());
    let h = start_named(name, ip, meta, vec![plugin]).await;
    guard(GUARD, "registry flush", reg.flush()).await.unwrap();
    (h, reg)
}

async fn discovery(etcd: &Etcd, service: &str) -> EtcdDiscovery {
    EtcdDiscovery::connect(&[etcd.endpoint.as_str()], BASE, service)
        .await
        .unwrap()
}

async fn xclient(etcd: &Etcd, options: XClientOptions) -> XClient {
    XClient::new("Who", discovery(etcd, "Who").await, options).unwrap()
}

fn opts(select_mode: SelectMode, fail_mode: FailMode) -> XClientOptions {
    XClientOptions {
        select_mode,
        fail_mode,
        ..Default::default()
    }
}

async fn who(xc: &XClient, key: i64) -> Result<String, Error> {
    guard(GUARD, "call", xc.call::<_, String>("Am", &key)).await
}

/// How many of `n` calls each server answered.
async fn tally(xc: &XClient, n: i64) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in 0..n {
        *m.entry(who(xc, i).await.unwrap()).or_default() += 1;
    }
    m
}

fn key_of(h: &ServerHandle) -> String {
    h.local_address().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_etcd_register_discover_call_and_graceful_stop() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, reg_a) = registered(&etcd, "a", "weight=1&group=x").await;
    let node_a = format!("{BASE}/Arith/{}", key_of(&a));
    // Go's layout: base = rpcx_path, service = its name, node = metadata.
    assert_eq!(etcd.get(BASE).await.as_deref(), Some("rpcx_path"));
    assert_eq!(
        etcd.get(&format!("{BASE}/Arith")).await.as_deref(),
        Some("Arith")
    );
    assert_eq!(etcd.get(&node_a).await.as_deref(), Some("weight=1&group=x"));

    let d = discovery(&etcd, "Arith").await;
    assert_eq!(
        d.servers(),
        vec![ServerEntry::new(key_of(&a), "weight=1&group=x")]
    );
    let xc = XClient::new("Arith", d, XClientOptions::default()).unwrap();
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 7, b: 8 }))
        .await
        .unwrap();
    assert_eq!(r.c, 56);

    // A second server appears through the watch.
    let (b, _reg_b) = registered(&etcd, "b", "").await;
    wait_until(GUARD, "b discovered", || xc.servers().len() == 2).await;
    let all = EtcdDiscovery::list_all(&[etcd.endpoint.as_str()], BASE)
        .await
        .unwrap();
    assert_eq!(all["Arith"].len(), 2);
    assert_eq!(all["Who"].len(), 2);

    // Graceful stop: the node key is deleted at once, and a is no longer picked.
    guard(GUARD, "shutdown", a.shutdown(Duration::from_secs(2))).await;
    guard(GUARD, "flush", reg_a.flush()).await.unwrap();
    assert_eq!(
        etcd.get(&node_a).await,
        None,
        "node key deleted on shutdown"
    );
    wait_until(GUARD, "a dropped", || {
        xc.servers() == vec![ServerEntry::new(key_of(&b), "")]
    })
    .await;
    let who_xc = xclient(&etcd, opts(SelectMode::RoundRobin, FailMode::Failfast)).await;
    assert_eq!(who_xc.servers().len(), 1);
    for i in 0..20 {
        assert_eq!(who(&who_xc, i).await.unwrap(), "b");
    }
    for i in 0..20 {
        let r: Reply = xc.call("Add", &Args { a: i, b: 1 }).await.unwrap();
        assert_eq!(r.c, i + 1);
    }
    xc.close();
    who_xc.close();
    b.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_etcd_lease_expiry_removes_a_killed_server() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    // "killed": a 2 s lease that stops being kept alive, and a server that just vanishes.
    let (k, reg_k) = registered_on(&etcd, "k", "127.0.0.1", "", Duration::from_secs(2)).await;
    let (l, _reg_l) = registered(&etcd, "l", "").await;
    let xc = xclient(&etcd, opts(SelectMode::RoundRobin, FailMode::Failfast)).await;
    assert_eq!(xc.servers().len(), 2);
    // While the lease is kept alive the key outlives its TTL.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(xc.servers().len(), 2, "lease kept alive");
    let node_k = format!("{BASE}/Who/{}", key_of(&k));
    reg_k.close();
    k.close();
    assert!(etcd.get(&node_k).await.is_some(), "no unregister on a kill");
    wait_until(Duration::from_secs(30), "k expired", || {
        xc.servers() == vec![ServerEntry::new(key_of(&l), "")]
    })
    .await;
    assert_eq!(etcd.get(&node_k).await, None);
    // Failfast: any pick of the dead server would fail.
    for i in 0..30 {
        assert_eq!(who(&xc, i).await.unwrap(), "l");
    }
    xc.close();
    l.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_etcd_failover_under_load_loses_no_call() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, _ra) = registered(&etcd, "a", "").await;
    let (b, _rb) = registered(&etcd, "b", "").await;
    let (c, _rc) = registered(&etcd, "c", "").await;
    let xc = XClient::new(
        "Arith",
        discovery(&etcd, "Arith").await,
        opts(SelectMode::RoundRobin, FailMode::Failover),
    )
    .unwrap();
    assert_eq!(xc.servers().len(), 3);
    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let end = tokio::time::Instant::now() + Duration::from_secs(2);
    for t in 0..4i64 {
        let xc = xc.clone();
        let ok = Arc::clone(&ok);
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut i = 0i64;
            while tokio::time::Instant::now() < end && i < 1_000_000 {
                let args = Args { a: t, b: i };
                match guard(GUARD, "call", xc.call::<_, Reply>("Mul", &args)).await {
                    Ok(r) if r.c == t * i => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => failures.push(format!("{other:?}")),
                }
                i += 1;
            }
            failures
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = ok.load(Ordering::Relaxed);
    // Abrupt: connections dropped mid-call, key still registered (dials now fail).
    b.close();
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(guard(GUARD, "load task", t).await.unwrap());
    }
    let total = ok.load(Ordering::Relaxed);
    assert!(failures.is_empty(), "failed calls: {failures:?}");
    assert!(
        before > 0 && total > before,
        "calls kept flowing: {before} {total}"
    );
    xc.close();
    a.shutdown(Duration::from_secs(2)).await;
    c.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_etcd_selectors_distribute_as_specified() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    // Beijing, Shanghai, Shenzhen.
    let (a, _ra) = registered(&etcd, "a", "weight=1&latitude=39.90&longitude=116.40").await;
    let (b, _rb) = registered(&etcd, "b", "weight=2&latitude=31.23&longitude=121.47").await;
    let (c, _rc) = registered(&etcd, "c", "weight=3&latitude=22.54&longitude=114.06").await;

    // WeightedRoundRobin: 1:2:3 (smooth WRR is exact over whole rounds; ±2 % allowed).
    let xc = xclient(
        &etcd,
        opts(SelectMode::WeightedRoundRobin, FailMode::Failfast),
    )
    .await;
    let t = tally(&xc, 600).await;
    for (name, want) in [("a", 100usize), ("b", 200), ("c", 300)] {
        assert!(t[name].abs_diff(want) <= 12, "WRR {name}: {t:?}");
    }
    xc.close();

    // RoundRobin: even.
    let xc = xclient(&etcd, opts(SelectMode::RoundRobin, FailMode::Failfast)).await;
    let t = tally(&xc, 300).await;
    assert!(t.values().all(|&n| n.abs_diff(100) <= 1), "RR: {t:?}");
    xc.close();

    // Random: roughly uniform (expected 200 each, σ ≈ 11.5; allowed ±80).
    let xc = xclient(&etcd, opts(SelectMode::Random, FailMode::Failfast)).await;
    let t = tally(&xc, 600).await;
    assert_eq!(t.len(), 3, "Random: {t:?}");
    assert!(t.values().all(|&n| n.abs_diff(200) <= 80), "Random: {t:?}");
    xc.close();

    // Closest: a client near Shanghai always gets b.
    let xc = xclient(
        &etcd,
        opts(
            SelectMode::Closest {
                latitude: 31.0,
                longitude: 121.0,
            },
            FailMode::Failfast,
        ),
    )
    .await;
    let t = tally(&xc, 20).await;
    assert_eq!(t.get("b"), Some(&20), "Closest: {t:?}");
    xc.close();

    // ConsistentHash: the same key always lands on the same server.
    let xc = xclient(&etcd, opts(SelectMode::ConsistentHash, FailMode::Failfast)).await;
    for key in 0..40 {
        let first = who(&xc, key).await.unwrap();
        for _ in 0..3 {
            assert_eq!(who(&xc, key).await.unwrap(), first, "key {key}");
        }
    }
    xc.close();

    // ... and appending a server last in sorted order (127.0.0.2 sorts after 127.0.0.1)
    // moves ≈ 1/4 of 10,000 keys, all of them to the new server.
    let d = discovery(&etcd, "Who").await;
    let ch = ConsistentHash::default();
    ch.update(&d.servers());
    let keys: Vec<Vec<u8>> = (0..10_000)
        .map(|i: i32| i.to_string().into_bytes())
        .collect();
    let pick = |ch: &ConsistentHash, k: &[u8]| {
        ch.select(&SelectRequest {
            service: "Who",
            method: "Am",
            args: k,
        })
        .unwrap()
    };
    let before: Vec<String> = keys.iter().map(|k| pick(&ch, k)).collect();
    let (e, _re) = registered_on(&etcd, "e", "127.0.0.2", "", TTL).await;
    wait_until(GUARD, "4 servers", || d.servers().len() == 4).await;
    let servers = d.servers();
    assert_eq!(servers.last().unwrap().key, key_of(&e), "appended last");
    ch.update(&servers);
    let mut moved = 0;
    for (k, old) in keys.iter().zip(&before) {
        let now = pick(&ch, k);
        if &now != old {
            moved += 1;
            assert_eq!(now, key_of(&e), "keys only move to the new server");
        }
    }
    assert!((2_000..=3_000).contains(&moved), "moved {moved} of 10000");

    for h in [a, b, c, e] {
        h.shutdown(Duration::from_secs(2)).await;
    }
}

/// Always the greatest server key.
#[derive(Default)]
struct LastKey(RwLock<Vec<String>>);

impl Selector for LastKey {
    fn select(&self, _req: &SelectRequest<'_>) -> Option<String> {
        self.0.read().ok()?.iter().max().cloned()
    }
    fn update(&self, servers: &[ServerEntry]) {
        *self.0.write().unwrap() = servers.iter().map(|s| s.key.clone()).collect();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_etcd_group_state_and_custom_selector() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, _ra) = registered(&etcd, "a", "group=blue").await;
    let (b, rb) = registered(&etcd, "b", "group=green&group=blue").await;
    let (c, _rc) = registered(&etcd, "c", "").await;

    let blue = xclient(
        &etcd,
        XClientOptions {
            group: Some("blue".into()),
            ..opts(SelectMode::RoundRobin, FailMode::Failfast)
        },
    )
    .await;
    let t = tally(&blue, 40).await;
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        ["a", "b"],
        "group blue: {t:?}"
    );
    let any = xclient(&etcd, opts(SelectMode::RoundRobin, FailMode::Failfast)).await;
    assert_eq!(tally(&any, 30).await.len(), 3, "no group: every server");

    // b turns inactive (re-registered with new metadata, as Go does): dropped by both.
    rb.register("Who", "group=green&group=blue&state=inactive");
    rb.flush().await.unwrap();
    wait_until(GUARD, "b inactive", || {
        any.servers().len() == 2 && blue.servers().len() == 1
    })
    .await;
    let t = tally(&any, 30).await;
    assert_eq!(t.keys().collect::<Vec<_>>(), ["a", "c"], "{t:?}");
    let t = tally(&blue, 10).await;
    assert_eq!(t.keys().collect::<Vec<_>>(), ["a"], "{t:?}");

    // A custom selector sees the filtered list and decides alone.
    let custom = XClient::with_selector(
        "Who",
        Arc::new(discovery(&etcd, "Who").await),
        Arc::new(LastKey::default()),
        opts(SelectMode::Random, FailMode::Failfast),
    )
    .unwrap();
    let last = [&a, &c].iter().map(|h| key_of(h)).max().unwrap();
    let want = if last == key_of(&a) { "a" } else { "c" };
    let t = tally(&custom, 20).await;
    assert_eq!(t.get(want), Some(&20), "custom selector: {t:?}");

    for x in [blue, any, custom] {
        x.close();
    }
    for h in [a, b, c] {
        h.shutdown(Duration::from_secs(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_etcd_breaker_opens_after_dial_failures() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (live, _rl) = registered(&etcd, "live", "").await;
    // A registered address where nothing listens.
    let dead = support::dead_address();
    let rd = EtcdRegistry::connect(&[etcd.endpoint.as_str()], BASE, &dead, TTL)
        .await
        .unwrap();
    rd.register("Who", "");
    rd.register("Dead", "");
    rd.flush().await.unwrap();
    let breaker = Some(BreakerConfig {
        threshold: 2,
        open_for: Duration::from_secs(600),
    });

    // Only the dead server: two dial failures, then the breaker answers by itself.
    let xc = XClient::new(
        "Dead",
        discovery(&etcd, "Dead").await,
        XClientOptions {
            breaker,
            // The breaker alone: the dead-server detector would keep the dead server out
            // after its first failure.
            health: None,
            ..opts(SelectMode::RoundRobin, FailMode::Failfast)
        },
    )
    .unwrap();
    for _ in 0..2 {
        let e = who(&xc, 1).await.unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    }
    for _ in 0..3 {
        let e = who(&xc, 1).await.unwrap_err();
        assert!(matches!(e, Error::BreakerOpen(_)), "{e:?}");
    }
    xc.close();

    // Dead + live, Failfast: exactly `threshold` calls fail, then the dead server is skipped.
    let xc = xclient(
        &etcd,
        XClientOptions {
            breaker,
            // The breaker alone: the dead-server detector would keep the dead server out
            // after its first failure.
            health: None,
            ..opts(SelectMode::RoundRobin, FailMode::Failfast)
        },
    )
    .await;
    assert_eq!(xc.servers().len(), 2);
    let mut failed = 0;
    for i in 0..40 {
        match who(&xc, i).await {
            Ok(n) => assert_eq!(n, "live"),
            Err(e) => {
                assert!(matches!(e, Error::Connect { .. }), "{e:?}");
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 2, "failures before the breaker opened");
    xc.close();

    // Failover hides the dead server entirely.
    let xc = xclient(
        &etcd,
        XClientOptions {
            breaker,
            // The breaker alone: the dead-server detector would keep the dead server out
            // after its first failure.
            health: None,
            ..opts(SelectMode::RoundRobin, FailMode::Failover)
        },
    )
    .await;
    for i in 0..20 {
        assert_eq!(who(&xc, i).await.unwrap(), "live");
    }
    xc.close();
    live.shutdown(Duration::from_secs(2)).await;
}

/// Services registered and unregistered while the server runs are published and deleted; a
/// registry added to the running server publishes everything at once; the shutdown deletes
/// the keys of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_etcd_live_registration_and_late_registry() {
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let (a, reg) = registered(&etcd, "a", "").await;
    let live = discovery(&etcd, "Live").await;
    assert!(live.servers().is_empty());

    a.set_service_metadata("Live", "weight=3").unwrap();
    a.register_fn("Live", "Twice", |_ctx: rpcx::server::Context, n: i64| async move {
        Ok::<_, rpcx::server::ServiceError>(2 * n)
    })
    .unwrap();
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    let node = format!("{BASE}/Live/{}", key_of(&a));
    assert_eq!(etcd.get(&node).await.as_deref(), Some("weight=3"));
    let xc = XClient::new("Live", live, XClientOptions::default()).unwrap();
    wait_until(GUARD, "Live discovered", || xc.servers().len() == 1).await;
    let r: i64 = guard(GUARD, "call", xc.call("Twice", &21i64))
        .await
        .unwrap();
    assert_eq!(r, 42);

    assert!(a.unregister("Live"));
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    assert_eq!(etcd.get(&node).await, None, "unregistering deletes the key");
    wait_until(GUARD, "Live gone", || xc.servers().is_empty()).await;
    assert!(etcd
        .get(&format!("{BASE}/Arith/{}", key_of(&a)))
        .await
        .is_some());

    // Joining while the server runs.
    let late = EtcdRegistry::connect(&[etcd.endpoint.as_str()], "/rpcx_late", "", TTL)
        .await
        .unwrap();
    a.add_registry(Arc::new(late.clone())).unwrap();
    guard(GUARD, "flush", late.flush()).await.unwrap();
    let late_node = format!("/rpcx_late/Who/{}", key_of(&a));
    assert_eq!(etcd.get(&late_node).await.as_deref(), Some(""));

    guard(GUARD, "shutdown", a.shutdown(Duration::from_secs(2))).await;
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    guard(GUARD, "flush", late.flush()).await.unwrap();
    assert_eq!(etcd.get(&late_node).await, None);
    assert_eq!(
        etcd.get(&format!("{BASE}/Arith/{}", key_of(&a))).await,
        None
    );
    xc.close();
}
