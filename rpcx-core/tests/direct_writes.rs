//! Direct writes (a lone caller or a lone handler's reply written from its own thread while
//! the connection's writer is idle) against the queued, batched path: frames arrive whole and
//! in order however the two paths interleave, including frames far larger than the socket's
//! send buffer (whose unwritten tail the writer finishes), over TCP and Unix sockets, from
//! tokio tasks and from plain threads, and the server plugins see every reply written.

mod server_support;
use server_support as support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpcx::client::{Client, ClientOptions, RawRequest};
use rpcx::protocol::{Header, Limits, Message, Metadata, SerializeType};
use rpcx::server::{Context, Plugin, Server, ServerHandle, ServiceError};
use support::guard;

const LIMIT: Duration = Duration::from_secs(60);

/// Counts the replies the server's writers are about to write and report written (direct or
/// queued).
#[derive(Default)]
struct Written(AtomicUsize, AtomicUsize);

struct Counting(Arc<Written>);

impl Plugin for Counting {
    fn before_write(&self, _peer: &str, _response: &mut Message) {
        self.0 .0.fetch_add(1, Ordering::SeqCst);
    }
    fn after_write(&self, _peer: &str, _header: &Header, result: Result<(), &std::io::Error>) {
        if result.is_ok() {
            self.0 .1.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `Echo.Raw` answers with its payload reversed (so a reply is not the request's bytes by
/// accident); `Echo.Slow` first sleeps a moment, so other calls pile up behind it.
async fn start(addr: &str, written: Arc<Written>) -> ServerHandle {
    let mut server = Server::builder()
        .limits(Limits::DEFAULT.with_max_frame_len(64 << 20))
        .plugin(Counting(written))
        .build();
    server
        .register_raw("Echo", "Raw", |_ctx: Context, p: Bytes| async move {
            Ok::<_, ServiceError>(Bytes::from(p.iter().rev().copied().collect::<Vec<u8>>()))
        })
        .unwrap();
    server
        .register_raw("Echo", "Slow", |_ctx: Context, p: Bytes| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<_, ServiceError>(Bytes::from(p.iter().rev().copied().collect::<Vec<u8>>()))
        })
        .unwrap();
    server.serve(addr).await.unwrap()
}

fn request(method: &str, payload: Vec<u8>) -> RawRequest {
    RawRequest {
        service: "Echo".into(),
        method: method.into(),
        serialize_type: SerializeType::RAW,
        metadata: Metadata::new(),
        payload: Bytes::from(payload),
        timeout: None,
    }
}

/// A payload unique to `(caller, n)` of `len` bytes.
fn payload(caller: usize, n: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + caller * 7 + n) % 251) as u8)
        .collect()
}

async fn check(client: &Client, method: &str, caller: usize, n: usize, len: usize) {
    let sent = payload(caller, n, len);
    let reply = client
        .call_raw(request(method, sent.clone()))
        .await
        .unwrap();
    let mut want = sent;
    want.reverse();
    assert!(
        reply.payload[..] == want[..],
        "caller {caller} call {n}: a {len}-byte reply came back wrong"
    );
}

async fn client(addr: &str) -> Client {
    let opts = ClientOptions {
        limits: Limits::DEFAULT.with_max_frame_len(64 << 20),
        ..ClientOptions::default()
    };
    Client::connect(addr, opts).await.unwrap()
}

/// Sequential calls (the direct path) of growing sizes up to 24 MiB, then bursts of
/// concurrent calls (the queue), then sequential again, on one connection.
async fn mixed_traffic(addr: &str, written: &Written) {
    let client = client(addr).await;
    let sizes = [0usize, 1, 100, 4 << 10, 200 << 10, 3 << 20, 24 << 20, 10];
    for (n, len) in sizes.into_iter().enumerate() {
        check(&client, "Raw", 0, n, len).await;
    }
    for round in 0..4 {
        let calls = (0..32).map(|caller| {
            let client = client.clone();
            let len = if caller % 8 == 0 { 1 << 20 } else { 64 };
            let method = if caller % 5 == 0 { "Slow" } else { "Raw" };
            async move { check(&client, method, caller + 1, round, len).await }
        });
        futures_util::future::join_all(calls).await;
        // A lone caller right after the burst, while the writer may still be busy.
        check(&client, "Raw", 99, round, 2 << 20).await;
    }
    for (n, len) in sizes.into_iter().enumerate() {
        check(&client, "Raw", 100, n, len).await;
    }
    let replies = sizes.len() * 2 + 4 * 33;
    support::wait_until("the server's writers report every reply written", || {
        written.1.load(Ordering::SeqCst) >= replies
    })
    .await;
    assert_eq!(written.0.load(Ordering::SeqCst), replies);
    assert_eq!(written.1.load(Ordering::SeqCst), replies);
    client.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_arrive_whole_over_tcp_whichever_path_writes_them() {
    let written = Arc::new(Written::default());
    let handle = start("tcp@127.0.0.1:0", Arc::clone(&written)).await;
    let addr = handle.local_address().to_string();
    guard(
        LIMIT,
        "mixed traffic over TCP",
        mixed_traffic(&addr, &written),
    )
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_arrive_whole_over_a_unix_socket_whichever_path_writes_them() {
    let path = std::env::temp_dir().join(format!("rpcx-direct-{}.sock", std::process::id()));
    let written = Arc::new(Written::default());
    let handle = start(&format!("unix@{}", path.display()), Arc::clone(&written)).await;
    let addr = format!("unix@{}", path.display());
    guard(
        LIMIT,
        "mixed traffic over Unix",
        mixed_traffic(&addr, &written),
    )
    .await;
    handle.shutdown(Duration::from_secs(5)).await;
    let _ = std::fs::remove_file(&path);
}

/// Callers on plain threads (as the C and Python bindings call: `block_on` from a thread that
/// is not the runtime's), each in a loop, several at once on one connection: lone and
/// overlapping calls take either path, every reply matches its request.
#[test]
fn callers_on_plain_threads_share_a_connection() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let written = Arc::new(Written::default());
    let handle = rt.block_on(start("tcp@127.0.0.1:0", Arc::clone(&written)));
    let addr = handle.local_address().to_string();
    let client = rt.block_on(client(&addr));
    std::thread::scope(|s| {
        for caller in 0..4 {
            let (client, rt) = (client.clone(), rt.handle().clone());
            s.spawn(move || {
                for n in 0..200 {
                    let len = if n % 50 == 0 { 2 << 20 } else { 16 + n };
                    rt.block_on(guard(
                        LIMIT,
                        "a call",
                        check(&client, "Raw", caller, n, len),
                    ));
                }
            });
        }
    });
    client.close();
    rt.block_on(handle.shutdown(Duration::from_secs(5)));
}
