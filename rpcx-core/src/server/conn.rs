//! One client connection: a reader that decodes requests and spawns their handlers, and a
//! writer that batches replies into few writes.
//!
//! How a connection ends decides what happens to its calls:
//! - the peer goes away (EOF, a read error, the idle timeout): the socket closes at once, its
//!   two-way calls are cancelled (their handlers see [`Context::is_cancelled`] and are dropped)
//!   and replies not yet written are discarded, as Go closes the connection at EOF;
//! - the server refuses the peer (a broken frame, failed auth, a plugin): its calls are
//!   cancelled, the refusal already queued is flushed for a moment, then the socket closes;
//! - a graceful shutdown: reading stops, in-flight calls finish and their replies are written
//!   (bounded by the shutdown's grace).
//!
//! [`Context::is_cancelled`]: super::Context::is_cancelled

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::budget::{footprint, Budgets, Charge};
use super::context::{ConnHandle, ConnShared, Outgoing};
use super::dispatch::{dispatch, error_reply};
use super::handle::Shared;
use super::Rejection;
use crate::protocol::{DecodeError, FrameCodec, Message, ProtocolError, META_AUTH};
use crate::transport::direct::{wait_tail, Direct, DirectLane};
use crate::transport::{Connection, ReadHalf, WriteHalf};

/// Replies queued for the writer before handlers wait (backpressure).
const OUT_QUEUE: usize = 4096;

/// How long a refused peer's last replies (the refusal itself) may take to flush, and how long
/// a closing writer waits for the transport's own shutdown (a TLS close_notify to a peer that
/// does not read).
const LAST_WORDS: Duration = Duration::from_secs(1);

