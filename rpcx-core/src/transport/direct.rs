//! Direct writes: a caller (or a handler's reply) writes its frame on the socket from its own
//! thread while the connection's writer task is idle, instead of queueing it and waking the
//! writer. One sequential caller then costs one `write` and no thread wake-up per frame; under
//! load the queue and its batching stay in charge (the callers decide which path to take, see
//! [`DirectLane::is_idle`]).
//!
//! Frames never interleave on the wire: a direct write happens under the lane's lock and only
//! while the writer is idle, and the writer marks itself busy under the same lock before it
//! writes. A direct write the socket does not take whole (a full send buffer) hands its
//! unwritten tail to the writer, which writes it before anything else.
//!
//! Only plain TCP and Unix sockets have a lane: a TLS or WebSocket stream keeps its framing
//! state in the writer.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use tokio::sync::Notify;

/// A socket write half that may be written from any thread without `&mut`.
pub(crate) trait TryWrite: Send + Sync + 'static {
    /// Writes what the socket takes now, without blocking (`WouldBlock` if nothing).
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    /// [`TryWrite::try_write`] from several buffers in one system call.
    fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize>;
    /// Waits until the socket may take more.
    fn writable(&self) -> Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send + '_>>;
    /// Shuts the sending direction down.
    fn shutdown_write(&self) -> io::Result<()>;
}

impl TryWrite for tokio::net::tcp::OwnedWriteHalf {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        tokio::net::tcp::OwnedWriteHalf::try_write(self, buf)
    }
    fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        tokio::net::tcp::OwnedWriteHalf::try_write_vectored(self, bufs)
    }
    fn writable(&self) -> Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send + '_>> {
        Box::pin(tokio::net::tcp::OwnedWriteHalf::writable(self))
    }
    fn shutdown_write(&self) -> io::Result<()> {
        let stream: &tokio::net::TcpStream = self.as_ref();
        socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write)
    }
}

impl TryWrite for tokio::net::unix::OwnedWriteHalf {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        tokio::net::unix::OwnedWriteHalf::try_write(self, buf)
    }
    fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        tokio::net::unix::OwnedWriteHalf::try_write_vectored(self, bufs)
    }
    fn writable(&self) -> Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send + '_>> {
        Box::pin(tokio::net::unix::OwnedWriteHalf::writable(self))
    }
    fn shutdown_write(&self) -> io::Result<()> {
        let stream: &tokio::net::UnixStream = self.as_ref();
        socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write)
    }
}

/// The writer task's half: an [`AsyncWrite`] over a socket the lane shares.
pub(crate) struct SharedWrite {
    sock: Arc<dyn TryWrite>,
    /// Pending readiness wait after a `WouldBlock` (owns a clone of the socket).
    waiting: Option<Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send>>>,
}

impl SharedWrite {
    /// An async writer over `sock` and the handle direct writers use.
    pub(crate) fn new(sock: Arc<dyn TryWrite>) -> SharedWrite {
        SharedWrite {
            sock,
            waiting: None,
        }
    }

    /// The socket, for a [`DirectLane`].
    pub(crate) fn socket(&self) -> Arc<dyn TryWrite> {
        Arc::clone(&self.sock)
    }
}

impl SharedWrite {
    /// Runs `write` until the socket takes something, waiting for readiness in between.
    fn poll_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl Fn(&dyn TryWrite) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            if let Some(wait) = self.waiting.as_mut() {
                let ready = std::task::ready!(wait.as_mut().poll(cx));
                self.waiting = None;
                ready?;
            }
            match write(&*self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let sock = Arc::clone(&self.sock);
                    self.waiting = Some(Box::pin(async move { sock.writable().await }));
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

impl AsyncWrite for SharedWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_with(cx, |s| s.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_with(cx, |s| s.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.sock.shutdown_write())
    }
}

/// What a direct write did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Direct {
    /// The frame is on the socket, or its tail is with the writer (which writes it next).
    Sent,
    /// The writer is busy or gone: queue the frame as usual.
    Declined,
}

/// The lane shared by a connection's writer task and its direct writers.
pub(crate) struct DirectLane {
    state: Mutex<Lane>,
    /// Unlocked mirror of `Lane::busy || sock.is_none()`, for the callers' cheap first check.
    busy: AtomicBool,
    /// Wakes the writer when a direct write left it a tail.
    wake: Notify,
}

impl std::fmt::Debug for DirectLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectLane")
            .field("idle", &self.is_idle())
            .finish()
    }
}

struct Lane {
    /// `None` once the writer ended (the socket closes with the writer's half).
    sock: Option<Arc<dyn TryWrite>>,
    /// The writer task owns the socket: direct writers queue instead.
    busy: bool,
    /// The unwritten tail of a direct write, for the writer to write first.
    tail: Option<Bytes>,
}

