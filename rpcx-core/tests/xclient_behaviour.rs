//! XClient behaviour against servers that misbehave: malformed replies, full send queues,
//! lost breaker probes, closing mid-call, address churn, extreme option values; and the fail
//! and select modes whose point only shows when a server fails (Failtry, Failbackup,
//! WeightedIcmp).

#[path = "client_support.rs"]
mod fakes;
#[path = "server_support.rs"]
mod support;

use std::time::Duration;

use bytes::Bytes;
use fakes::{fill_send_queue, FakeServer, Mode};
use rpcx::arith::{Args, Reply};
use rpcx::client::{CallOptions, ClientOptions};
use rpcx::protocol::{ProtocolError, SerializeType};
use rpcx::xclient::{
    BreakerConfig, FailMode, MultipleServers, SelectMode, ServerEntry, XClient, XClientOptions,
};
use rpcx::Error;
use support::{guard, start_arith, wait_until, GUARD};

fn xclient(servers: &MultipleServers, options: XClientOptions) -> XClient {
    XClient::new("Arith", servers.clone(), options).unwrap()
}

/// A raw call with an empty payload (the fake servers do not decode it).
async fn raw_call(xc: &XClient, options: CallOptions) -> Result<(), Error> {
    xc.call_raw("Mul", SerializeType::RAW, Bytes::new(), options)
        .await
        .map(drop)
}

/// A loopback address nobody listens on (bound, then released).
fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp@{}", l.local_addr().unwrap())
}

