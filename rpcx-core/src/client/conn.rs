//! The multiplexed connection under a client: one writer task batching frames, one reader
//! task matching replies to pending calls by seq.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::protocol::{DecodeError, FrameCodec, Header, Limits, Message, ProtocolError};
use crate::transport::direct::{wait_tail, Direct, DirectLane, TryWrite};
use crate::transport::{ReadHalf, WriteHalf};
use crate::Error;

/// Where a reply goes.
/// Where a pending call's reply goes: a task awaiting it, or a callback run by whoever
/// delivers the outcome (the reader, the writer, a timer or `fail_all`), with no lock held.
pub(crate) enum ReplySlot {
    /// A task awaits the reply.
    Wait(oneshot::Sender<Result<Message, Error>>),
    /// Called once with the outcome.
    Call(Box<dyn FnOnce(Result<Message, Error>) + Send>),
}

impl ReplySlot {
    /// Hands the outcome over (a task that stopped waiting just drops it).
    pub(crate) fn deliver(self, outcome: Result<Message, Error>) {
        match self {
            ReplySlot::Wait(tx) => {
                let _ = tx.send(outcome);
            }
            ReplySlot::Call(f) => f(outcome),
        }
    }
}

/// Hashes a seq: seqs are distinct counters, so one multiply spreads them well enough (the
/// default SipHash costs more than the rest of a map operation).
#[derive(Default, Clone, Copy)]
struct SeqHasher(u64);

impl Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type SeqMap<V> = HashMap<u64, V, BuildHasherDefault<SeqHasher>>;

/// Shards of the pending-call map: consecutive seqs land in different shards, so callers on
/// different threads and the reader rarely wait for one another.
const SHARDS: usize = 8;

