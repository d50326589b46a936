//! The reflection service (Go's `reflection` package): `Reflection.GetServices` and
//! `Reflection.GetService(name)` over JSON, MsgPack and raw bytes, services registered and
//! unregistered while the server runs, descriptions, and Go's error for an unknown service.

use std::time::Duration;

use bytes::Bytes;
use rpcx::arith::{self, Args, Reply};
use rpcx::client::{Client, ClientOptions, RawRequest};
use rpcx::protocol::{Metadata, SerializeType};
use rpcx::server::{Context, MethodDescription, Server, ServiceError, TypeDescription};
use rpcx::Error;

async fn client(addr: &str, st: SerializeType) -> Client {
    Client::connect(addr, ClientOptions::default().serialize_type(st))
        .await
        .unwrap()
}

async fn get_services(c: &Client) -> String {
    c.call::<_, String>("Reflection", "GetServices", &String::new())
        .await
        .unwrap()
}

async fn get_service(c: &Client, name: &str) -> Result<String, Error> {
    c.call::<_, String>("Reflection", "GetService", &name.to_owned())
        .await
}

const MUL_TYPED: &str = "type Args struct {\n\tA int64\n\tB int64\n}\n\n\
type Reply struct {\n\tC int64\n}\n\n\
type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {\n\treturn nil\n}\n";