/// Why the reader stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// The peer closed, a read failed, the connection idled out or the writer failed (the
    /// reason, for the log).
    Gone(Cow<'static, str>),
    /// We refused the peer (a frame we cannot resync after, failed auth, a plugin), logged
    /// where it happened; the reason, for the closing line.
    Refused(Cow<'static, str>),
    /// Graceful shutdown: finish the calls in flight, then close.
    Draining,
}

impl End {
    /// The reason a connection closed, for the log.
    fn reason(&self) -> &str {
        match self {
            End::Gone(r) | End::Refused(r) => r,
            End::Draining => "server shutting down",
        }
    }
}

/// The peer or its socket went away without a word from us.
const WRITER_GONE: &str = "writing to the peer failed or the server closed";

/// True for the protocol errors that are a limit, not a malformed frame.
fn is_limit(e: &ProtocolError) -> bool {
    matches!(
        e,
        ProtocolError::FrameTooLong { .. }
            | ProtocolError::TooManyMetadataEntries { .. }
            | ProtocolError::MetadataTooLarge { .. }
            | ProtocolError::DecompressedTooLarge { .. }
    )
}

/// The bad frames a connection sent and was answered for (the connection stays): only the
/// first is a warning, so that a peer repeating them cannot make one warning line per frame;
/// the next ones are logged at debug level and counted here, and the count is a warning when
/// the connection ends.
#[derive(Default)]
struct BadFrames {
    /// Answered bad frames after the first.
    more: u64,
    answered_one: bool,
}

impl BadFrames {
    /// Logs a request frame the server could not take: a limit hit or a malformed frame;
    /// `closing` when the stream cannot be resynchronised and the connection ends (always a
    /// warning: it happens once).
    fn log(&mut self, peer: &str, error: &ProtocolError, closing: bool) {
        let action = if closing {
            "closing the connection"
        } else {
            "answered with an error"
        };
        let quiet = !closing && self.answered_one;
        if quiet {
            self.more += 1;
        } else if !closing {
            self.answered_one = true;
        }
        match (is_limit(error), quiet) {
            (true, false) => {
                tracing::warn!(peer = %peer, error = %error, action, "rpcx: request over a limit");
            }
            (false, false) => {
                tracing::warn!(peer = %peer, error = %error, action, "rpcx: malformed frame");
            }
            (true, true) => {
                tracing::debug!(peer = %peer, error = %error, action, "rpcx: request over a limit");
            }
            (false, true) => {
                tracing::debug!(peer = %peer, error = %error, action, "rpcx: malformed frame");
            }
        }
    }

    /// When the connection ends: how many answered bad frames were logged at debug level only.
    fn summarize(&self, peer: &str) {
        if self.more > 0 {
            tracing::warn!(
                peer = %peer,
                more = self.more,
                "rpcx: more bad frames were answered on this connection (logged at debug level)"
            );
        }
    }
}

/// What the reader does after one request.
enum Next {
    Continue,
    End(End),
}

/// Serves rpcx on `conn`, whose first bytes (already read while telling rpcx from HTTP) are
/// `initial`. Connection plugins were asked by the caller ([`super::http::serve`]), which also
/// tells them when the connection ends.
pub(crate) async fn serve(shared: Arc<Shared>, conn: Connection, initial: BytesMut) {
    let Connection {
        read,
        write,
        peer,
        direct,
    } = conn;
    let peer: Arc<str> = peer.into();
    let (tx, rx) = mpsc::channel::<Outgoing>(OUT_QUEUE);
    // `abort` drops the socket now; `calls` (its child) abandons the two-way calls only.
    let abort = shared.closed.child_token();
    let calls = abort.child_token();
    let flush = CancellationToken::new();
    let lane = direct.map(|sock| Arc::new(DirectLane::new(sock)));
    let handle = ConnHandle {
        inner: Arc::new(ConnShared {
            peer: Arc::clone(&peer),
            out: tx,
            push_seq: Arc::clone(&shared.push_seq),
            budgets: Budgets::new(
                shared.options.max_pending_bytes_per_conn,
                Arc::clone(&shared.pending_bytes),
            ),
            calls: calls.clone(),
            server_closed: shared.closed.clone(),
            lane: lane.clone(),
        }),
    };
    let inflight = Arc::new(Semaphore::new(shared.options.max_inflight_per_conn));
    let writer = tokio::spawn(write_loop(
        Arc::clone(&shared),
        write,
        rx,
        abort.clone(),
        flush.clone(),
        Arc::clone(&peer),
        Arc::clone(&inflight),
        lane,
    ));
    let mut bad = BadFrames::default();
    let end = read_loop(&shared, read, initial, &handle, &inflight, &mut bad).await;
    drop(handle);
    bad.summarize(&peer);
    tracing::debug!(peer = %peer, reason = %end.reason(), "rpcx: connection closed");

    let mut writer = writer;
    let mut writer_done = false;
    match end {
        End::Gone(_) => abort.cancel(),
        End::Refused(_) => {
            calls.cancel();
            flush.cancel();
            writer_done = tokio::time::timeout(LAST_WORDS, &mut writer).await.is_ok();
            if !writer_done {
                abort.cancel();
            }
        }
        End::Draining => {
            // Let this connection's in-flight calls finish (unless the server closes), then
            // flush. The limit was checked to fit a u32 when the server started.
            let all = u32::try_from(shared.options.max_inflight_per_conn).unwrap_or(u32::MAX);
            tokio::select! {
                _ = inflight.acquire_many(all) => {}
                _ = abort.cancelled() => {}
            }
            flush.cancel();
        }
    }
    if !writer_done {
        let _ = writer.await;
    }
}

async fn read_loop(
    shared: &Arc<Shared>,
    mut read: ReadHalf,
    mut buf: BytesMut,
    handle: &ConnHandle,
    inflight: &Arc<Semaphore>,
    bad: &mut BadFrames,
) -> End {
    let codec = FrameCodec::new(shared.options.limits);
    let budgets = &handle.inner.budgets;
    // Created once: a cancellation future made anew for every read registers with (and
    // unregisters from) the token's waiter list each time, under a lock the whole server shares.
    // `calls` ends when the writer failed (the peer reset the connection) or the server closed.
    let gone = handle.inner.calls.cancelled();
    let draining = shared.draining.cancelled();
    tokio::pin!(gone, draining);
    loop {
        loop {
            match codec.decode_frame(&mut buf) {
                Ok(Some(msg)) => {
                    if let Next::End(end) = on_request(shared, msg, handle, inflight).await {
                        return end;
                    }
                }
                Ok(None) => break,
                Err(DecodeError {
                    header: Some(h),
                    error,
                }) => {
                    // The bad frame was consumed whole: answer it and keep serving.
                    bad.log(&handle.inner.peer, &error, false);
                    if !h.is_oneway() {
                        let req = Message {
                            header: h,
                            ..Message::default()
                        };
                        let reply = error_reply(&req, error.to_string());
                        if handle.send_uncharged(reply).await.is_err() {
                            return End::Gone(WRITER_GONE.into());
                        }
                    }
                }
                Err(DecodeError { error, .. }) => {
                    bad.log(&handle.inner.peer, &error, true);
                    return End::Refused(format!("bad frame: {error}").into());
                }
            }
        }
        for p in &shared.plugins {
            if let Err(e) = p.before_read(&handle.inner.peer) {
                tracing::warn!(
                    peer = %handle.inner.peer,
                    plugin = p.name(),
                    error = %e,
                    "rpcx: connection refused by a plugin before reading"
                );
                return End::Refused(format!("refused by the {} plugin: {e}", p.name()).into());
            }
        }
        // Backpressure in bytes: take nothing more off this connection while its requests
        // and unwritten replies (or the whole server's) fill the budget.
        if budgets.is_spent() {
            tracing::debug!(
                peer = %handle.inner.peer,
                connection_bytes = budgets.conn.used(),
                server_bytes = budgets.server.used(),
                "rpcx: memory budget spent; reading paused"
            );
            tokio::select! {
                biased;
                _ = &mut gone => return End::Gone(WRITER_GONE.into()),
                _ = &mut draining => return End::Draining,
                _ = budgets.room() => {}
            }
        }
        let n = tokio::select! {
            biased;
            _ = &mut gone => return End::Gone(WRITER_GONE.into()),
            _ = &mut draining => return End::Draining,
            r = read_more(&mut read, &mut buf, shared.options.idle_timeout) => r,
        };
        if let Err(why) = n {
            return End::Gone(why);
        }
    }
}

pub(crate) async fn read_some(
    read: &mut ReadHalf,
    buf: &mut BytesMut,
    idle: Option<Duration>,
) -> Option<usize> {
    read_more(read, buf, idle).await.ok()
}

/// Reads more bytes: how many (never 0), or why the connection is over (the peer closed, a
/// read error, the idle timeout).
pub(crate) async fn read_more(
    read: &mut ReadHalf,
    buf: &mut BytesMut,
    idle: Option<Duration>,
) -> Result<usize, Cow<'static, str>> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8 << 10);
    }
    let r = match idle {
        None => read.read_buf(buf).await,
        Some(d) => match tokio::time::timeout(d, read.read_buf(buf)).await {
            Ok(r) => r,
            Err(_) => return Err(format!("idle timeout ({d:?} without a byte)").into()),
        },
    };
    match r {
        Ok(0) => Err("closed by the peer".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("read failed: {e}").into()),
    }
}

