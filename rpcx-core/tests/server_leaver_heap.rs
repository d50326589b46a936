//! The heap of a server whose clients start calls that are never answered and disconnect
//! returns to where it was: the calls, their handlers, contexts and buffers are all freed.
//! Live heap bytes are counted exactly by dhat's allocator, so this binary holds this one
//! test (dhat allows one profiler per process).

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpcx::protocol::SerializeType;
use rpcx::server::{Context, Server, ServiceError};
use support::{request, wait_until, RawConn};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_calls_give_their_heap_back() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let started = Arc::new(AtomicUsize::new(0));
    let mut server = Server::builder().build();
    let s = Arc::clone(&started);
    server
        .register_raw("Slow", "Never", move |_ctx: Context, _p: Bytes| {
            s.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<Bytes, ServiceError>>()
        })
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();

    let round = |n: usize| {
        let handle = handle.clone();
        let started = Arc::clone(&started);
        async move {
            let before = started.load(Ordering::SeqCst);
            let mut conns = Vec::new();
            for _ in 0..20 {
                let mut c = RawConn::connect(&handle).await;
                let mut frames = Vec::new();
                for seq in 0..(n / 20) as u64 {
                    let m = request("Slow", "Never", SerializeType::RAW, seq, &[7u8; 1024]);
                    frames.extend_from_slice(&m.encode().unwrap());
                }
                c.write(&frames).await;
                conns.push(c);
            }
            wait_until("every call started", || {
                started.load(Ordering::SeqCst) == before + n
            })
            .await;
            drop(conns);
            wait_until("every call ended", || handle.inflight() == 0).await;
            assert_eq!(handle.pending_bytes(), 0);
        }
    };
    // Warm up (runtime, timers, buffers that are kept), then measure around a second round.
    round(1000).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = dhat::HeapStats::get().curr_bytes;
    round(2000).await;
    // Let the connection tasks finish unwinding.
    let mut now = 0;
    for _ in 0..200 {
        now = dhat::HeapStats::get().curr_bytes;
        if now <= baseline + (256 << 10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        now <= baseline + (256 << 10),
        "live heap grew from {baseline} to {now} bytes after 2,000 abandoned calls"
    );
    handle.shutdown(Duration::from_secs(1)).await;
}
