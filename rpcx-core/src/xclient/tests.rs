//! XClient internals that the public API cannot show: the cache of connections and the
//! breaker map.

use std::time::Duration;

use tokio::net::TcpListener;

use super::*;

/// Polls `cond` every 10 ms until it holds; panics after 10 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

/// A listener that accepts connections and keeps them open (never reads or answers).
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let key = format!("tcp@{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (key, task)
}

#[tokio::test]
async fn a_failed_call_does_not_evict_a_connection_another_task_redialled() {
    let (key, server) = silent_server().await;
    let xc = XClient::new(
        "Arith",
        MultipleServers::from_addresses([key.clone()]),
        XClientOptions::default(),
    )
    .unwrap();
    let inner = &xc.inner;
    // A call holds connection `a`; the connection breaks, and before that call handles its
    // error, another task finds `a` closed and dials `b`.
    let a = inner.client(&key).await.unwrap();
    a.close();
    let b = inner.client(&key).await.unwrap();
    assert!(!b.same_connection(&a) && !b.is_closed());
    // Now the first call handles its error: it must not uncache (or close) `b`.
    inner.evict(&key, &a);
    assert!(!b.is_closed());
    let cached = inner.client(&key).await.unwrap();
    assert!(
        cached.same_connection(&b),
        "the fresh connection stays cached"
    );
    // Evicting the cached connection itself does remove it.
    inner.evict(&key, &b);
    assert!(b.is_closed());
    assert!(lock(&inner.clients).is_empty());
    xc.close();
    server.abort();
}

#[tokio::test]
async fn breakers_follow_the_server_list() {
    let servers = MultipleServers::new(Vec::new());
    let xc = XClient::new(
        "Arith",
        servers.clone(),
        XClientOptions {
            fail_mode: FailMode::Failfast,
            breaker: Some(BreakerConfig::default()),
            ..Default::default()
        },
    )
    .unwrap();
    // Address churn: every round lists two new servers (which refuse at once: no such
    // socket), drops the previous ones, and calls both.
    for round in 0..100u32 {
        let list: Vec<ServerEntry> = ["a", "b"]
            .iter()
            .map(|x| ServerEntry::new(format!("unix@/nonexistent/rpcx-{round}-{x}"), ""))
            .collect();
        servers.update(list.clone());
        eventually("the list is applied", || xc.servers() == list).await;
        for _ in 0..2 {
            let e = xc
                .call_raw(
                    "Mul",
                    SerializeType::JSON,
                    Bytes::new(),
                    CallOptions::default(),
                )
                .await
                .unwrap_err();
            assert!(matches!(e, Error::Connect { .. }), "{e:?}");
        }
        assert!(lock(&xc.inner.breakers).len() <= 2, "round {round}");
    }
    let mut keys: Vec<String> = lock(&xc.inner.breakers).keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["unix@/nonexistent/rpcx-99-a", "unix@/nonexistent/rpcx-99-b"]
    );
    xc.close();
}

#[tokio::test]
async fn a_server_whose_probe_is_in_flight_is_not_selected() {
    let (a, b) = ("tcp@127.0.0.1:1", "tcp@127.0.0.1:2");
    let xc = XClient::new(
        "Arith",
        MultipleServers::from_addresses([a, b]),
        XClientOptions {
            breaker: Some(BreakerConfig {
                threshold: 1,
                open_for: Duration::from_millis(300),
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let breaker = xc.inner.breaker(a).unwrap();
    breaker.failure();
    eventually("the open period ends", || !breaker.is_open()).await;
    let probe = breaker.permit().unwrap();
    assert!(probe.is_probe());
    let payload = Bytes::new();
    let metadata = Metadata::new();
    let call = Call {
        method: "Mul",
        serialize_type: SerializeType::JSON,
        payload: &payload,
        metadata: &metadata,
        deadline: Deadline::after(None),
    };
    for _ in 0..20 {
        assert_eq!(xc.inner.select(&call, &[]).as_deref(), Some(b));
    }
    probe.success();
    let picks: HashSet<String> = (0..4).filter_map(|_| xc.inner.select(&call, &[])).collect();
    assert_eq!(
        picks.len(),
        2,
        "both servers again once the probe succeeded"
    );
    xc.close();
}

#[tokio::test]
async fn a_server_discovery_dropped_gets_no_cached_connection() {
    let (key, server) = silent_server().await;
    let servers = MultipleServers::from_addresses([key.clone()]);
    let xc = XClient::new("Arith", servers.clone(), XClientOptions::default()).unwrap();
    servers.update(Vec::new());
    eventually("the server left", || xc.servers().is_empty()).await;
    // A call that selected the server before it left still gets a connection...
    let c = xc.inner.client(&key).await.unwrap();
    assert!(!c.is_closed());
    // ...but it is not cached, and closes with the call's last handle.
    assert!(lock(&xc.inner.clients).is_empty());
    drop(c);
    xc.close();
    server.abort();
}
