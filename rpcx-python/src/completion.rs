//! Completions of async operations, handed to an asyncio event loop without ever taking the
//! GIL on a runtime thread.
//!
//! A runtime task that finishes pushes `(token, outcome)` onto a [`CompletionQueue`] and, if
//! the queue was not already signalled, writes one byte to a socket pair. The event loop
//! watches the other end (`loop.add_reader`) and calls [`CompletionQueue::drain`] on its own
//! thread, with the GIL, where the outcomes become Python objects and resolve their futures.
//! Many completions cost one wake-up.
//!
//! The same queue carries work that must run on the loop thread with the GIL
//! ([`Inner::run_on_loop`]: an AsyncXClient's custom selector). Once the loop is gone the
//! queue is closed ([`CompletionQueue::close`]): its sockets are closed at once and later
//! completions are dropped.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use tokio::task::AbortHandle;

use rpcx::client::RawResponse;
use rpcx::protocol::Message;

use crate::client::RawClient;
use crate::errors::to_py;
use crate::meta::metadata_dict;
use crate::runtime::{handle, Owned};

/// Work run on the event loop's thread, with the GIL, when the loop drains the queue.
pub(crate) type LoopWork = Box<dyn FnOnce(Python<'_>) + Send>;

/// What an async operation produced.
pub(crate) enum Outcome {
    /// A call's reply: `(payload, metadata)`.
    Reply(RawResponse),
    /// A call's reply payload alone (its caller reads no metadata): `bytes`.
    Payload(bytes::Bytes),
    /// Done, nothing to return (oneway sends).
    Unit,
    /// A connected client.
    Client(rpcx::client::Client),
    /// A server push, or `None` when the wait timed out.
    Push(Option<Message>),
    /// An XClient's server push, or `None` when the wait timed out.
    ServerPush(Option<rpcx::xclient::ServerPush>),
    /// Every server's outcome of an XClient's inform, in the order of their keys.
    Receipts(Vec<rpcx::xclient::Receipt<RawResponse>>),
    /// A failure.
    Err(rpcx::Error),
    /// An exception made on a Python thread (a custom selector's failure).
    PyErr(PyErr),
    /// A failure that is not an rpcx error (e.g. the push stream ended): `ClosedError(text)`.
    Closed(String),
    /// Not a completion: work for the loop thread (see [`Inner::run_on_loop`]).
    Run(LoopWork),
}

impl From<RawResponse> for Outcome {
    fn from(r: RawResponse) -> Outcome {
        Outcome::Reply(r)
    }
}

impl From<Vec<rpcx::xclient::Receipt<RawResponse>>> for Outcome {
    fn from(r: Vec<rpcx::xclient::Receipt<RawResponse>>) -> Outcome {
        Outcome::Receipts(r)
    }
}

impl From<()> for Outcome {
    fn from((): ()) -> Outcome {
        Outcome::Unit
    }
}

impl From<rpcx::client::Client> for Outcome {
    fn from(c: rpcx::client::Client) -> Outcome {
        Outcome::Client(c)
    }
}

impl From<rpcx::Error> for Outcome {
    fn from(e: rpcx::Error) -> Outcome {
        Outcome::Err(e)
    }
}

/// A result completes with its value or its error.
impl<T: Into<Outcome>, E: Into<Outcome>> From<Result<T, E>> for Outcome {
    fn from(r: Result<T, E>) -> Outcome {
        match r {
            Ok(v) => v.into(),
            Err(e) => e.into(),
        }
    }
}

pub(crate) struct Inner {
    items: Mutex<Vec<(u64, Outcome)>>,
    signalled: AtomicBool,
    closed: AtomicBool,
    /// The reader's descriptor number, for `fileno()` (-1 once closed).
    fd: i32,
    writer: Mutex<Option<UnixStream>>,
    reader: Mutex<Option<UnixStream>>,
}

impl Inner {
    /// Queues an outcome and wakes the event loop (from any thread, without the GIL). Once
    /// the queue is closed the outcome is dropped: nobody would take it.
    pub(crate) fn complete(&self, token: u64, outcome: Outcome) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if let Ok(mut items) = self.items.lock() {
            items.push((token, outcome));
        }
        if !self.signalled.swap(true, Ordering::SeqCst) {
            if let Ok(w) = self.writer.lock() {
                if let Some(w) = w.as_ref() {
                    // A full socket buffer (WouldBlock) already means a wake-up is pending.
                    let _ = (&*w).write(&[1]);
                }
            }
        }
    }

    /// Has `work` run on the loop thread, with the GIL, at the loop's next drain. `false`
    /// when the queue is closed (`work` is dropped unrun).
    pub(crate) fn run_on_loop(&self, work: LoopWork) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        self.complete(0, Outcome::Run(work));
        true
    }
}

