//! Hostile and unlucky clients (shared/guide/hostile-peers.md): leavers, which start calls and
//! disconnect, and slow readers, which pipeline requests and never read the replies. The server
//! frees a gone client's socket, tasks and buffers at once, tells its handlers, and bounds what
//! one connection can pin in bytes while it keeps serving everyone else.

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpcx::arith::{Args, Reply, SleepArgs};
use rpcx::client::{CallOptions, Client, ClientOptions, RawRequest};
use rpcx::protocol::{Metadata, SerializeType, META_SERVER_TIMEOUT};
use rpcx::server::{Context, Server, ServerHandle, ServerOptions, ServiceError};
use support::{guard, request, socket_addr, wait_until, RawConn, GUARD};
use tokio::io::AsyncWriteExt;

/// A raw `Slow.Echo` call.
async fn echo(client: &Client, payload: &'static [u8]) -> Result<Bytes, rpcx::Error> {
    let reply = client
        .call_raw(RawRequest {
            service: "Slow".into(),
            method: "Echo".into(),
            serialize_type: SerializeType::RAW,
            metadata: Metadata::new(),
            payload: Bytes::from_static(payload),
            timeout: None,
        })
        .await?;
    Ok(reply.payload)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Resident set size of this process in bytes (client and server share it).
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Counts handlers that ended, and how many of them saw their call cancelled first.
#[derive(Default)]
struct Ends {
    started: AtomicUsize,
    ended: AtomicUsize,
    saw_cancel: AtomicUsize,
}

/// Counts a handler start; records, when dropped (the handler finished or was dropped),
/// whether its call was cancelled.
struct EndGuard(Arc<Ends>, Context);

impl EndGuard {
    fn new(ends: &Arc<Ends>, ctx: Context) -> EndGuard {
        ends.started.fetch_add(1, Ordering::SeqCst);
        EndGuard(Arc::clone(ends), ctx)
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if self.1.is_cancelled() {
            self.0.saw_cancel.fetch_add(1, Ordering::SeqCst);
        }
        self.0.ended.fetch_add(1, Ordering::SeqCst);
    }
}

/// `Slow.Sleep`: sleeps ten minutes, `Slow.Never`: never answers, `Slow.Echo`: echoes.
async fn start_slow_server(ends: Arc<Ends>, options: ServerOptions) -> ServerHandle {
    let mut server = Server::builder().options(options).build();
    let e = Arc::clone(&ends);
    server
        .register_fn("Slow", "Sleep", move |ctx: Context, a: SleepArgs| {
            let guard = EndGuard::new(&e, ctx);
            async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok::<_, ServiceError>(Reply { c: a.ms })
            }
        })
        .unwrap();
    let e = Arc::clone(&ends);
    server
        .register_raw("Slow", "Never", move |ctx: Context, _p: Bytes| {
            let guard = EndGuard::new(&e, ctx);
            async move {
                let _guard = guard;
                std::future::pending::<Result<Bytes, ServiceError>>().await
            }
        })
        .unwrap();
    server
        .register_raw("Slow", "Echo", |_ctx: Context, p: Bytes| async move {
            Ok::<_, ServiceError>(p)
        })
        .unwrap();
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leavers_free_their_connections_at_once_and_handlers_learn_it() {
    let ends = Arc::new(Ends::default());
    let handle = start_slow_server(Arc::clone(&ends), ServerOptions::default()).await;
    let addr = handle.local_address().to_string();
    let baseline = open_fds();

    // 200 clients each start a ten-minute call, then disconnect.
    const CLIENTS: usize = 200;
    for i in 0..CLIENTS {
        let client = Client::connect(&addr, ClientOptions::default())
            .await
            .unwrap();
        let c = client.clone();
        let call = tokio::spawn(async move {
            c.call::<_, Reply>("Slow", "Sleep", &SleepArgs { ms: 600_000 })
                .await
        });
        wait_until("the call reached the server", || {
            ends.started.load(Ordering::SeqCst) == i + 1
        })
        .await;
        call.abort();
        client.close();
        // Server-side the connection must go at once, not when the handler returns.
        let _ = call.await;
    }
    wait_until("every abandoned handler ended", || {
        ends.ended.load(Ordering::SeqCst) == CLIENTS
    })
    .await;
    assert_eq!(
        ends.saw_cancel.load(Ordering::SeqCst),
        CLIENTS,
        "every handler saw its call cancelled"
    );
    wait_until("no call in flight", || handle.inflight() == 0).await;
    wait_until("fds back at baseline", || open_fds() <= baseline + 4).await;

    // The server still serves.
    let client = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap();
    let r = echo(&client, b"hi").await.unwrap();
    assert_eq!(&r[..], b"hi");
    handle.shutdown(Duration::from_secs(1)).await;
}

/// Pipelines `per_conn` never-answered calls on each of `conns` raw connections, then
/// disconnects them all; returns when the server has let every one of them go.
async fn abandon_never_answered(handle: &ServerHandle, ends: &Ends, conns: usize, per_conn: u64) {
    let before = ends.ended.load(Ordering::SeqCst);
    let mut open = Vec::new();
    for _ in 0..conns {
        let mut c = RawConn::connect(handle).await;
        let mut frames = Vec::new();
        for seq in 0..per_conn {
            let m = request("Slow", "Never", SerializeType::RAW, seq, &[7u8; 256]);
            frames.extend_from_slice(&m.encode().unwrap());
        }
        c.write(&frames).await;
        open.push(c);
    }
    let total = conns * per_conn as usize;
    wait_until("every call reached its handler", || {
        handle.inflight() == total
    })
    .await;
    drop(open);
    wait_until("every abandoned call ended", || {
        ends.ended.load(Ordering::SeqCst) == before + total
    })
    .await;
    wait_until("no call in flight", || handle.inflight() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_answered_calls_of_gone_clients_free_fds_and_memory() {
    let ends = Arc::new(Ends::default());
    let handle = start_slow_server(Arc::clone(&ends), ServerOptions::default()).await;
    let fds = open_fds();

    // 400 connections with 50 calls each that are never answered (20,000 calls), three
    // times. The first rounds warm the allocator up; were the calls kept, every round would
    // grow memory by as much again (tens of MiB), so the last round must not.
    let mut rss = Vec::new();
    for _ in 0..3 {
        abandon_never_answered(&handle, &ends, 400, 50).await;
        wait_until("fds back at baseline", || open_fds() <= fds + 4).await;
        rss.push(rss_bytes());
    }
    let grown = rss[2].saturating_sub(rss[1]);
    assert!(
        grown < 16 << 20,
        "RSS grew by {} MiB over the last 20,000 abandoned calls (after each round: {:?} MiB)",
        grown >> 20,
        rss.iter().map(|r| r >> 20).collect::<Vec<_>>()
    );
    assert_eq!(handle.pending_bytes(), 0, "no bytes left charged");
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneway_calls_outlive_their_connection() {
    let done = Arc::new(AtomicUsize::new(0));
    let mut server = Server::builder().build();
    let d = Arc::clone(&done);
    server
        .register_raw("Jobs", "Run", move |ctx: Context, _p: Bytes| {
            let d = Arc::clone(&d);
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if !ctx.is_cancelled() {
                    d.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<_, ServiceError>(Bytes::new())
            }
        })
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let mut c = RawConn::connect(&handle).await;
    let mut m = request("Jobs", "Run", SerializeType::RAW, 1, b"");
    m.header.set_oneway(true);
    c.send(&m).await;
    wait_until("the oneway call started", || handle.inflight() == 1).await;
    drop(c);
    wait_until("the oneway call finished uncancelled", || {
        done.load(Ordering::SeqCst) == 1
    })
    .await;
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_pins_a_bounded_number_of_bytes() {
    let ends = Arc::new(Ends::default());
    let handle = start_slow_server(ends, ServerOptions::default()).await;
    let rss_before = rss_bytes();

    // One connection pipelines 16 KiB echo requests and never reads a reply; it stops when
    // the server stops taking them (its writes block) or after 20,000 requests (320 MiB).
    let mut slow = RawConn::connect(&handle).await;
    let payload = vec![0xabu8; 16 << 10];
    let mut accepted = 0u64;
    for seq in 0..20_000u64 {
        let frame = request("Slow", "Echo", SerializeType::RAW, seq, &payload)
            .encode()
            .unwrap();
        match tokio::time::timeout(Duration::from_secs(2), slow.stream.write_all(&frame)).await {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) => panic!("write failed: {e}"),
            Err(_) => break,
        }
    }
    assert!(
        accepted < 20_000,
        "the server kept reading: {accepted} requests of 16 KiB accepted"
    );
    let pinned = handle.pending_bytes();
    assert!(
        pinned <= (4 << 20) + (64 << 10),
        "server holds {pinned} bytes for one connection (budget 4 MiB)"
    );
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "RSS grew by {} MiB", grown >> 20);

    // Others are served meanwhile.
    let client = Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let r = guard(
        GUARD,
        "a call beside the slow reader",
        echo(&client, b"other"),
    )
    .await
    .unwrap();
    assert_eq!(&r[..], b"other");

    // When the slow reader leaves, its bytes are released.
    drop(slow);
    wait_until("the slow reader's bytes were released", || {
        handle.pending_bytes() == 0
    })
    .await;
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_wide_byte_budget_holds_back_every_connection() {
    let ends = Arc::new(Ends::default());
    let options = ServerOptions {
        max_pending_bytes: 1 << 20,
        ..ServerOptions::default()
    };
    let handle = start_slow_server(ends, options).await;
    // Two connections that never read: together they cannot pin more than the server budget.
    let payload = vec![1u8; 16 << 10];
    let mut conns = Vec::new();
    for _ in 0..2 {
        let mut c = RawConn::connect(&handle).await;
        for seq in 0..2_000u64 {
            let frame = request("Slow", "Echo", SerializeType::RAW, seq, &payload)
                .encode()
                .unwrap();
            match tokio::time::timeout(Duration::from_secs(1), c.stream.write_all(&frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("write failed: {e}"),
                Err(_) => break,
            }
        }
        conns.push(c);
    }
    let pinned = handle.pending_bytes();
    assert!(
        pinned <= (1 << 20) + 2 * (64 << 10),
        "server holds {pinned} bytes (server budget 1 MiB)"
    );
    drop(conns);
    wait_until("bytes released", || handle.pending_bytes() == 0).await;
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_or_zero_server_timeout_has_already_expired() {
    let handle = support::start_arith().await;
    let addr = handle.local_address().to_string();
    let client = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap();
    for value in ["-1", "0", "-9223372036854775808"] {
        let opts = CallOptions::default().meta(META_SERVER_TIMEOUT, value);
        let started = std::time::Instant::now();
        let e = client
            .call_with::<_, Reply>("Arith", "Sleep", &SleepArgs { ms: 2_000 }, opts)
            .await
            .unwrap_err();
        assert_eq!(
            e.server_message(),
            Some("context deadline exceeded"),
            "__ServerTimeout={value}"
        );
        assert!(started.elapsed() < Duration::from_millis(1_900), "{value}");
    }
    // A huge value sets no deadline rather than overflowing.
    let opts = CallOptions::default().meta(META_SERVER_TIMEOUT, i64::MAX.to_string());
    let r = client
        .call_with::<_, Reply>("Arith", "Mul", &Args { a: 6, b: 7 }, opts)
        .await
        .unwrap();
    assert_eq!(r.reply.c, 42);
    handle.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn out_of_range_options_are_refused_at_start() {
    let cases: Vec<(&str, ServerOptions)> = vec![
        (
            "max_inflight_per_conn",
            ServerOptions {
                max_inflight_per_conn: 0,
                ..ServerOptions::default()
            },
        ),
        (
            "max_inflight_per_conn",
            ServerOptions {
                max_inflight_per_conn: u32::MAX as usize + 1,
                ..ServerOptions::default()
            },
        ),
        (
            "max_connections",
            ServerOptions {
                max_connections: 0,
                ..ServerOptions::default()
            },
        ),
        (
            "max_connections",
            ServerOptions {
                max_connections: usize::MAX,
                ..ServerOptions::default()
            },
        ),
        (
            "idle_timeout",
            ServerOptions {
                idle_timeout: Some(Duration::ZERO),
                ..ServerOptions::default()
            },
        ),
        (
            "max_pending_bytes_per_conn",
            ServerOptions {
                max_pending_bytes_per_conn: 0,
                ..ServerOptions::default()
            },
        ),
        (
            "max_pending_bytes",
            ServerOptions {
                max_pending_bytes: 0,
                ..ServerOptions::default()
            },
        ),
    ];
    for (name, options) in cases {
        let server = Server::builder().options(options).build();
        let r = guard(GUARD, "serve", server.serve("tcp@127.0.0.1:0")).await;
        match r {
            Err(rpcx::Error::Config(text)) => assert!(text.contains(name), "{text}"),
            Err(e) => panic!("{name}: unexpected error {e}"),
            Ok(h) => panic!("{name}: served with an invalid option on {h:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_still_drains_live_connections() {
    let handle = support::start_arith().await;
    let client = Client::connect(&socket_addr_tcp(&handle), ClientOptions::default())
        .await
        .unwrap();
    let c = client.clone();
    let call = tokio::spawn(async move {
        c.call::<_, Reply>("Arith", "Sleep", &SleepArgs { ms: 300 })
            .await
    });
    wait_until("the call is in flight", || handle.inflight() == 1).await;
    handle.shutdown(Duration::from_secs(10)).await;
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.c, 300);
}

fn socket_addr_tcp(handle: &ServerHandle) -> String {
    format!("tcp@{}", socket_addr(handle))
}
