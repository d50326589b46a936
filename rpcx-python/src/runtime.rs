//! The extension's own tokio runtime, tagged with the fork generation that built it, and the
//! one helper that blocks on a future without the GIL.
//!
//! rpcx-core's shared runtime (`rpcx::runtime`) lives in a process-wide `OnceCell` that can
//! never be replaced, so a forked child would inherit a runtime whose worker threads do not
//! exist and hang on first use. This module keeps its own runtime instead: when the fork
//! generation has changed since it was built, the inherited one is leaked (its threads are
//! gone; dropping it would wait for them) and a fresh one is built for the child.
//!
//! Objects holding core state are kept in an [`Owned`]: dropped in a forked child, they are
//! leaked instead, because dropping them would run core code (cancelling tokens, waking tasks,
//! failing pending calls) against the parent's runtime, whose threads, locks and event fds the
//! child only has a copy of or shares with the parent.

use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::{Handle, Runtime};

/// How often a blocking wait wakes up to let Python handle signals (Ctrl-C).
const SIGNAL_TICK: Duration = Duration::from_millis(50);

struct Slot {
    generation: u32,
    runtime: Arc<Runtime>,
}

static SLOT: Mutex<Option<Slot>> = Mutex::new(None);
static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// How many times this process is a fork of the one that imported the module: bumped in the
/// child by the `os.register_at_fork(after_in_child=...)` hook that the module installs at
/// import, so telling a forked child from its parent costs an atomic load per call instead
/// of a `getpid` system call. (A fork that bypasses `os.fork` and then runs Python code in
/// the child — not something CPython supports — is not seen.)
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// The process's fork generation (see [`GENERATION`]); `Owned` values and the runtime are
/// tagged with it.
pub(crate) fn generation() -> u32 {
    GENERATION.load(Ordering::Acquire)
}

/// The `after_in_child` hook of `os.register_at_fork`: this process is a new generation.
#[pyfunction]
pub(crate) fn _after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Installs [`_after_fork_in_child`] with `os.register_at_fork` (absent on Windows, which
/// has no fork).
pub(crate) fn install_fork_hook(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let os = py.import("os")?;
    if !os.hasattr("register_at_fork")? {
        return Ok(());
    }
    let hook = wrap_pyfunction!(_after_fork_in_child, m)?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("after_in_child", hook)?;
    os.call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}

thread_local! {
    /// This thread's copy of the runtime handle, with the generation it belongs to: calls
    /// take it without the [`SLOT`] lock.
    static HANDLE: std::cell::RefCell<Option<(u32, Handle)>> = const { std::cell::RefCell::new(None) };
}

/// Shared core state that only the process that made it drops: in a forked child, dropping
/// an `Owned` leaks its value (see the module documentation).
pub(crate) struct Owned<T: ?Sized> {
    value: Arc<T>,
    generation: u32,
}

impl<T> Owned<T> {
    /// Owns `value` for this process.
    pub(crate) fn new(value: T) -> Owned<T> {
        Owned::from_arc(Arc::new(value))
    }
}

impl<T: ?Sized> Owned<T> {
    /// Owns an already shared value for this process.
    pub(crate) fn from_arc(value: Arc<T>) -> Owned<T> {
        Owned {
            value,
            generation: generation(),
        }
    }

    /// Another handle on the value (for tasks and futures).
    pub(crate) fn arc(&self) -> Arc<T> {
        Arc::clone(&self.value)
    }

    /// True in a process forked from the one that made the value.
    pub(crate) fn inherited(&self) -> bool {
        self.generation != generation()
    }
}

impl<T: ?Sized> Deref for Owned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> Drop for Owned<T> {
    fn drop(&mut self) {
        if self.inherited() {
            // One reference that is never given back: the value outlives this child.
            std::mem::forget(Arc::clone(&self.value));
        }
    }
}

/// A handle on this process's runtime, building it on first use (or first use after fork).
pub(crate) fn handle() -> PyResult<Handle> {
    let me = generation();
    let cached = HANDLE.with(|c| match &*c.borrow() {
        Some((generation, h)) if *generation == me => Some(h.clone()),
        _ => None,
    });
    if let Some(h) = cached {
        return Ok(h);
    }
    let h = shared_handle()?;
    HANDLE.with(|c| *c.borrow_mut() = Some((me, h.clone())));
    Ok(h)
}

/// [`handle`] through the process-wide slot.
fn shared_handle() -> PyResult<Handle> {
    let mut slot = SLOT
        .lock()
        .map_err(|_| PyRuntimeError::new_err("rpcx runtime lock poisoned"))?;
    let me = generation();
    if let Some(s) = slot.as_ref() {
        if s.generation == me {
            return Ok(s.runtime.handle().clone());
        }
    }
    if let Some(inherited) = slot.take() {
        // Built by the parent before fork(): its worker threads do not exist in this process,
        // so dropping it would block forever waiting for them. Leak it.
        std::mem::forget(inherited.runtime);
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("rpcx-py-worker");
    let n = WORKERS.load(Ordering::Relaxed);
    if n > 0 {
        builder.worker_threads(n);
    }
    let runtime = Arc::new(
        builder
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start the rpcx runtime: {e}")))?,
    );
    let h = runtime.handle().clone();
    *slot = Some(Slot {
        generation: me,
        runtime,
    });
    Ok(h)
}

/// Sets the worker-thread count of the runtime; only before it starts.
pub(crate) fn set_worker_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "worker threads must be at least 1",
        ));
    }
    let slot = SLOT
        .lock()
        .map_err(|_| PyRuntimeError::new_err("rpcx runtime lock poisoned"))?;
    if slot.as_ref().is_some_and(|s| s.generation == generation()) {
        return Err(PyRuntimeError::new_err(
            "the rpcx runtime is already running; set worker threads before the first client or server",
        ));
    }
    WORKERS.store(n, Ordering::Relaxed);
    Ok(())
}

