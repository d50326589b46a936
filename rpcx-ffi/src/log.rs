//! Logs of librpcx: the core's `tracing` events, forwarded to a C callback or, by default,
//! written to stderr (warnings and errors, one line each).
//!
//! librpcx installs its own global `tracing` subscriber (an `rpcx::logs::Forwarder`) the first
//! time the runtime starts or a log function is called. librpcx carries its own copy of
//! `tracing`, so a host application's Rust code (with its own copy) never competes for that
//! global; only if something inside this same library image installed a global subscriber
//! first does the installation fail, and then the log functions return
//! `RPCX_ERR_INVALID_STATE`.

use std::cell::Cell;
use std::ffi::CString;
use std::io::Write as _;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use rpcx_core::logs::{self, Forwarder, LogLevel, LogRecord};

use crate::error::Failure;
use crate::guard::{invalid_arg, run, UserData};
use crate::status::rpcx_status;

/// A log level: `RPCX_LOG_OFF` (0) … `RPCX_LOG_TRACE` (5). A plain `int`; values outside
/// 0–5 are refused with `RPCX_ERR_INVALID_ARG`.
pub type rpcx_log_level = c_int;

/// Log nothing.
pub const RPCX_LOG_OFF: rpcx_log_level = 0;
/// Errors: a handler panicked.
pub const RPCX_LOG_ERROR: rpcx_log_level = 1;
/// Warnings: refused connections, malformed frames, limit hits, authentication failures,
/// registry and discovery outages, client connections lost with an error. The default.
pub const RPCX_LOG_WARN: rpcx_log_level = 2;
/// Recoveries: a registry, discovery or XClient server that works again.
pub const RPCX_LOG_INFO: rpcx_log_level = 3;
/// Connection life cycle (accepted, closed with the reason), backpressure, client connect
/// failures. Never one line per successful call.
pub const RPCX_LOG_DEBUG: rpcx_log_level = 4;
/// Everything, including the trace events of rpcx's dependencies.
pub const RPCX_LOG_TRACE: rpcx_log_level = 5;

/// Receives one log event.
///
/// `level` is `RPCX_LOG_ERROR` … `RPCX_LOG_TRACE`; `target` is where the event comes from
/// (a module path such as `"rpcx::server::conn"`); `message` is the text (starting with
/// `"rpcx: "` for rpcx's own events) followed by the event's fields as ` key=value` (values
/// with blanks or quotes in double quotes), e.g. `"rpcx: malformed frame
/// peer=tcp@127.0.0.1:50123 error=\"wrong magic number: 153\" action=\"closing the
/// connection\""`. Both strings are NUL-terminated UTF-8, borrowed for the duration of the
/// call only: copy what you keep.
///
/// Called on whichever thread emits the event: an rpcx runtime worker thread for most events
/// (connections, handlers, registries), or the caller's own thread for events a function
/// emits before it returns (`rpcx_client_connect` failing, for one). Calls may happen on
/// several threads at once: the callback must be thread-safe. It must not block for long
/// (the thread it runs on serves connections); it may call rpcx functions, except blocking
/// ones on a runtime thread (as everywhere) and `rpcx_set_log_callback`, which is refused
/// there with `RPCX_ERR_INVALID_STATE`; events that rpcx emits while the callback runs, on
/// the same thread, are dropped rather than delivered recursively. The callback must return
/// normally and must not unwind: no C++ exception, `longjmp` or Rust panic may leave it
/// (unwinding out of an `extern "C"` function aborts the process or is undefined behaviour;
/// `bindings/cpp/rpcx.hpp` catches its handler's exceptions).
pub type rpcx_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: rpcx_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

type LogFn = unsafe extern "C" fn(*mut c_void, rpcx_log_level, *const c_char, *const c_char);

struct Callback {
    f: LogFn,
    user_data: UserData,
}

/// The callback in force (`None`: stderr). Holders of a clone are running it.
static SLOT: Mutex<Option<Arc<Callback>>> = Mutex::new(None);
/// Signalled whenever a thread stops running a callback.
static FINISHED: Condvar = Condvar::new();

thread_local! {
    /// True while this thread runs the C callback.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn slot() -> MutexGuard<'static, Option<Arc<Callback>>> {
    SLOT.lock().unwrap_or_else(|p| p.into_inner())
}

/// The forwarder librpcx installed as the global subscriber, or `None` when another global
/// subscriber was installed first in this library image.
fn forwarder() -> Option<&'static Forwarder> {
    static FORWARDER: OnceLock<Option<Forwarder>> = OnceLock::new();
    FORWARDER
        .get_or_init(|| {
            let fwd = Forwarder::new(default_level(), deliver);
            fwd.install_global().then_some(fwd)
        })
        .as_ref()
}

/// `RPCX_LOG` when set to a level name, else warn.
fn default_level() -> LogLevel {
    logs::env_level().unwrap_or(LogLevel::Warn)
}

/// Installs the subscriber (idempotent); the runtime calls it when it starts.
pub(crate) fn init() {
    let _ = forwarder();
}

fn c_level(level: LogLevel) -> rpcx_log_level {
    level as rpcx_log_level
}

