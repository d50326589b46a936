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