#[tokio::test]
async fn describes_every_service_like_go() {
    let mut server = Server::builder().build();
    arith::register(&mut server).unwrap();
    let reflection = server.enable_reflection().unwrap();
    // Enabling twice gives the same service.
    server.enable_reflection().unwrap();
    reflection.describe_typed::<Args, Reply>("Arith", "Mul");
    server
        .register_raw("Blob", "Put", |_ctx: Context, b: Bytes| async move {
            Ok::<_, ServiceError>(b)
        })
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = handle.local_address().to_string();

    for st in [SerializeType::JSON, SerializeType::MSGPACK] {
        let c = client(&addr, st).await;
        let all = get_services(&c).await;
        assert!(
            all.starts_with("package rpcx\n\ntype Arith struct{}\n\n\n"),
            "{st}: {all}"
        );
        // One package line for the whole server, services sorted by name.
        assert_eq!(all.matches("package ").count(), 1, "{all}");
        let order: Vec<usize> = [
            "type Arith struct{}",
            "type Blob struct{}",
            "type Reflection struct{}",
        ]
        .iter()
        .map(|s| {
            all.find(s)
                .unwrap_or_else(|| panic!("{s} missing in {all}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{all}");
        // Described with struct fields from the JSON form.
        assert!(all.contains(MUL_TYPED), "{all}");
        // Typed but not described: the Rust type names.
        assert!(
            all.contains("\nAdd(ctx context.Context, arg *Args, reply *Reply) error {")
                || all.contains("type (s *Arith) Add(ctx context.Context, arg *Args, reply *Reply) error {\n\treturn nil\n}\n"),
            "{all}"
        );
        // Raw handlers take and answer bytes.
        assert!(
            all.contains(
                "type (s *Arith) Echo(ctx context.Context, arg *[]byte, reply *[]byte) error {"
            ) && all.contains(
                "type (s *Blob) Put(ctx context.Context, arg *[]byte, reply *[]byte) error {"
            ),
            "{all}"
        );
        assert!(
            all.contains("type (s *Reflection) GetService(ctx context.Context, arg *string, reply *string) error {")
                && all.contains("type (s *Reflection) GetServices(ctx context.Context, arg *string, reply *string) error {"),
            "{all}"
        );

        let one = get_service(&c, "Arith").await.unwrap();
        assert!(
            one.starts_with("package rpcx\n\ntype Arith struct{}\n\n"),
            "{one}"
        );
        assert!(one.contains(MUL_TYPED), "{one}");
        assert!(!one.contains("ProtoArith"), "{one}");
        for m in ["Add", "Div", "Echo", "Meta", "Mul", "Push", "Sleep"] {
            assert!(one.contains(&format!("type (s *Arith) {m}(")), "{m}: {one}");
        }
        assert!(one.ends_with("\treturn nil\n}\n\n"), "{one:?}");

        match get_service(&c, "Nope").await {
            Err(Error::Server(e)) => assert_eq!(e.message, "not found service Nope"),
            other => panic!("{other:?}"),
        }
        c.close();
    }
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn follows_live_changes_and_raw_callers() {
    let mut server = Server::builder().build();
    let reflection = server.enable_reflection().unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = handle.local_address().to_string();
    let c = client(&addr, SerializeType::JSON).await;
    let before = get_services(&c).await;
    assert!(!before.contains("Late"), "{before}");
    assert!(before.contains("type Reflection struct{}"), "{before}");

    handle
        .register_fn("Late", "Count", |_ctx: Context, n: i64| async move {
            Ok::<_, ServiceError>(Some(n.to_string()))
        })
        .unwrap();
    reflection.describe(
        "Late",
        "Note",
        MethodDescription::new(
            TypeDescription::with_definition("Note", "// Note is free text."),
            TypeDescription::from_json_sample("Ack", &serde_json::json!({"ok": true})),
        ),
    );
    handle
        .register_raw("Late", "Note", |_ctx: Context, b: Bytes| async move {
            Ok::<_, ServiceError>(b)
        })
        .unwrap();
    let late = get_service(&c, "Late").await.unwrap();
    assert!(
        late.contains(
            "type (s *Late) Count(ctx context.Context, arg *int64, reply **string) error {"
        ),
        "{late}"
    );
    assert!(
        late.contains("// Note is free text.\n\ntype Ack struct {\n\tOk bool `json:\"ok\"`\n}\n\ntype (s *Late) Note(ctx context.Context, arg *Note, reply *Ack) error {"),
        "{late}"
    );

    // Raw serialization: the name is the payload's text, the reply the text's bytes.
    let raw = c
        .call_raw(RawRequest {
            service: "Reflection".into(),
            method: "GetService".into(),
            serialize_type: SerializeType::RAW,
            metadata: Metadata::new(),
            payload: Bytes::from_static(b"Late"),
            timeout: Some(Duration::from_secs(5)),
        })
        .await
        .unwrap();
    assert_eq!(std::str::from_utf8(&raw.payload).unwrap(), late);
    let bad = c
        .call_raw(RawRequest {
            service: "Reflection".into(),
            method: "GetService".into(),
            serialize_type: SerializeType::RAW,
            metadata: Metadata::new(),
            payload: Bytes::from_static(b"\xff"),
            timeout: Some(Duration::from_secs(5)),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.server_message(), Some("the service name is not UTF-8"));

    assert!(handle.unregister("Late"));
    match get_service(&c, "Late").await {
        Err(Error::Server(e)) => assert_eq!(e.message, "not found service Late"),
        other => panic!("{other:?}"),
    }
    assert!(!get_services(&c).await.contains("Late"));
    c.close();
    handle.shutdown(Duration::from_secs(1)).await;
}

/// A raw echo whose `describe` (user code) itself describes a method on the reflection
/// service: reflection must not hold its own lock while asking.
struct SelfDescribing {
    reflection: rpcx::server::Reflection,
}

impl rpcx::server::Handler for SelfDescribing {
    fn call(
        &self,
        _ctx: Context,
        payload: Bytes,
    ) -> rpcx::server::BoxFuture<rpcx::server::HandlerResult> {
        Box::pin(std::future::ready(Ok(payload)))
    }

    fn describe(&self) -> Option<MethodDescription> {
        self.reflection.describe(
            "Other",
            "Seen",
            MethodDescription::new(TypeDescription::named("A"), TypeDescription::named("B")),
        );
        Some(MethodDescription::new(
            TypeDescription::named("In"),
            TypeDescription::named("Out"),
        ))
    }
}

#[tokio::test]
async fn handler_describe_runs_without_the_reflection_lock() {
    let mut server = Server::builder().build();
    let reflection = server.enable_reflection().unwrap();
    server
        .register_handler(
            "Echo",
            "Echo",
            std::sync::Arc::new(SelfDescribing {
                reflection: reflection.clone(),
            }),
        )
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    // On a thread of its own, waited for with a bound: a self-deadlock fails, not hangs.
    let (tx, rx) = std::sync::mpsc::channel();
    let r = reflection.clone();
    std::thread::spawn(move || {
        let _ = tx.send((r.services_text(), r.service_text("Echo")));
    });
    let (all, one) = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("reflection text not produced within 20 s (deadlock?)");
    let line = "type (s *Echo) Echo(ctx context.Context, arg *In, reply *Out) error {";
    assert!(all.contains(line), "{all}");
    assert!(one.unwrap().contains(line));
    // What describe() set is used from then on.
    let c = client(&handle.local_address().to_string(), SerializeType::JSON).await;
    handle
        .register_raw("Other", "Seen", |_ctx: Context, b: Bytes| async move {
            Ok::<_, ServiceError>(b)
        })
        .unwrap();
    let other = get_service(&c, "Other").await.unwrap();
    assert!(
        other.contains("type (s *Other) Seen(ctx context.Context, arg *A, reply *B) error {"),
        "{other}"
    );
    c.close();
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn one_reflection_serves_one_server_at_a_time() {
    let reflection = rpcx::server::Reflection::new();
    let mut a = Server::builder().build();
    a.add_reflection(reflection.clone()).unwrap();
    // Again on the same server: harmless.
    a.add_reflection(reflection.clone()).unwrap();

    let mut b = Server::builder().build();
    match b.add_reflection(reflection.clone()) {
        Err(Error::Registration(text)) => {
            assert!(text.contains("already serves another server"), "{text}")
        }
        other => panic!("second server accepted the same Reflection: {other:?}"),
    }
    assert!(b.reflection().is_none());

    // Dropped without starting: free again.
    drop(a);
    b.add_reflection(reflection.clone()).unwrap();
    arith::register(&mut b).unwrap();
    let handle = b.serve("tcp@127.0.0.1:0").await.unwrap();
    let mut c = Server::builder().build();
    assert!(matches!(
        c.add_reflection(reflection.clone()),
        Err(Error::Registration(_))
    ));

    // Shut down (its handle still held): free again, and the new server is the one described.
    handle.shutdown(Duration::from_secs(1)).await;
    c.add_reflection(reflection.clone()).unwrap();
    c.register_fn("Only", "Neg", |n: i64| -n).unwrap();
    let handle_c = c.serve("tcp@127.0.0.1:0").await.unwrap();
    let text = reflection.services_text();
    assert!(text.contains("type Only struct{}"), "{text}");
    assert!(!text.contains("type Arith struct{}"), "{text}");
    let mut d = Server::builder().build();
    assert!(d.add_reflection(reflection).is_err());
    handle_c.shutdown(Duration::from_secs(1)).await;
    drop(handle);
}
