//! One client connection: a reader that decodes requests and spawns their handlers, and a
//! writer that batches replies into few writes.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::context::ConnHandle;
use super::dispatch::{dispatch, error_reply};
use super::handle::Shared;
use super::Rejection;
use crate::protocol::{DecodeError, FrameCodec, Message, META_AUTH};
use crate::transport::{Connection, ReadHalf, WriteHalf};

/// Replies queued for the writer before handlers wait (backpressure).
const OUT_QUEUE: usize = 4096;

/// What the reader does after one request.
enum Next {
    Continue,
    Close,
}

pub(crate) async fn serve(shared: Arc<Shared>, conn: Connection) {
    let Connection { read, write, peer } = conn;
    let peer: Arc<str> = peer.into();
    if !shared.plugins.iter().all(|p| p.on_conn_accept(&peer)) {
        return;
    }
    let (tx, rx) = mpsc::channel::<Message>(OUT_QUEUE);
    let stop = shared.closed.child_token();
    let writer_done = CancellationToken::new();
    let handle = ConnHandle {
        peer: Arc::clone(&peer),
        out: tx,
        push_seq: Arc::clone(&shared.push_seq),
    };
    let writer = tokio::spawn(write_loop(
        Arc::clone(&shared),
        write,
        rx,
        stop.clone(),
        writer_done.clone(),
        Arc::clone(&peer),
    ));
    let inflight = Arc::new(Semaphore::new(shared.options.max_inflight_per_conn));
    read_loop(&shared, read, &handle, &inflight, &stop).await;

    // Let this connection's in-flight calls finish (unless the server closes), then flush.
    let all = shared.options.max_inflight_per_conn as u32;
    tokio::select! {
        _ = inflight.acquire_many(all) => {}
        _ = stop.cancelled() => {}
    }
    writer_done.cancel();
    let _ = writer.await;
    for p in &shared.plugins {
        p.on_conn_close(&peer);
    }
}

async fn read_loop(
    shared: &Arc<Shared>,
    mut read: ReadHalf,
    handle: &ConnHandle,
    inflight: &Arc<Semaphore>,
    stop: &CancellationToken,
) {
    let codec = FrameCodec::new(shared.options.limits);
    let mut buf = BytesMut::with_capacity(8 << 10);
    // Created once: a cancellation future made anew for every read registers with (and
    // unregisters from) the token's waiter list each time, under a lock the whole server shares.
    let stopped = stop.cancelled();
    let draining = shared.draining.cancelled();
    tokio::pin!(stopped, draining);
    loop {
        loop {
            match codec.decode_frame(&mut buf) {
                Ok(Some(msg)) => {
                    if let Next::Close = on_request(shared, msg, handle, inflight).await {
                        return;
                    }
                }
                Ok(None) => break,
                Err(DecodeError {
                    header: Some(h),
                    error,
                }) => {
                    // The bad frame was consumed whole: answer it and keep serving.
                    if !h.is_oneway() {
                        let mut m = Message {
                            header: h,
                            ..Message::default()
                        };
                        m = error_reply(&m, error.to_string());
                        if handle.out.send(m).await.is_err() {
                            return;
                        }
                    }
                }
                Err(_) => return,
            }
        }
        if shared
            .plugins
            .iter()
            .any(|p| p.before_read(&handle.peer).is_err())
        {
            return;
        }
        let n = tokio::select! {
            biased;
            _ = &mut stopped => return,
            _ = &mut draining => return,
            r = read_some(&mut read, &mut buf, shared.options.idle_timeout) => r,
        };
        match n {
            Some(n) if n > 0 => {}
            _ => return,
        }
    }
}

async fn read_some(
    read: &mut ReadHalf,
    buf: &mut BytesMut,
    idle: Option<std::time::Duration>,
) -> Option<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8 << 10);
    }
    match idle {
        None => read.read_buf(buf).await.ok(),
        Some(d) => match tokio::time::timeout(d, read.read_buf(buf)).await {
            Ok(r) => r.ok(),
            Err(_) => None,
        },
    }
}

