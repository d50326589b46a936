//! Fake servers for the client and XClient tests (included with `#[path]` next to
//! `server_support.rs`; no tests of its own): raw TCP peers that misbehave on purpose.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rpcx::client::{Client, RawRequest};
use rpcx::protocol::{FrameCodec, Limits, Message, SerializeType};
use rpcx::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How a [`FakeServer`] treats what it accepts; can be changed while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Answers every request with an empty, well-formed reply.
    Answer,
    /// Answers every request with a reply of 300 metadata pairs: more than a client's default
    /// limit of 256, which a Go server would send without a second thought.
    OverLimit,
    /// Reads requests and never answers.
    Silent,
    /// Accepts connections and never reads from them.
    Deaf,
    /// Closes every connection as soon as it is accepted.
    Hangup,
}

/// Metadata pairs in a [`Mode::OverLimit`] reply.
pub const OVER_LIMIT_PAIRS: usize = 300;

/// A raw rpcx peer on a loopback port.
pub struct FakeServer {
    /// `tcp@127.0.0.1:port`.
    pub key: String,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    mode: Arc<AtomicU8>,
    task: JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Starts a fake server in `mode`.
    pub async fn start(mode: Mode) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let key = format!("tcp@{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(AtomicU8::new(mode as u8));
        let (a, r, m) = (accepted.clone(), requests.clone(), mode.clone());
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve(stream, r.clone(), m.clone()));
            }
        });
        FakeServer {
            key,
            accepted,
            requests,
            mode,
            task,
        }
    }

    /// Changes the mode (for later connections and later requests).
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests (not heartbeats) read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn mode_of(m: &AtomicU8) -> Mode {
    match m.load(Ordering::SeqCst) {
        0 => Mode::Answer,
        1 => Mode::OverLimit,
        2 => Mode::Silent,
        3 => Mode::Deaf,
        _ => Mode::Hangup,
    }
}

async fn serve(mut stream: TcpStream, requests: Arc<AtomicUsize>, mode: Arc<AtomicU8>) {
    match mode_of(&mode) {
        Mode::Hangup => return,
        Mode::Deaf => {
            // Hold the connection open, never reading, until the test ends.
            std::future::pending::<()>().await;
        }
        _ => {}
    }
    let codec = FrameCodec::new(Limits::UNLIMITED);
    let mut buf = BytesMut::new();
    loop {
        while let Ok(Some(req)) = codec.decode_frame(&mut buf) {
            let reply = if req.header.is_heartbeat() {
                Some(req.heartbeat_echo())
            } else {
                requests.fetch_add(1, Ordering::SeqCst);
                reply_to(&req, mode_of(&mode))
            };
            if let Some(r) = reply {
                if stream.write_all(&r.encode().unwrap()).await.is_err() {
                    return;
                }
            }
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn reply_to(req: &Message, mode: Mode) -> Option<Message> {
    if req.header.is_oneway() {
        return None;
    }
    match mode {
        Mode::Answer => Some(req.response()),
        Mode::OverLimit => {
            let mut r = req.response();
            for i in 0..OVER_LIMIT_PAIRS {
                r.metadata.insert(format!("k{i}"), "v".into());
            }
            Some(r)
        }
        _ => None,
    }
}

/// Sends 256 KiB oneway frames through `send` from a task until a send stays blocked (a
/// peer that does not read has let the send queue fill): returns once the count of queued
/// frames has not moved for 1 s. The task keeps trying until aborted.
pub async fn fill_send_queue<F, Fut>(mut send: F) -> JoinHandle<()>
where
    F: FnMut(Bytes) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    let sent = Arc::new(AtomicUsize::new(0));
    let count = sent.clone();
    let payload = Bytes::from(vec![0u8; 256 << 10]);
    let task = tokio::spawn(async move {
        while send(payload.clone()).await.is_ok() {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (mut last, mut still) = (0, 0);
    // Bounded: 30 s at most.
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = sent.load(Ordering::SeqCst);
        if n > 0 && n == last {
            still += 1;
            if still >= 10 {
                return task;
            }
        } else {
            (last, still) = (n, 0);
        }
    }
    panic!("the send queue never filled");
}

/// [`fill_send_queue`] with oneway sends (no timeout) on `client`.
pub async fn fill_client_queue(client: &Client) -> JoinHandle<()> {
    let client = client.clone();
    fill_send_queue(move |payload| {
        let c = client.clone();
        async move {
            c.send_raw(RawRequest {
                service: "Arith".into(),
                method: "Mul".into(),
                serialize_type: SerializeType::RAW,
                metadata: Default::default(),
                payload,
                timeout: None,
            })
            .await
        }
    })
    .await
}
