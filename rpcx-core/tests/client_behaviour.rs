//! Client behaviour end to end: timeouts, multiplexing, heartbeats, closing, broken servers,
//! Unix sockets, and what the client writes on the wire (checked against a scripted server).

#[path = "client_support.rs"]
mod fakes;
#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fakes::{fill_client_queue, FakeServer, Mode};
use rpcx::arith::{Args, Reply, SleepArgs};
use rpcx::client::{CallOptions, Client, ClientOptions, RawRequest};
use rpcx::codec;
use rpcx::protocol::{
    FrameCodec, Limits, Message, MessageStatus, MessageType, ProtocolError, SerializeType,
    META_AUTH, META_SERVER_TIMEOUT,
};
use rpcx::server::{Plugin, Rejection, Server, ServerHandle};
use rpcx::Error;
use support::{guard, start_arith, wait_until, GUARD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

async fn connect(handle: &ServerHandle, options: ClientOptions) -> Client {
    Client::connect(&handle.local_address().to_string(), options)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_timeout_is_reported_and_the_client_keeps_working() {
    let handle = start_arith().await;
    let c = connect(&handle, ClientOptions::default()).await;
    let e = guard(
        GUARD,
        "a call with a 200 ms timeout",
        c.call_with::<_, Reply>(
            "Arith",
            "Sleep",
            &SleepArgs { ms: 5000 },
            CallOptions::default().timeout(Duration::from_millis(200)),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::Timeout(d) if d == Duration::from_millis(200)),
        "{e:?}"
    );
    // The client default timeout applies to calls that set none.
    let slow = connect(
        &handle,
        ClientOptions::default().timeout(Duration::from_millis(200)),
    )
    .await;
    let e = guard(
        GUARD,
        "a call under the default timeout",
        slow.call::<_, Reply>("Arith", "Sleep", &SleepArgs { ms: 5000 }),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    // Neither connection suffered; a late reply (the server's deadline error) is dropped.
    for client in [&c, &slow] {
        let r: Reply = client
            .call("Arith", "Mul", &Args { a: 4, b: 5 })
            .await
            .unwrap();
        assert_eq!(r.c, 20);
        assert!(!client.is_closed());
    }
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls_on_one_connection() {
    let handle = start_arith().await;
    let c = connect(&handle, ClientOptions::default()).await;
    let mut set = JoinSet::new();
    for i in 0..10_000i64 {
        let c = c.clone();
        set.spawn(async move {
            let method = if i % 2 == 0 { "Mul" } else { "Add" };
            let r: Reply = c.call("Arith", method, &Args { a: i, b: 3 }).await?;
            Ok::<_, Error>((i, r.c))
        });
    }
    let results = guard(Duration::from_secs(120), "10 000 calls", async {
        let mut out = Vec::with_capacity(10_000);
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap().unwrap());
        }
        out
    })
    .await;
    assert_eq!(results.len(), 10_000);
    for (i, c) in results {
        let expected = if i % 2 == 0 { i * 3 } else { i + 3 };
        assert_eq!(c, expected, "call {i}");
    }
    assert!(!c.is_closed());
    handle.shutdown(GUARD).await;
}

/// Counts heartbeats the server reads.
#[derive(Default)]
struct Beats(AtomicUsize);

impl Plugin for Beats {
    fn after_read(&self, _peer: &str, request: &mut Message) -> Result<(), Rejection> {
        if request.is_heartbeat() {
            assert!(request.service_path.is_empty() && request.service_method.is_empty());
            assert_eq!(request.header.serialize_type(), SerializeType::MSGPACK);
            assert_eq!(request.payload.len(), 9);
            assert_eq!(request.payload[0], 0xd3);
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_every_50_ms_keep_the_client_working() {
    let beats = Arc::new(Beats::default());
    let mut server = Server::builder()
        .plugin_arc(Arc::clone(&beats) as Arc<dyn Plugin>)
        .build();
    rpcx::arith::register(&mut server).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let c = connect(
        &handle,
        ClientOptions::default().heartbeat(Duration::from_millis(50)),
    )
    .await;
    let mut calls = 0i64;
    for i in 0..100_000i64 {
        if beats.0.load(Ordering::SeqCst) >= 6 {
            break;
        }
        let r: Reply = c.call("Arith", "Add", &Args { a: i, b: 1 }).await.unwrap();
        assert_eq!(r.c, i + 1);
        calls += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(beats.0.load(Ordering::SeqCst) >= 6, "heartbeats were sent");
    assert!(calls > 0);
    assert!(!c.is_closed());
    let r: Reply = c.call("Arith", "Mul", &Args { a: 3, b: 3 }).await.unwrap();
    assert_eq!(r.c, 9);
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_pending_and_later_calls_with_closed() {
    let handle = start_arith().await;
    let c = connect(&handle, ClientOptions::default()).await;
    let mut set = JoinSet::new();
    for _ in 0..50 {
        let c = c.clone();
        set.spawn(async move {
            c.call::<_, Reply>("Arith", "Sleep", &SleepArgs { ms: 60_000 })
                .await
        });
    }
    wait_until("50 calls in flight", || handle.inflight() == 50).await;
    c.close();
    assert!(c.is_closed());
    let mut n = 0;
    while let Some(r) = guard(Duration::from_secs(10), "pending call", set.join_next()).await {
        let e = r.unwrap().unwrap_err();
        assert!(matches!(e, Error::Closed), "{e:?}");
        n += 1;
    }
    assert_eq!(n, 50);
    let e = c
        .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Closed), "{e:?}");
    let e = c
        .send("Arith", "Mul", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Closed), "{e:?}");
    c.close();
    // The server is unaffected and drops the connection's handlers in time.
    let other = connect(&handle, ClientOptions::default()).await;
    let r: Reply = other
        .call("Arith", "Mul", &Args { a: 2, b: 2 })
        .await
        .unwrap();
    assert_eq!(r.c, 4);
    handle.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_close_fails_pending_calls_with_connection_lost() {
    let handle = start_arith().await;
    let c = connect(&handle, ClientOptions::default()).await;
    let mut set = JoinSet::new();
    for _ in 0..20 {
        let c = c.clone();
        set.spawn(async move {
            c.call::<_, Reply>("Arith", "Sleep", &SleepArgs { ms: 60_000 })
                .await
        });
    }
    wait_until("20 calls in flight", || handle.inflight() == 20).await;
    handle.close();
    while let Some(r) = guard(GUARD, "pending call", set.join_next()).await {
        let e = r.unwrap().unwrap_err();
        assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
    }
    assert!(c.is_closed());
    let e = c
        .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_server_and_client() {
    let dir = std::env::temp_dir().join(format!(
        "rpcx-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.sock");
    let address = format!("unix@{}", path.display());
    let mut server = Server::builder().build();
    rpcx::arith::register(&mut server).unwrap();
    let handle = server.serve(&address).await.unwrap();
    assert_eq!(handle.local_address().to_string(), address);
    assert_eq!(handle.port(), None);
    for st in [
        SerializeType::JSON,
        SerializeType::MSGPACK,
        SerializeType::PROTOBUF,
    ] {
        let c = Client::connect(&address, ClientOptions::default().serialize_type(st))
            .await
            .unwrap();
        assert!(c.peer().starts_with("unix@"), "{}", c.peer());
        let r: Reply = c.call("Arith", "Mul", &Args { a: 6, b: 7 }).await.unwrap();
        assert_eq!(r.c, 42, "{st}");
        let e = c
            .call::<_, Reply>("Arith", "Div", &Args { a: 6, b: 0 })
            .await
            .unwrap_err();
        assert_eq!(e.server_message(), Some("divide by zero"));
    }
    let c = Client::connect(&address, ClientOptions::default().gzip(true))
        .await
        .unwrap();
    let big = Bytes::from(vec![1u8; 100_000]);
    let back: Bytes = c.call("Arith", "Echo", &big).await.unwrap();
    assert_eq!(back, big);
    handle.shutdown(GUARD).await;
    assert!(Client::connect(&address, ClientOptions::default())
        .await
        .is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The server side of a connection, scripted by the test.
struct Peer {
    stream: TcpStream,
    buf: BytesMut,
}

impl Peer {
    async fn next(&mut self) -> Option<Message> {
        let codec = FrameCodec::new(Limits::DEFAULT);
        guard(GUARD, "a frame from the client", async {
            loop {
                if let Some(m) = codec.decode_frame(&mut self.buf).unwrap() {
                    return Some(m);
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
    }

    async fn request(&mut self) -> Message {
        self.next().await.expect("the client closed the connection")
    }

    async fn reply(&mut self, msg: &Message) {
        self.stream.write_all(&msg.encode().unwrap()).await.unwrap();
    }
}

/// A listener whose single connection the test drives by hand, and a client on it.
async fn scripted(options: ClientOptions) -> (Client, Peer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("tcp@{}", listener.local_addr().unwrap());
    let (client, accepted) = tokio::join!(Client::connect(&addr, options), listener.accept());
    let (stream, _) = accepted.unwrap();
    (
        client.unwrap(),
        Peer {
            stream,
            buf: BytesMut::new(),
        },
    )
}

fn reply_to(req: &Message, payload: &[u8]) -> Message {
    let mut m = req.response();
    m.payload = Bytes::copy_from_slice(payload);
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_client_writes_on_the_wire() {
    let (c, mut peer) = scripted(
        ClientOptions::default()
            .auth("Bearer t")
            .serialize_type(SerializeType::JSON),
    )
    .await;
    let c2 = c.clone();
    let call = tokio::spawn(async move {
        c2.call_with::<_, Reply>(
            "Arith",
            "Mul",
            &Args { a: 10, b: 20 },
            CallOptions::default()
                .meta("k", "v")
                .timeout(Duration::from_secs(60)),
        )
        .await
    });
    let req = peer.request().await;
    assert_eq!(req.header.seq(), 0, "the first seq is 0, as in Go");
    assert_eq!(req.header.message_type(), MessageType::Request);
    assert!(!req.header.is_oneway() && !req.header.is_heartbeat());
    assert_eq!(req.header.serialize_type(), SerializeType::JSON);
    assert_eq!(req.service_path, "Arith");
    assert_eq!(req.service_method, "Mul");
    assert_eq!(req.payload.as_ref(), br#"{"A":10,"B":20}"#);
    assert_eq!(req.metadata.get(META_AUTH).unwrap(), "Bearer t");
    assert_eq!(req.metadata.get("k").unwrap(), "v");
    let ms: u64 = req
        .metadata
        .get(META_SERVER_TIMEOUT)
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 0 && ms <= 60_000, "{ms}");
    let mut rep = reply_to(&req, br#"{"C":200}"#);
    rep.metadata.insert("back".into(), "1".into());
    peer.reply(&rep).await;
    let r = guard(GUARD, "call", call).await.unwrap().unwrap();
    assert_eq!(r.reply.c, 200);
    assert_eq!(r.metadata.get("back").unwrap(), "1");

    // Oneway: flag set, next seq, nothing awaited.
    c.send("Arith", "Mul", &Args { a: 1, b: 1 }).await.unwrap();
    let req = peer.request().await;
    assert!(req.header.is_oneway());
    assert_eq!(req.header.seq(), 1);
    assert!(!req.metadata.contains_key(META_SERVER_TIMEOUT));
    c.close();
    assert!(peer.next().await.is_none(), "close ends the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_matched_by_seq_in_any_order() {
    let (c, mut peer) =
        scripted(ClientOptions::default().serialize_type(SerializeType::JSON)).await;
    let mut push_rx = c.take_pushes().unwrap();
    let mut set = JoinSet::new();
    for a in 1..=3i64 {
        let c = c.clone();
        set.spawn(async move {
            let r: Reply = c.call("Arith", "Mul", &Args { a, b: 1 }).await?;
            Ok::<_, Error>((a, r.c))
        });
    }
    let mut reqs = Vec::new();
    for _ in 0..3 {
        reqs.push(peer.request().await);
    }
    // An answer for a seq nobody waits for is dropped silently.
    let mut stray = reply_to(&reqs[0], br#"{"C":-1}"#);
    stray.header.set_seq(999);
    peer.reply(&stray).await;
    // A server push in between.
    let mut push = Message::request("Push", "Data", SerializeType::RAW, &b"hi"[..]);
    push.header.set_oneway(true);
    push.header.set_seq(1);
    peer.reply(&push).await;
    // Answer in reverse order, each with 100 × its own `A`.
    for req in reqs.iter().rev() {
        let args: Args = codec::decode(SerializeType::JSON, &req.payload).unwrap();
        peer.reply(&reply_to(
            req,
            format!("{{\"C\":{}}}", args.a * 100).as_bytes(),
        ))
        .await;
    }
    while let Some(r) = guard(GUARD, "call", set.join_next()).await {
        let (a, c) = r.unwrap().unwrap();
        assert_eq!(c, a * 100);
    }
    let p = guard(GUARD, "push", push_rx.recv()).await.unwrap();
    assert_eq!(p.payload.as_ref(), b"hi");
    assert_eq!(p.service_path, "Push");

    // An error status without `__rpcx_error__` is still an error (empty text).
    let c2 = c.clone();
    let call = tokio::spawn(async move {
        c2.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
            .await
    });
    let req = peer.request().await;
    let mut rep = req.response();
    rep.header.set_status(MessageStatus::Error);
    peer.reply(&rep).await;
    let e = guard(GUARD, "call", call).await.unwrap().unwrap_err();
    assert_eq!(e.server_message(), Some(""));
    assert!(!c.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_server_fails_pending_calls() {
    // Garbage from the server.
    let (c, mut peer) = scripted(ClientOptions::default()).await;
    let c2 = c.clone();
    let call = tokio::spawn(async move {
        c2.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
            .await
    });
    let _ = peer.request().await;
    peer.stream
        .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        .await
        .unwrap();
    let e = guard(GUARD, "call", call).await.unwrap().unwrap_err();
    assert!(
        matches!(&e, Error::ConnectionLost(why) if why.contains("magic")),
        "{e:?}"
    );
    assert!(c.is_closed());

    // The server vanishes mid-call.
    let (c, mut peer) = scripted(ClientOptions::default()).await;
    let c2 = c.clone();
    let call = tokio::spawn(async move {
        c2.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
            .await
    });
    let _ = peer.request().await;
    drop(peer);
    let e = guard(GUARD, "call", call).await.unwrap().unwrap_err();
    assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
    let e = c
        .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ConnectionLost(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_heartbeats_close_the_connection() {
    let mut options = ClientOptions::default().heartbeat(Duration::from_millis(50));
    options.heartbeat_timeout = Duration::from_millis(200);
    let (c, mut peer) = scripted(options).await;
    let c2 = c.clone();
    let call = tokio::spawn(async move {
        c2.call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
            .await
    });
    // Read (and ignore) everything: the call and the heartbeats.
    let mut saw_heartbeat = false;
    while let Some(m) = peer.next().await {
        if m.header.is_heartbeat() {
            assert_eq!(m.header.serialize_type(), SerializeType::MSGPACK);
            assert!(m.service_path.is_empty() && m.service_method.is_empty());
            saw_heartbeat = true;
        }
    }
    assert!(saw_heartbeat);
    let e = guard(GUARD, "call", call).await.unwrap().unwrap_err();
    assert!(
        matches!(&e, Error::ConnectionLost(why) if why.contains("heartbeat")),
        "{e:?}"
    );
    assert!(c.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_clone_closes_the_connection() {
    let (c, mut peer) = scripted(ClientOptions::default()).await;
    let c2 = c.clone();
    drop(c);
    c2.send("Arith", "Mul", &Args { a: 1, b: 1 }).await.unwrap();
    assert!(peer.next().await.is_some());
    drop(c2);
    assert!(
        peer.next().await.is_none(),
        "the connection closed with the last clone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_the_limits_fails_only_its_own_call() {
    let options = ClientOptions {
        limits: Limits::DEFAULT
            .with_max_metadata_entries(4)
            .with_max_decompressed_len(1024),
        ..ClientOptions::default().serialize_type(SerializeType::JSON)
    };
    let (c, mut peer) = scripted(options).await;
    let mut set = JoinSet::new();
    for a in 1..=3i64 {
        let c = c.clone();
        set.spawn(async move {
            (
                a,
                c.call::<_, Reply>("Arith", "Mul", &Args { a, b: 1 }).await,
            )
        });
    }
    let mut reqs = Vec::new();
    for _ in 0..3 {
        reqs.push(peer.request().await);
    }
    reqs.sort_by_key(|r| {
        codec::decode::<Args>(SerializeType::JSON, &r.payload)
            .unwrap()
            .a
    });
    // a = 1: too much metadata; a = 2: a payload that inflates past the limit; a = 3 fine.
    let mut meta = reply_to(&reqs[0], br#"{"C":1}"#);
    for i in 0..10 {
        meta.metadata.insert(format!("k{i}"), "v".into());
    }
    peer.reply(&meta).await;
    let mut bomb = reply_to(&reqs[1], &[b' '; 64 << 10]);
    bomb.header
        .set_compress_type(rpcx::protocol::CompressType::GZIP);
    peer.reply(&bomb).await;
    peer.reply(&reply_to(&reqs[2], br#"{"C":3}"#)).await;
    while let Some(r) = guard(GUARD, "calls", set.join_next()).await {
        let (a, r) = r.unwrap();
        match a {
            1 => assert!(
                matches!(
                    &r,
                    Err(Error::Protocol(ProtocolError::TooManyMetadataEntries {
                        max: 4
                    }))
                ),
                "{r:?}"
            ),
            2 => assert!(
                matches!(
                    &r,
                    Err(Error::Protocol(ProtocolError::DecompressedTooLarge {
                        max: 1024
                    }))
                ),
                "{r:?}"
            ),
            _ => assert_eq!(r.unwrap().c, 3),
        }
    }
    let e = Error::Protocol(ProtocolError::TooManyMetadataEntries { max: 4 });
    assert!(
        !e.is_retryable(),
        "XClient must not retry a malformed reply"
    );
    // The connection goes on.
    assert!(!c.is_closed());
    let c2 = c.clone();
    let call = tokio::spawn(async move {
        c2.call::<_, Reply>("Arith", "Mul", &Args { a: 7, b: 1 })
            .await
    });
    let req = peer.request().await;
    peer.reply(&reply_to(&req, br#"{"C":7}"#)).await;
    assert_eq!(guard(GUARD, "call", call).await.unwrap().unwrap().c, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_timeout_covers_a_full_send_queue() {
    let server = FakeServer::start(Mode::Deaf).await;
    let c = Client::connect(&server.key, ClientOptions::default())
        .await
        .unwrap();
    let filler = fill_client_queue(&c).await;
    let e = guard(
        GUARD,
        "a call with a 200 ms timeout behind a full send queue",
        c.call_with::<_, Reply>(
            "Arith",
            "Mul",
            &Args { a: 1, b: 1 },
            CallOptions::default().timeout(Duration::from_millis(200)),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::Timeout(d) if d == Duration::from_millis(200)),
        "{e:?}"
    );
    // A oneway send with a timeout gives up too.
    let e = guard(
        GUARD,
        "a oneway send with a timeout",
        c.send_raw(RawRequest {
            service: "Arith".into(),
            method: "Mul".into(),
            serialize_type: SerializeType::RAW,
            metadata: Default::default(),
            payload: Bytes::new(),
            timeout: Some(Duration::from_millis(200)),
        }),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    filler.abort();
    c.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_timeout_works_and_is_sent_as_a_value_go_can_use() {
    let (c, mut peer) =
        scripted(ClientOptions::default().serialize_type(SerializeType::JSON)).await;
    let c2 = c.clone();
    let call = tokio::spawn(async move {
        c2.call_with::<_, Reply>(
            "Arith",
            "Mul",
            &Args { a: 2, b: 3 },
            CallOptions::default().timeout(Duration::MAX),
        )
        .await
    });
    let req = peer.request().await;
    let ms: i64 = req
        .metadata
        .get(META_SERVER_TIMEOUT)
        .unwrap()
        .parse()
        .expect("an int64, as Go's strconv.ParseInt reads it");
    assert!(
        ms > 0 && ms.checked_mul(1_000_000).is_some(),
        "{ms} ms overflows Go's time.Duration"
    );
    peer.reply(&reply_to(&req, br#"{"C":6}"#)).await;
    assert_eq!(
        guard(GUARD, "call", call).await.unwrap().unwrap().reply.c,
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_that_cannot_work_are_refused_and_extremes_are_clamped() {
    let nobody = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp@{}", l.local_addr().unwrap())
    };
    let zero_heartbeat_timeout = ClientOptions {
        heartbeat_timeout: Duration::ZERO,
        ..ClientOptions::default().heartbeat(Duration::from_secs(1))
    };
    for (what, options) in [
        (
            "connect timeout 0",
            ClientOptions::default().connect_timeout(Duration::ZERO),
        ),
        (
            "heartbeat every 0",
            ClientOptions::default().heartbeat(Duration::ZERO),
        ),
        ("heartbeat timeout 0", zero_heartbeat_timeout),
    ] {
        let e = Client::connect(&nobody, options).await.unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{what}: {e:?}");
    }
    // Extreme values that work: a push buffer beyond tokio's channel limit is clamped,
    // durations as large as they come do not overflow.
    let handle = start_arith().await;
    let options = ClientOptions {
        push_buffer: usize::MAX,
        connect_timeout: Duration::MAX,
        default_timeout: Some(Duration::MAX),
        heartbeat_timeout: Duration::MAX,
        ..ClientOptions::default().heartbeat(Duration::MAX)
    };
    let c = connect(&handle, options).await;
    let r: Reply = c.call("Arith", "Mul", &Args { a: 3, b: 4 }).await.unwrap();
    assert_eq!(r.c, 12);
    handle.shutdown(GUARD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_stuck_behind_a_full_send_queue_closes_the_connection() {
    let server = FakeServer::start(Mode::Deaf).await;
    let mut options = ClientOptions::default().heartbeat(Duration::from_secs(5));
    options.heartbeat_timeout = Duration::from_millis(300);
    let c = Client::connect(&server.key, options).await.unwrap();
    // Fill the queue before the first heartbeat is due: its send then waits for room that
    // never comes, and the heartbeat timeout must still end the connection.
    let filler = fill_client_queue(&c).await;
    wait_until("the heartbeat closed the connection", || c.is_closed()).await;
    filler.abort();
}

/// A server that never reads holds at most `max_unsent_bytes` of requests in the client (plus
/// what the sockets buffer): sends of 1 MiB wait for room and time out well before the
/// 4096-message queue would fill; a request larger than the budget alone still goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_reads_holds_at_most_max_unsent_bytes() {
    let server = FakeServer::start(Mode::Deaf).await;
    let options = ClientOptions {
        max_unsent_bytes: 1 << 20,
        ..ClientOptions::default()
    };
    let c = Client::connect(&server.key, options).await.unwrap();
    let send = |len: usize| {
        c.send_raw(RawRequest {
            service: "Arith".into(),
            method: "Mul".into(),
            serialize_type: SerializeType::RAW,
            metadata: Default::default(),
            payload: Bytes::from(vec![7u8; len]),
            timeout: Some(Duration::from_millis(300)),
        })
    };
    // Larger than the budget: it waits for an empty queue, then goes alone.
    guard(GUARD, "a request larger than the budget", send(3 << 20))
        .await
        .unwrap();
    let mut queued = 0;
    let mut refused = None;
    for _ in 0..200 {
        match guard(GUARD, "a 1 MiB send", send(1 << 20)).await {
            Ok(()) => queued += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    // The kernel's socket buffers take some (a few MiB on loopback); the queue takes at most
    // one more MiB. Without the budget all 200 would queue (4096 messages).
    assert!(
        matches!(refused, Some(Error::Timeout(_))),
        "{queued} MiB queued, then {refused:?}"
    );
    assert!(
        queued < 64,
        "{queued} MiB queued for a server that never reads"
    );
    c.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_unsent_budget_is_refused() {
    let handle = start_arith().await;
    let e = Client::connect(
        &handle.local_address().to_string(),
        ClientOptions {
            max_unsent_bytes: 0,
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("max_unsent_bytes"), "{e}");
}