async fn on_request(
    shared: &Arc<Shared>,
    mut msg: Message,
    handle: &ConnHandle,
    inflight: &Arc<Semaphore>,
) -> Next {
    let peer = &handle.inner.peer;
    for p in &shared.plugins {
        match p.after_read(peer, &mut msg) {
            Ok(()) => {}
            Err(Rejection::Respond(text)) => {
                tracing::debug!(
                    peer = %peer,
                    plugin = p.name(),
                    service = %msg.service_path,
                    method = %msg.service_method,
                    error = %text,
                    "rpcx: request refused by a plugin"
                );
                if !msg.header.is_oneway()
                    && handle
                        .send_uncharged(error_reply(&msg, text))
                        .await
                        .is_err()
                {
                    return Next::End(End::Gone(WRITER_GONE.into()));
                }
                return Next::Continue;
            }
            Err(Rejection::Close(text)) => {
                tracing::warn!(
                    peer = %peer,
                    plugin = p.name(),
                    service = %msg.service_path,
                    method = %msg.service_method,
                    error = %text,
                    "rpcx: request refused by a plugin; closing the connection"
                );
                let why = format!("refused by the {} plugin: {text}", p.name());
                if !msg.header.is_oneway() {
                    let _ = handle.send_uncharged(error_reply(&msg, text)).await;
                }
                return Next::End(End::Refused(why.into()));
            }
        }
    }
    if msg.header.is_heartbeat() {
        if msg.payload.len() > shared.options.max_heartbeat_payload {
            tracing::warn!(
                peer = %peer,
                len = msg.payload.len(),
                max = shared.options.max_heartbeat_payload,
                "rpcx: heartbeat payload over the limit; closing the connection"
            );
            return Next::End(End::Refused("heartbeat payload over the limit".into()));
        }
        return match handle.send_uncharged(msg.heartbeat_echo()).await {
            Ok(()) => Next::Continue,
            Err(_) => Next::End(End::Gone(WRITER_GONE.into())),
        };
    }
    if let Some(auth) = &shared.auth {
        let token = msg.metadata.get_str(META_AUTH).unwrap_or("");
        if let Err(text) = auth(&msg, token, peer) {
            // The token itself is never logged.
            tracing::warn!(
                peer = %peer,
                service = %msg.service_path,
                method = %msg.service_method,
                token_given = !token.is_empty(),
                error = %text,
                "rpcx: authentication failed; closing the connection"
            );
            if !msg.header.is_oneway() {
                let _ = handle.send_uncharged(error_reply(&msg, text)).await;
            }
            return Next::End(End::Refused("authentication failed".into()));
        }
    }
    let permit = match Arc::clone(inflight).try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            tracing::debug!(
                peer = %peer,
                max_inflight = shared.options.max_inflight_per_conn,
                "rpcx: in-flight limit reached; reading paused"
            );
            let Ok(p) = Arc::clone(inflight).acquire_owned().await else {
                return Next::End(End::Gone(WRITER_GONE.into()));
            };
            p
        }
    };
    let request_bytes: Charge = handle.inner.budgets.charge(footprint(&msg));
    shared.call_started();
    let s = Arc::clone(shared);
    let h = handle.clone();
    let inflight_of_task = Arc::clone(inflight);
    shared.spawn(async move {
        let work = async {
            let reply = dispatch(&s, msg, &h).await;
            drop(request_bytes);
            // A call abandoned with its connection (the peer went away, the server closed)
            // has nobody to answer: its error is for the plugins only. Without this check the
            // direct lane, which outlives the writer, could still put it on the socket.
            if let Some(reply) = reply.filter(|_| !h.inner.calls.is_cancelled()) {
                if let Some(reply) = reply_direct(&s, &h, &inflight_of_task, reply) {
                    let _ = h.send_charged(reply).await;
                }
            }
        };
        // Once the server is closed its connections are gone: drop the handler rather than
        // letting it hold `shutdown`/`stopped` (which wait for every task) for as long as it runs.
        // The handler is polled first: most finish at once, and then the server-wide token is
        // never polled (polling it takes that token's locks).
        tokio::select! {
            biased;
            _ = work => {}
            _ = s.closed.cancelled() => {}
        }
        drop(permit);
        s.call_finished();
    });
    Next::Continue
}

