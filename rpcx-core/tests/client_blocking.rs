//! The blocking facade: plain threads, the shared runtime, and refusal on runtime threads.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpcx::arith::{Args, Reply};
use rpcx::blocking;
use rpcx::client::{CallOptions, ClientOptions, RawRequest};
use rpcx::protocol::{Metadata, SerializeType};
use rpcx::server::{Context, Server, ServiceError};
use rpcx::Error;

fn arith_server() -> Server {
    let mut server = Server::builder().build();
    rpcx::arith::register(&mut server).unwrap();
    server
}

#[test]
fn eight_threads_times_one_hundred_blocking_calls() {
    let handle = blocking::serve(arith_server(), "tcp@127.0.0.1:0").unwrap();
    let addr = handle.local_address().to_string();
    let shared = blocking::Client::connect(&addr, ClientOptions::default()).unwrap();
    let threads: Vec<_> = (0..8i64)
        .map(|t| {
            let addr = addr.clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                // Half the threads share one connection, half have their own.
                let own;
                let client = if t % 2 == 0 {
                    &shared
                } else {
                    own = blocking::Client::connect(&addr, ClientOptions::default()).unwrap();
                    &own
                };
                for i in 0..100i64 {
                    let r: Reply = client
                        .call(
                            "Arith",
                            "Mul",
                            &Args {
                                a: t * 1000 + i,
                                b: 2,
                            },
                        )
                        .unwrap();
                    assert_eq!(r.c, (t * 1000 + i) * 2);
                }
                100
            })
        })
        .collect();
    let total: i32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 800);
    handle.shutdown_blocking(Duration::from_secs(5)).unwrap();
    assert!(handle.is_stopping());
    assert!(blocking::Client::connect(&addr, ClientOptions::default()).is_err());
}

#[test]
fn blocking_client_covers_the_async_api() {
    let mut server = arith_server();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (h, notify) = (Arc::clone(&hits), Arc::new(std::sync::Barrier::new(2)));
    let n = Arc::clone(&notify);
    server
        .register_fn("Count", "Hit", move |_ctx: Context, _n: i64| {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let n = Arc::clone(&n);
            async move {
                // Meet the test thread: proves the oneway handler ran.
                tokio::task::spawn_blocking(move || {
                    n.wait();
                })
                .await
                .unwrap();
                Ok::<_, ServiceError>(0i64)
            }
        })
        .unwrap();
    let handle = blocking::serve(server, "tcp@127.0.0.1:0").unwrap();
    let c = blocking::Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default().serialize_type(SerializeType::JSON),
    )
    .unwrap();
    let r = c
        .call_with::<_, Reply>(
            "Arith",
            "Meta",
            &Args::default(),
            CallOptions::default().meta("x", "y"),
        )
        .unwrap();
    assert_eq!(r.metadata.get("echo-x").map(String::as_str), Some("y"));
    let e = c
        .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
        .unwrap_err();
    assert_eq!(e.server_message(), Some("divide by zero"));
    let raw = c
        .call_raw(RawRequest {
            service: "Arith".into(),
            method: "Echo".into(),
            serialize_type: SerializeType::RAW,
            metadata: Metadata::new(),
            payload: Bytes::from_static(b"raw"),
            timeout: Some(Duration::from_secs(30)),
        })
        .unwrap();
    assert_eq!(raw.payload.as_ref(), b"raw");
    c.send("Count", "Hit", &1i64).unwrap();
    notify.wait();
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(!c.as_async().is_closed());
    c.close();
    assert!(matches!(
        c.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 }),
        Err(Error::Closed)
    ));
    handle.shutdown_blocking(Duration::from_secs(5)).unwrap();
}

#[test]
fn blocking_calls_on_a_runtime_thread_are_refused() {
    let handle = blocking::serve(arith_server(), "tcp@127.0.0.1:0").unwrap();
    let addr = handle.local_address().to_string();
    let c = blocking::Client::connect(&addr, ClientOptions::default()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let e = c
            .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
            .unwrap_err();
        assert!(matches!(e, Error::BlockingInRuntime), "{e:?}");
        let e = c.send("Arith", "Mul", &Args { a: 1, b: 1 }).unwrap_err();
        assert!(matches!(e, Error::BlockingInRuntime), "{e:?}");
        let e = blocking::Client::connect(&addr, ClientOptions::default()).unwrap_err();
        assert!(matches!(e, Error::BlockingInRuntime), "{e:?}");
        let e = blocking::serve(arith_server(), "tcp@127.0.0.1:0").unwrap_err();
        assert!(matches!(e, Error::BlockingInRuntime), "{e:?}");
        assert!(matches!(
            handle.shutdown_blocking(Duration::from_secs(1)),
            Err(Error::BlockingInRuntime)
        ));
        // The async client underneath works here.
        let r: Reply = c
            .as_async()
            .call("Arith", "Mul", &Args { a: 6, b: 7 })
            .await
            .unwrap();
        assert_eq!(r.c, 42);
    });
    // Also refused on a worker thread of the shared runtime itself.
    let rt_handle = rpcx::runtime::handle().unwrap();
    let c2 = c.clone();
    let e = rt_handle
        .block_on(async move {
            tokio::spawn(async move { c2.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 }) })
                .await
        })
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, Error::BlockingInRuntime), "{e:?}");
    // Outside the runtime the same client still works.
    let r: Reply = c.call("Arith", "Mul", &Args { a: 2, b: 21 }).unwrap();
    assert_eq!(r.c, 42);
    drop(rt);
    handle.shutdown_blocking(Duration::from_secs(5)).unwrap();
}
