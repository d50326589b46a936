//! A server that goes down (its listener and connections closed) and is started again on the
//! same address, under load through an XClient with its defaults (RoundRobin + Failover, the
//! dead-server detector on): the calls go on through the other server meanwhile, at most one
//! fails, and the restarted server is used again, without restarting the client, within the
//! detector's longest probe pause. While it is down, its port is held by a listener that
//! accepts and drops every connection and counts them: the client dials it at the probe's
//! backoff, not once per call (no storm of connects). No Toxiproxy needed.

#[path = "netfault_support.rs"]
mod netfault_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netfault_support::{counting_server_on, enabled, options_with_timeout, Executions};

use rpcx::xclient::{HealthConfig, MultipleServers, XClient};

const TIMEOUT: Duration = Duration::from_secs(1);
const MARGIN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_used_again() {
    if !enabled() {
        return;
    }
    let log = Arc::new(Executions::default());
    let a = counting_server_on("a", "tcp@127.0.0.1:0", Arc::clone(&log)).await;
    let b = counting_server_on("b", "tcp@127.0.0.1:0", Arc::clone(&log)).await;
    let addr_a = a.local_address().to_string();
    let servers = MultipleServers::from_addresses([addr_a.clone(), b.local_address().to_string()]);
    let options = options_with_timeout(TIMEOUT);
    let xc = XClient::new("Who", servers, options).unwrap();

    let start = Instant::now();
    let (down_at, up_at, end) = (
        Duration::from_secs(1),
        Duration::from_secs(5),
        Duration::from_secs(9),
    );
    let mut a = Some(a);
    let mut restarted = None;
    let mut stand_in: Option<StandIn> = None;
    let (mut failed, mut back_after, mut id) = (Vec::new(), None, 0i64);
    let mut dials_while_down = None;
    while start.elapsed() < end {
        if start.elapsed() >= down_at {
            if let Some(h) = a.take() {
                h.close();
                stand_in = Some(StandIn::bind(&addr_a).await);
            }
        }
        if restarted.is_none() && start.elapsed() >= up_at {
            let dials = stand_in.take().expect("the stand-in listener").stop().await;
            let down_for = up_at - down_at;
            dials_while_down = Some(dials);
            eprintln!("{dials} connects while the server was down for {down_for:?}");
            restarted = Some(counting_server_on("a", &addr_a, Arc::clone(&log)).await);
        }
        let t = Instant::now();
        let r = tokio::time::timeout(TIMEOUT + MARGIN * 5, xc.call::<_, String>("Am", &id))
            .await
            .unwrap_or_else(|_| panic!("call {id} hung"));
        assert!(
            t.elapsed() < TIMEOUT + MARGIN,
            "call {id} took {:?}",
            t.elapsed()
        );
        match r {
            Ok(name) => {
                assert_eq!(log.of(id), vec![name.clone()], "call {id} ran once");
                if name == "a" && restarted.is_some() && back_after.is_none() {
                    back_after = Some(t - start - up_at);
                }
            }
            Err(e) => failed.push(format!("call {id} at {:?}: {e}", t - start)),
        }
        id += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{id} calls, {} failed {failed:?}; the restarted server answered {back_after:?} after \
         it was up again",
        failed.len()
    );
    assert!(failed.len() <= 1, "{failed:?}");
    let limit =
        HealthConfig::default().max_backoff + HealthConfig::default().probe_timeout + MARGIN;
    assert!(
        back_after.is_some_and(|d| d < limit),
        "the restarted server was not used again within {limit:?}: {back_after:?}"
    );
    assert!(log.duplicates().is_empty());
    // One probe dial per backoff pause (200 ms doubling to 2 s, ±20 %) over the 4 s down:
    // about 5; a client dialling once per call (every 50 ms) would make about 80.
    let dials = dials_while_down.expect("the server was down");
    assert!(
        (1..=MAX_DIALS_WHILE_DOWN).contains(&dials),
        "{dials} connects while the server was down (at most {MAX_DIALS_WHILE_DOWN} expected)"
    );
    xc.close();
}

/// Most connects the detector's probes may make in the 4 s the server is down (200 ms, 400,
/// 800, 1.6 s, 2 s pauses with +20 % jitter at worst fit about 5; twice that allows for
/// scheduling).
const MAX_DIALS_WHILE_DOWN: usize = 10;

/// Holds a down server's port: accepts every connection, drops it at once and counts it.
struct StandIn {
    task: tokio::task::JoinHandle<usize>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl StandIn {
    async fn bind(address: &str) -> StandIn {
        // The closed server's listener may take a moment to let go of the port.
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(address.trim_start_matches("tcp@")).await {
                Ok(l) => break l,
                Err(e) if tries < 40 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => panic!("bind {address}: {e}"),
            }
        };
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut dials = 0;
            loop {
                tokio::select! {
                    _ = &mut stopped => return dials,
                    accepted = listener.accept() => {
                        if accepted.is_ok() {
                            dials += 1;
                        }
                    }
                }
            }
        });
        StandIn { task, stop }
    }

    /// Closes the listener; the number of connections it took.
    async fn stop(self) -> usize {
        let _ = self.stop.send(());
        self.task.await.unwrap()
    }
}
