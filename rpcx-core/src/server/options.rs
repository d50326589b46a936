//! Server configuration.

use std::sync::Arc;
use std::time::Duration;

pub use super::http::CorsOptions;
use crate::protocol::{Limits, Message};
use crate::Error;

/// Checks the `__AUTH` token of every request that is not a heartbeat: `(request, token,
/// peer)`; the token is `""` when absent. An `Err` text is sent to the caller and the
/// connection is closed, as in Go.
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
    /// size). Default 4 KiB.
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
    /// What a TCP listener answers besides rpcx frames: the HTTP gateway, JSON-RPC 2.0, CORS
    /// and tunnels ([`HttpOptions`]; all on, CORS off, as Go serves them).
    pub http: HttpOptions,
}

/// Longest [`HttpOptions::request_timeout`] accepted (timers past it would overflow).
const MAX_HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// HTTP on the rpcx port. The server looks at the first bytes of every connection: the rpcx
/// magic byte `0x08` starts rpcx; an HTTP/1 request goes to the HTTP side, where a request
/// with the header `X-JSONRPC-2.0: true` is JSON-RPC 2.0, `CONNECT /_rpcx_` and a WebSocket
/// upgrade at `/_rpcx_` carry rpcx, and anything else is the gateway; other bytes close the
/// connection. Go serves the gateway and JSON-RPC on its TCP port the same way (its
/// `DisableHTTPGateway`, `DisableJSONRPC` and `SetCORS`); the tunnels Go serves only on
/// separate `http`/`ws` listeners are accepted here too.
///
/// A silent new connection is an idle one ([`ServerOptions::idle_timeout`]); once its first
/// byte is not rpcx, its request head and body must arrive within
/// [`request_timeout`](Self::request_timeout) and fit the size limits, or the connection is
/// closed. Bodies are limited to [`Limits::max_frame_len`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Serve the HTTP gateway (`X-RPCX-*` headers, the payload as the body). Default true.
    pub gateway: bool,
    /// Serve JSON-RPC 2.0 (requests with `X-JSONRPC-2.0: true`). Default true.
    pub jsonrpc: bool,
    /// Accept rpcx tunnelled in `CONNECT /_rpcx_` (Go's `http` network). Default true.
    pub connect: bool,
    /// Accept rpcx in a WebSocket at `/_rpcx_` (Go's `ws`/`wss` networks). Default true.
    pub websocket: bool,
    /// Cross-origin resource sharing for the gateway and JSON-RPC; `None` (the default) adds
    /// no CORS headers, as Go without `SetCORS`.
    pub cors: Option<CorsOptions>,
    /// Time a request's head and body may take to arrive, and an idle keep-alive HTTP
    /// connection may wait for its next request. Default 30 s.
    pub request_timeout: Duration,
    /// Largest request head (request line and headers), in bytes. Default 64 KiB (at least
    /// 8 KiB is used).
    pub max_header_bytes: usize,
    /// Most headers in one request. Default 100.
    pub max_headers: usize,
}

impl HttpOptions {
    /// Everything off: the port speaks rpcx only, and any other first byte closes the
    /// connection.
    pub fn disabled() -> HttpOptions {
        HttpOptions {
            gateway: false,
            jsonrpc: false,
            connect: false,
            websocket: false,
            ..HttpOptions::default()
        }
    }

    /// True when any HTTP service is on.
    pub fn any(&self) -> bool {
        self.gateway || self.jsonrpc || self.connect || self.websocket
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            gateway: true,
            jsonrpc: true,
            connect: true,
            websocket: true,
            cors: None,
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 64 << 10,
            max_headers: 100,
        }
    }
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
        if self.http.request_timeout.is_zero()
            || self.http.request_timeout > MAX_HTTP_REQUEST_TIMEOUT
        {
            return bad("http.request_timeout must be longer than zero and at most 365 days");
        }
        if self.http.max_headers == 0 {
            return bad("http.max_headers must be at least 1");
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
            http: HttpOptions::default(),
        }
    }
}