/// A queue of completions for one event loop (see the module documentation).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct CompletionQueue {
    pub(crate) inner: Owned<Inner>,
}

#[pymethods]
impl CompletionQueue {
    #[new]
    fn new() -> PyResult<Self> {
        let (writer, reader) = UnixStream::pair().map_err(|e| PyOSError::new_err(e.to_string()))?;
        writer
            .set_nonblocking(true)
            .and_then(|_| reader.set_nonblocking(true))
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(CompletionQueue {
            inner: Owned::new(Inner {
                items: Mutex::new(Vec::new()),
                signalled: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                fd: reader.as_raw_fd(),
                writer: Mutex::new(Some(writer)),
                reader: Mutex::new(Some(reader)),
            }),
        })
    }

    /// The file descriptor to watch for readability (-1 once closed).
    fn fileno(&self) -> i32 {
        if self.closed() {
            -1
        } else {
            self.inner.fd
        }
    }

    /// Closes the queue: both sockets now, queued completions are dropped (nothing will
    /// drain them) and later ones too. Stop watching `fileno()` first. Idempotent.
    fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for socket in [&self.inner.writer, &self.inner.reader] {
            if let Ok(mut s) = socket.lock() {
                s.take();
            }
        }
        if !self.inner.inherited() {
            // In a forked child the outcomes hold the parent's core objects: leave them.
            let items = self.inner.items.lock().map(|mut i| std::mem::take(&mut *i));
            drop(items);
        }
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Takes every queued completion as `(token, ok, value)`: `value` is the result when `ok`,
    /// else the exception to raise.
    fn drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        // Empty the socket first, then clear the flag, then take the items: a producer that
        // finds the flag set has either queued its item before the take below, or its byte is
        // still unread, so no completion is left without a wake-up.
        let mut sink = [0u8; 256];
        if let Ok(r) = self.inner.reader.lock() {
            if let Some(r) = r.as_ref() {
                loop {
                    match (&*r).read(&mut sink) {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
            }
        }
        self.inner.signalled.store(false, Ordering::SeqCst);
        let items = match self.inner.items.lock() {
            Ok(mut items) => std::mem::take(&mut *items),
            Err(_) => Vec::new(),
        };
        let out = PyList::empty(py);
        for (token, outcome) in items {
            let outcome = match outcome {
                Outcome::Run(work) => {
                    work(py);
                    continue;
                }
                other => other,
            };
            let (ok, value) = convert(py, outcome)?;
            out.append(PyTuple::new(
                py,
                [
                    token.into_pyobject(py)?.into_any(),
                    ok.into_pyobject(py)?.to_owned().into_any(),
                    value,
                ],
            )?)?;
        }
        Ok(out)
    }
}

fn convert(py: Python<'_>, outcome: Outcome) -> PyResult<(bool, Bound<'_, PyAny>)> {
    Ok(match outcome {
        Outcome::Reply(r) => (true, reply_tuple(py, &r)?.into_any()),
        Outcome::Payload(p) => (true, PyBytes::new(py, &p).into_any()),
        Outcome::Unit => (true, py.None().into_bound(py)),
        Outcome::Receipts(r) => (true, receipts_list(py, r)?.into_any()),
        Outcome::Client(c) => (true, Bound::new(py, RawClient::from_core(c))?.into_any()),
        Outcome::Push(None) => (true, py.None().into_bound(py)),
        Outcome::Push(Some(m)) => (true, push_tuple(py, &m)?.into_any()),
        Outcome::ServerPush(None) => (true, py.None().into_bound(py)),
        Outcome::ServerPush(Some(p)) => (true, crate::push::server_push_tuple(py, &p)?.into_any()),
        Outcome::Err(e) => (false, to_py(py, e).into_value(py).into_bound(py).into_any()),
        Outcome::PyErr(e) => (false, e.into_value(py).into_bound(py).into_any()),
        Outcome::Closed(text) => (
            false,
            crate::errors::closed(py, &text)
                .into_value(py)
                .into_bound(py)
                .into_any(),
        ),
        // Run by `drain` before conversion; never converted.
        Outcome::Run(_) => (true, py.None().into_bound(py)),
    })
}

/// Spawns `fut` on the runtime; its output, as an [`Outcome`], goes to `cq` under `token`.
pub(crate) fn spawn_into<F>(cq: &CompletionQueue, token: u64, fut: F) -> PyResult<CallHandle>
where
    F: std::future::Future + Send + 'static,
    F::Output: Into<Outcome>,
{
    spawn(cq.inner.arc(), token, fut, None)
}

/// [`spawn_into`] for futures that need the queue itself (to run work on the loop thread)
/// and a [`Cancelled`] signal that fires when the caller gives up on the operation.
pub(crate) fn spawn_with<F, M>(cq: &CompletionQueue, token: u64, make: M) -> PyResult<CallHandle>
where
    M: FnOnce(Arc<Inner>, Cancelled) -> F,
    F: std::future::Future + Send + 'static,
    F::Output: Into<Outcome>,
{
    let (give_up, cancelled) = crossbeam_channel::bounded::<()>(0);
    let fut = make(cq.inner.arc(), Cancelled(cancelled));
    spawn(cq.inner.arc(), token, fut, Some(give_up))
}

fn spawn<F>(cq: Arc<Inner>, token: u64, fut: F, give_up: Option<Sender<()>>) -> PyResult<CallHandle>
where
    F: std::future::Future + Send + 'static,
    F::Output: Into<Outcome>,
{
    let task = handle()?.spawn(async move {
        let outcome = fut.await.into();
        cq.complete(token, outcome);
    });
    Ok(CallHandle {
        inner: Owned::new(Running {
            stop: Stop::Task(task.abort_handle()),
            give_up: Mutex::new(give_up),
        }),
    })
}

/// Starts a raw call with [`rpcx::client::Client::start_call_raw`]: no task of its own; the
/// reader thread that gets the reply queues it on `cq` under `token`.
/// With `payload_only` the reply completes as its payload alone (`bytes`, no metadata dict).
pub(crate) fn start_call_into(
    cq: &CompletionQueue,
    token: u64,
    client: &rpcx::client::Client,
    req: rpcx::client::RawRequest,
    payload_only: bool,
) -> PyResult<CallHandle> {
    let runtime = handle()?;
    let _in_runtime = runtime.enter();
    let queue = cq.inner.arc();
    let call = client.start_call_raw(req, move |outcome| {
        let outcome = match outcome {
            Ok(r) if payload_only => Outcome::Payload(r.payload),
            other => other.into(),
        };
        queue.complete(token, outcome);
    });
    Ok(CallHandle {
        inner: Owned::new(Running {
            stop: Stop::Call(call),
            give_up: Mutex::new(None),
        }),
    })
}

/// Disconnected when the caller gives up on an operation (its [`CallHandle`] is cancelled or
/// dropped): lets a runtime thread blocked on the loop thread stop waiting.
#[derive(Clone)]
pub(crate) struct Cancelled(pub(crate) Receiver<()>);

/// `(payload: bytes, metadata: dict)` of a reply.
pub(crate) fn reply_tuple<'py>(py: Python<'py>, r: &RawResponse) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            PyBytes::new(py, &r.payload).into_any(),
            metadata_dict(py, &r.metadata)?.into_any(),
        ],
    )
}

