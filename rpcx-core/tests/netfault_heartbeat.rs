//! The plain `Client`'s own dead-connection detector: heartbeats on the connection
//! (`heartbeat_interval`, answered within `heartbeat_timeout`). Behind a Toxiproxy proxy that
//! turns into a black hole (every byte held both ways, no reset, no FIN) with a call in
//! flight whose own timeout is far away, the heartbeat declares the connection dead within
//! interval + timeout (plus a scheduling margin): the call in flight fails then with the
//! connection's error instead of waiting out its 30 s, later calls fail at once, and a new
//! client works again after the heal. The measured time to detect is printed.

#[path = "netfault_support.rs"]
mod netfault_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netfault_support::{counting_server, host_port, Executions, Toxiproxy};

use rpcx::client::{Client, ClientOptions};
use rpcx::Error;

const INTERVAL: Duration = Duration::from_millis(500);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);
/// Scheduling slack on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_secs(1);
/// The call in flight when the hole opens: far beyond the detection bound.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_declare_a_black_holed_connection_dead() {
    let Some(toxi) = Toxiproxy::start().await else {
        return;
    };
    let log = Arc::new(Executions::default());
    let server = counting_server("a", Arc::clone(&log)).await;
    let proxy = toxi.proxy("a", &host_port(&server));
    let options = ClientOptions {
        default_timeout: Some(CALL_TIMEOUT),
        heartbeat_interval: Some(INTERVAL),
        heartbeat_timeout: HEARTBEAT_TIMEOUT,
        ..ClientOptions::default()
    };
    let address = format!("tcp@{}", proxy.listen);
    let client = Client::connect(&address, options.clone()).await.unwrap();
    for id in 0..3i64 {
        let who: String = client.call("Who", "Am", &id).await.unwrap();
        assert_eq!(who, "a");
    }
    // Heartbeats alone keep an idle healthy connection open.
    tokio::time::sleep(INTERVAL * 3).await;
    assert!(!client.is_closed(), "a healthy idle connection was closed");

    proxy.black_hole();
    let holed = Instant::now();
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.call::<_, String>("Who", "Am", &100i64).await })
    };
    let bound = INTERVAL + HEARTBEAT_TIMEOUT + MARGIN;
    let result = tokio::time::timeout(CALL_TIMEOUT, in_flight)
        .await
        .expect("the call in flight outlived its own timeout")
        .unwrap();
    let detected = holed.elapsed();
    eprintln!(
        "black hole detected by heartbeats after {detected:?} (interval {INTERVAL:?}, \
         timeout {HEARTBEAT_TIMEOUT:?}); the call in flight ended with {result:?}"
    );
    let err = result.expect_err("a call through a black hole succeeded");
    assert!(
        !matches!(err, Error::Timeout(_)),
        "the call waited out its own timeout instead of failing with the connection: {err}"
    );
    assert!(
        detected < bound,
        "the dead connection was declared after {detected:?}, beyond {bound:?}"
    );
    assert!(client.is_closed());
    let later = client.call::<_, String>("Who", "Am", &101i64).await;
    assert!(later.is_err(), "a call on the dead connection: {later:?}");
    assert!(log.of(100).len() <= 1 && log.of(101).is_empty());

    proxy.heal();
    let again = Client::connect(&address, options).await.unwrap();
    let who: String = again.call("Who", "Am", &102i64).await.unwrap();
    assert_eq!(who, "a");
    assert!(log.duplicates().is_empty());
    again.close();
    server.shutdown(Duration::from_secs(1)).await;
}
