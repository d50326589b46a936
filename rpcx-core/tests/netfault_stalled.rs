//! Servers that accept and then stall: one never answers a byte, one answers half a reply
//! frame and stops. A client's call to either ends with a timeout within its deadline (never
//! hangs), and an XClient with Failover over [stalled, healthy] answers every call from the
//! healthy server, each call ending within its timeout. No Toxiproxy needed: the stalled
//! servers are plain listeners in the test.

#[path = "netfault_support.rs"]
mod netfault_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netfault_support::{counting_server, enabled, Executions};
use rpcx::client::{Client, ClientOptions};
use rpcx::xclient::{BreakerConfig, MultipleServers, XClient, XClientOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(1);
/// How much later than its timeout a call may end (scheduling, a loaded machine).
const MARGIN: Duration = Duration::from_secs(1);

/// A listener that accepts, reads whatever comes and, for each request header read, writes
/// `reply` (possibly a part of a frame) once, then holds the connection open until the test
/// ends.
async fn stalled(reply: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("tcp@{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut answered = false;
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !answered && !reply.is_empty() {
                        let _ = s.write_all(reply).await;
                        answered = true;
                    }
                }
            });
        }
    });
    addr
}

/// The first 10 bytes of an rpcx reply header (magic, version, flags, status, seq…): a frame
/// begun and never finished.
const HALF_FRAME: &[u8] = &[0x08, 0x01, 0x80, 0x00, 0, 0, 0, 0, 0, 0];

async fn direct_call_times_out(address: &str, what: &str) {
    let client = Client::connect(
        address,
        ClientOptions {
            default_timeout: Some(TIMEOUT),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    let t = Instant::now();
    let r = tokio::time::timeout(
        TIMEOUT + MARGIN * 5,
        client.call::<_, String>("Who", "Am", &1i64),
    )
    .await
    .unwrap_or_else(|_| panic!("{what}: the call hung past its timeout"));
    let took = t.elapsed();
    eprintln!("{what}: direct call ended after {took:?}: {r:?}");
    assert!(r.is_err(), "{what}: a stalled server cannot answer");
    assert!(took < TIMEOUT + MARGIN, "{what}: took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_stalled_server_ends_at_its_timeout() {
    if !enabled() {
        return;
    }
    direct_call_times_out(&stalled(b"").await, "silent server").await;
    direct_call_times_out(&stalled(HALF_FRAME).await, "half-frame server").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_over_stalled_servers_answers_from_the_healthy_one() {
    if !enabled() {
        return;
    }
    let log = Arc::new(Executions::default());
    let good = counting_server("good", Arc::clone(&log)).await;
    let silent = stalled(b"").await;
    let half = stalled(HALF_FRAME).await;
    let servers = MultipleServers::from_addresses([
        silent.clone(),
        half.clone(),
        good.local_address().to_string(),
    ]);
    let options = XClientOptions {
        client: ClientOptions {
            default_timeout: Some(TIMEOUT),
            ..ClientOptions::default()
        },
        breaker: Some(BreakerConfig {
            threshold: 1,
            open_for: Duration::from_secs(30),
        }),
        ..XClientOptions::default()
    };
    let xc = XClient::new("Who", servers, options).unwrap();
    let (mut ok, mut failed, mut slowest) = (0, Vec::new(), Duration::ZERO);
    for id in 0..60i64 {
        let t = Instant::now();
        let r = tokio::time::timeout(TIMEOUT + MARGIN * 5, xc.call::<_, String>("Am", &id))
            .await
            .unwrap_or_else(|_| panic!("call {id} hung past its timeout"));
        slowest = slowest.max(t.elapsed());
        match r {
            Ok(name) => {
                assert_eq!(name, "good");
                assert_eq!(log.of(id), vec!["good".to_owned()], "call {id} ran once");
                ok += 1;
            }
            Err(e) => failed.push(format!("call {id}: {e}")),
        }
    }
    eprintln!(
        "60 calls over [silent, half-frame, good] with a breaker: {ok} answered, {} failed \
         {failed:?}, slowest {slowest:?}",
        failed.len()
    );
    assert!(slowest < TIMEOUT + MARGIN, "a call took {slowest:?}");
    // Each stalled server costs at most the call that met it: its breaker then keeps it out
    // for the rest of the run.
    assert!(failed.len() <= 2, "{failed:?}");
    assert!(log.duplicates().is_empty());
}
