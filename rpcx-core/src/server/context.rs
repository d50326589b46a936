//! What a handler knows about the call it serves, and the connection it came on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::protocol::{Header, Message, Metadata, SerializeType};
use crate::Error;

/// A handle on one client connection, for server pushes (§3.8). Cheap to clone; valid after
/// the call returns, until the connection closes.
#[derive(Clone, Debug)]
pub struct ConnHandle {
    pub(crate) peer: Arc<str>,
    pub(crate) out: mpsc::Sender<Message>,
    pub(crate) push_seq: Arc<AtomicU64>,
}

impl ConnHandle {
    /// The peer's address (`tcp@127.0.0.1:50123`).
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// True while the connection is open.
    pub fn is_open(&self) -> bool {
        !self.out.is_closed()
    }

    /// Sends a server push: a oneway request with serialize type raw, a seq from the
    /// server-wide counter (first value 1, as in Go), and the payload as given.
    pub async fn push(
        &self,
        service_path: &str,
        service_method: &str,
        metadata: Metadata,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let mut header = Header::new();
        header.set_oneway(true);
        header.set_seq(self.push_seq.fetch_add(1, Ordering::Relaxed));
        let msg = Message {
            header,
            service_path: service_path.to_owned(),
            service_method: service_method.to_owned(),
            metadata,
            payload: payload.into(),
        };
        self.out.send(msg).await.map_err(|_| Error::Closed)
    }
}

pub(crate) struct CallInfo {
    pub(crate) service: String,
    pub(crate) method: String,
    pub(crate) metadata: Metadata,
    pub(crate) serialize: SerializeType,
    pub(crate) deadline: Option<Instant>,
    pub(crate) received: Instant,
    pub(crate) reply_metadata: Mutex<Metadata>,
    pub(crate) conn: ConnHandle,
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
            .field("peer", &self.inner.conn.peer)
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

    /// Request metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// One request metadata value.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.inner.metadata.get(key).map(String::as_str)
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