fn parse_level(level: rpcx_log_level) -> Result<LogLevel, Failure> {
    u8::try_from(level)
        .ok()
        .and_then(LogLevel::from_u8)
        .ok_or_else(|| {
            invalid_arg(format!(
                "rpcx: log level {level} is not one of RPCX_LOG_OFF (0) … RPCX_LOG_TRACE (5)"
            ))
        })
}

fn installed() -> Result<&'static Forwarder, Failure> {
    forwarder().ok_or_else(|| {
        Failure::new(
            rpcx_status::RPCX_ERR_INVALID_STATE,
            "rpcx: another global tracing subscriber was installed in this library first; \
             rpcx's events go to it",
        )
    })
}

/// The sink of the forwarder: the C callback, or one line on stderr.
fn deliver(record: &LogRecord<'_>) {
    let cb = slot().clone();
    let Some(cb) = cb else {
        let mut line = logs::stderr_line(record);
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return;
    };
    // Text from the network may hold NULs: cut there rather than drop the event.
    let text = |s: &str| CString::new(s.split('\0').next().unwrap_or("")).unwrap_or_default();
    let (target, message) = (text(record.target), text(record.message));
    IN_CALLBACK.with(|f| f.set(true));
    // No catch_unwind: nothing can unwind out of an `extern "C"` call (a panic there aborts),
    // and the callback must not unwind (see `rpcx_log_fn`).
    // SAFETY: the C caller registered `f` with `user_data` for calls on any thread; both
    // strings outlive the call.
    unsafe {
        (cb.f)(
            cb.user_data.0,
            c_level(record.level),
            target.as_ptr(),
            message.as_ptr(),
        )
    };
    IN_CALLBACK.with(|f| f.set(false));
    // Dropped under the lock, so a setter waiting for the old callback cannot miss it.
    let guard = slot();
    drop(cb);
    drop(guard);
    FINISHED.notify_all();
}

/// Sends rpcx's log events at `min_level` and above to `cb` (see `rpcx_log_fn`), with
/// `user_data` passed through unchanged; `RPCX_LOG_OFF` turns logging off. A NULL `cb` goes
/// back to the default destination — one line per event on stderr,
/// `<UTC time> <LEVEL> <target>: <message>` — at `min_level`.
///
/// Without any call, librpcx logs warnings and errors to stderr (as Go's rpcx logs to stderr
/// by default); the environment variable `RPCX_LOG` (`off`, `error`, `warn`, `info`, `debug`
/// or `trace`), read once when librpcx first logs, sets that default level instead.
///
/// When this returns `RPCX_OK`, the previous callback is no longer running on any thread and
/// will not be called again: its `user_data` may be freed. (This waits for calls of the
/// previous callback in progress on other threads to return.) rpcx never frees `user_data`.
///
/// Errors: `RPCX_ERR_INVALID_ARG` when `min_level` is not 0–5; `RPCX_ERR_INVALID_STATE` when
/// called from inside a log callback (it would wait for itself) or when librpcx could not
/// install its log subscriber (see the crate documentation). Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_set_log_callback(
    cb: rpcx_log_fn,
    user_data: *mut c_void,
    min_level: rpcx_log_level,
) -> rpcx_status {
    let user_data = UserData(user_data);
    run(None, move || {
        let level = parse_level(min_level)?;
        if IN_CALLBACK.with(Cell::get) {
            return Err(Failure::new(
                rpcx_status::RPCX_ERR_INVALID_STATE,
                "rpcx: rpcx_set_log_callback cannot be called from inside a log callback",
            ));
        }
        let fwd = installed()?;
        fwd.set_level(level);
        let new = cb.map(|f| Arc::new(Callback { f, user_data }));
        let mut guard = slot();
        let old = std::mem::replace(&mut *guard, new);
        if let Some(old) = old {
            // Wait until no other thread still runs the previous callback.
            let guard = FINISHED
                .wait_while(guard, |_| Arc::strong_count(&old) > 1)
                .unwrap_or_else(|p| p.into_inner());
            drop(guard);
        }
        Ok(())
    })
}

/// Sets the level below which events are dropped (for the callback or the stderr default
/// alike): `RPCX_LOG_OFF` … `RPCX_LOG_TRACE`. Cheap, takes effect at once on every thread,
/// and may be called from inside a log callback. `RPCX_ERR_INVALID_ARG` when `level` is not
/// 0–5, `RPCX_ERR_INVALID_STATE` when librpcx could not install its log subscriber.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_set_log_level(level: rpcx_log_level) -> rpcx_status {
    run(None, || {
        let level = parse_level(level)?;
        installed()?.set_level(level);
        Ok(())
    })
}

/// The level in force (`RPCX_LOG_OFF` … `RPCX_LOG_TRACE`): the default (`RPCX_LOG_WARN`, or
/// `RPCX_LOG`'s) until `rpcx_set_log_level` or `rpcx_set_log_callback` changes it;
/// `RPCX_LOG_OFF` when librpcx could not install its log subscriber. Never fails;
/// thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_get_log_level() -> rpcx_log_level {
    crate::guard::run_or(RPCX_LOG_OFF, || {
        forwarder().map_or(RPCX_LOG_OFF, |f| c_level(f.level()))
    })
}
