//! The multiplexed connection under a client: one writer task batching frames, one reader
//! task matching replies to pending calls by seq.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::protocol::{FrameCodec, Limits, Message};
use crate::transport::{ReadHalf, WriteHalf};
use crate::Error;

/// Where a reply goes.
pub(crate) type ReplySlot = oneshot::Sender<Result<Message, Error>>;

/// Calls waiting for replies, and whether the connection is still usable. One lock guards
/// both so no call can slip in after the connection failed.
struct Pending {
    calls: HashMap<u64, ReplySlot>,
    /// Why the connection ended (`None` while it is open).
    closed: Option<Error>,
}

/// One live connection's shared state.
pub(crate) struct Conn {
    pending: Mutex<Pending>,
    seq: AtomicU64,
    out: mpsc::Sender<Message>,
    pub(crate) stop: CancellationToken,
    pub(crate) peer: String,
}

fn clone_reason(e: &Error) -> Error {
    match e {
        Error::Closed => Error::Closed,
        Error::ConnectionLost(why) => Error::ConnectionLost(why.clone()),
        other => Error::ConnectionLost(other.to_string()),
    }
}

impl Conn {
    /// Starts the reader and writer tasks on the current runtime.
    pub(crate) fn start(
        read: ReadHalf,
        write: WriteHalf,
        peer: String,
        limits: Limits,
        pushes: mpsc::Sender<Message>,
    ) -> std::sync::Arc<Conn> {
        let (tx, rx) = mpsc::channel(4096);
        let conn = std::sync::Arc::new(Conn {
            pending: Mutex::new(Pending {
                calls: HashMap::new(),
                closed: None,
            }),
            seq: AtomicU64::new(0),
            out: tx,
            stop: CancellationToken::new(),
            peer,
        });
        tokio::spawn(write_loop(std::sync::Arc::clone(&conn), write, rx));
        tokio::spawn(read_loop(
            std::sync::Arc::clone(&conn),
            read,
            limits,
            pushes,
        ));
        conn
    }

    /// The next request seq (first is 0, as in Go).
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a pending call; fails if the connection is already gone.
    pub(crate) fn register(
        &self,
        seq: u64,
    ) -> Result<oneshot::Receiver<Result<Message, Error>>, Error> {
        let (tx, rx) = oneshot::channel();
        let mut p = self.pending.lock().map_err(|_| Error::Closed)?;
        if let Some(reason) = &p.closed {
            return Err(clone_reason(reason));
        }
        p.calls.insert(seq, tx);
        Ok(rx)
    }

    /// Forgets a pending call (timed out or cancelled); a late reply is dropped.
    pub(crate) fn forget(&self, seq: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.calls.remove(&seq);
        }
    }

    /// Queues a frame for writing.
    pub(crate) async fn send(&self, msg: Message) -> Result<(), Error> {
        if let Some(reason) = self.closed_reason() {
            return Err(reason);
        }
        self.out
            .send(msg)
            .await
            .map_err(|_| self.closed_reason().unwrap_or(Error::Closed))
    }

    /// Why the connection ended, if it has.
    pub(crate) fn closed_reason(&self) -> Option<Error> {
        let p = self.pending.lock().ok()?;
        p.closed.as_ref().map(clone_reason)
    }

    /// True once the connection ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Ends the connection: every pending call fails at once with `reason`.
    pub(crate) fn fail_all(&self, reason: Error) {
        let calls = match self.pending.lock() {
            Ok(mut p) => {
                if p.closed.is_none() {
                    p.closed = Some(reason);
                }
                // Under the lock: whoever sees the connection failed also sees it closed.
                self.stop.cancel();
                std::mem::take(&mut p.calls)
            }
            Err(_) => {
                self.stop.cancel();
                HashMap::new()
            }
        };
        let reason = self.closed_reason().unwrap_or(Error::Closed);
        for (_, slot) in calls {
            let _ = slot.send(Err(clone_reason(&reason)));
        }
    }

    fn complete(&self, msg: Message) {
        let slot = self
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.calls.remove(&msg.header.seq()));
        if let Some(slot) = slot {
            let _ = slot.send(Ok(msg));
        }
    }
}

async fn write_loop(
    conn: std::sync::Arc<Conn>,
    mut write: WriteHalf,
    mut rx: mpsc::Receiver<Message>,
) {
    const BATCH: usize = 64 << 10;
    let mut buf = BytesMut::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            biased;
            m = rx.recv() => m,
            _ = conn.stop.cancelled() => None,
        };
        let Some(first) = first else { break };
        let mut failed = encode(&conn, &first, &mut buf);
        while buf.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => failed |= encode(&conn, &m, &mut buf),
                Err(_) => break,
            }
        }
        let _ = failed;
        // A server that stops reading must not keep a closed client's socket open.
        let written = tokio::select! {
            r = write.write_all(&buf) => r,
            _ = conn.stop.cancelled() => return,
        };
        if let Err(e) = written {
            conn.fail_all(Error::ConnectionLost(format!("write: {e}")));
            break;
        }
        buf.clear();
    }
    let _ = write.shutdown().await;
}

/// Encodes one frame; a frame that cannot be encoded fails its own call only.
fn encode(conn: &Conn, msg: &Message, buf: &mut BytesMut) -> bool {
    match msg.encode_into(buf) {
        Ok(()) => false,
        Err(e) => {
            let slot = conn
                .pending
                .lock()
                .ok()
                .and_then(|mut p| p.calls.remove(&msg.header.seq()));
            if let Some(slot) = slot {
                let _ = slot.send(Err(Error::Protocol(e)));
            }
            true
        }
    }
}

async fn read_loop(
    conn: std::sync::Arc<Conn>,
    mut read: ReadHalf,
    limits: Limits,
    pushes: mpsc::Sender<Message>,
) {
    let codec = FrameCodec::new(limits);
    let mut buf = BytesMut::with_capacity(16 << 10);
    let reason = 'outer: loop {
        loop {
            match codec.decode_frame(&mut buf) {
                Ok(Some(msg)) => {
                    if msg.header.is_server_push() {
                        let _ = pushes.try_send(msg);
                    } else {
                        conn.complete(msg);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    break 'outer Error::ConnectionLost(format!("bad frame from server: {e}"))
                }
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 << 10);
        }
        let r = tokio::select! {
            biased;
            _ = conn.stop.cancelled() => break Error::Closed,
            r = read.read_buf(&mut buf) => r,
        };
        match r {
            Ok(0) => break Error::ConnectionLost("unexpected EOF".into()),
            Ok(_) => {}
            Err(e) => break Error::ConnectionLost(e.to_string()),
        }
    };
    conn.fail_all(reason);
}