fn entries(keys: &[&str]) -> Vec<ServerEntry> {
    keys.iter().map(|k| ServerEntry::new(*k, "")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_the_limits_is_not_retried_on_another_server() {
    let a = FakeServer::start(Mode::OverLimit).await;
    let b = FakeServer::start(Mode::OverLimit).await;
    let servers = MultipleServers::from_addresses([a.key.clone(), b.key.clone()]);
    let xc = xclient(&servers, XClientOptions::default());
    let e = guard(GUARD, "call", raw_call(&xc, CallOptions::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol(ProtocolError::TooManyMetadataEntries { .. })
        ),
        "{e:?}"
    );
    assert_eq!(a.requests() + b.requests(), 1, "the call ran once");
    xc.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_timeout_covers_a_full_send_queue() {
    let deaf = FakeServer::start(Mode::Deaf).await;
    let servers = MultipleServers::from_addresses([deaf.key.clone()]);
    let xc = xclient(&servers, XClientOptions::default());
    let filler = {
        let xc = xc.clone();
        fill_send_queue(move |payload| {
            let xc = xc.clone();
            async move {
                xc.send_raw("Mul", SerializeType::RAW, payload, CallOptions::default())
                    .await
            }
        })
        .await
    };
    let e = guard(
        GUARD,
        "a call with a 200 ms timeout behind a full send queue",
        raw_call(
            &xc,
            CallOptions::default().timeout(Duration::from_millis(200)),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::Timeout(d) if d == Duration::from_millis(200)),
        "{e:?}"
    );
    filler.abort();
    xc.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_breaker_probe_does_not_keep_the_breaker_half_open() {
    let server = FakeServer::start(Mode::Hangup).await;
    let servers = MultipleServers::from_addresses([server.key.clone()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            fail_mode: FailMode::Failfast,
            breaker: Some(BreakerConfig {
                threshold: 1,
                open_for: Duration::from_millis(200),
            }),
            ..Default::default()
        },
    );
    // One broken connection opens the breaker.
    let e = guard(GUARD, "call", raw_call(&xc, CallOptions::default()))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    let e = raw_call(&xc, CallOptions::default()).await.unwrap_err();
    assert!(matches!(e, Error::BreakerOpen(_)), "{e:?}");
    // Once it lets a probe through, the caller gives up on the probe (drops its future).
    server.set_mode(Mode::Silent);
    let mut dropped = false;
    for _ in 0..500 {
        match tokio::time::timeout(
            Duration::from_millis(100),
            raw_call(&xc, CallOptions::default()),
        )
        .await
        {
            Err(_) => {
                dropped = true;
                break;
            }
            Ok(Err(Error::BreakerOpen(_))) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(dropped, "the breaker never let a probe through");
    // The server recovers: the breaker must let another probe through and close.
    server.set_mode(Mode::Answer);
    let mut ok = false;
    for _ in 0..500 {
        match raw_call(&xc, CallOptions::default()).await {
            Ok(()) => {
                ok = true;
                break;
            }
            Err(Error::BreakerOpen(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(ok, "the breaker stayed half-open");
    xc.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_calls_in_flight_and_later_calls_without_dialling() {
    let silent = FakeServer::start(Mode::Silent).await;
    let servers = MultipleServers::from_addresses([silent.key.clone()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            fail_mode: FailMode::Failtry,
            retries: 5,
            ..Default::default()
        },
    );
    let pending = {
        let xc = xc.clone();
        tokio::spawn(async move { raw_call(&xc, CallOptions::default()).await })
    };
    wait_until("the call reached the server", || silent.requests() == 1).await;
    xc.close();
    let e = guard(GUARD, "the call in flight", pending)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, Error::XClientShutdown), "{e:?}");
    assert_eq!(e.to_string(), "xClient is shut down");
    assert!(!e.is_retryable());
    // Every later call fails the same way, without dialling.
    let e = raw_call(&xc, CallOptions::default()).await.unwrap_err();
    assert!(matches!(e, Error::XClientShutdown), "{e:?}");
    let e = xc
        .send_raw(
            "Mul",
            SerializeType::RAW,
            Bytes::new(),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::XClientShutdown), "{e:?}");
    let e = xc
        .broadcast_raw(
            "Mul",
            SerializeType::RAW,
            Bytes::new(),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::XClientShutdown), "{e:?}");
    let e = xc
        .fork_raw(
            "Mul",
            SerializeType::RAW,
            Bytes::new(),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::XClientShutdown), "{e:?}");
    assert_eq!(silent.accepted(), 1, "nothing was dialled after close");
    xc.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_leaves_and_comes_back_starts_with_a_closed_breaker() {
    let dead = dead_address();
    let servers = MultipleServers::from_addresses([dead.clone()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            fail_mode: FailMode::Failfast,
            breaker: Some(BreakerConfig {
                threshold: 1,
                open_for: Duration::from_secs(3600),
            }),
            ..Default::default()
        },
    );
    let e = raw_call(&xc, CallOptions::default()).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let e = raw_call(&xc, CallOptions::default()).await.unwrap_err();
    assert!(matches!(e, Error::BreakerOpen(_)), "{e:?}");
    servers.update(Vec::new());
    wait_until("the server left", || xc.servers().is_empty()).await;
    servers.update(entries(&[&dead]));
    wait_until("the server is back", || xc.servers().len() == 1).await;
    let e = raw_call(&xc, CallOptions::default()).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "dialled again: {e:?}");
    xc.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_durations_do_not_panic() {
    let handle = start_arith().await;
    let key = handle.local_address().to_string();
    let servers = MultipleServers::from_addresses([key.clone()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            broadcast_timeout: Duration::MAX,
            retry_interval: Duration::MAX,
            backup_latency: Duration::MAX,
            ..Default::default()
        },
    );
    let r = xc
        .call_with::<_, Reply>(
            "Mul",
            &Args { a: 6, b: 7 },
            CallOptions::default().timeout(Duration::MAX),
        )
        .await
        .unwrap();
    assert_eq!(r.reply.c, 42);
    let r: Reply = xc.broadcast("Add", &Args { a: 1, b: 2 }).await.unwrap();
    assert_eq!(r.c, 3);
    let r: Reply = xc.fork("Add", &Args { a: 2, b: 2 }).await.unwrap();
    assert_eq!(r.c, 4);
    xc.close();

    // A breaker that opens "for ever" stays open and keeps working.
    let dead = MultipleServers::from_addresses([dead_address()]);
    let xc = xclient(
        &dead,
        XClientOptions {
            fail_mode: FailMode::Failfast,
            breaker: Some(BreakerConfig {
                threshold: 1,
                open_for: Duration::MAX,
            }),
            client: ClientOptions::default().timeout(Duration::MAX),
            ..Default::default()
        },
    );
    let e = raw_call(&xc, CallOptions::default()).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    for _ in 0..3 {
        let e = raw_call(&xc, CallOptions::default()).await.unwrap_err();
        assert!(matches!(e, Error::BreakerOpen(_)), "{e:?}");
    }
    xc.close();
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_that_cannot_work_are_refused() {
    let servers = MultipleServers::from_addresses([dead_address()]);
    let too_many_retries = XClientOptions {
        retries: XClientOptions::MAX_RETRIES + 1,
        ..Default::default()
    };
    let bad_connection = XClientOptions {
        client: ClientOptions::default().heartbeat(Duration::ZERO),
        ..Default::default()
    };
    for (what, options) in [("retries", too_many_retries), ("heartbeat", bad_connection)] {
        let e = XClient::new("Arith", servers.clone(), options).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{what}: {e:?}");
    }
    // The most retries allowed, every one refused without I/O, end quickly.
    let xc = xclient(
        &MultipleServers::new(Vec::new()),
        XClientOptions {
            retries: XClientOptions::MAX_RETRIES,
            ..Default::default()
        },
    );
    let e = guard(GUARD, "retries", raw_call(&xc, CallOptions::default()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoServer), "{e:?}");
    xc.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_weights_are_used_without_overflow() {
    let a = start_arith().await;
    let b = start_arith().await;
    let weight = format!("weight={}", i64::MAX);
    let servers = MultipleServers::new(vec![
        ServerEntry::new(a.local_address().to_string(), weight.clone()),
        ServerEntry::new(b.local_address().to_string(), weight),
    ]);
    let xc = xclient(
        &servers,
        XClientOptions {
            select_mode: SelectMode::WeightedRoundRobin,
            ..Default::default()
        },
    );
    for i in 0..10 {
        let r: Reply = xc.call("Mul", &Args { a: i, b: 2 }).await.unwrap();
        assert_eq!(r.c, i * 2);
    }
    xc.close();
    a.shutdown(GUARD).await;
    b.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failtry_retries_the_same_server_and_never_another() {
    // Round robin alternates between a server that hangs up on every connection and a live
    // one. Failtry keeps retrying the server it picked (Failover would move on to the live
    // one and never fail). The dead-server detector is off: it would take the hanging-up
    // server out of rotation after its first failure (see
    // `the_dead_server_detector_keeps_a_hanging_up_server_out`).
    let hangup = FakeServer::start(Mode::Hangup).await;
    let live = start_arith().await;
    let servers =
        MultipleServers::from_addresses([hangup.key.clone(), live.local_address().to_string()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            fail_mode: FailMode::Failtry,
            select_mode: SelectMode::RoundRobin,
            retries: 2,
            health: None,
            ..Default::default()
        },
    );
    let (mut answered, mut failed) = (0, 0);
    for i in 0..4 {
        let before = hangup.accepted();
        match guard(
            GUARD,
            "call",
            xc.call::<_, Reply>("Mul", &Args { a: i, b: 3 }),
        )
        .await
        {
            Ok(r) => {
                assert_eq!(r.c, i * 3);
                assert_eq!(
                    hangup.accepted(),
                    before,
                    "an answered call never dialled it"
                );
                answered += 1;
            }
            Err(e) => {
                assert!(e.is_retryable(), "{e:?}");
                // The first attempt and 2 retries each dial (twice when the fresh
                // connection is already found closed before the request goes out).
                let dials = hangup.accepted() - before;
                assert!((3..=6).contains(&dials), "{dials} dials");
                failed += 1;
            }
        }
    }
    assert_eq!((answered, failed), (2, 2));
    xc.close();
    live.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dead_server_detector_keeps_a_hanging_up_server_out() {
    // The same pair under Failtry with the detector on (the default): the first call that
    // picks the hanging-up server fails (Failtry stays on it), then the detector keeps it out
    // of rotation and its probes dial it at a backed-off pace, not once per call.
    let hangup = FakeServer::start(Mode::Hangup).await;
    let live = start_arith().await;
    let servers =
        MultipleServers::from_addresses([hangup.key.clone(), live.local_address().to_string()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            fail_mode: FailMode::Failtry,
            select_mode: SelectMode::RoundRobin,
            retries: 2,
            ..Default::default()
        },
    );
    let mut failed = 0;
    for i in 0..40 {
        match guard(
            GUARD,
            "call",
            xc.call::<_, Reply>("Mul", &Args { a: i, b: 3 }),
        )
        .await
        {
            Ok(r) => assert_eq!(r.c, i * 3),
            Err(e) => {
                assert!(e.is_retryable(), "{e:?}");
                failed += 1;
            }
        }
    }
    assert!(failed <= 1, "{failed} calls failed");
    // 40 calls took a few ms; the probes dialled a handful of times meanwhile, not 40.
    let dials = hangup.accepted();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = hangup.accepted();
    assert!(later - dials <= 4, "{} probe dials in 1 s", later - dials);
    xc.close();
    live.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failbackup_asks_a_second_server_when_the_first_is_slow() {
    // A server that never answers and a live one, picked in turn (the backup's pick is a
    // turn too, so 3 or 4 of the 4 calls go to the silent one first): those are answered by
    // the backup request to the live one. Failfast or Failover would wait for the timeout.
    let silent = FakeServer::start(Mode::Silent).await;
    let live = start_arith().await;
    let servers =
        MultipleServers::from_addresses([silent.key.clone(), live.local_address().to_string()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            fail_mode: FailMode::Failbackup,
            select_mode: SelectMode::RoundRobin,
            backup_latency: Duration::from_millis(50),
            ..Default::default()
        },
    );
    for i in 0..4 {
        let r = guard(
            GUARD,
            "call",
            xc.call_with::<_, Reply>(
                "Mul",
                &Args { a: i, b: 5 },
                CallOptions::default().timeout(Duration::from_secs(10)),
            ),
        )
        .await
        .unwrap();
        assert_eq!(r.reply.c, i * 5);
    }
    let first_silent = silent.requests();
    assert!(
        first_silent >= 3,
        "{first_silent} calls went to the silent server first"
    );
    xc.close();
    live.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_icmp_stops_choosing_an_unreachable_server() {
    // Until its first measurement every server weighs 1; then the unreachable one (connect
    // refused: RTT 1000 ms, weight 0) is never chosen. Round robin would fail every other call.
    let live = start_arith().await;
    let servers =
        MultipleServers::from_addresses([dead_address(), live.local_address().to_string()]);
    let xc = xclient(
        &servers,
        XClientOptions {
            fail_mode: FailMode::Failfast,
            select_mode: SelectMode::WeightedIcmp,
            ..Default::default()
        },
    );
    let mut in_a_row = 0;
    for i in 0..1000 {
        match guard(
            GUARD,
            "call",
            xc.call::<_, Reply>("Mul", &Args { a: i, b: 2 }),
        )
        .await
        {
            Ok(r) => {
                assert_eq!(r.c, i * 2);
                in_a_row += 1;
                if in_a_row == 30 {
                    break;
                }
            }
            Err(e) => {
                assert!(matches!(e, Error::Connect { .. }), "{e:?}");
                in_a_row = 0;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    assert_eq!(in_a_row, 30, "the unreachable server kept being chosen");
    xc.close();
    live.shutdown(GUARD).await;
}

/// A selector that always names the first server in key order.
#[derive(Default)]
struct AlwaysFirst(std::sync::RwLock<Vec<String>>);

impl rpcx::xclient::Selector for AlwaysFirst {
    fn select(&self, _req: &rpcx::xclient::SelectRequest<'_>) -> Option<String> {
        self.0.read().unwrap().first().cloned()
    }
    fn update(&self, servers: &[ServerEntry]) {
        let mut keys: Vec<String> = servers.iter().map(|s| s.key.clone()).collect();
        keys.sort();
        *self.0.write().unwrap() = keys;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_that_keeps_naming_a_dead_server_is_overruled() {
    // The selector always names the dead server (first in key order); once the detector has
    // taken it out of rotation, another listed server is used instead of the selector's
    // pick (Failfast: a call sent to the dead server would fail).
    let live = start_arith().await;
    let dead = "tcp@127.0.0.1:1".to_owned();
    let servers = MultipleServers::from_addresses([dead.clone(), live.local_address().to_string()]);
    let xc = XClient::with_selector(
        "Arith",
        std::sync::Arc::new(servers),
        std::sync::Arc::new(AlwaysFirst::default()),
        XClientOptions {
            fail_mode: FailMode::Failfast,
            ..Default::default()
        },
    )
    .unwrap();
    let mut failed = 0;
    for i in 0..20 {
        match guard(
            GUARD,
            "call",
            xc.call::<_, Reply>("Mul", &Args { a: i, b: 2 }),
        )
        .await
        {
            Ok(r) => assert_eq!(r.c, i * 2),
            Err(_) => failed += 1,
        }
    }
    assert_eq!(failed, 1, "only the call that met the dead server fails");
    xc.close();
    live.shutdown(GUARD).await;
}
