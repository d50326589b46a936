//! Observability of a C server: the metrics plugin (calls, errors and a latency histogram per
//! service and method, rendered in the Prometheus text format) and a per-call observer
//! callback.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::Bytes;
use rpcx_core::server::{Context, Metrics, Plugin};

use crate::buf::rpcx_buf;
use crate::error::Failure;
use crate::guard::{null_arg, req, req_mut, run, Finalizer};
use crate::rpcx_finalizer;
use crate::server::rpcx_server;
use crate::status::rpcx_status;

/// Told about every call a server completes.
///
/// `service`, `method` and `peer` (`"tcp@127.0.0.1:50123"`) are NUL-terminated and borrowed
/// for the duration of the callback; `duration_us` is the time from reading the request to
/// the handler's reply (microseconds); `error` is NULL for a successful call, otherwise the
/// error text the caller receives (borrowed likewise).
///
/// Runs on an rpcx runtime worker thread, after the handler replied and before the reply is
/// written, for calls of any connection at once: it must be thread-safe and quick (count,
/// log to a buffer…). It must not call blocking rpcx functions.
pub type rpcx_call_observer = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        service: *const c_char,
        method: *const c_char,
        peer: *const c_char,
        duration_us: u64,
        error: *const c_char,
    ),
>;

type ObserverFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    u64,
    *const c_char,
);

/// The plugin calling a C observer; its finalizer runs when the server drops it.
struct Observer {
    callback: ObserverFn,
    userdata: Finalizer,
}

impl Plugin for Observer {
    fn name(&self) -> &str {
        "C call observer"
    }

    fn after_call(&self, ctx: &Context, result: Result<&Bytes, &str>) {
        let micros = u64::try_from(ctx.received_at().elapsed().as_micros()).unwrap_or(u64::MAX);
        // Names and peers come from the network: an interior NUL is cut rather than dropped.
        let text = |s: &str| CString::new(s.split('\0').next().unwrap_or("")).unwrap_or_default();
        let (service, method, peer) = (text(ctx.service()), text(ctx.method()), text(ctx.peer()));
        let error = result.err().map(text);
        let error_ptr = error.as_ref().map_or(std::ptr::null(), |e| e.as_ptr());
        let ud = self.userdata.userdata.0;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the C caller registered `callback` with `userdata` for calls on any
            // runtime thread; every string passed outlives the call.
            unsafe {
                (self.callback)(
                    ud,
                    service.as_ptr(),
                    method.as_ptr(),
                    peer.as_ptr(),
                    micros,
                    error_ptr,
                )
            }
        }));
    }
}

/// Collects call metrics on `server`: calls, errors and a latency histogram per service and
/// method, read with `rpcx_server_metrics_text`. Only before `rpcx_server_start`
/// (`RPCX_ERR_INVALID_STATE` after); enabling twice is harmless. `RPCX_ERR_NULL_ARG` when
/// `server` is NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_server_enable_metrics(server: Option<&rpcx_server>) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        server.check_building()?;
        // Concurrent callers: only the one that creates the collector adds the plugin.
        let mut created = false;
        let metrics = server.metrics.get_or_init(|| {
            created = true;
            Metrics::new()
        });
        if created {
            server.add_plugin(metrics.clone())?;
        }
        Ok(())
    })
}

/// Renders `server`'s metrics in the Prometheus text exposition format
/// (`rpcx_server_calls_total`, `rpcx_server_errors_total`,
/// `rpcx_server_call_duration_seconds` histogram, labelled by service and method; then, for
/// every registry added with `rpcx_server_add_*_registry`, `rpcx_registry_up` — 1 while the
/// server's keys are written on a live lease or session, 0 while the registry retries — and
/// `rpcx_registry_failures_total`, labelled `registry` (etcd, consul, redis, zookeeper) and
/// `target` (the address given)), for your HTTP `/metrics` endpoint. On `RPCX_OK` `*text_out` receives the text (not NUL-terminated;
/// `len` bytes of UTF-8), owned by the caller: free it with `rpcx_buf_free`.
/// `RPCX_ERR_INVALID_STATE` when `rpcx_server_enable_metrics` was not called,
/// `RPCX_ERR_NULL_ARG` when an argument is NULL. Callable from any thread, at any time until
/// the server is freed.
#[no_mangle]
pub extern "C" fn rpcx_server_metrics_text(
    server: Option<&rpcx_server>,
    text_out: Option<&mut rpcx_buf>,
) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        let out = req_mut(text_out, "text_out")?;
        let metrics = server.metrics.get().ok_or_else(|| {
            Failure::new(
                rpcx_status::RPCX_ERR_INVALID_STATE,
                "rpcx: metrics are not enabled on this server (rpcx_server_enable_metrics)",
            )
        })?;
        let mut text = metrics.prometheus_text();
        text.push_str(&rpcx_core::registry::prometheus_text(
            &server.registry_statuses(),
        ));
        *out = rpcx_buf::from_bytes(Bytes::from(text));
        Ok(())
    })
}

/// Calls `observer` after every call `server` completes (see `rpcx_call_observer`), e.g. to
/// feed your own metrics or access log. Several observers may be added; each is called in
/// the order added. Only before `rpcx_server_start`.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of `observer` — when the server is
/// freed, or before this function returns if it fails (`RPCX_ERR_NULL_ARG` for a NULL
/// `server` or `observer`, `RPCX_ERR_INVALID_STATE` once started). The finalizer may run on
/// any thread.
#[no_mangle]
pub extern "C" fn rpcx_server_add_call_observer(
    server: Option<&rpcx_server>,
    observer: rpcx_call_observer,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let userdata = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let server = req(server, "server")?;
        let callback = observer.ok_or_else(|| null_arg("observer"))?;
        server.add_plugin(Arc::new(Observer { callback, userdata }))
    })
}