/// `[(server, (payload, metadata) or None, exception or None), ...]` of an inform.
pub(crate) fn receipts_list(
    py: Python<'_>,
    receipts: Vec<rpcx::xclient::Receipt<RawResponse>>,
) -> PyResult<Bound<'_, PyList>> {
    let list = PyList::empty(py);
    for rc in receipts {
        let (reply, error) = match rc.result {
            Ok(resp) => (reply_tuple(py, &resp)?.into_any(), py.None().into_bound(py)),
            Err(e) => (
                py.None().into_bound(py),
                to_py(py, e).into_value(py).into_bound(py).into_any(),
            ),
        };
        let server = rc.server.into_pyobject(py)?.into_any();
        list.append(PyTuple::new(py, [server, reply, error])?)?;
    }
    Ok(list)
}

/// `(service, method, metadata, payload)` of a server push.
pub(crate) fn push_tuple<'py>(py: Python<'py>, m: &Message) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            m.service_path.as_str().into_pyobject(py)?.into_any(),
            m.service_method.as_str().into_pyobject(py)?.into_any(),
            metadata_dict(py, &m.metadata)?.into_any(),
            PyBytes::new(py, &m.payload).into_any(),
        ],
    )
}

/// How to stop a running operation.
enum Stop {
    /// Its task.
    Task(AbortHandle),
    /// A call started without a task.
    Call(rpcx::client::StartedCall),
}

struct Running {
    stop: Stop,
    /// Dropped on cancel: disconnects the operation's [`Cancelled`].
    give_up: Mutex<Option<Sender<()>>>,
}

/// A running async operation; `cancel()` aborts it (its future then never completes).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct CallHandle {
    inner: Owned<Running>,
}

#[pymethods]
impl CallHandle {
    /// Aborts the operation.
    fn cancel(&self) {
        if let Ok(mut g) = self.inner.give_up.lock() {
            g.take();
        }
        match &self.inner.stop {
            Stop::Task(task) => task.abort(),
            Stop::Call(call) => call.cancel(),
        }
    }
}
