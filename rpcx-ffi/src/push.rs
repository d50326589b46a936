//! Server pushes in C: a handler keeps its caller's connection (`rpcx_connection`) and
//! pushes to it, during the call or later; clients and XClients receive pushes through a
//! callback set on their options.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rpcx_core::protocol::Message;
use rpcx_core::server::ConnHandle;
use rpcx_core::xclient::ServerPush;
use rpcx_core::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{rpcx_error, Failure};
use crate::guard::Finalizer;
use crate::guard::{
    bytes, cstr, invalid_arg, null_arg, on_runtime_thread, req, req_mut, run, run_or,
};
use crate::handler::{c_string, rpcx_request};
use crate::metadata::rpcx_metadata;
use crate::options::rpcx_client_options;
use crate::rpcx_finalizer;
use crate::status::rpcx_status;
use crate::xclient::rpcx_xclient_options;

/// A handle on one client connection of a server, for pushes: obtained from a request with
/// `rpcx_request_connection`, owned by the caller, released with `rpcx_connection_free`. It
/// stays valid (as an object) after the call returned and after the connection closed —
/// pushes then fail with `RPCX_ERR_CLOSED`. Each handle is a reference on the connection's
/// shared state (not on the socket: a closed connection is not kept open by its handles).
///
/// Thread-safe: any thread may use a handle, concurrently, except `rpcx_connection_free`,
/// which must be its last use.
pub struct rpcx_connection {
    conn: ConnHandle,
    peer: CString,
}

impl rpcx_connection {
    fn new(conn: ConnHandle) -> rpcx_connection {
        let peer = c_string(conn.peer());
        rpcx_connection { conn, peer }
    }
}

/// A new handle on the connection `request` came on, owned by the caller: free it with
/// `rpcx_connection_free` (any thread, any time). Callable during the handler callback
/// (the request is only valid then); the handle itself outlives the call. NULL when
/// `request` is NULL (or rpcx failed internally).
#[no_mangle]
pub extern "C" fn rpcx_request_connection(request: Option<&rpcx_request>) -> *mut rpcx_connection {
    run_or(std::ptr::null_mut(), || {
        request.map_or(std::ptr::null_mut(), |r| {
            Box::into_raw(Box::new(rpcx_connection::new(
                r.context().connection().clone(),
            )))
        })
    })
}

/// Another handle on the same connection, owned by the caller (free each handle once).
/// NULL when `conn` is NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_connection_clone(conn: Option<&rpcx_connection>) -> *mut rpcx_connection {
    run_or(std::ptr::null_mut(), || {
        conn.map_or(std::ptr::null_mut(), |c| {
            Box::into_raw(Box::new(rpcx_connection::new(c.conn.clone())))
        })
    })
}

/// Releases a handle. NULL is accepted and ignored. Must be the last use of `conn`.
#[no_mangle]
pub extern "C" fn rpcx_connection_free(conn: Option<Box<rpcx_connection>>) {
    run_or((), || drop(conn))
}

/// 1 while the connection is open, 0 once it closed (the client went away, was refused, or
/// the server closed) — and for a NULL `conn`. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_connection_is_open(conn: Option<&rpcx_connection>) -> c_int {
    run_or(0, || conn.map_or(0, |c| c_int::from(c.conn.is_open())))
}

/// The client's address (`"tcp@127.0.0.1:50123"`), NUL-terminated, borrowed from `conn`
/// (valid until it is freed). NULL when `conn` is NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_connection_peer(conn: Option<&rpcx_connection>) -> *const c_char {
    run_or(std::ptr::null(), || {
        conn.map_or(std::ptr::null(), |c| c.peer.as_ptr())
    })
}

