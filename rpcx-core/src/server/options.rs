//! Server configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::protocol::{Limits, Message};
use crate::Error;

/// Checks the `__AUTH` token of every request that is not a heartbeat: `(request, token,
/// peer)`; the token is `""` when absent. An `Err` text is sent to the caller and the
/// connection is closed, as in Go (§3.4).
pub type AuthFn = Arc<dyn Fn(&Message, &str, &str) -> Result<(), String> + Send + Sync>;

/// Limits and tuning of a server, with safe defaults.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Frame, decompression and metadata limits ([`Limits::DEFAULT`]).
    pub limits: Limits,
    /// Most requests one connection may have in flight; reading stops (backpressure) while
    /// the limit is reached. Default 16 384.
    pub max_inflight_per_conn: usize,
    /// Most connections served at once; further connections wait in the accept queue.
    /// Default 10 000.
    pub max_connections: usize,
    /// Close a connection that sends nothing (not even heartbeats) for this long. Default
    /// `None`: Go clients cache idle connections without heartbeats and would see the next
    /// call fail, so opt in when your clients send heartbeats.
    pub idle_timeout: Option<Duration>,
    /// Largest heartbeat payload echoed; larger ones close the connection (Go echoes any
    /// size, §6.3). Default 4 KiB.
    pub max_heartbeat_payload: usize,
    /// Replies are gathered into one write up to about this many bytes. Default 64 KiB.
    pub write_batch_bytes: usize,
    /// Memory one connection may hold, in bytes: requests being served plus replies not yet
    /// written. While it is spent the server reads nothing more from that connection (its
    /// client is held back by TCP), so a client that never reads its replies pins at most
    /// about this much. Default 4 MiB.
    pub max_pending_bytes_per_conn: usize,
    /// The same budget for the whole server, over all connections. Default 256 MiB.
    pub max_pending_bytes: usize,
    /// Serve TLS with this rustls configuration (feature `tls`; build one with
    /// [`ServerTlsConfig`](crate::transport::tls::ServerTlsConfig), mutual TLS included).
    /// Default `None`: plain TCP.
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<crate::transport::tls::rustls::ServerConfig>>,
}

impl ServerOptions {
    /// Checks the values: counts and byte budgets must be at least 1, durations non-zero, and
    /// the in-flight limit at most `u32::MAX`. [`Server::serve`](super::Server::serve) runs
    /// this and refuses to start with [`Error::Config`] naming the bad option.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::Config(what.to_owned()));
        // Semaphores hold at most this many permits (tokio's `Semaphore::MAX_PERMITS`).
        let max_permits = tokio::sync::Semaphore::MAX_PERMITS;
        if self.max_inflight_per_conn == 0 || self.max_inflight_per_conn > u32::MAX as usize {
            return bad("max_inflight_per_conn must be between 1 and 4294967295");
        }
        if self.max_connections == 0 || self.max_connections > max_permits {
            return bad(&format!(
                "max_connections must be between 1 and {max_permits}"
            ));
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return bad("idle_timeout must be longer than zero (None turns it off)");
        }
        if self.max_pending_bytes_per_conn == 0 {
            return bad("max_pending_bytes_per_conn must be at least 1");
        }
        if self.max_pending_bytes == 0 {
            return bad("max_pending_bytes must be at least 1");
        }
        Ok(())
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            limits: Limits::DEFAULT,
            max_inflight_per_conn: 16_384,
            max_connections: 10_000,
            idle_timeout: None,
            max_heartbeat_payload: 4096,
            write_batch_bytes: 64 << 10,
            max_pending_bytes_per_conn: 4 << 20,
            max_pending_bytes: 256 << 20,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}
