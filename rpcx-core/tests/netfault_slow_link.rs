//! One server on a bad link — Toxiproxy adding 40 ± 40 ms of jitter to its replies and
//! capping its bandwidth at 64 KB/s — next to a fast one, under load with 4 KiB replies:
//! no call is lost or runs twice, and the p99 of each server is printed. Failbackup (a backup
//! request after 10 ms) keeps the p99 of the calls close to the fast server's, and the
//! HeartbeatRtt select mode sends most calls to the fast server.

#[path = "netfault_support.rs"]
mod netfault_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netfault_support::{host_port, Executions, Toxiproxy};
use rpcx::client::ClientOptions;
use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::xclient::{FailMode, MultipleServers, SelectMode, XClient, XClientOptions};
use serde_json::json;

const CALLS: usize = 200;
const REPLY: usize = 4096;

/// A server whose `Who.Am(id)` records the execution and answers `name` padded to 4 KiB.
async fn padded_server(name: &str, log: Arc<Executions>) -> ServerHandle {
    let mut server = Server::builder().build();
    let me = name.to_owned();
    server
        .register_fn("Who", "Am", move |_ctx: Context, id: i64| {
            let (me, log) = (me.clone(), Arc::clone(&log));
            async move {
                log.record(id, &me);
                let mut reply = me.clone();
                reply.push(' ');
                reply.push_str(&".".repeat(REPLY));
                Ok::<_, ServiceError>(reply)
            }
        })
        .unwrap();
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

fn p99(mut v: Vec<Duration>) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    Some(v[(v.len() * 99 / 100).min(v.len() - 1)])
}

/// Runs `CALLS` calls (ids from `first`) and returns `(latencies per server, failures)`.
async fn load(
    xc: &XClient,
    first: i64,
    log: &Executions,
) -> (BTreeMap<String, Vec<Duration>>, Vec<String>) {
    let mut by: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut failed = Vec::new();
    for id in first..first + CALLS as i64 {
        let t = Instant::now();
        match xc.call::<_, String>("Am", &id).await {
            Ok(reply) => {
                let name = reply.split(' ').next().unwrap_or_default().to_owned();
                assert_eq!(
                    reply.len(),
                    name.len() + 1 + REPLY,
                    "call {id}: a whole reply"
                );
                by.entry(name).or_default().push(t.elapsed());
            }
            Err(e) => failed.push(format!("call {id}: {e}")),
        }
    }
    // Every answered call ran; Failbackup may run a call on both servers (its point), never
    // twice on one.
    for id in first..first + CALLS as i64 {
        let ran = log.of(id);
        let mut unique = ran.clone();
        unique.dedup();
        assert_eq!(
            ran.len(),
            unique.len(),
            "call {id} ran twice on one server: {ran:?}"
        );
    }
    (by, failed)
}

fn report(what: &str, by: &BTreeMap<String, Vec<Duration>>, failed: &[String]) -> Option<Duration> {
    let all: Vec<Duration> = by.values().flatten().copied().collect();
    for (name, v) in by {
        eprintln!(
            "{what}: {name}: {} calls, p99 {:?}",
            v.len(),
            p99(v.clone())
        );
    }
    let overall = p99(all);
    eprintln!(
        "{what}: p99 of all calls {overall:?}, {} failed",
        failed.len()
    );
    overall
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_jittery_link_loses_nothing_and_is_steered_around() {
    let Some(toxi) = Toxiproxy::start().await else {
        return;
    };
    let log = Arc::new(Executions::default());
    let fast = padded_server("fast", Arc::clone(&log)).await;
    let slow = padded_server("slow", Arc::clone(&log)).await;
    let pf = toxi.proxy("fast", &host_port(&fast));
    let ps = toxi.proxy("slow", &host_port(&slow));
    ps.add(
        "jitter",
        "latency",
        "downstream",
        json!({"latency": 40, "jitter": 40}),
    );
    ps.add("cap", "bandwidth", "downstream", json!({"rate": 64}));
    let servers = || {
        MultipleServers::from_addresses([
            format!("tcp@{}", pf.listen),
            format!("tcp@{}", ps.listen),
        ])
    };
    let client = ClientOptions {
        default_timeout: Some(Duration::from_secs(5)),
        ..ClientOptions::default()
    };

    // Round robin, Failover: every call answered once, whatever the link.
    let rr = XClient::new(
        "Who",
        servers(),
        XClientOptions {
            client: client.clone(),
            ..XClientOptions::default()
        },
    )
    .unwrap();
    let (by, failed) = load(&rr, 0, &log).await;
    let p99_rr = report("round robin", &by, &failed);
    assert!(failed.is_empty(), "{failed:?}");
    let p99_fast = p99(by.get("fast").cloned().unwrap_or_default()).unwrap();
    rr.close();

    // Failbackup: a backup request after 10 ms; the p99 stays near the fast server's.
    let fb = XClient::new(
        "Who",
        servers(),
        XClientOptions {
            fail_mode: FailMode::Failbackup,
            backup_latency: Duration::from_millis(10),
            client: client.clone(),
            ..XClientOptions::default()
        },
    )
    .unwrap();
    let (by, failed) = load(&fb, CALLS as i64, &log).await;
    let p99_fb = report("failbackup", &by, &failed).unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    // The slow link adds 40 ± 40 ms plus 64 ms of transfer per reply; a backup answers
    // within its 10 ms plus the fast server's own time.
    assert!(
        p99_fb < p99_fast + Duration::from_millis(40),
        "failbackup p99 {p99_fb:?} vs the fast server's {p99_fast:?} (round robin p99 {p99_rr:?})"
    );
    fb.close();

    // HeartbeatRtt: most calls go to the fast server once measured.
    let hb = XClient::new(
        "Who",
        servers(),
        XClientOptions {
            select_mode: SelectMode::HeartbeatRtt,
            client,
            ..XClientOptions::default()
        },
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (by, failed) = load(&hb, 2 * CALLS as i64, &log).await;
    report("heartbeat rtt", &by, &failed);
    assert!(failed.is_empty(), "{failed:?}");
    let to_fast = by.get("fast").map_or(0, Vec::len);
    assert!(
        to_fast * 10 >= CALLS * 8,
        "{to_fast} of {CALLS} calls to the fast server"
    );
    hb.close();
}
