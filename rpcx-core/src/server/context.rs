//! What a handler knows about the call it serves, and the connection it came on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::budget::{footprint, Budgets, Charge};
use crate::protocol::{Header, Message, Metadata, SerializeType};
use crate::Error;

/// What the pieces of one connection share: the reply queue, its budgets and its end.
#[derive(Debug)]
pub(crate) struct ConnShared {
    pub(crate) peer: Arc<str>,
    pub(crate) out: mpsc::Sender<Outgoing>,
    pub(crate) push_seq: Arc<AtomicU64>,
    pub(crate) budgets: Arc<Budgets>,
    /// Cancelled when the connection's two-way calls are abandoned: the peer went away, was
    /// refused, or the server closed.
    pub(crate) calls: CancellationToken,
    /// Cancelled when the server closes (ends oneway calls, which outlive their connection).
    pub(crate) server_closed: CancellationToken,
    /// Direct writes of replies while the writer is idle (plain sockets only).
    pub(crate) lane: Option<Arc<crate::transport::direct::DirectLane>>,
}

/// A frame queued for the connection's writer, with the bytes it holds charged to the
/// connection's budgets until it is written.
pub(crate) struct Outgoing {
    pub(crate) msg: Message,
    pub(crate) charge: Option<Charge>,
}

/// A handle on one client connection, for server pushes. Cheap to clone; valid after
/// the call returns, until the connection closes.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    pub(crate) inner: Arc<ConnShared>,
}

impl ConnHandle {
    /// The peer's address (`tcp@127.0.0.1:50123`).
    pub fn peer(&self) -> &str {
        &self.inner.peer
    }

    /// True while the connection is open.
    pub fn is_open(&self) -> bool {
        !self.inner.calls.is_cancelled() && !self.inner.out.is_closed()
    }

    /// Queues a frame without charging it (small control frames: refusals, heartbeats).
    pub(crate) async fn send_uncharged(&self, msg: Message) -> Result<(), Error> {
        self.send(Outgoing { msg, charge: None }).await
    }

    /// Queues a reply, charging its bytes to the connection's budgets until it is written.
    pub(crate) async fn send_charged(&self, msg: Message) -> Result<(), Error> {
        let charge = Some(self.inner.budgets.charge(footprint(&msg)));
        self.send(Outgoing { msg, charge }).await
    }

    async fn send(&self, out: Outgoing) -> Result<(), Error> {
        self.inner.out.send(out).await.map_err(|_| Error::Closed)
    }

    /// Sends a server push: a oneway request with serialize type raw, a seq from the
    /// server-wide counter (first value 1, as in Go), and the payload as given.
    ///
    /// Waits while the connection's (or the server's) byte budget is spent, so pushing to a
    /// client that does not read cannot pile up memory; fails with [`Error::Closed`] once the
    /// connection is gone.
    pub async fn push(
        &self,
        service_path: &str,
        service_method: &str,
        metadata: Metadata,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let msg = self.push_message(service_path, service_method, metadata, payload.into());
        tokio::select! {
            _ = self.inner.budgets.room() => {}
            _ = self.inner.calls.cancelled() => return Err(Error::Closed),
        }
        self.send_charged(msg).await
    }

    /// [`push`](Self::push) without waiting, for callers that must not (a C handler on a
    /// runtime thread): fails with [`Error::Closed`] once the connection is gone, and with
    /// [`Error::Timeout`] (of zero) when the connection's or the server's byte budget is
    /// spent or its write queue is full — nothing is sent then. Pushes queued from one thread
    /// are written in the order queued.
    pub fn try_push(
        &self,
        service_path: &str,
        service_method: &str,
        metadata: Metadata,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        if !self.is_open() {
            return Err(Error::Closed);
        }
        if self.inner.budgets.is_spent() {
            return Err(Error::Timeout(std::time::Duration::ZERO));
        }
        let msg = self.push_message(service_path, service_method, metadata, payload.into());
        let charge = Some(self.inner.budgets.charge(footprint(&msg)));
        self.inner
            .out
            .try_send(Outgoing { msg, charge })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Error::Timeout(std::time::Duration::ZERO),
                mpsc::error::TrySendError::Closed(_) => Error::Closed,
            })
    }

    /// A push frame: a oneway request with serialize type raw and the next server-wide seq.
    fn push_message(
        &self,
        service_path: &str,
        service_method: &str,
        metadata: Metadata,
        payload: Bytes,
    ) -> Message {
        let mut header = Header::new();
        header.set_oneway(true);
        header.set_seq(self.inner.push_seq.fetch_add(1, Ordering::Relaxed));
        Message {
            header,
            service_path: service_path.to_owned(),
            service_method: service_method.to_owned(),
            metadata,
            payload,
        }
    }
}

