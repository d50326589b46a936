//! Services registered and unregistered while the server runs (Go's `Register` after
//! `Serve`, `UnregisterAll`): the live table, calls in flight, plugins told of every change,
//! plugins added after start, and lookups racing with changes.

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::server::{Context, Plugin, Server, ServerHandle, ServiceError};
use rpcx::Error;
use support::{guard, wait_until, GUARD};
use tokio::sync::Semaphore;

async fn connect(handle: &ServerHandle) -> Client {
    Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap()
}

async fn mul(c: &Client, service: &str, a: i64, b: i64) -> Result<i64, Error> {
    c.call::<_, Reply>(service, "Mul", &Args { a, b })
        .await
        .map(|r| r.c)
}

fn server_error(r: Result<i64, Error>) -> String {
    match r {
        Err(Error::Server(e)) => e.message,
        other => panic!("expected a server error, got {other:?}"),
    }
}

fn mul_fn(k: i64) -> impl Fn(Context, Args) -> std::future::Ready<Result<Reply, ServiceError>> {
    move |_ctx, a: Args| std::future::ready(Ok(Reply { c: a.a * a.b * k }))
}

/// Records the registration hooks, in order, as `on_register S.M meta` / `on_unregister S`
/// / `on_start`; refuses services named `Refused`.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<String>>,
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Plugin for Recorder {
    fn on_register(&self, service: &str, method: &str, metadata: &str) -> Result<(), String> {
        if service == "Refused" {
            return Err(format!("{service} is not welcome"));
        }
        let line = format!("on_register {service}.{method} {metadata}");
        self.log.lock().unwrap().push(line.trim_end().to_owned());
        Ok(())
    }
    fn on_unregister(&self, service: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("on_unregister {service}"));
    }
    fn on_start(&self, _address: &str) {
        self.log.lock().unwrap().push("on_start".into());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_register_after_serve_and_replace() {
    let rec = Arc::new(Recorder::default());
    let mut server = Server::builder().plugin_arc(rec.clone()).build();
    server.register_fn("One", "Mul", mul_fn(1)).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    assert_eq!(rec.take(), ["on_register One.Mul", "on_start"]);
    let c = connect(&handle).await;

    // Go's text for a service that is not there (yet).
    assert_eq!(
        server_error(mul(&c, "Two", 3, 4).await),
        "rpcx: can't find service Two"
    );
    handle.register_fn("Two", "Mul", mul_fn(10)).unwrap();
    assert_eq!(mul(&c, "Two", 3, 4).await.unwrap(), 120);
    assert_eq!(rec.take(), ["on_register Two.Mul"]);

    // Metadata set on a live service announces its methods again with it.
    handle
        .set_service_metadata("Two", "weight=2&group=blue")
        .unwrap();
    assert_eq!(rec.take(), ["on_register Two.Mul weight=2&group=blue"]);
    assert_eq!(
        handle.services().get("Two").unwrap().metadata(),
        "weight=2&group=blue"
    );
    // … and is given with the methods registered later.
    handle.register_fn("Two", "Sq", mul_fn(1)).unwrap();
    assert_eq!(rec.take(), ["on_register Two.Sq weight=2&group=blue"]);

    // Registering a name again replaces the handler.
    handle.register_fn("Two", "Mul", mul_fn(100)).unwrap();
    assert_eq!(mul(&c, "Two", 3, 4).await.unwrap(), 1200);
    assert_eq!(mul(&c, "One", 3, 4).await.unwrap(), 12);

    // A method the service does not have: Go's other text.
    let e = c
        .call::<_, Reply>("Two", "Nope", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("rpcx: can't find method Nope"),
        "{e}"
    );

    // A refusal changes nothing.
    let e = handle.register_fn("Refused", "Mul", mul_fn(1)).unwrap_err();
    assert!(
        matches!(&e, Error::Registration(t) if t.contains("Refused is not welcome")),
        "{e:?}"
    );
    assert!(handle.services().get("Refused").is_none());
    assert_eq!(
        server_error(mul(&c, "Refused", 1, 1).await),
        "rpcx: can't find service Refused"
    );
    assert_eq!(handle.services().service_names(), ["One", "Two"]);
    assert_eq!(
        handle.services().get("Two").unwrap().method_names(),
        ["Mul", "Sq"]
    );
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_unregister_lets_calls_in_flight_finish() {
    let rec = Arc::new(Recorder::default());
    let mut server = Server::builder().plugin_arc(rec.clone()).build();
    server.register_fn("Keep", "Mul", mul_fn(1)).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();

    // A handler that holds its call until released.
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let (g, n) = (gate.clone(), entered.clone());
    handle
        .register_fn("Slow", "Mul", move |_ctx: Context, a: Args| {
            let (g, n) = (g.clone(), n.clone());
            async move {
                n.fetch_add(1, Ordering::SeqCst);
                let _permit = g
                    .acquire()
                    .await
                    .map_err(|e| ServiceError::new(e.to_string()))?;
                Ok::<_, ServiceError>(Reply { c: a.a * a.b })
            }
        })
        .unwrap();
    rec.take();
    let c = connect(&handle).await;
    let inflight = {
        let c = c.clone();
        tokio::spawn(async move { mul(&c, "Slow", 6, 7).await })
    };
    wait_until("the slow call runs", || entered.load(Ordering::SeqCst) == 1).await;

    assert!(handle.unregister("Slow"));
    assert!(!handle.unregister("Slow"), "already gone");
    assert!(!handle.unregister("Never"));
    assert_eq!(rec.take(), ["on_unregister Slow"]);
    assert_eq!(
        server_error(mul(&c, "Slow", 1, 1).await),
        "rpcx: can't find service Slow"
    );
    // The call that was running answers normally.
    gate.add_permits(1);
    assert_eq!(
        guard(GUARD, "in-flight call", inflight)
            .await
            .unwrap()
            .unwrap(),
        42
    );
    assert_eq!(mul(&c, "Keep", 2, 3).await.unwrap(), 6);

    // unregister_all: every service goes, the server keeps serving what is added later.
    handle.register_fn("Other", "Mul", mul_fn(1)).unwrap();
    rec.take();
    assert_eq!(handle.unregister_all(), ["Keep", "Other"]);
    assert_eq!(rec.take(), ["on_unregister Keep", "on_unregister Other"]);
    assert!(handle.unregister_all().is_empty());
    for s in ["Keep", "Other"] {
        assert_eq!(
            server_error(mul(&c, s, 1, 1).await),
            format!("rpcx: can't find service {s}")
        );
    }
    handle.register_fn("Keep", "Mul", mul_fn(3)).unwrap();
    assert_eq!(mul(&c, "Keep", 2, 3).await.unwrap(), 18);
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_registry_added_after_start_and_shutdown_ends_changes() {
    let own = Arc::new(Recorder::default());
    let mut server = Server::builder().plugin_arc(own.clone()).build();
    server.set_service_metadata("A", "weight=5");
    server.register_fn("A", "Mul", mul_fn(1)).unwrap();
    server.register_fn("A", "Add", mul_fn(1)).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    handle.register_fn("B", "Mul", mul_fn(1)).unwrap();
    own.take();

    // Joining late: the address, then every method registered so far.
    let late = Arc::new(Recorder::default());
    handle.add_registry(late.clone()).unwrap();
    assert_eq!(
        late.take(),
        [
            "on_start",
            "on_register A.Add weight=5",
            "on_register A.Mul weight=5",
            "on_register B.Mul"
        ]
    );
    assert!(
        own.take().is_empty(),
        "the server's own plugins are not told again"
    );

    // Later changes reach both.
    handle.register_fn("C", "Mul", mul_fn(1)).unwrap();
    assert!(handle.unregister("B"));
    for rec in [&own, &late] {
        assert_eq!(rec.take(), ["on_register C.Mul", "on_unregister B"]);
    }

    // Shutdown unregisters every service once, in both, then refuses changes.
    handle.shutdown(Duration::from_secs(2)).await;
    for rec in [&own, &late] {
        assert_eq!(rec.take(), ["on_unregister A", "on_unregister C"]);
    }
    let e = handle.register_fn("D", "Mul", mul_fn(1)).unwrap_err();
    assert!(
        matches!(&e, Error::Registration(t) if t.contains("shutting down")),
        "{e:?}"
    );
    assert!(handle.set_service_metadata("A", "x=1").is_err());
    assert!(handle.add_registry(Arc::new(Recorder::default())).is_err());
    assert!(!handle.unregister("A"));
    assert!(handle.unregister_all().is_empty());
    for rec in [&own, &late] {
        assert!(rec.take().is_empty());
    }
}

/// A late plugin that refuses a service: the error is returned and the plugin stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_registry_refusing_on_replay_still_joins() {
    let mut server = Server::builder().build();
    server.register_fn("Refused", "Mul", mul_fn(1)).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let late = Arc::new(Recorder::default());
    let e = handle.add_registry(late.clone()).unwrap_err();
    assert!(e.to_string().contains("Refused is not welcome"), "{e}");
    handle.register_fn("Ok", "Mul", mul_fn(1)).unwrap();
    assert_eq!(late.take(), ["on_start", "on_register Ok.Mul"]);
    handle.shutdown(Duration::from_secs(2)).await;
}

/// Calls of a stable service never fail while another service is registered and
/// unregistered in a loop next to them, and the churned one answers correctly or with
/// "can't find service", nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_changes_race_with_lookups() {
    let mut server = Server::builder().build();
    server.register_fn("Stable", "Mul", mul_fn(1)).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (h, stop) = (handle.clone(), stop.clone());
        tokio::spawn(async move {
            let mut rounds = 0u32;
            while !stop.load(Ordering::SeqCst) && rounds < 100_000 {
                h.register_fn("Churn", "Mul", mul_fn(2)).unwrap();
                tokio::task::yield_now().await;
                assert!(h.unregister("Churn"));
                tokio::task::yield_now().await;
                rounds += 1;
            }
            rounds
        })
    };
    let mut callers = Vec::new();
    for k in 0..4 {
        let c = connect(&handle).await;
        callers.push(tokio::spawn(async move {
            let (mut found, mut missing) = (0, 0);
            for i in 0..300i64 {
                assert_eq!(mul(&c, "Stable", i, k).await.unwrap(), i * k);
                match mul(&c, "Churn", i, 3).await {
                    Ok(v) => {
                        assert_eq!(v, i * 6);
                        found += 1;
                    }
                    Err(Error::Server(e)) => {
                        assert_eq!(e.message, "rpcx: can't find service Churn");
                        missing += 1;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            (found, missing)
        }));
    }
    for c in callers {
        let (found, missing) = guard(GUARD, "callers", c).await.unwrap();
        assert_eq!(found + missing, 300);
    }
    stop.store(true, Ordering::SeqCst);
    let rounds = guard(GUARD, "churn", churn).await.unwrap();
    assert!(rounds > 0);
    handle.shutdown(Duration::from_secs(2)).await;
}

/// A handler that registers another one when it is dropped (as a C finalizer may).
struct Reenter {
    handle: ServerHandle,
    dropped: Arc<AtomicBool>,
}

impl rpcx::server::Handler for Reenter {
    fn call(
        &self,
        _ctx: Context,
        _payload: bytes::Bytes,
    ) -> rpcx::server::BoxFuture<rpcx::server::HandlerResult> {
        Box::pin(async { Ok(bytes::Bytes::new()) })
    }
}

impl Drop for Reenter {
    fn drop(&mut self) {
        self.handle.register_fn("After", "Mul", mul_fn(1)).unwrap();
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// Refused, replaced and unregistered handlers are released after the server's locks, so
/// their drop may call back into the server (a deadlock otherwise, caught by the guard).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_released_handlers_may_call_back() {
    let server = Server::builder().plugin(Recorder::default()).build();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    for (service, release) in [
        ("Refused", "refused"),
        ("Gone", "unregister"),
        ("Twice", "replace"),
    ] {
        let dropped = Arc::new(AtomicBool::new(false));
        let h = handle.clone();
        let d = dropped.clone();
        // A plain thread: if it deadlocks, the test fails instead of hanging.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = Arc::new(Reenter {
                handle: h.clone(),
                dropped: d,
            });
            let registered = h.register_handler(service, "M", r);
            match release {
                "refused" => assert!(registered.is_err()),
                "unregister" => assert!(h.unregister(service)),
                _ => h.register_fn(service, "M", mul_fn(1)).unwrap(),
            }
            let _ = tx.send(());
        });
        let done = tokio::task::spawn_blocking(move || rx.recv_timeout(GUARD))
            .await
            .unwrap();
        assert!(done.is_ok(), "{release}: deadlocked or failed");
        assert!(dropped.load(Ordering::SeqCst), "{release}: released");
        assert!(handle.unregister("After"));
    }
    handle.shutdown(Duration::from_secs(2)).await;
}
