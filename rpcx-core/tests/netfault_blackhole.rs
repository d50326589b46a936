//! A black-holed server mid-load (Toxiproxy holds every byte both ways; no reset, no FIN):
//! two servers behind proxies, an XClient with its default options (RoundRobin + Failover,
//! the dead-server detector on) and a 1 s call timeout. The call that meets the hole times
//! out; the detector takes the server out of rotation at once, so the other calls of the
//! 8 s outage go to the healthy server; its probes bring the server back soon after the
//! heal. Every call the API reports as successful ran exactly once, none outlives its
//! timeout by more than a margin. The figures are printed (`--nocapture`).

#[path = "netfault_support.rs"]
mod netfault_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netfault_support::{counting_server, host_port, options_with_timeout, Executions, Toxiproxy};

use rpcx::xclient::{HealthConfig, MultipleServers, XClient};

const TIMEOUT: Duration = Duration::from_secs(1);
/// How much later than its timeout a call may end (scheduling, a loaded machine).
const MARGIN: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Outcome {
    id: i64,
    at: Duration,
    took: Duration,
    result: Result<String, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_server_under_failover() {
    let Some(toxi) = Toxiproxy::start().await else {
        return;
    };
    let log = Arc::new(Executions::default());
    let a = counting_server("a", Arc::clone(&log)).await;
    let b = counting_server("b", Arc::clone(&log)).await;
    let pa = toxi.proxy("a", &host_port(&a));
    let pb = toxi.proxy("b", &host_port(&b));
    let servers = MultipleServers::from_addresses([
        format!("tcp@{}", pa.listen),
        format!("tcp@{}", pb.listen),
    ]);
    let options = options_with_timeout(TIMEOUT);
    let xc = XClient::new("Who", servers, options).unwrap();

    let start = Instant::now();
    let mut outcomes = Vec::new();
    let (hole_at, heal_at, end) = (
        Duration::from_secs(2),
        Duration::from_secs(10),
        Duration::from_secs(14),
    );
    let (mut holed, mut healed) = (false, false);
    let mut id = 0i64;
    while start.elapsed() < end {
        if !holed && start.elapsed() >= hole_at {
            pa.black_hole();
            holed = true;
        }
        if !healed && start.elapsed() >= heal_at {
            pa.heal();
            healed = true;
        }
        let t = Instant::now();
        let r = tokio::time::timeout(TIMEOUT * 5, xc.call::<_, String>("Am", &id)).await;
        let result = match r {
            Ok(Ok(name)) => Ok(name),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("hung".into()),
        };
        outcomes.push(Outcome {
            id,
            at: t - start,
            took: t.elapsed(),
            result,
        });
        id += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    for o in &failed {
        eprintln!("failed {o:?}");
    }
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
    eprintln!(
        "{} calls, {} failed, slowest {slowest:?}; a ran {}, b ran {}",
        outcomes.len(),
        failed.len(),
        log.count("a"),
        log.count("b")
    );
    let first_after_heal = outcomes
        .iter()
        .find(|o| o.at > heal_at && o.result.as_deref() == Ok("a"))
        .map(|o| o.at - heal_at);
    let first_failure = failed.first().map(|o| o.at.saturating_sub(hole_at));
    eprintln!(
        "black hole at {hole_at:?}: first failed call {first_failure:?} after it; healed at \
         {heal_at:?}: a answered again {first_after_heal:?} after the heal"
    );
    for o in &outcomes {
        if let Ok(name) = &o.result {
            assert_eq!(
                log.of(o.id),
                vec![name.clone()],
                "call {} ran once, on {name}",
                o.id
            );
        }
    }
    assert!(log.duplicates().is_empty(), "{:?}", log.duplicates());
    assert!(slowest < TIMEOUT + MARGIN, "a call took {slowest:?}");
    // Only the call that met the hole fails: the detector takes the server out at once.
    assert!(failed.len() <= 1, "{} failed calls", failed.len());
    let back_within =
        HealthConfig::default().max_backoff + HealthConfig::default().probe_timeout + MARGIN;
    assert!(
        first_after_heal.is_some_and(|d| d < back_within),
        "a answered again {first_after_heal:?} after the heal"
    );
}