thread_local! {
    /// Whether this thread is Python's main thread, by fork generation (the thread that
    /// forks is the child's main thread).
    static MAIN_THREAD: std::cell::Cell<Option<(u32, bool)>> = const { std::cell::Cell::new(None) };
}

/// True on Python's main thread: the only one where signal handlers run.
fn on_main_thread(py: Python<'_>) -> bool {
    let me = generation();
    if let Some((generation, main)) = MAIN_THREAD.with(|c| c.get()) {
        if generation == me {
            return main;
        }
    }
    let main = py
        .import("threading")
        .and_then(|t| {
            Ok(t.call_method0("main_thread")?
                .is(&t.call_method0("current_thread")?))
        })
        .unwrap_or(true);
    MAIN_THREAD.with(|c| c.set(Some((me, main))));
    main
}

/// Runs `fut` to completion on the runtime with the GIL released. On the main thread it
/// wakes every few milliseconds to let Python run signal handlers: a `KeyboardInterrupt` (or
/// any exception a handler raises) drops the future, which cancels the work, and is returned.
/// Other threads never run signal handlers, so they wait without a timer.
///
/// Must be called from a Python thread (never a runtime thread, where it would panic).
pub(crate) fn wait<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let handle = handle()?;
    if !on_main_thread(py) {
        return Ok(py.detach(|| handle.block_on(fut)));
    }
    let mut fut = std::pin::pin!(fut);
    loop {
        let tick = py.detach(|| {
            handle.block_on(async { tokio::time::timeout(SIGNAL_TICK, fut.as_mut()).await })
        });
        match tick {
            Ok(out) => return Ok(out),
            Err(_) => py.check_signals()?,
        }
    }
}

/// [`wait`] with an overall time limit: `Ok(None)` when `limit` passed first.
pub(crate) fn wait_for<F>(
    py: Python<'_>,
    fut: F,
    limit: Option<Duration>,
) -> PyResult<Option<F::Output>>
where
    F: Future + Send,
    F::Output: Send,
{
    match limit {
        None => wait(py, fut).map(Some),
        Some(d) => wait(py, async move { tokio::time::timeout(d, fut).await.ok() }),
    }
}
