//! A partition the operating system itself sees as silence: a server runs in a network
//! namespace of its own (a "host" at 198.18.N.2 behind a veth pair; the 198.18.0.0/15
//! benchmarking range, used only inside namespaces this test makes), and its side of the link
//! is set down mid-load — packets to it vanish, no reset, no FIN, connects hang. Next to a
//! local server, under RoundRobin + Failover with a 1 s call timeout and the dead-server
//! detector (defaults): at most the calls already sent to it fail, none outlives its timeout
//! by more than a margin, and it is used again soon after the link comes back up. Needs root
//! and `ip` (iproute2); under `make netfault` a namespace that cannot be made fails the test
//! with the reason. The namespace, its link and the server process are removed even when the
//! test fails.

#[path = "netfault_support.rs"]
mod netfault_support;

#[path = "netns_support.rs"]
mod netns_support;

use std::time::{Duration, Instant};

use netfault_support::{enabled, options_with_timeout};
use netns_support::{Host, Remote};
use rpcx::arith::{Args, Reply};

use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::xclient::{HealthConfig, MultipleServers, XClient};

const TIMEOUT: Duration = Duration::from_secs(1);
/// Added by the local server to its products.
const LOCAL: i64 = 1_000_000;
const MARGIN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_partition_costs_the_calls_in_flight_only() {
    if !enabled() {
        return;
    }
    let host = Host::create().unwrap_or_else(|e| {
        panic!("cannot make a network namespace (root and iproute2 needed): {e}")
    });
    let remote = Remote::start(&host);
    // The local server answers Mul with LOCAL added, so that a reply tells who answered.
    let mut local = Server::builder().build();
    local
        .register_fn("Arith", "Mul", |_ctx: Context, a: Args| async move {
            Ok::<_, ServiceError>(Reply {
                c: a.a * a.b + LOCAL,
            })
        })
        .unwrap();
    let local = local.serve("tcp@127.0.0.1:0").await.unwrap();
    let servers =
        MultipleServers::from_addresses([remote.key.clone(), local.local_address().to_string()]);
    let options = options_with_timeout(TIMEOUT);
    let xc = XClient::new("Arith", servers, options).unwrap();
    // Both reachable first (the remote one through the veth pair).
    let mut who = std::collections::BTreeSet::new();
    for i in 0..4 {
        let r: Reply = xc.call("Mul", &Args { a: i, b: 2 }).await.unwrap();
        who.insert(r.c >= LOCAL);
        assert_eq!(r.c % LOCAL, i * 2);
    }
    assert_eq!(who.len(), 2, "both servers answered");

    let start = Instant::now();
    let (cut_at, heal_at, end) = (
        Duration::from_secs(1),
        Duration::from_secs(7),
        Duration::from_secs(11),
    );
    let (mut cut, mut healed) = (false, false);
    let (mut calls, mut failed, mut slowest) = (0, Vec::new(), Duration::ZERO);
    let mut remote_back: Option<Duration> = None;
    let mut i = 0i64;
    while start.elapsed() < end {
        if !cut && start.elapsed() >= cut_at {
            host.link(false);
            cut = true;
        }
        if !healed && start.elapsed() >= heal_at {
            host.link(true);
            healed = true;
        }
        let t = Instant::now();
        let r = tokio::time::timeout(
            TIMEOUT + MARGIN * 5,
            xc.call::<_, Reply>("Mul", &Args { a: i, b: 3 }),
        )
        .await
        .unwrap_or_else(|_| panic!("call {i} hung"));
        slowest = slowest.max(t.elapsed());
        match r {
            Ok(r) => {
                assert_eq!(r.c % LOCAL, i * 3);
                if healed && r.c < LOCAL && remote_back.is_none() {
                    remote_back = Some(t - start - heal_at);
                }
            }
            Err(e) => failed.push(format!("call {i} at {:?}: {e}", t - start)),
        }
        calls += 1;
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let limit =
        HealthConfig::default().max_backoff + HealthConfig::default().probe_timeout + MARGIN;
    eprintln!(
        "{calls} calls, {} failed {failed:?}, slowest {slowest:?}; the partitioned server \
         answered again {remote_back:?} after the link came back",
        failed.len()
    );
    assert!(failed.len() <= 1, "{failed:?}");
    assert!(slowest < TIMEOUT + MARGIN, "a call took {slowest:?}");
    assert!(
        remote_back.is_some_and(|d| d < limit),
        "the partitioned server was not used again within {limit:?}: {remote_back:?}"
    );
    xc.close();
    stop(local).await;
    drop(remote);
    drop(host);
}

async fn stop(h: ServerHandle) {
    h.shutdown(Duration::from_secs(1)).await;
}
