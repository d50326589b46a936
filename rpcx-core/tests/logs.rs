//! The log events of the core (issue 17 §4), captured by a `tracing` subscriber: each kind is
//! provoked once (garbage bytes, a malformed frame, an oversized length, the connection limit,
//! a bad auth token, a panicking handler, a registry down at start, a client connect failure,
//! a connection lost) and found with its level and fields; successful calls log nothing at
//! info level or above.
//!
//! One test function: the capture is process-wide, and the steps look at what each of them
//! added. The registry step needs the `consul` feature (on in `cargo test --workspace`, where
//! the bindings enable it).

#[path = "server_support.rs"]
mod support;
#[cfg(feature = "tls")]
#[path = "tls_support.rs"]
mod tls_support;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::{Limits, Message};
use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use support::{guard, json_mul, wait_until, RawConn, GUARD};
use tracing::field::{Field, Visit};

/// One captured event.
#[derive(Debug, Clone)]
struct Logged {
    level: tracing::Level,
    target: String,
    message: String,
    fields: BTreeMap<String, String>,
}

impl Logged {
    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Captures every event (all levels) into a shared list.
struct Capture(Arc<Mutex<Vec<Logged>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let message = f.0.remove("message").unwrap_or_default();
        self.0.lock().unwrap().push(Logged {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message,
            fields: f.0,
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn captured() -> &'static Arc<Mutex<Vec<Logged>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<Logged>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::set_global_default(Capture(Arc::clone(&log)))
            .expect("no other global subscriber in this test binary");
        log
    })
}

/// Events captured so far.
fn mark() -> usize {
    captured().lock().unwrap().len()
}

/// Events since `from` whose message starts with `message`.
fn since(from: usize, message: &str) -> Vec<Logged> {
    captured().lock().unwrap()[from..]
        .iter()
        .filter(|e| e.message.starts_with(message))
        .cloned()
        .collect()
}

/// Waits (bounded) for exactly one event since `from` whose message starts with `message`
/// and which `pick` accepts; returns it.
async fn one(from: usize, message: &str, pick: impl Fn(&Logged) -> bool) -> Logged {
    let found = || {
        since(from, message)
            .into_iter()
            .filter(|e| pick(e))
            .collect::<Vec<_>>()
    };
    wait_until(&format!("an event {message:?}"), || !found().is_empty()).await;
    let all = found();
    assert_eq!(all.len(), 1, "{message:?} logged more than once: {all:#?}");
    let e = all.into_iter().next().unwrap();
    assert!(e.target.starts_with("rpcx::"), "{e:?}");
    e
}

async fn serve(server: Server) -> ServerHandle {
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

fn arith(builder: rpcx::server::ServerBuilder) -> Server {
    let mut server = builder.build();
    rpcx::arith::register(&mut server).unwrap();
    server
}

/// The peer text a server gives a raw connection.
fn peer_of(raw: &RawConn) -> String {
    format!("tcp@{}", raw.stream.local_addr().unwrap())
}

/// A port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_kind_is_logged_once_with_its_fields() {
    captured();
    let secret = "Bearer not-the-secret-7f3a";
    let mut server = Server::builder()
        .limits(Limits {
            max_frame_len: 64 << 10,
            ..Limits::DEFAULT
        })
        .auth(|_req: &Message, token: &str, _peer: &str| {
            if token.is_empty() || token == "Bearer ok" {
                Ok(())
            } else {
                Err("not allowed".to_owned())
            }
        })
        .build();
    rpcx::arith::register(&mut server).unwrap();
    server
        .register_fn("Boom", "Now", |_ctx: Context, n: i64| async move {
            if n == 5 {
                panic!("kaboom {n}");
            }
            Ok::<_, ServiceError>(n)
        })
        .unwrap();
    let handle = serve(server).await;
    let address = handle.local_address().to_string();

    // Successful calls: nothing at info level or above, and no per-call debug line either.
    let m = mark();
    let client = Client::connect(&address, ClientOptions::default())
        .await
        .unwrap();
    for i in 0..50 {
        let r: Reply = guard(
            GUARD,
            "call",
            client.call("Arith", "Mul", &Args { a: i, b: 2 }),
        )
        .await
        .unwrap();
        assert_eq!(r.c, i * 2);
    }
    let loud: Vec<_> = captured().lock().unwrap()[m..]
        .iter()
        .filter(|e| e.level <= tracing::Level::INFO)
        .cloned()
        .collect();
    assert!(
        loud.is_empty(),
        "logged at info or above during calls: {loud:#?}"
    );
    let accepted = one(m, "rpcx: connection accepted", |_| true).await;
    assert_eq!(accepted.level, tracing::Level::DEBUG);
    assert!(
        accepted.field("peer").starts_with("tcp@127.0.0.1:"),
        "{accepted:?}"
    );
    let all_since = captured().lock().unwrap().len() - m;
    assert!(
        all_since < 10,
        "{all_since} events for 50 calls: per-call logging"
    );

    // Bytes that are neither rpcx nor HTTP: the connection is refused.
    let m = mark();
    let mut raw = RawConn::connect(&handle).await;
    let peer = peer_of(&raw);
    raw.write(b"\x00\x01garbage\xff").await;
    raw.expect_closed().await;
    let e = one(m, "rpcx: connection refused", |e| e.field("peer") == peer).await;
    assert_eq!(e.level, tracing::Level::WARN);
    assert_eq!(e.field("reason"), "neither rpcx nor HTTP");

    // A whole frame whose inner lengths lie: answered, the connection stays.
    let m = mark();
    let mut raw = RawConn::connect(&handle).await;
    let peer = peer_of(&raw);
    let mut frame = json_mul(7, 2, 3).encode().unwrap().to_vec();
    frame[16..20].copy_from_slice(&1000u32.to_be_bytes()); // the service path's length
    raw.write(&frame).await;
    let reply = match raw.read().await {
        support::Read::Frame(m) => *m,
        support::Read::Closed => panic!("closed: {:#?}", &captured().lock().unwrap()[m..]),
    };
    assert!(reply.error().is_some(), "{reply:?}");
    let e = one(m, "rpcx: malformed frame", |e| e.field("peer") == peer).await;
    assert_eq!(e.level, tracing::Level::WARN);
    assert!(e.field("error").contains("length"), "{e:?}");
    assert_eq!(e.field("action"), "answered with an error");
    // A second one on the same connection is answered too, but logged at debug level only
    // (a peer repeating bad frames gets no warning per frame); emitted before the reply.
    frame[4..12].copy_from_slice(&10u64.to_be_bytes()); // the sequence number
    raw.write(&frame).await;
    let reply = match raw.read().await {
        support::Read::Frame(m) => *m,
        support::Read::Closed => panic!("closed: {:#?}", &captured().lock().unwrap()[m..]),
    };
    assert_eq!(reply.header.seq(), 10);
    assert!(reply.error().is_some(), "{reply:?}");
    let answered: Vec<_> = since(m, "rpcx: malformed frame")
        .into_iter()
        .filter(|e| e.field("peer") == peer)
        .map(|e| (e.level, e.field("action").to_owned()))
        .collect();
    let answered_action = "answered with an error".to_owned();
    assert_eq!(
        answered,
        [
            (tracing::Level::WARN, answered_action.clone()),
            (tracing::Level::DEBUG, answered_action)
        ]
    );
    // Then a valid frame followed by a wrong magic byte: the stream cannot be resynchronised.
    raw.send(&json_mul(8, 2, 3)).await;
    assert!(raw.frame().await.error().is_none());
    raw.write(&[0x99]).await;
    raw.expect_closed().await;
    let e = one(m, "rpcx: malformed frame", |e| {
        e.field("peer") == peer && e.field("error").contains("wrong magic number")
    })
    .await;
    assert_eq!(e.field("action"), "closing the connection");
    assert_eq!(e.level, tracing::Level::WARN); // ends the connection: once, always a warning
    let more = one(m, "rpcx: more bad frames", |e| e.field("peer") == peer).await;
    assert_eq!(more.level, tracing::Level::WARN);
    assert_eq!(more.field("more"), "1");
    let closed = one(m, "rpcx: connection closed", |e| e.field("peer") == peer).await;
    assert_eq!(closed.level, tracing::Level::DEBUG);
    assert!(
        closed.field("reason").contains("wrong magic number"),
        "{closed:?}"
    );

    // A frame that claims more than the frame limit: a limit hit, then the connection closes.
    let m = mark();
    let mut raw = RawConn::connect(&handle).await;
    let peer = peer_of(&raw);
    let mut head = json_mul(9, 1, 1).encode().unwrap()[..16].to_vec();
    head[12..16].copy_from_slice(&(1u32 << 30).to_be_bytes());
    raw.write(&head).await;
    raw.expect_closed().await;
    let e = one(m, "rpcx: request over a limit", |e| e.field("peer") == peer).await;
    assert_eq!(e.level, tracing::Level::WARN);
    assert!(e.field("error").contains("message is too long"), "{e:?}");

    // A wrong token: the auth failure names the peer and the call, never the token.
    let m = mark();
    let bad = Client::connect(&address, ClientOptions::default().auth(secret))
        .await
        .unwrap();
    let err = guard(
        GUARD,
        "refused call",
        bad.call::<_, Reply>("Nope", "Do", &1i64),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err:?}");
    let e = one(m, "rpcx: authentication failed", |_| true).await;
    assert_eq!(e.level, tracing::Level::WARN);
    assert_eq!(e.field("service"), "Nope");
    assert_eq!(e.field("method"), "Do");
    assert!(e.field("peer").starts_with("tcp@127.0.0.1:"), "{e:?}");
    assert_eq!(e.field("error"), "not allowed");
    let everything = format!("{:?}", &captured().lock().unwrap()[m..]);
    assert!(
        !everything.contains("not-the-secret"),
        "the token was logged"
    );

    // A panicking handler: an error event with the service, method and panic message.
    let m = mark();
    let err = guard(
        GUARD,
        "panicking call",
        client.call::<_, i64>("Boom", "Now", &5i64),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("panic in Boom.Now"), "{err:?}");
    let e = one(m, "rpcx: handler panicked", |_| true).await;
    assert_eq!(e.level, tracing::Level::ERROR);
    assert_eq!(e.field("service"), "Boom");
    assert_eq!(e.field("method"), "Now");
    assert_eq!(e.field("panic"), "kaboom 5");

    // A connection that sends nothing closes at the idle timeout (debug, with the reason).
    let m = mark();
    let idle = serve(arith(
        Server::builder().idle_timeout(Duration::from_millis(300)),
    ))
    .await;
    let mut raw = RawConn::connect(&idle).await;
    let peer = peer_of(&raw);
    raw.send(&json_mul(1, 1, 1)).await;
    raw.frame().await;
    raw.expect_closed().await;
    let e = one(m, "rpcx: connection closed", |e| e.field("peer") == peer).await;
    assert!(e.field("reason").starts_with("idle timeout"), "{e:?}");
    idle.shutdown(Duration::from_secs(1)).await;

    // The connection limit: a second connection waits in the accept queue, said once.
    let m = mark();
    let limited = serve(arith(Server::builder().max_connections(1))).await;
    let first = RawConn::connect(&limited).await;
    let mut r1 = first;
    r1.send(&json_mul(1, 2, 2)).await;
    r1.frame().await;
    let _second = RawConn::connect(&limited).await;
    let e = one(m, "rpcx: connection limit reached", |_| true).await;
    assert_eq!(e.level, tracing::Level::WARN);
    assert_eq!(e.field("max_connections"), "1");
    limited.shutdown(Duration::from_secs(1)).await;

    // A connection plugin refusing a connection.
    let m = mark();
    let deny = serve(arith(Server::builder().plugin(
        rpcx::server::plugins::IpFilter::deny(["127.0.0.1".parse().unwrap()]),
    )))
    .await;
    let mut raw = RawConn::connect(&deny).await;
    let peer = peer_of(&raw);
    raw.expect_closed().await;
    let e = one(m, "rpcx: connection refused", |e| e.field("peer") == peer).await;
    assert!(e.field("reason").contains("ip-filter"), "{e:?}");
    deny.shutdown(Duration::from_secs(1)).await;

    // A client connect failure (debug: the caller gets the error).
    let m = mark();
    let nowhere = format!("127.0.0.1:{}", dead_port());
    Client::connect(&nowhere, ClientOptions::default())
        .await
        .unwrap_err();
    let e = one(m, "rpcx: connecting to a server failed", |e| {
        e.field("address") == nowhere
    })
    .await;
    assert_eq!(e.level, tracing::Level::DEBUG);
    assert!(!e.field("error").is_empty());

    #[cfg(feature = "consul")]
    registry_down_at_start().await;
    #[cfg(feature = "tls")]
    tls_handshake_failure().await;

    // The server going away under a connected client: the client notes it (debug).
    let m = mark();
    handle.close();
    guard(GUARD, "server stopped", handle.stopped()).await;
    one(m, "rpcx: connection closed by the server", |e| {
        e.field("server")
            .contains(&handle.port().unwrap().to_string())
    })
    .await;
    drop(client);
}

/// A registry that is down when the server starts: one warning naming it.
#[cfg(feature = "consul")]
async fn registry_down_at_start() {
    use rpcx::registry::{AnyRegistry, ConsulRegistry};
    let m = mark();
    let consul = format!("127.0.0.1:{}", dead_port());
    let registry: AnyRegistry = ConsulRegistry::connect(&consul, "/rpcx_logs", "", GUARD)
        .await
        .unwrap()
        .into();
    let mut server = Server::builder().plugin_arc(registry.plugin()).build();
    rpcx::arith::register(&mut server).unwrap();
    let registered = serve(server).await;
    let e = one(m, "rpcx: registry writes fail", |e| {
        e.field("target") == consul
    })
    .await;
    assert_eq!(e.level, tracing::Level::WARN);
    assert_eq!(e.field("registry"), "consul registry");
    assert!(!e.field("error").is_empty());
    registered.close();
    registry.close();
}

/// A client that does not speak TLS to a TLS server: the connection is refused, with the
/// peer and the handshake's error.
#[cfg(feature = "tls")]
async fn tls_handshake_failure() {
    use rpcx::transport::tls::ServerTlsConfig;
    let pki = tls_support::TestPki::generate();
    let tls = ServerTlsConfig::from_pem(pki.server.cert.clone(), pki.server.key.clone())
        .build()
        .unwrap();
    let m = mark();
    let tls_server = serve(arith(Server::builder().tls(tls))).await;
    let mut raw = RawConn::connect(&tls_server).await;
    let peer = peer_of(&raw);
    raw.send(&json_mul(1, 2, 3)).await; // plain rpcx where a ClientHello is due
                                        // The server answers with a TLS alert, then closes.
    guard(GUARD, "the refused connection closing", async {
        use tokio::io::AsyncReadExt;
        let mut sink = [0u8; 512];
        while matches!(raw.stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    let e = one(m, "rpcx: connection refused", |e| e.field("peer") == peer).await;
    assert_eq!(e.level, tracing::Level::WARN);
    assert_eq!(e.field("reason"), "TLS handshake failed");
    assert!(!e.field("error").is_empty());
    tls_server.shutdown(Duration::from_secs(1)).await;
}
