//! The rpcx runtime as the C API starts it. Every export that may start the runtime goes
//! through [`handle`] (or [`block_on`]), which starts it under one gate; setting the worker
//! threads takes the same gate, so it either happens before the start and takes effect, or
//! is refused with `RPCX_ERR_INVALID_STATE` — never accepted and then ignored.
//!
//! `rpcx_core::runtime::handle` / `block_on` and the core functions that call them
//! (`blocking::serve`, `blocking::Client`) must not be called directly from this crate: they
//! would start the runtime behind the gate's back.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::runtime::Handle;

use crate::error::Failure;
use crate::guard::on_runtime_thread;
use crate::status::rpcx_status;

/// Held while the runtime is being started and while the worker threads are set.
static GATE: Mutex<()> = Mutex::new(());
/// Set (under the gate) once the runtime is running; never cleared.
static STARTED: AtomicBool = AtomicBool::new(false);

/// A handle on the shared runtime, starting it (under the gate) on first use.
pub(crate) fn handle() -> Result<Handle, Failure> {
    if STARTED.load(Ordering::Acquire) {
        return Ok(rpcx_core::runtime::handle()?);
    }
    let _gate = GATE.lock().unwrap_or_else(|p| p.into_inner());
    // Logging (stderr by default) before anything can emit an event.
    crate::log::init();
    let h = rpcx_core::runtime::handle()?;
    STARTED.store(true, Ordering::Release);
    Ok(h)
}

/// Runs `fut` to completion on the runtime from a thread outside it; refused with
/// `RPCX_ERR_BLOCKING_IN_RUNTIME` on a runtime thread, where it could deadlock.
pub(crate) fn block_on<F: Future>(fut: F) -> Result<F::Output, Failure> {
    if on_runtime_thread() {
        return Err(rpcx_core::Error::BlockingInRuntime.into());
    }
    Ok(handle()?.block_on(fut))
}

/// Sets the worker threads the runtime will start with; `RPCX_ERR_INVALID_STATE` once it
/// started (or while another thread is starting it: the start completes first).
pub(crate) fn set_worker_threads(n: usize) -> Result<(), Failure> {
    let _gate = GATE.lock().unwrap_or_else(|p| p.into_inner());
    let started = || {
        Failure::new(
            rpcx_status::RPCX_ERR_INVALID_STATE,
            "rpcx: the runtime is already running; set its worker threads before the first \
             server start, client connect or XClient",
        )
    };
    if STARTED.load(Ordering::Acquire) {
        return Err(started());
    }
    rpcx_core::runtime::set_worker_threads(n).map_err(|e| match e {
        // Refused for n == 0 (checked by the caller), a runtime already running (started
        // without the gate: not by this crate) or a poisoned lock.
        rpcx_core::Error::Config(_) => started(),
        other => other.into(),
    })
}
