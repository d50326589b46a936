//! Interceptors (server and client, Client and XClient), server pushes to a kept connection
//! (`ConnHandle::try_push`, pushes after the connection closed) and XClient pushes.

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rpcx::arith::{Args, PushArgs, Reply};
use rpcx::client::{
    CallOptions, Client, ClientCall, ClientInterceptor, ClientOptions, RawResponse,
};
use rpcx::protocol::Metadata;
use rpcx::server::{ConnHandle, Context, Interceptor, Server, ServerHandle, ServiceError};
use rpcx::xclient::{MultipleServers, XClient, XClientOptions};
use rpcx::Error;
use support::{guard, wait_until, GUARD};

async fn serve(server: Server) -> ServerHandle {
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

fn with_arith(builder: rpcx::server::ServerBuilder) -> Server {
    let mut server = builder.build();
    rpcx::arith::register(&mut server).unwrap();
    server
}

/// What the server-side interceptor saw of each call: (method, trace-id, peer).
type Seen = Arc<Mutex<Vec<(String, Option<String>, String)>>>;

/// Refuses `Arith.Div`, tags every reply with `served-by`, and records what it saw.
fn recording_interceptor(seen: Seen, outcomes: Arc<Mutex<Vec<Option<String>>>>) -> Interceptor {
    Interceptor::new()
        .before(move |ctx: &Context| {
            seen.lock().unwrap().push((
                ctx.method().to_owned(),
                ctx.meta("trace-id").map(str::to_owned),
                ctx.peer().to_owned(),
            ));
            if ctx.method() == "Div" {
                return Err("Div is not allowed here".to_owned());
            }
            Ok(())
        })
        .after(move |ctx: &Context, result| {
            ctx.set_reply_meta("served-by", "interceptor");
            outcomes
                .lock()
                .unwrap()
                .push(result.err().map(str::to_owned));
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_interceptor_rejects_adds_reply_metadata_and_sees_the_peer() {
    let seen: Seen = Arc::default();
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let handle = serve(with_arith(Server::builder().plugin(recording_interceptor(
        Arc::clone(&seen),
        Arc::clone(&outcomes),
    ))))
    .await;
    let c = Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();

    let r = c
        .call_with::<_, Reply>(
            "Arith",
            "Mul",
            &Args { a: 6, b: 7 },
            CallOptions::default().meta("trace-id", "t-1"),
        )
        .await
        .unwrap();
    assert_eq!(r.reply.c, 42);
    assert_eq!(
        r.metadata.get("served-by").map(String::as_str),
        Some("interceptor")
    );

    let e = c
        .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    let Error::Server(e) = e else {
        panic!("want a server error, got {e:?}")
    };
    assert_eq!(e.message, "Div is not allowed here");
    assert_eq!(
        e.metadata.get("served-by").map(String::as_str),
        Some("interceptor"),
        "after_call runs for a refused call too and may add reply metadata"
    );

    let seen = seen.lock().unwrap().clone();
    let local = c.peer().to_owned();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, "Mul");
    assert_eq!(seen[0].1.as_deref(), Some("t-1"));
    assert!(seen[0].2.starts_with("tcp@127.0.0.1:"), "{:?}", seen[0].2);
    assert_ne!(
        seen[0].2,
        handle.local_address().to_string(),
        "the peer is the caller"
    );
    assert!(!local.is_empty());
    assert_eq!(
        *outcomes.lock().unwrap(),
        vec![None, Some("Div is not allowed here".to_owned())]
    );
    handle.shutdown(GUARD).await;
}

/// One `after_call` seen: method, server, and the reply's `echo-trace` or the error text.
type AfterSeen = (String, String, Result<Option<String>, String>);

/// Adds `trace-id`, refuses method `Forbidden`, and counts/records what it saw.
#[derive(Default)]
struct Tracer {
    before: AtomicUsize,
    after: Mutex<Vec<AfterSeen>>,
}

impl ClientInterceptor for Tracer {
    fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
        self.before.fetch_add(1, Ordering::SeqCst);
        if call.method() == "Forbidden" {
            return Err(format!("{} refused by the tracer", call.method()));
        }
        call.set_meta("trace-id", format!("trace-{}", call.method()));
        Ok(())
    }

    fn after_call(&self, call: &ClientCall<'_>, result: Result<&RawResponse, &Error>) {
        let outcome = match result {
            Ok(r) => Ok(r.metadata.get("echo-trace").cloned()),
            Err(e) => Err(e.to_string()),
        };
        self.after.lock().unwrap().push((
            call.method().to_owned(),
            call.server().to_owned(),
            outcome,
        ));
    }
}

/// A server whose `Echo.Trace` replies with the `trace-id` it received, also as reply
/// metadata `echo-trace`.
async fn trace_echo_server() -> ServerHandle {
    let mut server = Server::builder().build();
    server
        .register_fn("Echo", "Trace", |ctx: Context, _n: i64| async move {
            let id = ctx.meta("trace-id").unwrap_or("").to_owned();
            ctx.set_reply_meta("echo-trace", id.clone());
            Ok::<_, ServiceError>(id)
        })
        .unwrap();
    server
        .register_fn("Echo", "Forbidden", |_ctx: Context, _n: i64| async move {
            Ok::<_, ServiceError>(String::from("must not run"))
        })
        .unwrap();
    serve(server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_interceptor_adds_metadata_the_server_sees_and_may_refuse() {
    let handle = trace_echo_server().await;
    let tracer = Arc::new(Tracer::default());
    let address = handle.local_address().to_string();
    let options = ClientOptions::default().interceptor_arc(tracer.clone());
    let c = Client::connect(&address, options).await.unwrap();

    let id: String = c.call("Echo", "Trace", &1i64).await.unwrap();
    assert_eq!(
        id, "trace-Trace",
        "the server saw the interceptor's metadata"
    );

    let e = c
        .call::<_, String>("Echo", "Forbidden", &1i64)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Refused(t) if t == "Forbidden refused by the tracer"),
        "{e:?}"
    );
    assert!(!e.is_retryable());

    c.send("Echo", "Trace", &2i64).await.unwrap();

    assert_eq!(tracer.before.load(Ordering::SeqCst), 3);
    let after = tracer.after.lock().unwrap().clone();
    assert_eq!(after.len(), 3);
    assert_eq!(
        after[0],
        (
            "Trace".to_owned(),
            address.clone(),
            Ok(Some("trace-Trace".to_owned()))
        )
    );
    assert_eq!(
        after[1],
        (
            "Forbidden".to_owned(),
            address.clone(),
            Err("Forbidden refused by the tracer".to_owned())
        )
    );
    assert_eq!(
        after[2],
        ("Trace".to_owned(), address, Ok(None)),
        "oneway send"
    );
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_calls_pass_through_the_connection_interceptors() {
    let handle = trace_echo_server().await;
    let tracer = Arc::new(Tracer::default());
    let options = XClientOptions {
        client: ClientOptions::default().interceptor_arc(tracer.clone()),
        ..XClientOptions::default()
    };
    let address = handle.local_address().to_string();
    let xc = XClient::new("Echo", MultipleServers::from_addresses([&address]), options).unwrap();
    let id: String = xc.call("Trace", &1i64).await.unwrap();
    assert_eq!(id, "trace-Trace");
    let e = xc.call::<_, String>("Forbidden", &1i64).await.unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e:?}");
    assert_eq!(
        tracer.before.load(Ordering::SeqCst),
        2,
        "refusals are not retried"
    );
    assert_eq!(tracer.after.lock().unwrap()[0].1, address);
    xc.close();
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_receives_pushes_from_its_servers() {
    let a = serve(with_arith(Server::builder())).await;
    let b = serve(with_arith(Server::builder())).await;
    let (ka, kb) = (a.local_address().to_string(), b.local_address().to_string());
    let xc = XClient::new(
        "Arith",
        MultipleServers::from_addresses([&ka, &kb]),
        XClientOptions::default(),
    )
    .unwrap();
    let mut pushes = xc.take_pushes().expect("the receiver, once");
    assert!(xc.take_pushes().is_none());
    // Broadcast reaches both servers; each pushes twice on its own connection.
    let args = PushArgs {
        count: 2,
        data: "hi".into(),
    };
    let r: Reply = xc.broadcast("Push", &args).await.unwrap();
    assert_eq!(r.c, 2);
    let mut from = Vec::new();
    for _ in 0..4 {
        let p = guard(GUARD, "a push", pushes.recv()).await.unwrap();
        assert_eq!(p.message.service_path, "Push");
        assert_eq!(p.message.service_method, "Data");
        assert_eq!(p.message.payload.as_ref(), b"hi");
        from.push(p.server);
    }
    from.sort();
    let mut want = vec![ka.clone(), ka, kb.clone(), kb];
    want.sort();
    assert_eq!(from, want);
    assert!(pushes.try_recv().is_err(), "exactly four pushes");
    xc.close();
    let end = guard(GUARD, "the push stream to end", pushes.recv()).await;
    assert!(end.is_none(), "a closed XClient's push stream ends");
    a.shutdown(GUARD).await;
    b.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_takes_pushes_until_it_closes() {
    let kept: Arc<Mutex<Option<ConnHandle>>> = Arc::default();
    let mut server = Server::builder().build();
    let slot = Arc::clone(&kept);
    server
        .register_fn("Hub", "Join", move |ctx: Context, _n: i64| {
            let slot = Arc::clone(&slot);
            async move {
                *slot.lock().unwrap() = Some(ctx.connection().clone());
                Ok::<_, ServiceError>(0i64)
            }
        })
        .unwrap();
    let handle = serve(server).await;
    let c = Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let mut pushes = c.take_pushes().unwrap();
    let _: i64 = c.call("Hub", "Join", &0i64).await.unwrap();
    let conn = kept
        .lock()
        .unwrap()
        .clone()
        .expect("the handler kept its connection");

    // After the call returned: a waiting push and a non-waiting one, in order.
    conn.push("News", "First", Metadata::new(), b"1".to_vec())
        .await
        .unwrap();
    conn.try_push("News", "Second", Metadata::new(), b"2".to_vec())
        .unwrap();
    for want in ["First", "Second"] {
        let m = guard(GUARD, "a push", pushes.recv()).await.unwrap();
        assert_eq!(m.service_method, want);
    }
    assert!(conn.is_open());

    c.close();
    wait_until("the server sees the connection closed", || !conn.is_open()).await;
    let e = conn
        .try_push("News", "Late", Metadata::new(), b"x".to_vec())
        .unwrap_err();
    assert!(matches!(e, Error::Closed), "{e:?}");
    let e = conn
        .push("News", "Late", Metadata::new(), b"x".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Closed), "{e:?}");
    handle.shutdown(GUARD).await;
}
