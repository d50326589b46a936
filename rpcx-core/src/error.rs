//! The error type of calls, servers and clients.

use bytes::Bytes;

use crate::codec::CodecError;
use crate::protocol::{Metadata, ProtocolError};
use crate::transport::AddressError;

/// An error reported by the remote service: the text of `__rpcx_error__` kept intact, the
/// response metadata, and the reply payload the service sent with its error (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The error text exactly as the server sent it.
    pub message: String,
    /// The response metadata (including `__rpcx_error__`).
    pub metadata: Metadata,
    /// The (uncompressed) reply payload sent with the error; empty when none was sent.
    pub payload: Bytes,
}

/// Everything a call, a client or a server can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The remote service answered with an error; the message is the server's, unchanged.
    #[error("{}", .0.message)]
    Server(ServerError),
    /// The call's deadline passed before a reply arrived.
    #[error("call timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The client (or server) was closed; the call was not or will not be completed.
    #[error("connection is shut down")]
    Closed,
    /// The connection broke while the call was pending or being sent.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// Connecting to the server failed.
    #[error("connect to {address} failed: {source}")]
    Connect {
        /// The address dialed.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// Arguments or reply could not be (de)serialized.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A frame could not be encoded or decoded.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// An address string is unusable.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// An I/O error outside a call (binding a listener…).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A blocking call was made from inside an async runtime thread, where it would deadlock.
    #[error("blocking rpcx call made from an async runtime thread; use the async API there")]
    BlockingInRuntime,
    /// Registration of a service or method was refused.
    #[error("registration failed: {0}")]
    Registration(String),
    /// Service discovery currently lists no server that a call could use (Go's text).
    #[error("can not found any server")]
    NoServer,
    /// A server's circuit breaker is open.
    #[error("breaker open for {0}")]
    BreakerOpen(String),
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The XClient was closed: calls made after [`XClient::close`](crate::xclient::XClient::close),
    /// and calls still in flight when it ran, end with this (Go's `ErrXClientShutdown`). Never
    /// retried.
    #[error("xClient is shut down")]
    XClientShutdown,
    /// A client interceptor refused the call before it was sent (see
    /// [`ClientInterceptor`](crate::client::ClientInterceptor)); the text is the
    /// interceptor's, unchanged. Never retried.
    #[error("{0}")]
    Refused(String),
}

impl Error {
    /// True when the server itself answered with an error (never retried by fail modes).
    pub fn is_server_error(&self) -> bool {
        matches!(self, Error::Server(_))
    }

    /// True for failures of the transport (connecting, a broken or closed connection, an
    /// open breaker, no server): fail modes retry these. Server errors, timeouts and local
    /// encoding errors are never retried.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Closed
                | Error::ConnectionLost(_)
                | Error::Connect { .. }
                | Error::Io(_)
                | Error::NoServer
                | Error::BreakerOpen(_)
        )
    }

    /// The server's error text, when the server answered with an error.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Error::Server(e) => Some(&e.message),
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `e` followed by its sources (`outer: inner: innermost`), skipping a source whose text the
/// message so far already holds (wrappers often repeat their cause). Used where a library
/// error's own text is only a category ("transport error", "client error (Connect)").
#[cfg(any(feature = "etcd", feature = "consul"))]
pub(crate) fn with_sources(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}
