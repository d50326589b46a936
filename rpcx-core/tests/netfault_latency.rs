//! Latency-aware selection where latency is real: three servers behind Toxiproxy proxies
//! adding 1, 20 and 60 ms to every reply, an XClient in `SelectMode::HeartbeatRtt` (the
//! round trip of a heartbeat on the live connection to each server, measured every 500 ms).
//! At least 80 % of the calls go to the nearest; when it gets 100 ms slower the calls move to
//! the next nearest within a bounded time, printed (`--nocapture`). ICMP echo and TCP connect
//! cannot see this latency (the proxies answer both at once).

#[path = "netfault_support.rs"]
mod netfault_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netfault_support::{counting_server, host_port, Executions, Toxiproxy};
use rpcx::client::ClientOptions;
use rpcx::xclient::{MultipleServers, SelectMode, XClient, XClientOptions, HEARTBEAT_RTT_INTERVAL};
use serde_json::json;

/// How long the calls may take to move after the nearest server slows down: a few
/// measuring rounds (each sample halves the old estimate's weight).
const MOVE_WITHIN: Duration = Duration::from_secs(5);

/// Makes `calls` calls (ids from `next`, which moves on) and counts the answers per server.
async fn shares(xc: &XClient, calls: usize, next: &mut i64) -> BTreeMap<String, usize> {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..calls {
        let name: String = xc.call("Am", &*next).await.unwrap();
        *next += 1;
        *by.entry(name).or_default() += 1;
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_rtt_prefers_the_nearest_and_follows_a_slowdown() {
    let Some(toxi) = Toxiproxy::start().await else {
        return;
    };
    let log = Arc::new(Executions::default());
    let mut proxies = Vec::new();
    let mut handles = Vec::new();
    for (name, ms) in [("near", 1), ("mid", 20), ("far", 60)] {
        let h = counting_server(name, Arc::clone(&log)).await;
        let p = toxi.proxy(name, &host_port(&h));
        p.add(
            "lat",
            "latency",
            "downstream",
            json!({"latency": ms, "jitter": 0}),
        );
        proxies.push(p);
        handles.push(h);
    }
    let servers =
        MultipleServers::from_addresses(proxies.iter().map(|p| format!("tcp@{}", p.listen)));
    let options = XClientOptions {
        select_mode: SelectMode::HeartbeatRtt,
        client: ClientOptions {
            default_timeout: Some(Duration::from_secs(2)),
            ..ClientOptions::default()
        },
        ..XClientOptions::default()
    };
    let xc = XClient::new("Who", servers, options).unwrap();
    // A few measuring rounds.
    tokio::time::sleep(HEARTBEAT_RTT_INTERVAL * 5).await;
    let mut next = 0i64;

    let by = shares(&xc, 200, &mut next).await;
    let near = by.get("near").copied().unwrap_or(0);
    eprintln!("200 calls with 1/20/60 ms added: {by:?}");
    assert!(near >= 160, "the nearest got {near} of 200 calls: {by:?}");

    // The nearest gets 100 ms slower: the calls move to "mid".
    proxies[0].remove("lat");
    proxies[0].add(
        "lat",
        "latency",
        "downstream",
        json!({"latency": 101, "jitter": 0}),
    );
    let slowed = Instant::now();
    let moved = loop {
        let by = shares(&xc, 20, &mut next).await;
        if by.get("mid").copied().unwrap_or(0) >= 12 {
            break slowed.elapsed();
        }
        assert!(
            slowed.elapsed() < MOVE_WITHIN,
            "the calls did not move within {MOVE_WITHIN:?}: {by:?}"
        );
    };
    let by = shares(&xc, 100, &mut next).await;
    eprintln!("near slowed by 100 ms: most calls on mid after {moved:?}; next 100 calls {by:?}");
    // Expected about 65 (weights 1/101.5, 1/20.5, 1/60.5): a majority at least.
    assert!(by.get("mid").copied().unwrap_or(0) >= 50, "{by:?}");
    assert!(log.duplicates().is_empty());
    xc.close();
}
