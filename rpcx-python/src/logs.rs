//! The core's log events for Python's `logging`: a forwarder (the global `tracing`
//! subscriber of this extension) queues each event in a bounded queue without ever touching
//! Python; a Python thread (`rpcx._logs`) takes them off with the GIL released and hands them
//! to `logging.getLogger("rpcx…")`. Runtime threads never take the GIL, so logging can neither
//! deadlock on it nor run Python code during interpreter shutdown: once `stop` was called (at
//! exit) events are dropped. A full queue drops events too; both are counted. Events queued
//! before `stop` stay in the queue for the exit handler to deliver.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use pyo3::prelude::*;
use rpcx::logs::{Forwarder, LogLevel, LogRecord};

/// Events waiting for the Python thread; beyond this they are dropped (and counted).
const QUEUE: usize = 4096;

/// One event as Python receives it: (logging level, target, text, message, fields).
type Event = (u8, String, String, String, Vec<(&'static str, String)>);

static STOPPED: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// `enqueue` calls between their check of `STOPPED` and the end of their send: `stop` waits
/// for them, so that every event is either in the queue when `stop` returns or counted.
static ENQUEUING: AtomicUsize = AtomicUsize::new(0);

fn queue() -> &'static (Sender<Event>, Receiver<Event>) {
    static Q: OnceLock<(Sender<Event>, Receiver<Event>)> = OnceLock::new();
    Q.get_or_init(|| crossbeam_channel::bounded(QUEUE))
}

/// Wakes a `_log_next` waiting on an empty queue (sent by `_log_stop`); holds at most one.
fn wake() -> &'static (Sender<()>, Receiver<()>) {
    static W: OnceLock<(Sender<()>, Receiver<()>)> = OnceLock::new();
    W.get_or_init(|| crossbeam_channel::bounded(1))
}

/// The `logging` level of a core level.
fn py_level(level: LogLevel) -> u8 {
    match level {
        LogLevel::Off | LogLevel::Error => 40,
        LogLevel::Warn => 30,
        LogLevel::Info => 20,
        LogLevel::Debug => 10,
        LogLevel::Trace => 5,
    }
}

fn enqueue(r: &LogRecord<'_>) {
    // SeqCst with `_log_stop`'s store and load: a call that saw STOPPED false has already
    // raised ENQUEUING, which `_log_stop` then sees.
    ENQUEUING.fetch_add(1, Ordering::SeqCst);
    if !STOPPED.load(Ordering::SeqCst) {
        send(r);
    } else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
    ENQUEUING.fetch_sub(1, Ordering::SeqCst);
}

/// Queues one event (never blocks), counting it as dropped when the queue is full.
fn send(r: &LogRecord<'_>) {
    let event = (
        py_level(r.level),
        r.target.to_owned(),
        r.text.to_owned(),
        r.message.to_owned(),
        r.fields.to_vec(),
    );
    match queue().0.try_send(event) {
        Ok(()) => {}
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The forwarder, installed as this extension's global subscriber on first use; `None` when
/// another global subscriber was installed first in this extension.
fn forwarder() -> Option<&'static Forwarder> {
    static F: OnceLock<Option<Forwarder>> = OnceLock::new();
    F.get_or_init(|| {
        let fwd = Forwarder::new(LogLevel::Warn, enqueue);
        fwd.install_global().then_some(fwd)
    })
    .as_ref()
}

/// Installs the forwarder (idempotent); False when it could not be installed.
#[pyfunction]
pub(crate) fn _log_start() -> bool {
    while wake().1.try_recv().is_ok() {}
    STOPPED.store(false, Ordering::SeqCst);
    forwarder().is_some()
}

/// Sets the core's level: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
#[pyfunction]
pub(crate) fn _log_set_level(level: u8) -> PyResult<()> {
    let level = LogLevel::from_u8(level).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!("log level {level} is not 0..=5"))
    })?;
    if let Some(f) = forwarder() {
        f.set_level(level);
    }
    Ok(())
}

/// The next event, waiting at most `timeout` seconds with the GIL released: `(level, target,
/// text, message, fields)` with a `logging` level, or None — at once when `_log_stop` wakes
/// the wait and the queue is empty.
#[pyfunction]
pub(crate) fn _log_next(py: Python<'_>, timeout: f64) -> Option<Event> {
    let wait = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::from_secs(1));
    let events = &queue().1;
    if wait.is_zero() {
        return events.try_recv().ok();
    }
    py.detach(|| {
        crossbeam_channel::select! {
            recv(events) -> event => event.ok(),
            recv(wake().1) -> _ => events.try_recv().ok(),
            default(wait) => None,
        }
    })
}

/// Stops forwarding (at interpreter exit): later events are dropped and counted. When it
/// returns, every earlier event is in the queue (or was counted as dropped), for the caller
/// to deliver with `_log_next(0)`; a `_log_next` waiting on an empty queue returns None.
#[pyfunction]
pub(crate) fn _log_stop(py: Python<'_>) {
    STOPPED.store(true, Ordering::SeqCst);
    // Events being queued right now: a few instructions each (`send` never blocks); bounded
    // all the same.
    py.detach(|| {
        let deadline = Instant::now() + Duration::from_secs(1);
        while ENQUEUING.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::yield_now();
        }
    });
    let _ = wake().0.try_send(());
}

/// Events dropped so far: the queue was full, or forwarding had stopped.
#[pyfunction]
pub(crate) fn _log_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}
