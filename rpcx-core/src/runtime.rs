//! The one shared tokio runtime behind every blocking API (the blocking client, the C ABI,
//! the Python module). Started lazily on first use; its worker-thread count can be set before.

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

/// Runs `fut` to completion on the shared runtime from a thread outside any runtime. Refused
/// with [`Error::BlockingInRuntime`] on a runtime thread, where it could deadlock.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, Error> {
    if Handle::try_current().is_ok() {
        return Err(Error::BlockingInRuntime);
    }
    Ok(handle()?.block_on(fut))
}
