//! Server configuration.

use std::sync::Arc;
use std::time::Duration;

use crate::protocol::{Limits, Message};

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
        }
    }
}
