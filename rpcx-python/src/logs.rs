//! The core's log events for Python's `logging`: a forwarder (the global `tracing`
//! subscriber of this extension) queues each event in a bounded queue without ever touching
//! Python; a Python thread (`rpcx._logs`) takes them off with the GIL released and hands them
//! to `logging.getLogger("rpcx…")`. Runtime threads never take the GIL, so logging can neither
//! deadlock on it nor run Python code during interpreter shutdown: once `stop` was called (at
//! exit) events are dropped. A full queue drops events too; both are counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use pyo3::prelude::*;
use rpcx::logs::{Forwarder, LogLevel, LogRecord};

/// Events waiting for the Python thread; beyond this they are dropped (and counted).
const QUEUE: usize = 4096;

/// One event as Python receives it: (logging level, target, text, message, fields).
type Event = (u8, String, String, String, Vec<(&'static str, String)>);

static STOPPED: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicU64 = AtomicU64::new(0);

fn queue() -> &'static (Sender<Event>, Receiver<Event>) {
    static Q: OnceLock<(Sender<Event>, Receiver<Event>)> = OnceLock::new();
    Q.get_or_init(|| crossbeam_channel::bounded(QUEUE))
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
    if STOPPED.load(Ordering::Relaxed) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
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
    STOPPED.store(false, Ordering::Relaxed);
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
/// text, message, fields)` with a `logging` level, or None.
#[pyfunction]
pub(crate) fn _log_next(py: Python<'_>, timeout: f64) -> Option<Event> {
    let wait = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::from_secs(1));
    py.detach(|| queue().1.recv_timeout(wait).ok())
}

/// Stops forwarding (at interpreter exit): later events are dropped and counted.
#[pyfunction]
pub(crate) fn _log_stop() {
    STOPPED.store(true, Ordering::Relaxed);
}

/// Events dropped so far: the queue was full, or forwarding had stopped.
#[pyfunction]
pub(crate) fn _log_dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}
