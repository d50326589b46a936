//! Byte-stream transports under the rpcx framing: addresses, listeners and dialers for TCP and
//! Unix sockets. Every transport hands out owned read and write halves so one task reads and
//! another writes without a lock.

mod address;
mod listener;

pub use address::{Address, AddressError};
pub use listener::{dial, Listener};

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
}