pub(crate) struct CallInfo {
    pub(crate) service: String,
    pub(crate) method: String,
    pub(crate) metadata: Metadata,
    pub(crate) serialize: SerializeType,
    pub(crate) deadline: Option<Instant>,
    /// Oneway calls are not abandoned with their connection (nobody waits for them).
    pub(crate) oneway: bool,
    pub(crate) received: Instant,
    pub(crate) reply_metadata: Mutex<Metadata>,
    pub(crate) conn: ConnHandle,
    /// The OpenTelemetry context the handler runs in (the server span), set by the
    /// [`otel`](crate::otel) server plugin.
    #[cfg(feature = "otel")]
    pub(crate) otel: std::sync::OnceLock<opentelemetry::Context>,
}

/// The context of one call: request metadata, peer, deadline, serialization, reply metadata,
/// and the connection (for pushes). Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<CallInfo>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("service", &self.inner.service)
            .field("method", &self.inner.method)
            .field("peer", &self.inner.conn.inner.peer)
            .field("deadline", &self.inner.deadline)
            .finish()
    }
}

impl Context {
    /// The service path of the call (`Arith`).
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The method of the call (`Mul`).
    pub fn method(&self) -> &str {
        &self.inner.method
    }

    /// The OpenTelemetry context of this call — the server span of the
    /// [`otel` server plugin](crate::otel::ServerTracing), child of the caller's span — or
    /// `None` without that plugin. The handler future already runs in it (its
    /// `Context::current()`); use this for work the handler moves to other threads or tasks.
    #[cfg(feature = "otel")]
    pub fn otel_context(&self) -> Option<&opentelemetry::Context> {
        self.inner.otel.get()
    }

    /// Request metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// One request metadata value.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.inner.metadata.get_str(key)
    }

    /// The serialization the caller used; replies are encoded with it.
    pub fn serialize_type(&self) -> SerializeType {
        self.inner.serialize
    }

    /// The caller's deadline (from `__ServerTimeout`), if it sent one.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }

    /// When the request was taken off the connection (for latency metrics).
    pub fn received_at(&self) -> Instant {
        self.inner.received
    }

    /// True once nobody waits for this call's reply any more: the caller's connection closed
    /// (or was refused), the caller's deadline (`__ServerTimeout`) passed, or the server closed.
    /// A long handler should check it and give up early; its reply would be dropped anyway.
    ///
    /// Oneway calls are not tied to their connection: they report cancelled only past their
    /// deadline or when the server closes.
    pub fn is_cancelled(&self) -> bool {
        self.token().is_cancelled() || self.inner.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Resolves when [`is_cancelled`](Self::is_cancelled) becomes true. Await it on a tokio
    /// runtime (it sleeps until the deadline when there is one), e.g. in a `select!` beside
    /// slow work.
    pub async fn cancelled(&self) {
        let token = self.token();
        match self.inner.deadline {
            None => token.cancelled().await,
            Some(d) => tokio::select! {
                _ = token.cancelled() => {}
                _ = tokio::time::sleep_until(d.into()) => {}
            },
        }
    }

    /// The token that ends this call: its connection's (two-way) or the server's (oneway).
    pub(crate) fn token(&self) -> &CancellationToken {
        let conn = &self.inner.conn.inner;
        if self.inner.oneway {
            &conn.server_closed
        } else {
            &conn.calls
        }
    }

    /// The peer's address.
    pub fn peer(&self) -> &str {
        self.inner.conn.peer()
    }

    /// The connection the call came on, for pushes.
    pub fn connection(&self) -> &ConnHandle {
        &self.inner.conn
    }

    /// Adds a key to the reply's metadata (error metadata set by the server wins over it).
    pub fn set_reply_meta(&self, key: impl Into<String>, value: impl Into<String>) {
        if let Ok(mut m) = self.inner.reply_metadata.lock() {
            m.insert(key.into(), value.into());
        }
    }

    pub(crate) fn take_reply_metadata(&self) -> Metadata {
        self.inner
            .reply_metadata
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }
}