/// Writes `reply` on the socket from the handler's own thread when the writer is idle and no
/// other call of the connection is in flight (one caller in a loop): no wake-up of the writer
/// task. Gives the reply back to be queued otherwise.
fn reply_direct(
    shared: &Shared,
    h: &ConnHandle,
    inflight: &Semaphore,
    reply: Message,
) -> Option<Message> {
    let Some(lane) = h.inner.lane.as_deref() else {
        return Some(reply);
    };
    if !lane.is_idle() || others_in_flight(inflight, shared.options.max_inflight_per_conn) {
        return Some(reply);
    }
    let mut reply = Some(reply);
    let mut header = None;
    let sent = lane.write_with(|buf| {
        if let Some(msg) = reply.take() {
            header = encode_reply(shared, &h.inner.peer, msg, buf);
        }
        Ok::<_, std::convert::Infallible>(())
    });
    match sent {
        Ok(Direct::Sent) => {
            if let Some(header) = header {
                for p in &shared.plugins {
                    p.after_write(&h.inner.peer, &header, Ok(()));
                }
            }
            None
        }
        _ => reply,
    }
}

/// True when more than one call of the connection holds an in-flight permit (the reply being
/// written may still hold its own).
fn others_in_flight(inflight: &Semaphore, max: usize) -> bool {
    max.saturating_sub(inflight.available_permits()) > 1
}

