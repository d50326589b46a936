//! Hostile and malformed input on raw sockets, while a well-behaved client keeps calling the
//! same server successfully the whole time.

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use rpcx::arith::{Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::{CompressType, Message, MessageStatus, SerializeType};
use rpcx::server::ServerHandle;
use support::{guard, json_mul, request, start_arith, RawConn, GUARD};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

/// A well-behaved client calling `Arith.Mul` in a loop until stopped; every call must succeed.
struct Bystander {
    client: Client,
    stop: Arc<AtomicBool>,
    task: JoinHandle<usize>,
}

impl Bystander {
    async fn start(handle: &ServerHandle) -> Bystander {
        let client = Client::connect(
            &handle.local_address().to_string(),
            ClientOptions::default(),
        )
        .await
        .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (client.clone(), Arc::clone(&stop));
        let task = tokio::spawn(async move {
            let mut done = 0usize;
            for i in 0..1_000_000i64 {
                if s.load(Ordering::Acquire) {
                    break;
                }
                let r: Reply = c
                    .call("Arith", "Mul", &Args { a: i, b: 3 })
                    .await
                    .expect("the well-behaved client's call failed");
                assert_eq!(r.c, i * 3);
                done += 1;
                tokio::task::yield_now().await;
            }
            done
        });
        Bystander { client, stop, task }
    }

    /// One more call, right now, must succeed.
    async fn check(&self) {
        let r: Reply = guard(
            GUARD,
            "bystander call",
            self.client.call("Arith", "Add", &Args { a: 40, b: 2 }),
        )
        .await
        .unwrap();
        assert_eq!(r.c, 42);
    }

    async fn finish(self) {
        self.check().await;
        self.stop.store(true, Ordering::Release);
        let n = guard(GUARD, "bystander loop", self.task).await.unwrap();
        assert!(n > 0, "the bystander made calls");
    }
}

/// A frame assembled by hand: `total` is computed from the bytes actually written, but each
/// section length field is given explicitly (so it can lie).
fn hand_frame(h2: u8, h3: u8, seq: u64, sections: &[(u32, &[u8])]) -> Vec<u8> {
    let mut body = BytesMut::new();
    for (len, bytes) in sections {
        body.put_u32(*len);
        body.put_slice(bytes);
    }
    let mut f = BytesMut::new();
    f.put_slice(&[0x08, 0, h2, h3]);
    f.put_u64(seq);
    f.put_u32(body.len() as u32);
    f.put_slice(&body);
    f.to_vec()
}

/// Expects an error reply for `seq` containing `needle`, then a normal call on the same
/// connection to work (the connection was kept).
async fn expect_error_then_alive(raw: &mut RawConn, seq: u64, needle: &str) {
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), seq);
    assert_eq!(m.header.status(), MessageStatus::Error);
    let text = m.error().unwrap().to_owned();
    assert!(
        text.contains(needle),
        "error for seq {seq}: {text:?} lacks {needle:?}"
    );
    raw.send(&json_mul(seq + 1000, 6, 7)).await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), seq + 1000);
    assert_eq!(
        m.payload.as_ref(),
        br#"{"C":42}"#,
        "connection kept after seq {seq}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_garbage_closes_only_that_connection() {
    let handle = start_arith().await;
    let by = Bystander::start(&handle).await;

    // Wrong magic.
    let mut raw = RawConn::connect(&handle).await;
    let mut bad = json_mul(1, 1, 1).encode().unwrap().to_vec();
    bad[0] = 0x09;
    raw.write(&bad).await;
    raw.expect_closed().await;
    by.check().await;

    // Plain text that is neither rpcx nor HTTP (HTTP requests go to the gateway:
    // tests/server_http.rs).
    let mut raw = RawConn::connect(&handle).await;
    raw.write(b"hello, this is not rpcx\r\n\r\n").await;
    raw.expect_closed().await;

    // A truncated frame followed by EOF.
    let mut raw = RawConn::connect(&handle).await;
    let good = json_mul(2, 1, 1).encode().unwrap();
    raw.write(&good[..20]).await;
    raw.stream.shutdown().await.unwrap();
    raw.expect_closed().await;
    by.check().await;

    // Only part of the 16-byte prefix, then EOF.
    let mut raw = RawConn::connect(&handle).await;
    raw.write(&good[..7]).await;
    raw.stream.shutdown().await.unwrap();
    raw.expect_closed().await;

    // A 16-byte prefix claiming 4 GiB: refused before anything is allocated.
    let mut raw = RawConn::connect(&handle).await;
    let mut prefix = good[..12].to_vec();
    prefix.extend_from_slice(&u32::MAX.to_be_bytes());
    raw.write(&prefix).await;
    raw.expect_closed().await;
    by.check().await;

    // Just over the default 16 MiB frame limit.
    let mut raw = RawConn::connect(&handle).await;
    let mut prefix = good[..12].to_vec();
    prefix.extend_from_slice(&((16u32 << 20) + 1).to_be_bytes());
    raw.write(&prefix).await;
    raw.expect_closed().await;

    // Many of them at once.
    let mut bombs = Vec::new();
    for _ in 0..20 {
        let mut raw = RawConn::connect(&handle).await;
        raw.write(&prefix).await;
        bombs.push(raw);
    }
    for raw in &mut bombs {
        raw.expect_closed().await;
    }

    // A heartbeat with an oversized payload (default limit 4 KiB).
    let mut raw = RawConn::connect(&handle).await;
    let mut hb = request("", "", SerializeType::MSGPACK, 9, &[0u8; 5000]);
    hb.header.set_heartbeat(true);
    raw.send(&hb).await;
    raw.expect_closed().await;

    by.finish().await;
    // A call ends just after its reply is written (a direct reply may reach the bystander
    // first), so the count is awaited, not read once.
    support::wait_until("no call in flight", || handle.inflight() == 0).await;
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_inner_lengths_are_answered_and_the_connection_kept() {
    let handle = start_arith().await;
    let by = Bystander::start(&handle).await;
    let mut raw = RawConn::connect(&handle).await;
    let payload: &[u8] = br#"{"A":1,"B":2}"#;

    // Service path length runs past the frame.
    let f = hand_frame(
        0,
        0x10,
        11,
        &[(1000, b"Arith"), (3, b"Mul"), (0, b""), (13, payload)],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 11, "service path").await;

    // Method length runs past the frame.
    let f = hand_frame(
        0,
        0x10,
        12,
        &[(5, b"Arith"), (70, b"Mul"), (0, b""), (13, payload)],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 12, "malformed frame").await;

    // Metadata section of 2 bytes (Go would panic and swallow it).
    let f = hand_frame(
        0,
        0x10,
        13,
        &[(5, b"Arith"), (3, b"Mul"), (2, b"ab"), (13, payload)],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 13, "wrong metadata lines").await;

    // Payload length disagreeing with the bytes that are there (Go ignores it; we do not).
    let f = hand_frame(
        0,
        0x10,
        14,
        &[(5, b"Arith"), (3, b"Mul"), (0, b""), (99, payload)],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 14, "payload").await;

    // A total length too short for the four length fields.
    let f = hand_frame(0, 0x10, 15, &[(0, b"")]);
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 15, "malformed frame").await;

    // A metadata key whose length runs past the metadata section.
    let mut meta = BytesMut::new();
    meta.put_u32(50);
    meta.put_slice(b"key");
    let f = hand_frame(
        0,
        0x10,
        16,
        &[(5, b"Arith"), (3, b"Mul"), (7, &meta), (13, payload)],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 16, "wrong metadata lines").await;

    // A malformed oneway frame is consumed silently; the next call is answered.
    let f = hand_frame(
        0x20,
        0x10,
        17,
        &[(1000, b"Arith"), (3, b"Mul"), (0, b""), (13, payload)],
    );
    raw.write(&f).await;
    raw.send(&json_mul(18, 2, 3)).await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), 18, "no reply to the malformed oneway frame");

    // Two lying frames and a good one in a single write: the stream stays in sync.
    let mut batch = hand_frame(
        0,
        0x10,
        19,
        &[(900, b"Arith"), (3, b"Mul"), (0, b""), (13, payload)],
    );
    batch.extend(hand_frame(
        0,
        0x10,
        20,
        &[(5, b"Arith"), (3, b"Mul"), (3, b"abc"), (13, payload)],
    ));
    batch.extend_from_slice(&json_mul(21, 5, 5).encode().unwrap());
    raw.write(&batch).await;
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let m = raw.frame().await;
        seqs.push((m.header.seq(), m.header.status()));
    }
    seqs.sort_by_key(|s| s.0);
    assert_eq!(
        seqs,
        vec![
            (19, MessageStatus::Error),
            (20, MessageStatus::Error),
            (21, MessageStatus::Normal)
        ]
    );

    by.finish().await;
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_and_bad_names_get_error_replies() {
    let handle = start_arith().await;
    let by = Bystander::start(&handle).await;
    let mut raw = RawConn::connect(&handle).await;

    // gzip bomb: 64 MiB of zeros compress to about 64 KiB; the default cap is 16 MiB.
    let mut bomb = request(
        "Arith",
        "Echo",
        SerializeType::RAW,
        31,
        &vec![0u8; 64 << 20],
    );
    bomb.header.set_compress_type(CompressType::GZIP);
    let wire = tokio::task::spawn_blocking(move || bomb.encode().unwrap())
        .await
        .unwrap();
    assert!(
        wire.len() < 256 << 10,
        "compressed frame is {} bytes",
        wire.len()
    );
    raw.write(&wire).await;
    expect_error_then_alive(
        &mut raw,
        31,
        "decompressed size exceeds the maximum allowed size",
    )
    .await;
    by.check().await;

    // A payload that claims gzip but is not.
    let mut m = request("Arith", "Echo", SerializeType::RAW, 32, b"not gzip");
    m.header.set_compress_type(CompressType::NONE);
    let mut f = m.encode().unwrap().to_vec();
    f[2] |= 0x04;
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 32, "gzip").await;

    // An unknown compressor (type 5).
    f[2] = (f[2] & !0x1C) | (5 << 2);
    f[11] = 33;
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 33, "unsupported compressor").await;

    // Unknown serialize type on a well-formed frame.
    let nine = SerializeType::new(9).unwrap();
    raw.send(&request("Arith", "Mul", nine, 34, br#"{"A":1,"B":2}"#))
        .await;
    expect_error_then_alive(&mut raw, 34, "can not find codec for 9").await;

    // Non-UTF-8 service name and method.
    let payload: &[u8] = br#"{"A":1,"B":2}"#;
    let f = hand_frame(
        0,
        0x10,
        35,
        &[(2, &[0xff, 0xfe]), (3, b"Mul"), (0, b""), (13, payload)],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 35, "not valid UTF-8").await;
    let f = hand_frame(
        0,
        0x10,
        36,
        &[(5, b"Arith"), (2, &[0xc3, 0x28]), (0, b""), (13, payload)],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 36, "not valid UTF-8").await;

    // Metadata bomb: 300 pairs (limit 256).
    let mut m = json_mul(37, 1, 2);
    for i in 0..300 {
        m.metadata.insert(format!("k{i}"), String::new());
    }
    raw.send(&m).await;
    expect_error_then_alive(&mut raw, 37, "too many metadata entries").await;

    // Exactly 256 pairs are fine.
    let mut m = json_mul(38, 2, 2);
    for i in 0..256 {
        m.metadata.insert(format!("k{i}"), "v".into());
    }
    raw.send(&m).await;
    let r = raw.frame().await;
    assert_eq!(r.header.seq(), 38);
    assert_eq!(r.payload.as_ref(), br#"{"C":4}"#);

    // Many duplicate keys count as pairs too.
    let mut meta = BytesMut::new();
    for _ in 0..1000 {
        meta.put_u32(1);
        meta.put_slice(b"k");
        meta.put_u32(0);
    }
    let f = hand_frame(
        0,
        0x10,
        39,
        &[
            (5, b"Arith"),
            (3, b"Mul"),
            (meta.len() as u32, &meta),
            (13, payload),
        ],
    );
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 39, "too many metadata entries").await;

    // Arguments that do not decode: the codec's error text, connection kept.
    raw.send(&request(
        "Arith",
        "Mul",
        SerializeType::JSON,
        40,
        b"{\"A\":",
    ))
    .await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), 40);
    assert!(m.error().is_some());
    raw.send(&request("Arith", "Mul", SerializeType::JSON, 41, b""))
        .await;
    let m = raw.frame().await;
    assert_eq!(
        m.error(),
        Some("EOF"),
        "Go's text for an empty JSON payload"
    );

    by.finish().await;
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_sent_to_the_server_is_treated_as_a_request() {
    // Go never looks at the type bit of incoming frames; neither may we desync on it.
    let handle = start_arith().await;
    let mut raw = RawConn::connect(&handle).await;
    let mut m: Message = json_mul(50, 3, 3);
    m.header
        .set_message_type(rpcx::protocol::MessageType::Response);
    raw.send(&m).await;
    let r = raw.frame().await;
    assert_eq!(r.header.seq(), 50);
    raw.send(&json_mul(51, 2, 2)).await;
    let r = guard(Duration::from_secs(30), "next reply", raw.frame()).await;
    assert_eq!(r.header.seq(), 51);
    assert_eq!(r.payload.as_ref(), br#"{"C":4}"#);
    handle.shutdown(GUARD).await;
}

/// A protobuf-only message (no serde), for the serialization-mismatch texts.
#[derive(Clone, PartialEq, prost::Message)]
struct OnlyProto {
    #[prost(int64, tag = "1")]
    n: i64,
}
rpcx::proto_codable!(OnlyProto);

/// A caller whose serialization does not fit a method's argument or reply type gets a text
/// naming the serialization it sent and the method, never a Rust type path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialization_mismatches_name_the_wire_type_not_rust_types() {
    let mut server = rpcx::server::Server::builder().build();
    rpcx::arith::register(&mut server).unwrap();
    server
        .register_fn("P", "Only", |_ctx, a: OnlyProto| async move {
            Ok::<_, rpcx::server::ServiceError>(a)
        })
        .unwrap();
    server
        .register_fn("B", "ToStruct", |_ctx, _b: Vec<u8>| async move {
            Ok::<_, rpcx::server::ServiceError>(Reply { c: 1 })
        })
        .unwrap();
    server
        .register_fn("B", "ToProto", |_ctx, _b: Vec<u8>| async move {
            Ok::<_, rpcx::server::ServiceError>(OnlyProto { n: 1 })
        })
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let mut raw = RawConn::connect(&handle).await;

    let cases: [(&str, &str, SerializeType, &[u8], &str); 5] = [
        (
            "Arith",
            "Mul",
            SerializeType::RAW,
            b"\x01\x02",
            "the request body is raw bytes (SerializeType 0), but Arith.Mul takes a structured \
             argument, not raw bytes",
        ),
        (
            "P",
            "Only",
            SerializeType::JSON,
            br#"{"n":1}"#,
            "the request body is JSON (SerializeType 1), but P.Only takes only Protobuf \
             (SerializeType 2)",
        ),
        (
            "P",
            "Only",
            SerializeType::MSGPACK,
            b"\x80",
            "the request body is MsgPack (SerializeType 3), but P.Only takes only Protobuf \
             (SerializeType 2)",
        ),
        (
            "B",
            "ToStruct",
            SerializeType::RAW,
            b"abc",
            "B.ToStruct replies with a structured value, which cannot be sent as raw bytes \
             (SerializeType 0) (the request's serialization)",
        ),
        (
            "B",
            "ToProto",
            SerializeType::JSON,
            br#""YWJj""#,
            "B.ToProto replies only in Protobuf (SerializeType 2), not in JSON (SerializeType 1) \
             (the request's serialization)",
        ),
    ];
    for (seq, (service, method, st, payload, want)) in cases.into_iter().enumerate() {
        let seq = seq as u64 + 1;
        raw.send(&request(service, method, st, seq, payload)).await;
        let m = raw.frame().await;
        assert_eq!(m.header.seq(), seq);
        assert_eq!(
            m.header.status(),
            MessageStatus::Error,
            "{service}.{method}"
        );
        let text = m.error().unwrap();
        assert_eq!(text, want, "{service}.{method} with {st}");
        assert!(!text.contains("::"), "{text:?} names a Rust path");
    }
    // A protobuf-only argument type still answers Protobuf callers.
    let mut pb = Vec::new();
    rpcx::codec::Codable::encode_as(&OnlyProto { n: 5 }, SerializeType::PROTOBUF, &mut pb).unwrap();
    raw.send(&request("P", "Only", SerializeType::PROTOBUF, 99, &pb))
        .await;
    let m = raw.frame().await;
    assert_eq!(m.header.status(), MessageStatus::Normal);
    assert_eq!(m.payload.as_ref(), &pb[..]);
    handle.shutdown(GUARD).await;
}
