//! Server plugins: hooks along the life of connections and calls. Every hook has a default
//! that does nothing, so a plugin implements only what it needs. Hooks run in the order the
//! plugins were added; for hooks that can reject, the first rejection wins.

use bytes::Bytes;

use super::Context;
use crate::protocol::{Header, Message};

/// How a plugin refuses a request after it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Answer the request with this error text and keep the connection (rate limiting).
    Respond(String),
    /// Answer (unless oneway) and close the connection.
    Close(String),
}

/// A server plugin. All hooks are called on runtime threads and must not block.
pub trait Plugin: Send + Sync + 'static {
    /// A short name for logs.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// A method is being registered; an error refuses the registration.
    fn on_register(&self, service: &str, method: &str, metadata: &str) -> Result<(), String> {
        let _ = (service, method, metadata);
        Ok(())
    }

    /// The server is unregistering its services (graceful shutdown).
    fn on_unregister(&self, service: &str) {
        let _ = service;
    }

    /// The server started listening on `address` (`tcp@127.0.0.1:8972`).
    fn on_start(&self, address: &str) {
        let _ = address;
    }

    /// A connection was accepted; `false` closes it at once.
    fn on_conn_accept(&self, peer: &str) -> bool {
        let _ = peer;
        true
    }

    /// A connection was closed.
    fn on_conn_close(&self, peer: &str) {
        let _ = peer;
    }

    /// Before reading the next request from a connection; an error closes it.
    fn before_read(&self, peer: &str) -> Result<(), String> {
        let _ = peer;
        Ok(())
    }

    /// A request was read (heartbeats included); the plugin may rewrite or reject it.
    fn after_read(&self, peer: &str, request: &mut Message) -> Result<(), Rejection> {
        let _ = (peer, request);
        Ok(())
    }

    /// Before the handler runs; an error is sent as the call's error and the handler is skipped.
    fn before_call(&self, ctx: &Context, payload: &Bytes) -> Result<(), String> {
        let _ = (ctx, payload);
        Ok(())
    }

    /// After the handler ran: the encoded reply, or the error text.
    fn after_call(&self, ctx: &Context, result: Result<&Bytes, &str>) {
        let _ = (ctx, result);
    }

    /// Before a response is queued for writing; it may be modified.
    fn before_write(&self, peer: &str, response: &mut Message) {
        let _ = (peer, response);
    }

    /// After the frame with this header was written (or failed to be).
    fn after_write(&self, peer: &str, header: &Header, result: Result<(), &std::io::Error>) {
        let _ = (peer, header, result);
    }
}