// The connection's parts the writer shares with the reader and the handlers.
#[allow(clippy::too_many_arguments)]
async fn write_loop(
    shared: Arc<Shared>,
    mut write: WriteHalf,
    mut rx: mpsc::Receiver<Outgoing>,
    abort: CancellationToken,
    flush: CancellationToken,
    peer: Arc<str>,
    inflight: Arc<Semaphore>,
    lane: Option<Arc<DirectLane>>,
) {
    let batch = shared.options.write_batch_bytes;
    let max_inflight = shared.options.max_inflight_per_conn;
    let mut buf = BytesMut::with_capacity(batch.min(64 << 10));
    let mut written = Vec::new();
    // Charges of the frames in `buf`: released once they are written.
    let mut charges: Vec<Charge> = Vec::new();
    let track = !shared.plugins.is_empty();
    let mut tail_left = std::pin::pin!(wait_tail(lane.as_deref()));
    loop {
        let next = tokio::select! {
            biased;
            _ = abort.cancelled() => break,
            m = rx.recv() => m.map_or(Wake::Last, Wake::Frame),
            _ = &mut tail_left => {
                tail_left.set(wait_tail(lane.as_deref()));
                Wake::Tail
            }
            _ = flush.cancelled() => rx.try_recv().map_or(Wake::Last, Wake::Frame),
        };
        // The writer owns the socket until the queue is empty again; a direct reply's
        // unwritten tail goes first.
        if let Some(l) = &lane {
            l.claim(&mut buf);
        }
        let last = matches!(next, Wake::Last);
        if let Wake::Frame(first) = next {
            let mut add = |o: Outgoing, buf: &mut BytesMut, written: &mut Vec<_>| {
                charges.extend(o.charge);
                let header = encode(&shared, &peer, o.msg, buf);
                if track {
                    written.push(header);
                }
            };
            add(first, &mut buf, &mut written);
            // Give the handlers that are about to queue replies a turn first, so that one
            // write carries many replies (without this nearly every reply costs its own
            // syscall) — unless no other call of this connection is in flight: then no reply
            // is coming, and the turn would only delay this one (a yield costs the runtime a
            // poll of the driver).
            if rx.is_empty() && others_in_flight(&inflight, max_inflight) {
                tokio::task::yield_now().await;
            }
            while buf.len() < batch {
                match rx.try_recv() {
                    Ok(o) => add(o, &mut buf, &mut written),
                    Err(_) => break,
                }
            }
        }
        // A peer that stops reading must not keep a closed server's writer (and with it the
        // connection task that `stopped` waits for) blocked forever.
        let result = if buf.is_empty() {
            Ok(())
        } else {
            tokio::select! {
                biased;
                r = write.write_all(&buf) => r,
                _ = abort.cancelled() => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "connection closed",
                )),
            }
        };
        buf.clear();
        charges.clear();
        for h in written.drain(..) {
            for p in &shared.plugins {
                p.after_write(&peer, &h, result.as_ref().map(|_| ()));
            }
        }
        if result.is_err() {
            abort.cancel();
            break;
        }
        if last {
            break;
        }
        if let Some(l) = &lane {
            l.release(|| !rx.is_empty());
        }
    }
    if let Some(l) = &lane {
        l.close();
    }
    // Replies to a gone peer are dropped with the queue; the socket closes when the halves
    // drop. A clean end also shuts the transport down (a TLS close_notify), which a peer that
    // does not read could stall: bounded.
    drop(rx);
    if !abort.is_cancelled() {
        let _ = tokio::time::timeout(LAST_WORDS, write.shutdown()).await;
    }
}

/// What woke the writer.
enum Wake {
    /// A queued frame.
    Frame(Outgoing),
    /// A direct write's tail (taken by `claim`).
    Tail,
    /// No more frames will come (every handle dropped, or the flush of a closing
    /// connection found the queue empty): write what is left, then end.
    Last,
}

/// Encodes a reply after the plugins' `before_write`, for a direct write; its header when
/// there are plugins, for their `after_write`.
fn encode_reply(
    shared: &Shared,
    peer: &str,
    msg: Message,
    buf: &mut BytesMut,
) -> Option<crate::protocol::Header> {
    let header = encode(shared, peer, msg, buf);
    (!shared.plugins.is_empty()).then_some(header)
}

/// Encodes a reply into `buf` after the plugins' `before_write`; returns its header.
fn encode(
    shared: &Shared,
    peer: &str,
    mut msg: Message,
    buf: &mut BytesMut,
) -> crate::protocol::Header {
    for p in &shared.plugins {
        p.before_write(peer, &mut msg);
    }
    if let Err(e) = msg.encode_into(buf) {
        let reply = error_reply(&msg, format!("rpcx: can't encode reply: {e}"));
        let _ = reply.encode_into(buf);
    }
    msg.header
}