/// Pushes a message to the client of `conn`: a oneway request `service.method` with
/// `payload[0..payload_len)` (copied; NULL allowed when the length is 0, sent as is with
/// serialize type raw) and metadata `meta` (copied; NULL for none). `service` and `method`
/// are NUL-terminated UTF-8 and must not both be empty (that frame would be a heartbeat).
/// Go clients receive it on their server-message channel, rpcx clients through their push
/// callback (`rpcx_client_options_set_push_callback`).
///
/// The push is charged to the connection's byte budget (see
/// `rpcx_server_options_set_max_pending_bytes_per_conn`) until written, so a client that
/// does not read cannot make the server hold unbounded memory. `timeout_ms` says how long to
/// wait for room: 0 does not wait — it queues the push at once or fails with
/// `RPCX_ERR_TIMEOUT` (nothing sent) when the budget is spent; any other value blocks the
/// calling thread up to that long, and is refused with `RPCX_ERR_BLOCKING_IN_RUNTIME` on
/// rpcx runtime threads (inside handlers and callbacks: use 0 there). Pushes queued from
/// one thread are written in the order queued.
///
/// Errors: `RPCX_ERR_CLOSED` once the connection has closed, `RPCX_ERR_TIMEOUT` (no room in
/// time; nothing sent), `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for a NULL `conn`,
/// `service` or `method`, a non-UTF-8 name or two empty names. `err_out` may be NULL;
/// otherwise on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
/// Thread-safe.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_connection_push(
    conn: Option<&rpcx_connection>,
    service: *const c_char,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let conn = &req(conn, "conn")?.conn;
        // SAFETY: the caller passes NUL-terminated strings and `payload_len` readable bytes.
        let (service, method, data) = unsafe {
            (
                cstr(service, "service")?,
                cstr(method, "method")?,
                bytes(payload, payload_len, "payload")?,
            )
        };
        if service.is_empty() && method.is_empty() {
            return Err(invalid_arg(
                "rpcx: a push needs a service or method name (both empty is a heartbeat)",
            ));
        }
        let metadata = meta.map(rpcx_metadata::to_core).unwrap_or_default();
        let payload = Bytes::copy_from_slice(data);
        let result = if timeout_ms == 0 {
            conn.try_push(service, method, metadata, payload)
        } else {
            if on_runtime_thread() {
                return Err(Error::BlockingInRuntime.into());
            }
            let wait = Duration::from_millis(timeout_ms);
            let push = conn.push(service, method, metadata, payload);
            crate::runtime::block_on(async move {
                tokio::time::timeout(wait, push)
                    .await
                    .unwrap_or(Err(Error::Timeout(wait)))
            })?
        };
        result.map_err(|e| match e {
            Error::Timeout(_) => Failure::new(
                rpcx_status::RPCX_ERR_TIMEOUT,
                format!(
                    "rpcx: no room for the push within {timeout_ms} ms (the connection's or the \
                     server's byte budget is spent: the client does not read fast enough); \
                     nothing was sent"
                ),
            ),
            other => other.into(),
        })
    })
}

/// Receives the server pushes of a client or an XClient (set with
/// `rpcx_client_options_set_push_callback` / `rpcx_xclient_options_set_push_callback`).
///
/// `server` is the server's address (`"tcp@127.0.0.1:8972"`: for a client, the address it
/// connected to; for an XClient, the server's key in its discovery); `service`, `method`
/// (NUL-terminated), `metadata` and `payload[0..payload_len)` (NULL when empty; raw bytes as
/// the server sent them) are the pushed message. Everything is borrowed for the duration of
/// the callback only: copy what you keep.
///
/// Runs on an rpcx runtime worker thread, one push at a time per client (or XClient), in
/// the order received; pushes of different clients may run concurrently on different
/// threads. It must not block for long: while it runs, that client's later pushes wait in
/// its buffer (1024 pushes; more are dropped). Blocking rpcx functions return
/// `RPCX_ERR_BLOCKING_IN_RUNTIME` there. After `rpcx_client_close` / `rpcx_client_free` (or
/// the XClient's) returns, no push callback of that client is running or will start —
/// except when they are called from inside its push callback.
pub type rpcx_push_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        server: *const c_char,
        service: *const c_char,
        method: *const c_char,
        metadata: *const rpcx_metadata,
        payload: *const u8,
        payload_len: usize,
    ),
>;

type PushFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    *const rpcx_metadata,
    *const u8,
    usize,
);

/// A registered push callback; its finalizer runs once the options and every client made
/// from them have released it.
pub(crate) struct PushCallback {
    callback: PushFn,
    userdata: Finalizer,
}

impl std::fmt::Debug for PushCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushCallback")
    }
}

