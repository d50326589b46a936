//! Graceful shutdown, immediate close, and shutting down from a plain thread.

#[path = "server_support.rs"]
mod support;

use std::time::Duration;

use rpcx::arith::{Args, Reply, SleepArgs};
use rpcx::client::{Client, ClientOptions};
use rpcx::server::ServerHandle;
use rpcx::Error;
use support::{guard, start_arith, wait_until, GUARD};
use tokio::task::JoinSet;

async fn connect(handle: &ServerHandle) -> Client {
    Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap()
}

/// Starts `n` `Arith.Sleep{ms}` calls spread over `clients`, and waits until the server has
/// all of them in flight.
async fn sleeping_calls(
    handle: &ServerHandle,
    clients: &[Client],
    n: usize,
    ms: i64,
) -> JoinSet<Result<Reply, Error>> {
    let mut set = JoinSet::new();
    for i in 0..n {
        let c = clients[i % clients.len()].clone();
        set.spawn(async move { c.call("Arith", "Sleep", &SleepArgs { ms }).await });
    }
    wait_until("all calls in flight on the server", || {
        handle.inflight() == n
    })
    .await;
    set
}

fn is_connection_error(e: &Error) -> bool {
    matches!(e, Error::ConnectionLost(_) | Error::Closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_completes_in_flight_calls() {
    let handle = start_arith().await;
    let addr = handle.local_address().to_string();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(connect(&handle).await);
    }
    let mut calls = sleeping_calls(&handle, &clients, 100, 300).await;
    let h = handle.clone();
    let stopper = tokio::spawn(async move { h.shutdown(Duration::from_secs(5)).await });
    let mut ok = 0;
    while let Some(r) = guard(GUARD, "in-flight call", calls.join_next()).await {
        let reply = r
            .unwrap()
            .expect("an in-flight call failed during graceful shutdown");
        assert_eq!(reply.c, 300);
        ok += 1;
    }
    assert_eq!(ok, 100);
    guard(GUARD, "shutdown", stopper).await.unwrap();
    assert!(handle.is_stopping());
    assert_eq!(handle.inflight(), 0);

    // New connections are refused.
    let e = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    // The old connections are closed: a new call fails with a connection error.
    let e = guard(
        GUARD,
        "call after shutdown",
        clients[0].call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 }),
    )
    .await
    .unwrap_err();
    assert!(is_connection_error(&e), "{e:?}");
    // Shutdown is idempotent.
    guard(
        GUARD,
        "second shutdown",
        handle.shutdown(Duration::from_secs(1)),
    )
    .await;
    guard(GUARD, "stopped", handle.stopped()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_on_an_idle_server_returns_and_closes_connections() {
    let handle = start_arith().await;
    let c = connect(&handle).await;
    let r: Reply = c.call("Arith", "Mul", &Args { a: 2, b: 2 }).await.unwrap();
    assert_eq!(r.c, 4);
    // Nothing in flight: returns at once even with an unbounded grace.
    guard(GUARD, "shutdown", handle.shutdown(Duration::MAX)).await;
    wait_until("client notices the close", || c.is_closed()).await;
    let e = c
        .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_grace_is_a_bound_not_a_wait_for_handlers() {
    // Handlers that outlive the grace period do not hold shutdown (or `stopped`) hostage.
    let handle = start_arith().await;
    let c = connect(&handle).await;
    let mut calls = sleeping_calls(&handle, std::slice::from_ref(&c), 10, 600_000).await;
    guard(
        GUARD,
        "shutdown with a short grace",
        handle.shutdown(Duration::from_millis(200)),
    )
    .await;
    guard(GUARD, "stopped", handle.stopped()).await;
    while let Some(r) = guard(GUARD, "pending call", calls.join_next()).await {
        let e = r.unwrap().unwrap_err();
        assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_blocking_from_a_plain_thread() {
    let handle = start_arith().await;
    let c = connect(&handle).await;
    let r: Reply = c.call("Arith", "Add", &Args { a: 2, b: 2 }).await.unwrap();
    assert_eq!(r.c, 4);
    // Refused on a runtime thread.
    assert!(matches!(
        handle.shutdown_blocking(Duration::from_secs(1)),
        Err(Error::BlockingInRuntime)
    ));
    assert!(!handle.is_stopping());
    let mut calls = sleeping_calls(&handle, std::slice::from_ref(&c), 10, 200).await;
    let h = handle.clone();
    let thread = std::thread::spawn(move || h.shutdown_blocking(Duration::from_secs(5)));
    let joined = guard(
        GUARD,
        "shutdown thread",
        tokio::task::spawn_blocking(move || thread.join()),
    )
    .await
    .unwrap()
    .unwrap();
    joined.unwrap();
    while let Some(r) = calls.join_next().await {
        assert_eq!(r.unwrap().unwrap().c, 200);
    }
    assert!(handle.is_stopping());
    let e = Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_pending_calls_promptly() {
    let handle = start_arith().await;
    let clients = [connect(&handle).await, connect(&handle).await];
    let mut calls = sleeping_calls(&handle, &clients, 50, 10_000).await;
    handle.close();
    let mut failed = 0;
    while let Some(r) = guard(
        Duration::from_secs(10),
        "pending call after close",
        calls.join_next(),
    )
    .await
    {
        let e = r.unwrap().unwrap_err();
        assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
        failed += 1;
    }
    assert_eq!(failed, 50);
    assert!(handle.is_stopping());
    // Closing does not wait for the handlers still sleeping.
    guard(GUARD, "stopped after close", handle.stopped()).await;
    assert!(Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default()
    )
    .await
    .is_err());
    // Closing twice is harmless.
    handle.close();
    guard(
        GUARD,
        "shutdown after close",
        handle.shutdown(Duration::from_secs(1)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_and_shutdown_do_not_wait_for_a_peer_that_never_reads() {
    use rpcx::protocol::SerializeType;
    use support::{request, RawConn};
    for graceful in [false, true] {
        let handle = start_arith().await;
        let by = connect(&handle).await;
        // Enough 1 MiB echoes that the replies cannot all fit in the socket buffers. The
        // server stops reading once the connection's byte budget is spent, so the writes
        // block (backpressure): they run in their own task, and the test goes on once the
        // server holds replies it cannot write.
        let mut raw = RawConn::connect(&handle).await;
        let big = vec![7u8; 1 << 20];
        let writer = tokio::spawn(async move {
            for seq in 0..48 {
                raw.send(&request("Arith", "Echo", SerializeType::RAW, seq, &big))
                    .await;
            }
            raw
        });
        wait_until("the server holds unwritten replies", || {
            handle.pending_bytes() >= 4 << 20
        })
        .await;
        let r: Reply = by.call("Arith", "Mul", &Args { a: 2, b: 3 }).await.unwrap();
        assert_eq!(r.c, 6, "other clients are served meanwhile");
        if graceful {
            guard(
                GUARD,
                "shutdown",
                handle.shutdown(Duration::from_millis(500)),
            )
            .await;
        } else {
            handle.close();
        }
        guard(GUARD, "stopped", handle.stopped()).await;
        wait_until("bystander sees the close", || by.is_closed()).await;
        writer.abort();
    }
}
