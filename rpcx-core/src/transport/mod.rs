//! Byte-stream transports under the rpcx framing: addresses, listeners and dialers for TCP and
//! Unix sockets, and Go's HTTP CONNECT and WebSocket tunnels. Every transport hands out owned read and write halves so one task reads and
//! another writes without a lock.

mod address;
pub(crate) mod direct;
mod listener;
pub mod tunnel;
pub(crate) mod ws;

pub use address::{Address, AddressError};
pub use listener::{dial, dial_stream, Listener};
#[cfg(feature = "tls")]
pub mod tls;

use tokio::io::{AsyncRead, AsyncWrite};

/// The read half of a connection.
pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection.
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A connected stream, split.
pub struct Connection {
    /// Bytes from the peer.
    pub read: ReadHalf,
    /// Bytes to the peer.
    pub write: WriteHalf,
    /// The peer's address as `network@address` text (`tcp@127.0.0.1:50123`, `unix@/path`).
    pub peer: String,
    /// The socket under `write`, for direct writes from any thread (plain TCP and Unix
    /// sockets only; `None` for TLS and WebSocket streams).
    pub(crate) direct: Option<std::sync::Arc<dyn direct::TryWrite>>,
}

impl Connection {
    /// A connection over halves that have no direct-write socket (TLS, WebSocket, tests).
    pub fn new(read: ReadHalf, write: WriteHalf, peer: String) -> Connection {
        Connection {
            read,
            write,
            peer,
            direct: None,
        }
    }

    /// Splits a socket's owned halves: the write half is shared with the direct writers.
    fn shared<R, W>(read: R, write: W, peer: String) -> Connection
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: direct::TryWrite,
    {
        let write = direct::SharedWrite::new(std::sync::Arc::new(write));
        Connection {
            read: Box::new(read),
            direct: Some(write.socket()),
            write: Box::new(write),
            peer,
        }
    }
}

/// A connected byte stream before it is split: TCP or a Unix socket.
pub enum Stream {
    /// TCP.
    Tcp(tokio::net::TcpStream),
    /// Unix domain socket.
    Unix(tokio::net::UnixStream),
}

impl Stream {
    /// Splits into owned halves (no lock between reader and writer).
    pub fn into_connection(self, peer: String) -> Connection {
        match self {
            Stream::Tcp(s) => {
                let (r, w) = s.into_split();
                Connection::shared(r, w, peer)
            }
            Stream::Unix(s) => {
                let (r, w) = s.into_split();
                Connection::shared(r, w, peer)
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => std::pin::Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => std::pin::Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => std::pin::Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => std::pin::Pin::new(s).poll_shutdown(cx),
        }
    }
}