impl DirectLane {
    /// A lane over `sock`, writer idle.
    pub(crate) fn new(sock: Arc<dyn TryWrite>) -> DirectLane {
        DirectLane {
            state: Mutex::new(Lane {
                sock: Some(sock),
                busy: false,
                tail: None,
            }),
            busy: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lane> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when the writer is idle (a hint: [`DirectLane::write`] decides under the lock).
    pub(crate) fn is_idle(&self) -> bool {
        !self.busy.load(Ordering::Acquire)
    }

    /// If the writer is idle, encodes one frame with `encode` (into this thread's buffer,
    /// under the lane's lock, so the frame is never encoded in vain) and writes it now. A
    /// frame the socket does not take whole leaves its tail to the writer (woken), so the
    /// frame is sent either way; a write error also goes to the writer, which owns ending the
    /// connection. `encode` is not called when the lane declines.
    pub(crate) fn write_with<E>(
        &self,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<Direct, E> {
        let mut lane = self.lock();
        if lane.busy {
            return Ok(Direct::Declined);
        }
        let Some(sock) = lane.sock.as_ref() else {
            return Ok(Direct::Declined);
        };
        let tail = with_frame_buffer(|frame| {
            encode(frame)?;
            let mut done = 0;
            while done < frame.len() {
                match sock.try_write(&frame[done..]) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            Ok((done < frame.len()).then(|| Bytes::copy_from_slice(&frame[done..])))
        })?;
        if let Some(tail) = tail {
            lane.tail = Some(tail);
            lane.busy = true;
            self.busy.store(true, Ordering::Release);
            drop(lane);
            self.wake.notify_one();
        }
        Ok(Direct::Sent)
    }

    /// The writer takes the socket (direct writers queue from now on) and any tail left to it,
    /// which it must write before anything else.
    pub(crate) fn claim(&self, into: &mut BytesMut) {
        let mut lane = self.lock();
        lane.busy = true;
        self.busy.store(true, Ordering::Release);
        if let Some(tail) = lane.tail.take() {
            into.extend_from_slice(&tail);
        }
    }

    /// The writer is done with what it had: the socket goes back to direct writers unless
    /// `more_queued` (checked under the lock, so a frame queued before the release is seen) or
    /// a tail is waiting.
    pub(crate) fn release(&self, more_queued: impl FnOnce() -> bool) {
        let mut lane = self.lock();
        if lane.tail.is_none() && lane.sock.is_some() && !more_queued() {
            lane.busy = false;
            self.busy.store(false, Ordering::Release);
        }
    }

    /// The writer ended: no more direct writes; the lane lets go of the socket.
    pub(crate) fn close(&self) {
        let mut lane = self.lock();
        lane.busy = true;
        lane.sock = None;
        lane.tail = None;
        self.busy.store(true, Ordering::Release);
    }
}

/// For a writer task: waits until a direct write leaves it a tail (never, without a lane). A
/// notification that comes while the writer is busy is kept for its next wait.
pub(crate) async fn wait_tail(lane: Option<&DirectLane>) {
    match lane {
        Some(l) => l.wake.notified().await,
        None => std::future::pending().await,
    }
}

thread_local! {
    /// Each thread's buffer for encoding a frame it writes directly (kept for the next one).
    static FRAME: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

/// Runs `f` with this thread's cleared frame buffer. Buffers that grew past 64 KiB are
/// dropped after use rather than kept per thread.
fn with_frame_buffer<R>(f: impl FnOnce(&mut BytesMut) -> R) -> R {
    FRAME.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let r = f(&mut buf);
            if buf.capacity() > 64 << 10 {
                *buf = BytesMut::new();
            }
            r
        }
        // Re-entered (cannot happen today): a fresh buffer.
        Err(_) => f(&mut BytesMut::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    impl DirectLane {
        fn write(&self, frame: &[u8]) -> Direct {
            self.write_with(|b| {
                b.extend_from_slice(frame);
                Ok::<_, std::convert::Infallible>(())
            })
            .unwrap()
        }
    }

    async fn pair() -> (
        tokio::net::TcpStream,
        SharedWrite,
        tokio::net::tcp::OwnedReadHalf,
    ) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (b, _) = l.accept().await.unwrap();
        let (r, w) = a.into_split();
        (b, SharedWrite::new(Arc::new(w)), r)
    }

    #[tokio::test]
    async fn a_direct_write_goes_out_while_the_writer_is_idle_and_is_declined_while_busy() {
        let (mut peer, w, _r) = pair().await;
        let lane = DirectLane::new(w.socket());
        assert!(lane.is_idle());
        assert_eq!(lane.write(b"one"), Direct::Sent);
        let mut tail = BytesMut::new();
        lane.claim(&mut tail);
        assert!(tail.is_empty());
        assert!(!lane.is_idle());
        assert_eq!(lane.write(b"two"), Direct::Declined);
        lane.release(|| true);
        assert!(!lane.is_idle(), "more queued: the writer keeps the socket");
        lane.release(|| false);
        assert!(lane.is_idle());
        assert_eq!(lane.write(b"three"), Direct::Sent);
        lane.close();
        assert_eq!(lane.write(b"four"), Direct::Declined);
        let mut got = [0u8; 8];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"onethree");
    }

    #[tokio::test]
    async fn a_frame_the_socket_cannot_take_whole_leaves_its_tail_to_the_writer_in_order() {
        let (mut peer, mut w, _r) = pair().await;
        let lane = Arc::new(DirectLane::new(w.socket()));
        // Far more than the socket buffers take while the peer does not read.
        let big: Vec<u8> = (0..(16u32 << 20)).map(|i| (i % 251) as u8).collect();
        assert_eq!(lane.write(&big), Direct::Sent);
        assert!(
            !lane.is_idle(),
            "a tail is waiting: the writer owns the socket"
        );
        assert_eq!(lane.write(b"x"), Direct::Declined);
        let writer = {
            let lane = Arc::clone(&lane);
            tokio::spawn(async move {
                wait_tail(Some(&lane)).await;
                let mut buf = BytesMut::new();
                lane.claim(&mut buf);
                buf.extend_from_slice(b"after");
                w.write_all(&buf).await.unwrap();
                lane.release(|| false);
            })
        };
        let mut got = vec![0u8; big.len() + 5];
        peer.read_exact(&mut got).await.unwrap();
        writer.await.unwrap();
        assert!(got[..big.len()] == big[..], "the frame arrived whole");
        assert_eq!(&got[big.len()..], b"after");
        assert!(lane.is_idle());
    }
}
