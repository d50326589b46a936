//! `Client::start_call_raw`: calls started without a task, their outcome handed to a callback
//! exactly once — replies, server errors, timeouts, a refused request, a connection that goes
//! away, a full send budget (the queued fallback) — and cancelled calls never call back.

mod server_support;
use server_support as support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use rpcx::client::Client;
use rpcx::client::{ClientCall, ClientInterceptor, ClientOptions, RawRequest, RawResponse};
use rpcx::protocol::{Metadata, SerializeType};
use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::Error;

/// How long a test waits for an outcome that must come.
const COMES: Duration = Duration::from_secs(20);

async fn start() -> ServerHandle {
    let mut server = Server::builder().build();
    server
        .register_raw("Echo", "Raw", |_ctx: Context, p: Bytes| async move {
            Ok::<_, ServiceError>(p)
        })
        .unwrap();
    server
        .register_raw("Echo", "Fail", |_ctx: Context, _p: Bytes| async move {
            Err::<Bytes, _>(ServiceError::new("no such luck"))
        })
        .unwrap();
    server
        .register_raw("Echo", "Never", |_ctx: Context, _p: Bytes| async move {
            std::future::pending::<Result<Bytes, ServiceError>>().await
        })
        .unwrap();
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

fn request(method: &str, payload: &[u8], timeout: Option<Duration>) -> RawRequest {
    RawRequest {
        service: "Echo".into(),
        method: method.into(),
        serialize_type: SerializeType::RAW,
        metadata: Metadata::new(),
        payload: Bytes::copy_from_slice(payload),
        timeout,
    }
}

type Outcome = Result<RawResponse, Error>;

/// Starts a call whose outcome goes to the returned channel (and counts callbacks).
fn started(
    client: &Client,
    req: RawRequest,
    calls: &Arc<AtomicUsize>,
) -> (rpcx::client::StartedCall, mpsc::Receiver<Outcome>) {
    let (tx, rx) = mpsc::channel();
    let calls = Arc::clone(calls);
    let call = client.start_call_raw(req, move |outcome| {
        calls.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(outcome);
    });
    (call, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_errors_and_timeouts_reach_the_callback_once() {
    let handle = start().await;
    let addr = handle.local_address().to_string();
    let client = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));

    // Many at once, each with its own payload.
    let waits: Vec<_> = (0..500u32)
        .map(|i| {
            let payload = i.to_be_bytes();
            (
                payload,
                started(&client, request("Raw", &payload, None), &calls).1,
            )
        })
        .collect();
    for (payload, rx) in waits {
        let reply = rx.recv_timeout(COMES).unwrap().unwrap();
        assert_eq!(&reply.payload[..], &payload[..]);
    }

    let (_c, rx) = started(&client, request("Fail", b"", None), &calls);
    let e = rx.recv_timeout(COMES).unwrap().unwrap_err();
    assert_eq!(e.server_message(), Some("no such luck"));

    let limit = Duration::from_millis(100);
    let (_c, rx) = started(&client, request("Never", b"", Some(limit)), &calls);
    match rx.recv_timeout(COMES).unwrap() {
        Err(Error::Timeout(d)) => assert_eq!(d, limit),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 502);
    // A timed-out call is forgotten: the client goes on.
    let (_c, rx) = started(&client, request("Raw", b"after", None), &calls);
    assert_eq!(
        &rx.recv_timeout(COMES).unwrap().unwrap().payload[..],
        b"after"
    );
    client.close();
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_never_calls_back_and_its_timer_ends() {
    let handle = start().await;
    let addr = handle.local_address().to_string();
    let client = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (call, rx) = started(
        &client,
        request("Never", b"", Some(Duration::from_millis(200))),
        &calls,
    );
    call.cancel();
    // Past its deadline: neither the timer nor anything else calls back.
    assert!(rx.recv_timeout(Duration::from_millis(600)).is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Cancelling after the outcome came is harmless.
    let (call, rx) = started(&client, request("Raw", b"x", None), &calls);
    rx.recv_timeout(COMES).unwrap().unwrap();
    call.cancel();
    client.close();
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_waiting_when_the_connection_goes_fail_with_its_reason() {
    let handle = start().await;
    let addr = handle.local_address().to_string();
    let client = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let waits: Vec<_> = (0..20)
        .map(|_| started(&client, request("Never", b"", None), &calls))
        .collect();
    handle.shutdown(Duration::from_millis(100)).await;
    for (_call, rx) in waits {
        let e = rx.recv_timeout(COMES).unwrap().unwrap_err();
        assert!(
            matches!(e, Error::ConnectionLost(_) | Error::Closed),
            "unexpected error: {e}"
        );
    }
    // Started after the end: called back at once with the error.
    let (_c, rx) = started(&client, request("Raw", b"", None), &calls);
    assert!(rx.recv_timeout(COMES).unwrap().is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_must_wait_for_room_are_queued_and_answered() {
    let handle = start().await;
    let addr = handle.local_address().to_string();
    // A budget of one request at a time: the others wait for room (the spawned fallback).
    let opts = ClientOptions {
        max_unsent_bytes: 200,
        ..ClientOptions::default()
    };
    let client = Client::connect(&addr, opts).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let payload = vec![7u8; 150];
    let waits: Vec<_> = (0..200)
        .map(|_| started(&client, request("Raw", &payload, None), &calls).1)
        .collect();
    for rx in waits {
        assert_eq!(rx.recv_timeout(COMES).unwrap().unwrap().payload.len(), 150);
    }
    client.close();
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Counts hook runs; refuses method `Refused`.
#[derive(Default)]
struct Hooks {
    before: AtomicUsize,
    after: AtomicUsize,
}

impl ClientInterceptor for Hooks {
    fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
        self.before.fetch_add(1, Ordering::SeqCst);
        if call.method() == "Refused" {
            return Err("refused here".into());
        }
        Ok(())
    }
    fn after_call(&self, _call: &ClientCall<'_>, _result: Result<&RawResponse, &Error>) {
        self.after.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interceptors_run_around_started_calls() {
    let handle = start().await;
    let addr = handle.local_address().to_string();
    let hooks = Arc::new(Hooks::default());
    let mut opts = ClientOptions::default();
    opts.interceptors.push(hooks.clone());
    let client = Client::connect(&addr, opts).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (_c, rx) = started(&client, request("Raw", b"hi", None), &calls);
    assert_eq!(&rx.recv_timeout(COMES).unwrap().unwrap().payload[..], b"hi");
    let (_c, rx) = started(&client, request("Refused", b"", None), &calls);
    let e = rx.recv_timeout(COMES).unwrap().unwrap_err();
    assert!(e.to_string().contains("refused here"), "{e}");
    assert_eq!(hooks.before.load(Ordering::SeqCst), 2);
    support::wait_until("after_call ran for both", || {
        hooks.after.load(Ordering::SeqCst) == 2
    })
    .await;
    client.close();
    handle.shutdown(Duration::from_secs(1)).await;
}
