//! Pending async calls of one client: ids, cancellation, and completion of every callback
//! exactly once — by the call's task, by a cancel, or by close; and the reply of a blocking
//! call written to its out-parameters. Shared by every client kind (the single-connection
//! client and the XClient).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rpcx_core::client::RawResponse;
use tokio::task::AbortHandle;

use crate::buf::rpcx_buf;
use crate::error::{rpcx_error, Failure};
use crate::guard::{null_arg, req, run, UserData};
use crate::metadata::rpcx_metadata;
use crate::push::PushPump;
use crate::status::rpcx_status;

/// Receives the outcome of an async call, exactly once.
///
/// On success `status` is `RPCX_OK`, `reply[0..reply_len)` is the reply payload (NULL when
/// empty), `reply_meta` the response metadata and `error` NULL. On failure `reply` is NULL,
/// `reply_len` 0, `reply_meta` NULL and `error` describes it (for `RPCX_ERR_SERVER`: the
/// server's text, reply payload and metadata). Everything is borrowed for the duration of the
/// callback only: copy what you keep (`rpcx_metadata_clone`…); free nothing.
///
/// Runs on an rpcx runtime worker thread — except when the call is completed by
/// `rpcx_client_cancel` / `rpcx_xclient_cancel` (`RPCX_ERR_CANCELLED`) or by
/// `rpcx_client_close` / `_free` / `rpcx_xclient_close` / `_free` (`RPCX_ERR_CLOSED`): then it
/// runs synchronously on the thread calling those, before they return (so it may run on a
/// thread of yours, holding whatever locks you hold around that call).
/// Callbacks of different calls may run at the same time on different threads. It must not
/// block for long; blocking rpcx functions return `RPCX_ERR_BLOCKING_IN_RUNTIME` there.
pub type rpcx_call_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        call_id: u64,
        status: rpcx_status,
        reply: *const u8,
        reply_len: usize,
        reply_meta: *const rpcx_metadata,
        error: *const rpcx_error,
    ),
>;

type CallbackFn = unsafe extern "C" fn(
    *mut c_void,
    u64,
    rpcx_status,
    *const u8,
    usize,
    *const rpcx_metadata,
    *const rpcx_error,
);

struct Pending {
    callback: CallbackFn,
    userdata: UserData,
    task: Option<AbortHandle>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// Callbacks being run right now (by any thread).
    running: usize,
    closed: bool,
}

/// The async calls of one client.
#[derive(Default)]
pub(crate) struct AsyncCalls {
    state: Mutex<State>,
    idle: Condvar,
}

