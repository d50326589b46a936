//! Helpers shared by the server and client integration tests (included with `#[path]` by the
//! other test files; it has no tests of its own).
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use rpcx::arith;
use rpcx::protocol::{FrameCodec, Limits, Message, SerializeType};
use rpcx::server::{Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Hang guard for one step of a test: generous, only there so a bug fails instead of hanging.
pub const GUARD: Duration = Duration::from_secs(30);

/// Awaits `fut`, failing the test if it does not finish within `limit` (a hang guard only).
pub async fn guard<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("hang guard: {what} did not finish within {limit:?}"),
    }
}

/// Starts a server with `Arith` registered on a free loopback port.
pub async fn start_arith() -> ServerHandle {
    let mut server = Server::builder().build();
    arith::register(&mut server).unwrap();
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

/// The `host:port` of a TCP server.
pub fn socket_addr(handle: &ServerHandle) -> String {
    format!("127.0.0.1:{}", handle.port().unwrap())
}

/// Polls `cond` every 10 ms until it holds; fails after `GUARD` (hang guard, bounded loop).
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..(GUARD.as_millis() / 10) {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never held: {what}");
}

/// A request frame for `service.method` with `seq` and a payload of serialize type `st`.
pub fn request(
    service: &str,
    method: &str,
    st: SerializeType,
    seq: u64,
    payload: &[u8],
) -> Message {
    let mut m = Message::request(service, method, st, payload.to_vec());
    m.header.set_seq(seq);
    m
}

/// A JSON `Arith.Mul` request for `a * b`.
pub fn json_mul(seq: u64, a: i64, b: i64) -> Message {
    let payload = format!("{{\"A\":{a},\"B\":{b}}}");
    request("Arith", "Mul", SerializeType::JSON, seq, payload.as_bytes())
}

/// A raw rpcx connection: write arbitrary bytes, read whole frames.
pub struct RawConn {
    pub stream: TcpStream,
    buf: BytesMut,
    codec: FrameCodec,
}

/// What reading from a raw connection produced.
#[derive(Debug)]
pub enum Read {
    Frame(Box<Message>),
    /// The server closed the connection (EOF or reset).
    Closed,
}

impl RawConn {
    pub async fn connect(handle: &ServerHandle) -> RawConn {
        let stream = TcpStream::connect(socket_addr(handle)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawConn {
            stream,
            buf: BytesMut::new(),
            // The reply to a gzip bomb is small; accept anything a correct server sends.
            codec: FrameCodec::new(Limits::UNLIMITED),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    pub async fn send(&mut self, msg: &Message) {
        let bytes = msg.encode().unwrap();
        self.write(&bytes).await;
    }

    /// Reads the next frame or notices the connection closing (hang guard `GUARD`).
    pub async fn read(&mut self) -> Read {
        guard(GUARD, "reading a frame", async {
            loop {
                if let Some(m) = self.codec.decode_frame(&mut self.buf).unwrap() {
                    return Read::Frame(Box::new(m));
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return Read::Closed,
                    Ok(_) => {}
                }
            }
        })
        .await
    }

    /// Reads the next frame; fails the test if the connection closes instead.
    pub async fn frame(&mut self) -> Message {
        match self.read().await {
            Read::Frame(m) => *m,
            Read::Closed => panic!("connection closed while a frame was expected"),
        }
    }

    /// Reads exactly `n` raw bytes.
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        guard(GUARD, "reading bytes", self.stream.read_exact(&mut out))
            .await
            .unwrap();
        out
    }

    /// Expects the server to close the connection without sending any frame first.
    pub async fn expect_closed(&mut self) {
        match self.read().await {
            Read::Closed => {}
            Read::Frame(m) => panic!("expected the connection to close, got a frame: {m:?}"),
        }
    }
}