/// One live connection's shared state.
///
/// No call can slip in after the connection failed: `fail_all` sets `failed` before it
/// empties the shards, and `register` checks `failed` while holding its shard's lock, so
/// either the drain sees the new call or the call sees `failed`.
pub(crate) struct Conn {
    /// Calls waiting for replies, by seq.
    pending: [Mutex<SeqMap<ReplySlot>>; SHARDS],
    failed: AtomicBool,
    /// Why the connection ended (`None` while it is open).
    closed: Mutex<Option<Error>>,
    seq: AtomicU64,
    /// Calls waiting for replies (the entries of `pending`), for the writer's batching.
    in_flight: AtomicUsize,
    out: mpsc::Sender<Outgoing>,
    /// Direct writes from the caller's thread while the writer is idle (plain sockets only).
    lane: Option<std::sync::Arc<DirectLane>>,
    /// Bytes of queued, unwritten requests (`ClientOptions::max_unsent_bytes` permits): a
    /// request holds its size until the writer has written it.
    unsent: std::sync::Arc<Semaphore>,
    /// The most one request may hold (the whole budget).
    unsent_max: u32,
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
        direct: Option<std::sync::Arc<dyn TryWrite>>,
        peer: String,
        limits: Limits,
        max_unsent_bytes: usize,
        pushes: mpsc::Sender<Message>,
    ) -> std::sync::Arc<Conn> {
        let (tx, rx) = mpsc::channel(4096);
        let unsent_max = u32::try_from(max_unsent_bytes.min(Semaphore::MAX_PERMITS))
            .unwrap_or(u32::MAX)
            .max(1);
        let conn = std::sync::Arc::new(Conn {
            pending: std::array::from_fn(|_| Mutex::new(SeqMap::default())),
            failed: AtomicBool::new(false),
            closed: Mutex::new(None),
            seq: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            out: tx,
            lane: direct.map(|s| std::sync::Arc::new(DirectLane::new(s))),
            unsent: std::sync::Arc::new(Semaphore::new(unsent_max as usize)),
            unsent_max,
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
        self.insert(seq, ReplySlot::Wait(tx)).map_err(|(e, _)| e)?;
        Ok(rx)
    }

    /// Registers a pending call whose outcome goes to `done`; if the connection is already
    /// gone, `done` gets that error now.
    pub(crate) fn register_call(
        &self,
        seq: u64,
        done: Box<dyn FnOnce(Result<Message, Error>) + Send>,
    ) -> bool {
        match self.insert(seq, ReplySlot::Call(done)) {
            Ok(()) => true,
            Err((e, slot)) => {
                slot.deliver(Err(e));
                false
            }
        }
    }

    fn insert(&self, seq: u64, slot: ReplySlot) -> Result<(), (Error, ReplySlot)> {
        let mut calls = self.shard(seq);
        if self.failed.load(Ordering::SeqCst) {
            drop(calls);
            return Err((self.closed_reason().unwrap_or(Error::Closed), slot));
        }
        if calls.insert(seq, slot).is_none() {
            self.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// True while the call `seq` waits for its reply.
    pub(crate) fn is_pending(&self, seq: u64) -> bool {
        self.shard(seq).contains_key(&seq)
    }

    /// Fails a pending call with `error` (if it still waits).
    pub(crate) fn fail_call(&self, seq: u64, error: Error) {
        if let Some(slot) = self.take_call(seq) {
            slot.deliver(Err(error));
        }
    }

    /// How many calls wait for replies.
    fn calls_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn shard(&self, seq: u64) -> MutexGuard<'_, SeqMap<ReplySlot>> {
        // A panic while holding a shard cannot leave the map inconsistent: keep using it.
        self.pending[seq as usize % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn take_call(&self, seq: u64) -> Option<ReplySlot> {
        let slot = self.shard(seq).remove(&seq);
        if slot.is_some() {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        slot
    }

    /// Forgets a pending call (timed out or cancelled); a late reply is dropped.
    pub(crate) fn forget(&self, seq: u64) {
        self.take_call(seq);
    }

    /// Queues a frame for writing, waiting for room in the send budget and the queue.
    pub(crate) async fn send(&self, msg: Message) -> Result<(), Error> {
        match self.send_now(msg)? {
            None => Ok(()),
            Some(queued) => self.send_queued(queued).await,
        }
    }

    /// Queues a frame [`Conn::send_now`] encoded but could not queue without waiting, once
    /// there is room in the send budget and the queue.
    pub(crate) async fn send_queued(&self, queued: Queued) -> Result<(), Error> {
        let want = self.budget_of(queued.frame.len());
        // Room for its bytes first: a server that stops reading stops the queue growing.
        let held = tokio::select! {
            biased;
            _ = self.stop.cancelled() => {
                return Err(self.closed_reason().unwrap_or(Error::Closed));
            }
            p = std::sync::Arc::clone(&self.unsent).acquire_many_owned(want) => {
                p.map_err(|_| self.closed_reason().unwrap_or(Error::Closed))?
            }
        };
        self.out
            .send(Outgoing { queued, held })
            .await
            .map_err(|_| self.closed_reason().unwrap_or(Error::Closed))
    }

    /// Writes the frame now (a lone call while the writer is idle) or encodes it and queues
    /// it if there is room without waiting: `Ok(None)` once it is on its way,
    /// `Ok(Some(frame))` when it would have to wait (hand it to [`Conn::send_queued`]).
    ///
    /// A queued frame is encoded here, on the caller's thread: its compression does not hold
    /// up the writer (which serves every call on the connection), a frame that cannot be
    /// encoded fails its own call before it is queued, the budget holds the frame's real
    /// size, and the message is freed on the thread that built it (one buffer goes to the
    /// writer instead of its strings, payload and metadata).
    pub(crate) fn send_now(&self, msg: Message) -> Result<Option<Queued>, Error> {
        // `failed` is set together with `closed` (under its lock), so no lock is taken until
        // the connection is gone.
        if self.failed.load(Ordering::SeqCst) {
            return Err(self.closed_reason().unwrap_or(Error::Closed));
        }
        // One caller in a loop writes its own frame while the writer is idle: no wake-up of
        // the writer task. With other calls in flight the queue batches their frames into
        // fewer writes, so it keeps them.
        if let Some(lane) = &self.lane {
            if lane.is_idle() && !msg.header.is_oneway() && self.calls_in_flight() <= 1 {
                if let Some(sent) = self.write_direct(lane, &msg) {
                    return sent.map(|()| None);
                }
            }
        }
        let queued = Queued {
            frame: msg.encode().map_err(Error::Protocol)?,
            oneway: msg.header.is_oneway(),
        };
        drop(msg);
        let Ok(held) = std::sync::Arc::clone(&self.unsent)
            .try_acquire_many_owned(self.budget_of(queued.frame.len()))
        else {
            return Ok(Some(queued));
        };
        match self.out.try_send(Outgoing { queued, held }) {
            Ok(()) => Ok(None),
            Err(mpsc::error::TrySendError::Full(o)) => Ok(Some(o.queued)),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(self.closed_reason().unwrap_or(Error::Closed))
            }
        }
    }

    /// The send-budget permits a frame of `len` bytes holds while queued.
    fn budget_of(&self, len: usize) -> u32 {
        u32::try_from(len).unwrap_or(u32::MAX).min(self.unsent_max)
    }

    /// Encodes `msg` and writes it on the socket now; `None` when the writer took the socket
    /// meanwhile (queue it instead).
    fn write_direct(&self, lane: &DirectLane, msg: &Message) -> Option<Result<(), Error>> {
        match lane.write_with(|buf| msg.encode_into(buf)) {
            Ok(Direct::Sent) => Some(Ok(())),
            Ok(Direct::Declined) => None,
            Err(e) => Some(Err(Error::Protocol(e))),
        }
    }

    /// Why the connection ended, if it has.
    pub(crate) fn closed_reason(&self) -> Option<Error> {
        let closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        closed.as_ref().map(clone_reason)
    }

    /// True once the connection ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Ends the connection: every pending call fails at once with `reason`.
    pub(crate) fn fail_all(&self, reason: Error) {
        let mut first = false;
        let reason = {
            let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
            if closed.is_none() {
                first = true;
                *closed = Some(reason);
            }
            // Under the lock: whoever sees the connection failed also sees it closed.
            self.failed.store(true, Ordering::SeqCst);
            self.stop.cancel();
            closed.as_ref().map_or(Error::Closed, clone_reason)
        };
        for shard in &self.pending {
            let calls = std::mem::take(&mut *shard.lock().unwrap_or_else(|e| e.into_inner()));
            self.in_flight.fetch_sub(calls.len(), Ordering::Relaxed);
            for (_, slot) in calls {
                slot.deliver(Err(clone_reason(&reason)));
            }
        }
        // Logged with no lock held: a subscriber may call back into this client.
        if first {
            log_lost(&self.peer, &reason);
        }
    }

    /// Fails the call a malformed (but whole) reply frame answers with the protocol error;
    /// a malformed server push is dropped.
    fn fail_one(&self, header: &Header, error: ProtocolError) {
        if header.is_server_push() {
            return;
        }
        if let Some(slot) = self.take_call(header.seq()) {
            slot.deliver(Err(Error::Protocol(error)));
        }
    }

    fn complete(&self, msg: Message) {
        if let Some(slot) = self.take_call(msg.header.seq()) {
            slot.deliver(Ok(msg));
        }
    }
}

/// Logs the end of a client connection the client did not close itself: the server closing
/// it is routine (a restart, an idle timeout) and logged at debug level, anything else (a
/// read or write error, a bad frame, an unanswered heartbeat) at warn level, as Go's client
/// logs errors other than EOF.
fn log_lost(peer: &str, reason: &Error) {
    match reason {
        Error::Closed => {}
        Error::ConnectionLost(why) if why == EOF => {
            tracing::debug!(server = %peer, "rpcx: connection closed by the server");
        }
        other => {
            tracing::warn!(server = %peer, error = %other, "rpcx: connection to the server lost");
        }
    }
}

/// Why a connection ended when the server closed it.
const EOF: &str = "unexpected EOF";

/// An encoded request frame waiting for room in the writer's queue.
pub(crate) struct Queued {
    frame: Bytes,
    /// A oneway request (no reply awaited): the writer always lets it wait for company.
    oneway: bool,
}

/// A request on its way to the writer, holding its bytes of the unsent budget until written.
struct Outgoing {
    queued: Queued,
    held: OwnedSemaphorePermit,
}

async fn write_loop(
    conn: std::sync::Arc<Conn>,
    mut write: WriteHalf,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    const BATCH: usize = 64 << 10;
    let mut buf = BytesMut::with_capacity(BATCH);
    // The budget of the requests in `buf`, given back once it is written.
    let mut held: Vec<OwnedSemaphorePermit> = Vec::new();
    let lane = conn.lane.clone();
    let mut tail_left = std::pin::pin!(wait_tail(lane.as_deref()));
    loop {
        let first = tokio::select! {
            biased;
            m = rx.recv() => match m {
                Some(m) => Some(m),
                None => break,
            },
            _ = &mut tail_left => {
                tail_left.set(wait_tail(lane.as_deref()));
                None
            }
            _ = conn.stop.cancelled() => break,
        };
        // The writer owns the socket until the queue is empty again; a direct write's
        // unwritten tail goes first.
        if let Some(l) = &lane {
            l.claim(&mut buf);
        }
        let Some(first) = first else {
            match write_out(&conn, &mut write, &mut buf, &mut held, &rx, lane.as_deref()).await {
                Flow::Go => continue,
                Flow::End => break,
                Flow::Abandon => return close_lane(lane.as_deref()),
            }
        };
        buf.extend_from_slice(&first.queued.frame);
        held.push(first.held);
        // Let the callers woken by the same read queue their next requests first, so that one
        // write carries many frames — unless this request is the only call waiting for a reply
        // (one caller in a loop): no other caller is about to queue anything, and the turn
        // would only delay this one (a yield costs the runtime a poll of the driver). Oneway
        // sends are not counted, so a oneway request always waits its turn.
        if rx.is_empty() && (first.queued.oneway || conn.calls_in_flight() > 1) {
            tokio::task::yield_now().await;
        }
        while buf.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => {
                    buf.extend_from_slice(&m.queued.frame);
                    held.push(m.held);
                }
                Err(_) => break,
            }
        }
        match write_out(&conn, &mut write, &mut buf, &mut held, &rx, lane.as_deref()).await {
            Flow::Go => {}
            Flow::End => break,
            Flow::Abandon => return close_lane(lane.as_deref()),
        }
    }
    close_lane(lane.as_deref());
    let _ = write.shutdown().await;
}

/// What the writer does after a write.
enum Flow {
    /// Next frames.
    Go,
    /// The connection failed: shut the socket down and end.
    End,
    /// Closed while a server that does not read held the write up: end at once.
    Abandon,
}

fn close_lane(lane: Option<&DirectLane>) {
    if let Some(l) = lane {
        l.close();
    }
}

/// Writes `buf` (the frames of the requests `held`), then hands the socket back to direct
/// writers if nothing more is queued.
async fn write_out(
    conn: &Conn,
    write: &mut WriteHalf,
    buf: &mut BytesMut,
    held: &mut Vec<OwnedSemaphorePermit>,
    rx: &mpsc::Receiver<Outgoing>,
    lane: Option<&DirectLane>,
) -> Flow {
    if !buf.is_empty() {
        // A server that stops reading must not keep a closed client's socket open.
        let written = tokio::select! {
            biased;
            r = write.write_all(buf) => r,
            _ = conn.stop.cancelled() => return Flow::Abandon,
        };
        if let Err(e) = written {
            conn.fail_all(Error::ConnectionLost(format!("write: {e}")));
            return Flow::End;
        }
    }
    buf.clear();
    held.clear();
    if let Some(l) = lane {
        l.release(|| !rx.is_empty());
    }
    Flow::Go
}

async fn read_loop(
    conn: std::sync::Arc<Conn>,
    mut read: ReadHalf,
    limits: Limits,
    pushes: mpsc::Sender<Message>,
) {
    let codec = FrameCodec::new(limits);
    let mut buf = BytesMut::with_capacity(16 << 10);
    // Created once rather than per read: each new cancellation future registers with the
    // token's waiter list under its lock.
    let stopped = conn.stop.cancelled();
    tokio::pin!(stopped);
    let reason = 'outer: loop {
        loop {
            match codec.decode_reply_frame(&mut buf) {
                Ok(Some(msg)) => {
                    if msg.header.is_server_push() {
                        let _ = pushes.try_send(msg);
                    } else {
                        conn.complete(msg);
                    }
                }
                Ok(None) => break,
                // The bad frame was consumed whole and the stream is still in sync: only the
                // call it answers fails, every other call on the connection goes on.
                Err(DecodeError {
                    header: Some(h),
                    error,
                }) => conn.fail_one(&h, error),
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
            _ = &mut stopped => break Error::Closed,
            r = read.read_buf(&mut buf) => r,
        };
        match r {
            Ok(0) => break Error::ConnectionLost(EOF.into()),
            Ok(_) => {}
            Err(e) => break Error::ConnectionLost(e.to_string()),
        }
    };
    conn.fail_all(reason);
}