thread_local! {
    /// The registries whose callbacks this thread is running (innermost last).
    static IN_CALLBACK: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl AsyncCalls {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self) -> usize {
        self as *const AsyncCalls as usize
    }

    /// Starts an async call: registers `callback` (`RPCX_ERR_NULL_ARG` when NULL,
    /// `RPCX_ERR_CLOSED` once the client is closed), writes the call's id to `call_id_out`
    /// and spawns `task(id)` on the runtime, which must end with [`AsyncCalls::finish`].
    pub(crate) fn start<F>(
        &self,
        callback: rpcx_call_callback,
        userdata: *mut c_void,
        call_id_out: Option<&mut u64>,
        task: impl FnOnce(u64) -> F,
    ) -> Result<(), Failure>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let callback = callback.ok_or_else(|| null_arg("callback"))?;
        let rt = crate::runtime::handle()?;
        let id = self.register(callback, userdata)?;
        if let Some(out) = call_id_out {
            *out = id;
        }
        let task = rt.spawn(task(id));
        self.set_task(id, task.abort_handle());
        Ok(())
    }

    /// Registers a call about to start; `Err(CLOSED)` once the client is closed.
    fn register(&self, callback: CallbackFn, userdata: *mut c_void) -> Result<u64, Failure> {
        let mut st = self.lock();
        if st.closed {
            return Err(Failure::new(
                rpcx_status::RPCX_ERR_CLOSED,
                "connection is shut down",
            ));
        }
        st.next_id += 1;
        let id = st.next_id;
        st.pending.insert(
            id,
            Pending {
                callback,
                userdata: UserData(userdata),
                task: None,
            },
        );
        Ok(id)
    }

    /// Remembers the task running call `id`, so cancel and close can stop it.
    fn set_task(&self, id: u64, task: AbortHandle) {
        let mut st = self.lock();
        match st.pending.get_mut(&id) {
            Some(p) => p.task = Some(task),
            // Already completed or cancelled.
            None => task.abort(),
        }
    }

    /// Completes call `id` from its task; nothing happens if a cancel or close got there
    /// first.
    pub(crate) fn finish(&self, id: u64, result: Result<RawResponse, Failure>) {
        if let Some(p) = self.take(id) {
            self.invoke(id, p, result);
            self.done(1);
        }
    }

    /// Cancels call `id`: its callback runs now, on this thread, with `RPCX_ERR_CANCELLED`.
    pub(crate) fn cancel(&self, id: u64) -> Result<(), Failure> {
        let Some(mut p) = self.take(id) else {
            return Err(Failure::new(
                rpcx_status::RPCX_ERR_NOT_FOUND,
                format!("rpcx: no pending async call {id}"),
            ));
        };
        if let Some(t) = p.task.take() {
            t.abort();
        }
        self.invoke(
            id,
            p,
            Err(Failure::new(
                rpcx_status::RPCX_ERR_CANCELLED,
                "rpcx: call cancelled",
            )),
        );
        self.done(1);
        Ok(())
    }

    /// Takes call `id` out of the pending ones to complete it, counting its callback as
    /// running; `None` when it is no longer pending.
    fn take(&self, id: u64) -> Option<Pending> {
        let mut st = self.lock();
        let p = st.pending.remove(&id);
        if p.is_some() {
            st.running += 1;
        }
        p
    }

    /// Refuses new calls, completes every pending one with `RPCX_ERR_CLOSED` on this thread,
    /// then waits until callbacks running on other threads have returned (unless this thread
    /// is itself inside one of this client's callbacks, where waiting could deadlock).
    pub(crate) fn close(&self) {
        let taken: Vec<(u64, Pending)> = {
            let mut st = self.lock();
            st.closed = true;
            let mut v: Vec<_> = st.pending.drain().collect();
            v.sort_by_key(|(id, _)| *id);
            st.running += v.len();
            v
        };
        let n = taken.len();
        for (id, mut p) in taken {
            if let Some(t) = p.task.take() {
                t.abort();
            }
            self.invoke(
                id,
                p,
                Err(Failure::new(
                    rpcx_status::RPCX_ERR_CLOSED,
                    "connection is shut down",
                )),
            );
        }
        self.done(n);
        let me = self.key();
        let nested = IN_CALLBACK.with(|v| v.borrow().contains(&me));
        if !nested {
            let mut st = self.lock();
            while st.running > 0 {
                st = self.idle.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    fn done(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut st = self.lock();
        st.running -= n;
        if st.running == 0 {
            self.idle.notify_all();
        }
    }

    fn invoke(&self, id: u64, p: Pending, result: Result<RawResponse, Failure>) {
        let me = self.key();
        IN_CALLBACK.with(|v| v.borrow_mut().push(me));
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let ud = p.userdata.0;
            match result {
                Ok(resp) => {
                    let meta = rpcx_metadata::from_core(&resp.metadata);
                    let (ptr, len) = if resp.payload.is_empty() {
                        (std::ptr::null(), 0)
                    } else {
                        (resp.payload.as_ptr(), resp.payload.len())
                    };
                    // SAFETY: the C caller registered `callback` with `userdata` for exactly
                    // one invocation on any thread; every pointer passed outlives the call.
                    unsafe {
                        (p.callback)(
                            ud,
                            id,
                            rpcx_status::RPCX_OK,
                            ptr,
                            len,
                            &meta,
                            std::ptr::null(),
                        )
                    }
                }
                Err(f) => {
                    let status = f.status;
                    let err = f.into_error();
                    // SAFETY: as above; `err` outlives the call.
                    unsafe {
                        (p.callback)(ud, id, status, std::ptr::null(), 0, std::ptr::null(), &err)
                    }
                }
            }
        }));
        IN_CALLBACK.with(|v| {
            v.borrow_mut().pop();
        });
    }

    /// Calls registered and not yet completed.
    pub(crate) fn pending(&self) -> usize {
        self.lock().pending.len()
    }
}

/// The parts of a client handle's shared state (`rpcx_client`, `rpcx_xclient`) that closing
/// it closes, in the order [`close`] closes them.
pub(crate) trait Closable {
    /// Its async calls.
    fn calls(&self) -> &AsyncCalls;
    /// Closes its connection(s): blocking calls in progress fail with `RPCX_ERR_CLOSED`.
    fn close_core(&self);
    /// Its push pump, if any.
    fn pushes(&self) -> Option<&PushPump>;
}

/// Closes a client: pending async calls first, so that each completes here with CLOSED
/// rather than on a runtime thread from a task that saw the connections close; then the
/// connections, then the push pump.
pub(crate) fn close(shared: &impl Closable) {
    shared.calls().close();
    shared.close_core();
    if let Some(p) = shared.pushes() {
        p.stop();
    }
}

/// `rpcx_client_close` / `rpcx_xclient_close` given the handle's shared state (`name` the
/// handle's argument, for `RPCX_ERR_NULL_ARG`).
pub(crate) fn close_handle<S: Closable>(shared: Option<&Arc<S>>, name: &str) -> rpcx_status {
    run(None, || {
        // Our own reference: a callback run by close may free the handle.
        let shared = Arc::clone(req(shared, name)?);
        close(&*shared);
        Ok(())
    })
}

/// `rpcx_client_cancel` / `rpcx_xclient_cancel` given the handle's shared state (`name` as
/// for [`close_handle`]).
pub(crate) fn cancel_call<S: Closable>(
    shared: Option<&Arc<S>>,
    name: &str,
    call_id: u64,
) -> rpcx_status {
    run(None, || {
        // Our own reference: the callback may free the handle while we still use it.
        let shared = Arc::clone(req(shared, name)?);
        shared.calls().cancel(call_id)
    })
}

/// Writes the reply of a blocking call to its out-parameters (either may be NULL to discard
/// that part).
pub(crate) fn write_reply(
    resp: RawResponse,
    reply_out: Option<&mut rpcx_buf>,
    reply_meta_out: Option<&mut *mut rpcx_metadata>,
) {
    if let Some(m) = reply_meta_out {
        *m = Box::into_raw(Box::new(rpcx_metadata::from_core(&resp.metadata)));
    }
    if let Some(r) = reply_out {
        *r = rpcx_buf::from_bytes(resp.payload);
    }
}
