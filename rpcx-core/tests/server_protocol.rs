//! End-to-end protocol behaviour of the server, through the client and at the raw socket
//! level: serializations, error texts, metadata, oneway, heartbeats, gzip, pushes, panics and
//! server-side deadlines.

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpcx::arith::{Args, PushArgs, Reply, SleepArgs};
use rpcx::client::{CallOptions, Client, ClientOptions, RawRequest};
use rpcx::codec;
use rpcx::protocol::{
    CompressType, MessageStatus, MessageType, Metadata, SerializeType, META_ERROR,
    META_SERVER_TIMEOUT,
};
use rpcx::server::{Context, Server, ServiceError};
use rpcx::Error;
use support::{guard, json_mul, request, start_arith, RawConn, GUARD};
use tokio::sync::Notify;

const TYPED: [SerializeType; 3] = [
    SerializeType::JSON,
    SerializeType::MSGPACK,
    SerializeType::PROTOBUF,
];

async fn client(handle: &rpcx::server::ServerHandle, options: ClientOptions) -> Client {
    Client::connect(&handle.local_address().to_string(), options)
        .await
        .unwrap()
}

fn server_error(e: Error) -> rpcx::ServerError {
    match e {
        Error::Server(s) => s,
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test]
async fn mul_and_add_over_every_serialization_and_raw_echo() {
    let handle = start_arith().await;
    for st in TYPED {
        let c = client(&handle, ClientOptions::default().serialize_type(st)).await;
        let r: Reply = c.call("Arith", "Mul", &Args { a: 7, b: -8 }).await.unwrap();
        assert_eq!(r.c, -56, "{st}");
        let r: Reply = c.call("Arith", "Add", &Args { a: 7, b: 8 }).await.unwrap();
        assert_eq!(r.c, 15, "{st}");
        let r: Reply = c.call("Arith", "Add", &Args::default()).await.unwrap();
        assert_eq!(r.c, 0, "{st}: zero values survive");
        c.close();
    }
    // Raw (serialize type 0): the bytes themselves, in both directions.
    let raw = client(
        &handle,
        ClientOptions::default().serialize_type(SerializeType::RAW),
    )
    .await;
    let data = Bytes::from((0..=255u8).cycle().take(3000).collect::<Vec<u8>>());
    let back: Bytes = raw.call("Arith", "Echo", &data).await.unwrap();
    assert_eq!(back, data);
    let empty: Bytes = raw.call("Arith", "Echo", &Bytes::new()).await.unwrap();
    assert!(empty.is_empty());
    // Bytes also travel as JSON base64 and MsgPack bin.
    for st in [SerializeType::JSON, SerializeType::MSGPACK] {
        let c = client(&handle, ClientOptions::default().serialize_type(st)).await;
        let back: Bytes = c.call("Arith", "Echo", &data).await.unwrap();
        assert_eq!(back, data, "{st}");
    }
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn service_error_carries_the_reply_payload() {
    let handle = start_arith().await;
    for st in TYPED {
        let c = client(&handle, ClientOptions::default().serialize_type(st)).await;
        let e = c
            .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
            .await
            .unwrap_err();
        assert!(e.is_server_error());
        let s = server_error(e);
        assert_eq!(s.message, "divide by zero", "{st}");
        assert_eq!(s.metadata.get(META_ERROR).unwrap(), "divide by zero");
        let reply: Reply = codec::decode(st, &s.payload).unwrap();
        assert_eq!(reply, Reply { c: 0 }, "{st}");
        if st != SerializeType::PROTOBUF {
            assert!(!s.payload.is_empty(), "{st}: the zero reply is sent");
        }
        // The connection is fine afterwards.
        let r: Reply = c.call("Arith", "Div", &Args { a: 9, b: 3 }).await.unwrap();
        assert_eq!(r.c, 3);
    }
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn unknown_service_method_and_codec_texts() {
    let handle = start_arith().await;
    let c = client(&handle, ClientOptions::default()).await;
    let e = c
        .call::<_, Reply>("NoSuch", "Mul", &Args { a: 1, b: 2 })
        .await
        .unwrap_err();
    let s = server_error(e);
    assert_eq!(s.message, "rpcx: can't find service NoSuch");
    assert!(s.payload.is_empty());
    let e = c
        .call::<_, Reply>("Arith", "NoSuch", &Args { a: 1, b: 2 })
        .await
        .unwrap_err();
    assert_eq!(
        e.server_message(),
        Some("rpcx: can't find method NoSuch"),
        "{e:?}"
    );
    // Lookups are exact and case-sensitive.
    let e = c
        .call::<_, Reply>("Arith", "mul", &Args { a: 1, b: 2 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("rpcx: can't find method mul"));
    // A well-formed frame naming serialize type 9, for which no codec exists.
    let e = c
        .call_raw(RawRequest {
            service: "Arith".into(),
            method: "Mul".into(),
            serialize_type: SerializeType::new(9).unwrap(),
            metadata: Metadata::new(),
            payload: Bytes::from_static(br#"{"A":1,"B":2}"#),
            timeout: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("can not find codec for 9"));
    // Same through the raw socket, for a raw-bytes handler too.
    let mut raw = RawConn::connect(&handle).await;
    let nine = SerializeType::new(9).unwrap();
    raw.send(&request("Arith", "Mul", nine, 41, br#"{"A":1,"B":2}"#))
        .await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), 41);
    assert_eq!(m.error(), Some("can not find codec for 9"));
    assert_eq!(m.header.serialize_type(), nine);
    raw.send(&request("Arith", "Echo", nine, 42, b"x")).await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), 42);
    assert_eq!(m.error(), Some("can not find codec for 9"));
    // Still usable.
    let r: Reply = c.call("Arith", "Mul", &Args { a: 6, b: 7 }).await.unwrap();
    assert_eq!(r.c, 42);
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn metadata_travels_both_ways() {
    let handle = start_arith().await;
    for st in TYPED {
        let c = client(&handle, ClientOptions::default().serialize_type(st)).await;
        let resp = c
            .call_with::<_, Reply>(
                "Arith",
                "Meta",
                &Args::default(),
                CallOptions::default()
                    .meta("alpha", "1")
                    .meta("beta", "two words")
                    .meta("empty", ""),
            )
            .await
            .unwrap();
        assert_eq!(resp.reply.c, 3, "{st}: the server saw exactly our pairs");
        let mut expected = Metadata::new();
        expected.insert("echo-alpha".into(), "1".into());
        expected.insert("echo-beta".into(), "two words".into());
        expected.insert("echo-empty".into(), "".into());
        assert_eq!(resp.metadata, expected, "{st}");
    }
    // Request metadata is never echoed by itself; a plain call has no reply metadata.
    let c = client(&handle, ClientOptions::default()).await;
    let resp = c
        .call_with::<_, Reply>(
            "Arith",
            "Mul",
            &Args { a: 2, b: 3 },
            CallOptions::default().meta("k", "v"),
        )
        .await
        .unwrap();
    assert_eq!(resp.reply.c, 6);
    assert!(resp.metadata.is_empty(), "{:?}", resp.metadata);
    handle.shutdown(GUARD).await;
}

/// A server with `Arith` plus `Count.Hit`, which counts calls and signals each one.
async fn counting_server() -> (rpcx::server::ServerHandle, Arc<AtomicUsize>, Arc<Notify>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let notify = Arc::new(Notify::new());
    let mut server = Server::builder().build();
    rpcx::arith::register(&mut server).unwrap();
    let (h, n) = (Arc::clone(&hits), Arc::clone(&notify));
    server
        .register_fn("Count", "Hit", move |_ctx: Context, add: i64| {
            let (h, n) = (Arc::clone(&h), Arc::clone(&n));
            async move {
                let total = h.fetch_add(add as usize, Ordering::SeqCst) + add as usize;
                n.notify_one();
                Ok::<_, ServiceError>(total as i64)
            }
        })
        .unwrap();
    (server.serve("tcp@127.0.0.1:0").await.unwrap(), hits, notify)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneway_send_runs_the_handler() {
    let (handle, hits, notify) = counting_server().await;
    let c = client(&handle, ClientOptions::default()).await;
    c.send("Count", "Hit", &5i64).await.unwrap();
    guard(GUARD, "oneway handler", notify.notified()).await;
    assert_eq!(hits.load(Ordering::SeqCst), 5);
    // A oneway request to something that fails is not answered either; the client is fine.
    c.send("NoSuch", "Hit", &1i64).await.unwrap();
    let total: i64 = c.call("Count", "Hit", &1i64).await.unwrap();
    assert_eq!(total, 6);
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneway_is_never_answered_on_the_wire() {
    let (handle, hits, notify) = counting_server().await;
    let mut raw = RawConn::connect(&handle).await;
    let oneway = |mut m: rpcx::protocol::Message| {
        m.header.set_oneway(true);
        m
    };
    // A successful oneway call, a oneway call to an unknown service, and one that fails to
    // decode its arguments: none of them may produce a frame.
    raw.send(&oneway(request(
        "Count",
        "Hit",
        SerializeType::JSON,
        1,
        b"2",
    )))
    .await;
    raw.send(&oneway(request(
        "NoSuch",
        "X",
        SerializeType::JSON,
        2,
        b"1",
    )))
    .await;
    raw.send(&oneway(request(
        "Count",
        "Hit",
        SerializeType::JSON,
        3,
        b"{",
    )))
    .await;
    guard(GUARD, "oneway handler", notify.notified()).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    raw.send(&json_mul(4, 6, 7)).await;
    let m = raw.frame().await;
    assert_eq!(
        m.header.seq(),
        4,
        "the first frame back answers the normal call"
    );
    assert_eq!(m.payload.as_ref(), br#"{"C":42}"#);
    raw.send(&json_mul(5, 2, 2)).await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), 5, "still nothing for the oneway requests");
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn heartbeat_golden_vector_is_echoed() {
    let handle = start_arith().await;
    let v6a = hex::decode(
        "0800403000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
    )
    .unwrap();
    let v6b = hex::decode(
        "0800c03000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
    )
    .unwrap();
    let mut raw = RawConn::connect(&handle).await;
    raw.write(&v6a).await;
    assert_eq!(raw.read_exact(v6b.len()).await, v6b);
    // Twice: the connection stays open after a heartbeat.
    raw.write(&v6a).await;
    assert_eq!(raw.read_exact(v6b.len()).await, v6b);
    raw.send(&json_mul(8, 10, 20)).await;
    let m = raw.frame().await;
    assert_eq!(m.payload.as_ref(), br#"{"C":200}"#);
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn golden_json_request_gets_golden_reply() {
    let handle = start_arith().await;
    let v1 = hex::decode("08000010000000000000000100000027000000054172697468000000034d756c000000000000000f7b2241223a31302c2242223a32307d").unwrap();
    let v2 = hex::decode("08008010000000000000000100000021000000054172697468000000034d756c00000000000000097b2243223a3230307d").unwrap();
    let v5a = hex::decode(
        "0800003000000000000000000000001f000000054172697468000000034d756c000000000000000782a1410aa14214",
    )
    .unwrap();
    let mut raw = RawConn::connect(&handle).await;
    raw.write(&v1).await;
    assert_eq!(raw.read_exact(v2.len()).await, v2);
    raw.write(&v5a).await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), 0);
    assert_eq!(m.header.serialize_type(), SerializeType::MSGPACK);
    let r: Reply = codec::decode(SerializeType::MSGPACK, &m.payload).unwrap();
    assert_eq!(r.c, 200);
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn gzip_replies_only_when_the_request_was_compressed_and_large() {
    let handle = start_arith().await;
    let mut raw = RawConn::connect(&handle).await;
    let big: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    // Compressed request, large payload → compressed reply (the codec inflated it for us).
    let mut m = request("Arith", "Echo", SerializeType::RAW, 1, &big);
    m.header.set_compress_type(CompressType::GZIP);
    let wire = m.encode().unwrap();
    assert!(wire.len() < big.len(), "the request really is gzip'd");
    raw.write(&wire).await;
    let r = raw.frame().await;
    assert_eq!(r.header.seq(), 1);
    assert_eq!(r.header.compress_type(), CompressType::GZIP);
    assert_eq!(r.payload.as_ref(), big.as_slice());
    // Compressed request, small payload → uncompressed reply.
    let mut m = request("Arith", "Echo", SerializeType::RAW, 2, b"small");
    m.header.set_compress_type(CompressType::GZIP);
    raw.send(&m).await;
    let r = raw.frame().await;
    assert_eq!(r.header.seq(), 2);
    assert_eq!(r.header.compress_type(), CompressType::NONE);
    assert_eq!(r.payload.as_ref(), b"small");
    // Uncompressed request → never a compressed reply, however large.
    raw.send(&request("Arith", "Echo", SerializeType::RAW, 3, &big))
        .await;
    let r = raw.frame().await;
    assert_eq!(r.header.seq(), 3);
    assert_eq!(r.header.compress_type(), CompressType::NONE);
    assert_eq!(r.payload.as_ref(), big.as_slice());
    // A compressed error reply carries no payload and is not compressed either.
    let mut m = request("NoSuch", "Echo", SerializeType::RAW, 4, &big);
    m.header.set_compress_type(CompressType::GZIP);
    raw.send(&m).await;
    let r = raw.frame().await;
    assert_eq!(r.header.seq(), 4);
    assert_eq!(r.header.compress_type(), CompressType::NONE);
    assert_eq!(r.error(), Some("rpcx: can't find service NoSuch"));
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn gzip_client_round_trips_8_kib() {
    let handle = start_arith().await;
    for st in [SerializeType::RAW, SerializeType::MSGPACK] {
        let c = client(
            &handle,
            ClientOptions::default().serialize_type(st).gzip(true),
        )
        .await;
        let data = Bytes::from(
            (0..8192u32)
                .map(|i| (i * 7 % 256) as u8)
                .collect::<Vec<u8>>(),
        );
        let back: Bytes = c.call("Arith", "Echo", &data).await.unwrap();
        assert_eq!(back, data, "{st}");
        let small: Bytes = c
            .call("Arith", "Echo", &Bytes::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(
            small.as_ref(),
            b"abc",
            "{st}: small calls are not compressed and work too"
        );
    }
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn response_header_copies_the_request() {
    let handle = start_arith().await;
    let mut raw = RawConn::connect(&handle).await;
    let mut m = json_mul(0xDEAD_BEEF_0000_0001, 2, 5);
    m.header.set_version(0);
    raw.send(&m).await;
    let r = raw.frame().await;
    assert_eq!(r.header.message_type(), MessageType::Response);
    assert_eq!(r.header.status(), MessageStatus::Normal);
    assert_eq!(r.header.seq(), 0xDEAD_BEEF_0000_0001);
    assert!(!r.header.is_oneway() && !r.header.is_heartbeat());
    assert_eq!(r.header.serialize_type(), SerializeType::JSON);
    assert_eq!(r.service_path, "Arith");
    assert_eq!(r.service_method, "Mul");
    assert!(r.metadata.is_empty());
    assert_eq!(r.payload.as_ref(), br#"{"C":10}"#);
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn server_pushes_reach_the_client() {
    let handle = start_arith().await;
    let c = client(&handle, ClientOptions::default()).await;
    let mut pushes = c.take_pushes().unwrap();
    assert!(c.take_pushes().is_none(), "the receiver is handed out once");
    let r: Reply = c
        .call(
            "Arith",
            "Push",
            &PushArgs {
                count: 3,
                data: "hello".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(r.c, 3);
    for seq in 1..=3u64 {
        let m = guard(GUARD, "a push", pushes.recv()).await.unwrap();
        assert_eq!(m.service_path, "Push");
        assert_eq!(m.service_method, "Data");
        assert_eq!(m.payload.as_ref(), b"hello");
        assert_eq!(m.header.seq(), seq, "server push seqs start at 1");
        assert!(m.header.is_server_push());
        assert_eq!(m.header.serialize_type(), SerializeType::RAW);
    }
    assert!(pushes.try_recv().is_err(), "exactly three pushes");
    // The server-wide counter continues on another connection.
    let c2 = client(&handle, ClientOptions::default()).await;
    let mut p2 = c2.take_pushes().unwrap();
    let _: Reply = c2
        .call(
            "Arith",
            "Push",
            &PushArgs {
                count: 1,
                data: "x".into(),
            },
        )
        .await
        .unwrap();
    let m = guard(GUARD, "a push", p2.recv()).await.unwrap();
    assert_eq!(m.header.seq(), 4);
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_handler_is_answered_and_the_server_keeps_serving() {
    let mut server = Server::builder().build();
    rpcx::arith::register(&mut server).unwrap();
    server
        .register_fn("Boom", "Now", |_ctx: Context, n: i64| async move {
            if n > 0 {
                panic!("deliberate test panic {n}");
            }
            Ok::<_, ServiceError>(n)
        })
        .unwrap();
    server
        .register_raw(
            "Boom",
            "Sync",
            |_ctx: Context, _b: Bytes| -> std::future::Ready<Result<Bytes, ServiceError>> {
                panic!("deliberate synchronous panic")
            },
        )
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let c = client(&handle, ClientOptions::default()).await;
    for method in ["Now", "Sync"] {
        let e = c.call::<_, i64>("Boom", method, &1i64).await.unwrap_err();
        let text = e.server_message().unwrap_or_else(|| panic!("{e:?}"));
        assert!(text.starts_with("[service internal error]"), "{text}");
    }
    assert_eq!(c.call::<_, i64>("Boom", "Now", &0i64).await.unwrap(), 0);
    let r: Reply = c.call("Arith", "Mul", &Args { a: 3, b: 3 }).await.unwrap();
    assert_eq!(r.c, 9);
    let c2 = client(&handle, ClientOptions::default()).await;
    let r: Reply = c2.call("Arith", "Add", &Args { a: 3, b: 3 }).await.unwrap();
    assert_eq!(r.c, 6);
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_timeout_metadata_cuts_the_handler() {
    let handle = start_arith().await;
    let c = client(&handle, ClientOptions::default()).await;
    let mut payload = Vec::new();
    codec::Codable::encode_as(
        &SleepArgs { ms: 5000 },
        SerializeType::MSGPACK,
        &mut payload,
    )
    .unwrap();
    let mut metadata = Metadata::new();
    metadata.insert(META_SERVER_TIMEOUT.into(), "100".into());
    let e = guard(
        Duration::from_secs(4),
        "a call the server must cut at 100 ms",
        c.call_raw(RawRequest {
            service: "Arith".into(),
            method: "Sleep".into(),
            serialize_type: SerializeType::MSGPACK,
            metadata,
            payload: payload.into(),
            timeout: None,
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(e.server_message(), Some("context deadline exceeded"));
    // An unparsable value is ignored, as in Go.
    let mut metadata = Metadata::new();
    metadata.insert(META_SERVER_TIMEOUT.into(), "soon".into());
    let mut payload = Vec::new();
    codec::Codable::encode_as(&SleepArgs { ms: 1 }, SerializeType::MSGPACK, &mut payload).unwrap();
    let r = c
        .call_raw(RawRequest {
            service: "Arith".into(),
            method: "Sleep".into(),
            serialize_type: SerializeType::MSGPACK,
            metadata,
            payload: payload.into(),
            timeout: None,
        })
        .await
        .unwrap();
    let reply: Reply = codec::decode(SerializeType::MSGPACK, &r.payload).unwrap();
    assert_eq!(reply.c, 1);
    handle.shutdown(GUARD).await;
}