async fn on_request(
    shared: &Arc<Shared>,
    mut msg: Message,
    handle: &ConnHandle,
    inflight: &Arc<Semaphore>,
) -> Next {
    for p in &shared.plugins {
        match p.after_read(&handle.peer, &mut msg) {
            Ok(()) => {}
            Err(Rejection::Respond(text)) => {
                if !msg.header.is_oneway()
                    && handle.out.send(error_reply(&msg, text)).await.is_err()
                {
                    return Next::Close;
                }
                return Next::Continue;
            }
            Err(Rejection::Close(text)) => {
                if !msg.header.is_oneway() {
                    let _ = handle.out.send(error_reply(&msg, text)).await;
                }
                return Next::Close;
            }
        }
    }
    if msg.header.is_heartbeat() {
        if msg.payload.len() > shared.options.max_heartbeat_payload {
            return Next::Close;
        }
        return match handle.out.send(msg.heartbeat_echo()).await {
            Ok(()) => Next::Continue,
            Err(_) => Next::Close,
        };
    }
    if let Some(auth) = &shared.auth {
        let token = msg.metadata.get(META_AUTH).map_or("", String::as_str);
        if let Err(text) = auth(&msg, token, &handle.peer) {
            if !msg.header.is_oneway() {
                let _ = handle.out.send(error_reply(&msg, text)).await;
            }
            return Next::Close;
        }
    }
    let Ok(permit) = Arc::clone(inflight).acquire_owned().await else {
        return Next::Close;
    };
    shared.call_started();
    let s = Arc::clone(shared);
    let h = handle.clone();
    shared.spawn(async move {
        let work = async {
            if let Some(reply) = dispatch(&s, msg, &h).await {
                let _ = h.out.send(reply).await;
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

async fn write_loop(
    shared: Arc<Shared>,
    mut write: WriteHalf,
    mut rx: mpsc::Receiver<Message>,
    stop: CancellationToken,
    done: CancellationToken,
    peer: Arc<str>,
) {
    let batch = shared.options.write_batch_bytes;
    let mut buf = BytesMut::with_capacity(batch.min(64 << 10));
    let mut written = Vec::new();
    let track = shared.plugins.iter().any(|_| true);
    loop {
        let first = tokio::select! {
            biased;
            m = rx.recv() => m,
            _ = stop.cancelled() => None,
            _ = done.cancelled() => rx.try_recv().ok(),
        };
        let Some(first) = first else { break };
        encode(
            &shared,
            &peer,
            first,
            &mut buf,
            track.then_some(&mut written),
        );
        // Give the handlers that are about to queue replies a turn first, so that one write
        // carries many replies (without this nearly every reply costs its own syscall).
        if rx.is_empty() {
            tokio::task::yield_now().await;
        }
        while buf.len() < batch {
            match rx.try_recv() {
                Ok(m) => encode(&shared, &peer, m, &mut buf, track.then_some(&mut written)),
                Err(_) => break,
            }
        }
        // A peer that stops reading must not keep a closed server's writer (and with it the
        // connection task that `stopped` waits for) blocked forever.
        let result = tokio::select! {
            biased;
            r = write.write_all(&buf) => r,
            _ = stop.cancelled() => Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "server closed the connection",
            )),
        };
        buf.clear();
        for h in written.drain(..) {
            for p in &shared.plugins {
                p.after_write(&peer, &h, result.as_ref().map(|_| ()));
            }
        }
        if result.is_err() {
            stop.cancel();
            break;
        }
    }
    let _ = write.shutdown().await;
}

fn encode(
    shared: &Shared,
    peer: &str,
    mut msg: Message,
    buf: &mut BytesMut,
    written: Option<&mut Vec<crate::protocol::Header>>,
) {
    for p in &shared.plugins {
        p.before_write(peer, &mut msg);
    }
    if let Err(e) = msg.encode_into(buf) {
        let reply = error_reply(&msg, format!("rpcx: can't encode reply: {e}"));
        let _ = reply.encode_into(buf);
    }
    if let Some(w) = written {
        w.push(msg.header);
    }
}