impl PushCallback {
    fn call(&self, server: &str, msg: &Message) {
        let (server, service, method) = (
            c_string(server),
            c_string(&msg.service_path),
            c_string(&msg.service_method),
        );
        let metadata = rpcx_metadata::from_core(&msg.metadata);
        let payload = if msg.payload.is_empty() {
            std::ptr::null()
        } else {
            msg.payload.as_ptr()
        };
        let ud = self.userdata.userdata.0;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the C caller registered `callback` with `userdata` for calls on runtime
            // threads; every pointer passed outlives the call.
            unsafe {
                (self.callback)(
                    ud,
                    server.as_ptr(),
                    service.as_ptr(),
                    method.as_ptr(),
                    &metadata,
                    payload,
                    msg.payload.len(),
                )
            }
        }));
    }
}

/// Sets `slot` (a push callback of some options) to `callback`, dropping the one it held
/// (whose finalizer runs once nothing else holds it).
fn set_push(
    slot: Option<&mut Option<Arc<PushCallback>>>,
    callback: rpcx_push_callback,
    userdata: Finalizer,
) -> Result<(), Failure> {
    let slot = req_mut(slot, "opts")?;
    let callback = callback.ok_or_else(|| null_arg("callback"))?;
    let old = slot.replace(Arc::new(PushCallback { callback, userdata }));
    drop(old);
    Ok(())
}

/// Makes `callback` receive the server pushes of every client connected with these options
/// (see `rpcx_push_callback` for its arguments and threads), replacing any callback set
/// before. Without one, pushes are dropped.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of `callback` — once these options
/// (or their replacement callback) and every client connected with them are freed; or
/// before this function returns if it fails (`RPCX_ERR_NULL_ARG` for a NULL `opts` or
/// `callback`). It may run on any thread (a runtime thread when a client is freed from one).
/// Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_push_callback(
    opts: Option<&mut rpcx_client_options>,
    callback: rpcx_push_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        set_push(opts.map(|o| &mut o.push), callback, fin)
    })
}

/// `rpcx_client_options_set_push_callback` for XClients: `callback` receives the pushes of
/// every server connection of each XClient created with these options (`server` tells
/// which), one at a time per XClient. Ownership of `userdata` and the finalizer as there
/// (the XClients made with these options hold the callback until they are freed).
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_push_callback(
    opts: Option<&mut rpcx_xclient_options>,
    callback: rpcx_push_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        set_push(opts.map(|o| &mut o.push), callback, fin)
    })
}

/// How long closing a client waits for its push callback to return.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// A push as a receiver yields it: a client's message, or an XClient's with its server.
pub(crate) trait PushItem: Send + 'static {
    /// The server it came from (`None`: the client's own) and the message.
    fn parts(&self) -> (Option<&str>, &Message);
}

impl PushItem for Message {
    fn parts(&self) -> (Option<&str>, &Message) {
        (None, self)
    }
}

impl PushItem for ServerPush {
    fn parts(&self) -> (Option<&str>, &Message) {
        (Some(&self.server), &self.message)
    }
}

/// The task delivering one client's pushes to its callback.
pub(crate) struct PushPump {
    stop: CancellationToken,
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl PushPump {
    /// Starts delivering what `rx` yields to `callback`, on the rpcx runtime; pushes that
    /// do not name their server come from `server`.
    pub(crate) fn start<T: PushItem>(
        mut rx: mpsc::Receiver<T>,
        callback: Arc<PushCallback>,
        server: String,
    ) -> Result<PushPump, Failure> {
        let stop = CancellationToken::new();
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let (task_stop, task_done) = (stop.clone(), Arc::clone(&done));
        crate::runtime::handle()?.spawn(async move {
            loop {
                let next = tokio::select! {
                    biased;
                    _ = task_stop.cancelled() => None,
                    m = rx.recv() => m,
                };
                let Some(item) = next else { break };
                let (from, msg) = item.parts();
                callback.call(from.unwrap_or(&server), msg);
            }
            // The callback's reference first (its finalizer may run here), then the news.
            drop(callback);
            let (lock, cv) = &*task_done;
            *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
            cv.notify_all();
        });
        Ok(PushPump { stop, done })
    }

    /// Stops delivering; outside runtime threads, waits (at most `STOP_WAIT`) until the
    /// callback is no longer running.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
        if on_runtime_thread() {
            return;
        }
        let (lock, cv) = &*self.done;
        let mut done = lock.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = std::time::Instant::now() + STOP_WAIT;
        while !*done {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            done = cv
                .wait_timeout(done, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}
