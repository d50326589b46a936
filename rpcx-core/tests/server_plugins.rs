//! Authentication, registration styles and server plugins (built-in and custom, metrics).

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rpcx::arith::{Args, Reply};
use rpcx::client::{Client, ClientOptions, RawRequest};
use rpcx::protocol::{Message, Metadata, SerializeType};
use rpcx::server::plugins::{IpFilter, RateLimit, RATE_LIMIT_TEXT};
use rpcx::server::{Context, Metrics, Plugin, Rejection, Server, ServerHandle, ServiceError};
use rpcx::Error;
use support::{guard, json_mul, wait_until, RawConn, GUARD};

async fn serve(server: Server) -> ServerHandle {
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

async fn connect(handle: &ServerHandle, options: ClientOptions) -> Client {
    Client::connect(&handle.local_address().to_string(), options)
        .await
        .unwrap()
}

fn arith_server(builder: rpcx::server::ServerBuilder) -> Server {
    let mut server = builder.build();
    rpcx::arith::register(&mut server).unwrap();
    server
}

fn token_auth() -> rpcx::server::ServerBuilder {
    Server::builder().auth(|req: &Message, token: &str, peer: &str| {
        assert!(peer.starts_with("tcp@127.0.0.1:"), "{peer}");
        assert!(!req.is_heartbeat(), "heartbeats are never authenticated");
        if token == "Bearer s3cret" {
            Ok(())
        } else {
            Err(format!("auth failed for token {token:?}"))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_accepts_the_right_token_and_closes_on_a_wrong_one() {
    let handle = serve(arith_server(token_auth())).await;
    let good = connect(&handle, ClientOptions::default().auth("Bearer s3cret")).await;
    for i in 0..5 {
        let r: Reply = good
            .call("Arith", "Mul", &Args { a: i, b: 2 })
            .await
            .unwrap();
        assert_eq!(r.c, i * 2);
    }

    for (options, token) in [
        (
            ClientOptions::default().auth("Bearer wrong"),
            "Bearer wrong",
        ),
        (ClientOptions::default(), ""),
    ] {
        let bad = connect(&handle, options).await;
        let e = bad
            .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 2 })
            .await
            .unwrap_err();
        assert_eq!(
            e.server_message(),
            Some(format!("auth failed for token {token:?}").as_str()),
            "{e:?}"
        );
        // The server closed the connection after answering.
        let e = guard(
            GUARD,
            "call after auth failure",
            bad.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 2 }),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
        assert!(bad.is_closed());
    }
    // The good client was never affected.
    let r: Reply = good
        .call("Arith", "Add", &Args { a: 1, b: 2 })
        .await
        .unwrap();
    assert_eq!(r.c, 3);
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_not_authenticated() {
    let beats = Arc::new(HeartbeatCounter::default());
    let handle = serve(arith_server(
        token_auth().plugin_arc(Arc::clone(&beats) as Arc<dyn Plugin>),
    ))
    .await;
    let v6a = hex::decode(
        "0800403000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
    )
    .unwrap();
    let v6b = hex::decode(
        "0800c03000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
    )
    .unwrap();
    let mut raw = RawConn::connect(&handle).await;
    for _ in 0..3 {
        raw.write(&v6a).await;
        assert_eq!(raw.read_exact(v6b.len()).await, v6b);
    }
    // A real request without a token is refused and the connection closed.
    raw.send(&json_mul(1, 2, 3)).await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), 1);
    assert_eq!(m.error(), Some("auth failed for token \"\""));
    raw.expect_closed().await;

    // A client without a token whose only traffic is heartbeats stays connected.
    let hb = connect(
        &handle,
        ClientOptions::default().heartbeat(Duration::from_millis(20)),
    )
    .await;
    let before = beats.0.load(Ordering::SeqCst);
    wait_until("the client sent heartbeats", || {
        beats.0.load(Ordering::SeqCst) >= before + 5
    })
    .await;
    assert!(!hb.is_closed(), "heartbeats were answered, not refused");
    handle.shutdown(GUARD).await;
}

/// Counts heartbeats read by the server.
#[derive(Default)]
struct HeartbeatCounter(AtomicUsize);

impl Plugin for HeartbeatCounter {
    fn after_read(&self, _peer: &str, request: &mut Message) -> Result<(), Rejection> {
        if request.is_heartbeat() {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

struct Counter {
    step: i64,
    calls: AtomicUsize,
}

impl Counter {
    async fn add(&self, _ctx: Context, n: i64) -> Result<i64, ServiceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(n + self.step)
    }

    async fn sub(&self, ctx: Context, n: i64) -> Result<i64, ServiceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        ctx.set_reply_meta("method", ctx.method());
        Ok(n - self.step)
    }
}

rpcx::rpc_methods!(Counter { "Add" => add, "Sub" => sub });

/// Refuses every registration under the service `Forbidden`; records what it saw.
#[derive(Default)]
struct Gatekeeper {
    seen: Mutex<Vec<(String, String, String)>>,
}

impl Plugin for Gatekeeper {
    fn on_register(&self, service: &str, method: &str, metadata: &str) -> Result<(), String> {
        self.seen
            .lock()
            .unwrap()
            .push((service.into(), method.into(), metadata.into()));
        if service == "Forbidden" {
            Err(format!("{service}.{method} is not allowed"))
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registration_style_and_a_refusing_plugin() {
    let gate = Arc::new(Gatekeeper::default());
    let mut server = Server::builder()
        .plugin_arc(Arc::clone(&gate) as Arc<dyn Plugin>)
        .build();

    // A closure capturing state.
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = Arc::clone(&log);
    server
        .register_fn("Log", "Append", move |_ctx: Context, line: String| {
            let l = Arc::clone(&l);
            async move {
                let mut v = l.lock().unwrap();
                v.push(line);
                Ok::<_, ServiceError>(v.len() as u64)
            }
        })
        .unwrap();
    // An object through rpc_methods!.
    let counter = Arc::new(Counter {
        step: 10,
        calls: AtomicUsize::new(0),
    });
    server.set_service_metadata("Counter", "weight=5&group=blue");
    server
        .register_object("Counter", Arc::clone(&counter))
        .unwrap();
    // A raw handler.
    server
        .register_raw("Raw", "Reverse", |ctx: Context, b: Bytes| async move {
            assert_eq!(ctx.serialize_type(), SerializeType::RAW);
            let mut v = b.to_vec();
            v.reverse();
            Ok::<_, ServiceError>(Bytes::from(v))
        })
        .unwrap();
    // Refused by the plugin: an Error::Registration, and nothing registered.
    let e = server
        .register_fn("Forbidden", "Do", |_ctx: Context, n: i64| async move {
            Ok::<_, ServiceError>(n)
        })
        .unwrap_err();
    match &e {
        Error::Registration(text) => assert!(text.contains("Forbidden.Do is not allowed")),
        other => panic!("{other:?}"),
    }
    assert!(server.services().get("Forbidden").is_none());
    assert_eq!(server.services().service_names(), ["Counter", "Log", "Raw"]);
    assert_eq!(
        server.services().get("Counter").unwrap().method_names(),
        ["Add", "Sub"]
    );
    assert_eq!(
        server.services().get("Counter").unwrap().metadata(),
        "weight=5&group=blue"
    );
    {
        let seen = gate.seen.lock().unwrap();
        assert!(seen.contains(&("Counter".into(), "Add".into(), "weight=5&group=blue".into())));
        assert!(seen.contains(&("Log".into(), "Append".into(), "".into())));
        assert!(seen.contains(&("Raw".into(), "Reverse".into(), "".into())));
    }

    let handle = serve(server).await;
    for st in [SerializeType::JSON, SerializeType::MSGPACK] {
        let c = connect(&handle, ClientOptions::default().serialize_type(st)).await;
        let n: u64 = c
            .call("Log", "Append", &format!("line {st}"))
            .await
            .unwrap();
        assert!(n >= 1);
        assert_eq!(c.call::<_, i64>("Counter", "Add", &5i64).await.unwrap(), 15);
        let r = c
            .call_with::<_, i64>("Counter", "Sub", &5i64, Default::default())
            .await
            .unwrap();
        assert_eq!(r.reply, -5);
        assert_eq!(r.metadata.get("method").map(String::as_str), Some("Sub"));
        let e = c
            .call::<_, i64>("Forbidden", "Do", &1i64)
            .await
            .unwrap_err();
        assert_eq!(
            e.server_message(),
            Some("rpcx: can't find service Forbidden")
        );
    }
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(counter.calls.load(Ordering::SeqCst), 4);

    let c = connect(&handle, ClientOptions::default()).await;
    let r = c
        .call_raw(RawRequest {
            service: "Raw".into(),
            method: "Reverse".into(),
            serialize_type: SerializeType::RAW,
            metadata: Metadata::new(),
            payload: Bytes::from_static(b"abc\x00\xff"),
            timeout: None,
        })
        .await
        .unwrap();
    assert_eq!(r.payload.as_ref(), b"\xff\x00cba");
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_again_replaces_the_handler() {
    let mut server = Server::builder().build();
    server
        .register_fn("S", "M", |_ctx: Context, n: i64| async move {
            Ok::<_, ServiceError>(n + 1)
        })
        .unwrap();
    server
        .register_fn("S", "M", |_ctx: Context, n: i64| async move {
            Ok::<_, ServiceError>(n + 2)
        })
        .unwrap();
    let handle = serve(server).await;
    let c = connect(&handle, ClientOptions::default()).await;
    assert_eq!(c.call::<_, i64>("S", "M", &1i64).await.unwrap(), 3);
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_and_keeps_the_connection() {
    let handle = serve(arith_server(
        Server::builder().plugin(RateLimit::new(Duration::from_secs(3600), 2)),
    ))
    .await;
    let c = connect(&handle, ClientOptions::default()).await;
    for _ in 0..2 {
        let r: Reply = c.call("Arith", "Mul", &Args { a: 2, b: 2 }).await.unwrap();
        assert_eq!(r.c, 4);
    }
    for _ in 0..3 {
        let e = c
            .call::<_, Reply>("Arith", "Mul", &Args { a: 2, b: 2 })
            .await
            .unwrap_err();
        assert_eq!(e.server_message(), Some(RATE_LIMIT_TEXT));
        assert_eq!(RATE_LIMIT_TEXT, "request reached rate limit");
        assert!(!c.is_closed(), "rate limiting keeps the connection");
    }
    // The bucket is server-wide: a second connection is refused too, not disconnected.
    let c2 = connect(&handle, ClientOptions::default()).await;
    let e = c2
        .call::<_, Reply>("Arith", "Add", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some(RATE_LIMIT_TEXT));
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_filter_closes_denied_connections_at_once() {
    let deny = serve(arith_server(
        Server::builder().plugin(IpFilter::deny(["127.0.0.1".parse().unwrap()])),
    ))
    .await;
    // The kernel completes the handshake; the server then drops the connection unserved.
    match Client::connect(&deny.local_address().to_string(), ClientOptions::default()).await {
        Err(e) => assert!(matches!(e, Error::Connect { .. }), "{e:?}"),
        Ok(c) => {
            let e = guard(
                GUARD,
                "call on a denied connection",
                c.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 }),
            )
            .await
            .unwrap_err();
            assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
        }
    }
    let mut raw = RawConn::connect(&deny).await;
    raw.expect_closed().await;
    deny.shutdown(GUARD).await;

    // An allow list containing loopback serves as usual; one without it refuses.
    let allow = serve(arith_server(
        Server::builder().plugin(IpFilter::allow(["127.0.0.0/8".parse().unwrap()])),
    ))
    .await;
    let c = connect(&allow, ClientOptions::default()).await;
    let r: Reply = c.call("Arith", "Mul", &Args { a: 3, b: 3 }).await.unwrap();
    assert_eq!(r.c, 9);
    allow.shutdown(GUARD).await;
    let other = serve(arith_server(
        Server::builder().plugin(IpFilter::allow(["10.0.0.0/8".parse().unwrap()])),
    ))
    .await;
    let mut raw = RawConn::connect(&other).await;
    raw.expect_closed().await;
    other.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_plugin_counts_served_calls() {
    let metrics = Metrics::new();
    let handle = serve(arith_server(
        Server::builder().plugin_arc(Arc::clone(&metrics) as Arc<dyn Plugin>),
    ))
    .await;
    let c = connect(&handle, ClientOptions::default()).await;
    for i in 0..3 {
        let r: Reply = c.call("Arith", "Mul", &Args { a: i, b: 2 }).await.unwrap();
        assert_eq!(r.c, i * 2);
    }
    let e = c
        .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("divide by zero"));
    let calls = |method: &str| {
        metrics
            .snapshot()
            .into_iter()
            .find(|s| s.service == "Arith" && s.method == method)
            .map(|s| (s.calls, s.errors))
    };
    wait_until("four calls recorded", || {
        calls("Mul") == Some((3, 0)) && calls("Div") == Some((1, 1))
    })
    .await;
    let text = metrics.prometheus_text();
    assert!(
        text.contains(r#"rpcx_server_calls_total{service="Arith",method="Mul"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"rpcx_server_errors_total{service="Arith",method="Div"} 1"#),
        "{text}"
    );
    handle.shutdown(GUARD).await;
}

/// Counts every hook; refuses `Arith.Add` before the call and closes on service `Kick`.
#[derive(Default)]
struct Hooks {
    start: Mutex<Vec<String>>,
    unregister: Mutex<Vec<String>>,
    accept: AtomicUsize,
    close: AtomicUsize,
    before_read: AtomicUsize,
    after_read: AtomicUsize,
    before_call: AtomicUsize,
    after_call_ok: AtomicUsize,
    after_call_err: Mutex<Vec<String>>,
    before_write: AtomicUsize,
    after_write: AtomicUsize,
}

impl Plugin for Hooks {
    fn on_start(&self, address: &str) {
        self.start.lock().unwrap().push(address.into());
    }
    fn on_unregister(&self, service: &str) {
        self.unregister.lock().unwrap().push(service.into());
    }
    fn on_conn_accept(&self, _peer: &str) -> bool {
        self.accept.fetch_add(1, Ordering::SeqCst);
        true
    }
    fn on_conn_close(&self, _peer: &str) {
        self.close.fetch_add(1, Ordering::SeqCst);
    }
    fn before_read(&self, _peer: &str) -> Result<(), String> {
        self.before_read.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn after_read(&self, _peer: &str, request: &mut Message) -> Result<(), Rejection> {
        self.after_read.fetch_add(1, Ordering::SeqCst);
        if request.service_path == "Kick" {
            return Err(Rejection::Close("kicked".into()));
        }
        Ok(())
    }
    fn before_call(&self, ctx: &Context, _payload: &Bytes) -> Result<(), String> {
        self.before_call.fetch_add(1, Ordering::SeqCst);
        if ctx.method() == "Add" {
            return Err("Add is disabled".into());
        }
        Ok(())
    }
    fn after_call(&self, _ctx: &Context, result: Result<&Bytes, &str>) {
        match result {
            Ok(_) => {
                self.after_call_ok.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => self.after_call_err.lock().unwrap().push(e.into()),
        }
    }
    fn before_write(&self, _peer: &str, response: &mut Message) {
        self.before_write.fetch_add(1, Ordering::SeqCst);
        response.metadata.insert("stamp".into(), "yes".into());
    }
    fn after_write(
        &self,
        _peer: &str,
        _header: &rpcx::protocol::Header,
        result: Result<(), &std::io::Error>,
    ) {
        assert!(result.is_ok());
        self.after_write.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_plugin_sees_every_hook() {
    let hooks = Arc::new(Hooks::default());
    let handle = serve(arith_server(
        Server::builder().plugin_arc(Arc::clone(&hooks) as Arc<dyn Plugin>),
    ))
    .await;
    assert_eq!(
        *hooks.start.lock().unwrap(),
        [handle.local_address().to_string()]
    );
    let c = connect(&handle, ClientOptions::default()).await;
    // 1: success; 2: service error; 3: unknown service (no call hooks); 4: refused before the
    // call; 5: oneway success (no write).
    let r = c
        .call_with::<_, Reply>("Arith", "Mul", &Args { a: 2, b: 5 }, Default::default())
        .await
        .unwrap();
    assert_eq!(r.reply.c, 10);
    assert_eq!(r.metadata.get("stamp").map(String::as_str), Some("yes"));
    let e = c
        .call::<_, Reply>("Arith", "Div", &Args { a: 2, b: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("divide by zero"));
    let e = c
        .call::<_, Reply>("NoSuch", "Div", &Args { a: 2, b: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("rpcx: can't find service NoSuch"));
    let e = c
        .call::<_, Reply>("Arith", "Add", &Args { a: 2, b: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("Add is disabled"));
    c.send("Arith", "Mul", &Args { a: 1, b: 1 }).await.unwrap();

    wait_until("hooks of five requests", || {
        hooks.after_call_ok.load(Ordering::SeqCst) == 2
            && hooks.after_write.load(Ordering::SeqCst) == 4
    })
    .await;
    assert_eq!(hooks.accept.load(Ordering::SeqCst), 1);
    assert_eq!(hooks.after_read.load(Ordering::SeqCst), 5);
    assert_eq!(hooks.before_call.load(Ordering::SeqCst), 4);
    assert_eq!(
        *hooks.after_call_err.lock().unwrap(),
        ["divide by zero", "Add is disabled"]
    );
    assert_eq!(hooks.before_write.load(Ordering::SeqCst), 4);
    assert!(hooks.before_read.load(Ordering::SeqCst) >= 1);
    assert_eq!(hooks.close.load(Ordering::SeqCst), 0);
    c.close();
    wait_until("connection close hook", || {
        hooks.close.load(Ordering::SeqCst) == 1
    })
    .await;

    // A Close rejection answers and drops the connection.
    let c = connect(&handle, ClientOptions::default()).await;
    let e = c.call::<_, i64>("Kick", "Me", &1i64).await.unwrap_err();
    assert_eq!(e.server_message(), Some("kicked"));
    wait_until("kicked connection closed", || {
        hooks.close.load(Ordering::SeqCst) == 2
    })
    .await;
    let e = guard(
        GUARD,
        "call after kick",
        c.call::<_, i64>("Arith", "X", &1i64),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
    assert_eq!(hooks.accept.load(Ordering::SeqCst), 2);

    handle.shutdown(GUARD).await;
    assert_eq!(*hooks.unregister.lock().unwrap(), ["Arith"]);
}
