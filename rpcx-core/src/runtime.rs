//! The one shared tokio runtime behind every blocking API (the blocking client, the C ABI,
//! the Python module). Started lazily on first use; its worker-thread count can be set before.

use std::cell::Cell;
use std::future::Future;
use std::sync::Mutex;

use once_cell::sync::OnceCell;
use tokio::runtime::{Handle, Runtime};

use crate::Error;

static RUNTIME: OnceCell<Runtime> = OnceCell::new();
static WORKERS: Mutex<Option<usize>> = Mutex::new(None);

/// Sets the shared runtime's worker threads (default: the number of CPUs). Fails once the
/// runtime has started.
pub fn set_worker_threads(n: usize) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::Config("worker threads must be at least 1".into()));
    }
    if RUNTIME.get().is_some() {
        return Err(Error::Config(
            "the shared runtime is already running; set worker threads before first use".into(),
        ));
    }
    *WORKERS
        .lock()
        .map_err(|_| Error::Config("poisoned".into()))? = Some(n);
    Ok(())
}

/// A handle on the shared runtime, starting it on first use.
pub fn handle() -> Result<Handle, Error> {
    RUNTIME
        .get_or_try_init(|| {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.enable_all().thread_name("rpcx-worker");
            if let Some(n) = WORKERS.lock().ok().and_then(|w| *w) {
                b.worker_threads(n);
            }
            b.build()
        })
        .map(|rt| rt.handle().clone())
        .map_err(Error::Io)
}

thread_local! {
    /// Set while a sync handler ([`crate::server::sync_fn`]) runs on this thread.
    static IN_SYNC_HANDLER: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`IN_SYNC_HANDLER`] again when the handler returns or unwinds.
struct SyncHandlerScope {
    was: bool,
}

impl Drop for SyncHandlerScope {
    fn drop(&mut self) {
        IN_SYNC_HANDLER.with(|c| c.set(self.was));
    }
}

/// Runs a sync handler's function `f` (on a blocking-pool thread, never a worker) with
/// blocking calls allowed: [`block_on`] lets it wait on the shared runtime, whose own threads
/// drive the call, so neither the waiting thread nor the server's workers are tied up.
pub(crate) fn in_sync_handler<R>(f: impl FnOnce() -> R) -> R {
    let was = IN_SYNC_HANDLER.with(|c| c.replace(true));
    let _scope = SyncHandlerScope { was };
    f()
}

/// Whether this thread may block on the shared runtime: outside any runtime, or inside a
/// sync handler (a blocking-pool thread, where tokio permits `Handle::block_on`).
pub(crate) fn may_block() -> bool {
    Handle::try_current().is_err() || IN_SYNC_HANDLER.with(Cell::get)
}

/// Runs `fut` to completion on the shared runtime from a thread outside any runtime, or from
/// a sync service method (`fn` in [`#[rpcx::service]`](crate::service), a sync function given
/// to `register_fn`), which runs on the blocking thread pool. Refused with
/// [`Error::BlockingInRuntime`] on another runtime thread, where it could deadlock.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, Error> {
    if !may_block() {
        return Err(Error::BlockingInRuntime);
    }
    Ok(handle()?.block_on(fut))
}
