//! Go's `Inform` from C (every server's own outcome) and the XClient's circuit breaker.

use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use rpcx_core::xclient::{BreakerConfig, HealthConfig};

use crate::error::{rpcx_error, Failure};
use crate::guard::{null_arg, req, req_mut, run};
use crate::metadata::rpcx_metadata;
use crate::status::rpcx_status;
use crate::xclient::{request, rpcx_xclient, rpcx_xclient_options};

/// Receives one server's outcome of `rpcx_xclient_inform`.
///
/// `server` is the server's key (`tcp@host:port`, NUL-terminated). On success
/// `reply[0..reply_len)` is its reply payload (NULL when empty), `reply_meta` its response
/// metadata and `error` NULL; on failure `reply` is NULL, `reply_len` 0, `reply_meta` NULL and
/// `error` says why (`rpcx_error_code`, `rpcx_error_message`; for `RPCX_ERR_SERVER` the
/// server's own text). Everything is borrowed for the duration of the callback only: copy what
/// you keep; free nothing. Runs on the thread that called `rpcx_xclient_inform`, before it
/// returns, once per server in the order of their keys. It must not unwind (C++: no
/// exception may leave it).
pub type rpcx_inform_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        server: *const c_char,
        reply: *const u8,
        reply_len: usize,
        reply_meta: *const rpcx_metadata,
        error: *const rpcx_error,
    ),
>;

/// Calls `method` on every server the XClient currently uses, at once, waits for all of them
/// and reports each server's outcome to `callback` (Go's `Inform`): a failed server does not
/// fail the others. No fail mode applies. Arguments `method`, `payload`, `payload_len`,
/// `meta` and `timeout_ms` as for `rpcx_xclient_call` (without a timeout, argument or
/// default, it gives up after one minute; a server that has not answered by then reports
/// `RPCX_ERR_TIMEOUT`).
///
/// `callback` (required) is called once per server, on this thread, before this function
/// returns (see `rpcx_inform_callback`); `userdata` is passed to it untouched and never freed.
/// `*count_out` (may be NULL) receives the number of servers called.
///
/// Returns `RPCX_OK` once every server was reported (whatever their outcomes), or without
/// calling `callback`: `RPCX_ERR_NO_SERVER` when there is no server, `RPCX_ERR_NULL_ARG`
/// (`xclient`, `method` or `callback`), `RPCX_ERR_INVALID_ARG`, `RPCX_ERR_CLOSED` after
/// `rpcx_xclient_close`, `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out`
/// may be NULL; otherwise on failure it receives an `rpcx_error` to free with
/// `rpcx_error_free`. Blocks the calling thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_xclient_inform(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    callback: rpcx_inform_callback,
    userdata: *mut c_void,
    count_out: Option<&mut usize>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let shared = &req(xclient, "xclient")?.shared;
        let Some(callback) = callback else {
            return Err(null_arg("callback"));
        };
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = unsafe { request(method, payload, payload_len, meta, timeout_ms) }?;
        let st = shared.serialize_type;
        let receipts = crate::runtime::block_on(shared.unless_closed(async {
            shared
                .xc
                .inform_raw(&r.method, st, r.payload, r.options)
                .await
        }))??;
        for receipt in &receipts {
            let mut server = receipt.server.clone().into_bytes();
            server.retain(|&b| b != 0);
            server.push(0);
            let server = server.as_ptr().cast::<c_char>();
            match &receipt.result {
                Ok(resp) => {
                    let meta = rpcx_metadata::from_core(&resp.metadata);
                    let (data, len) = if resp.payload.is_empty() {
                        (std::ptr::null(), 0)
                    } else {
                        (resp.payload.as_ptr(), resp.payload.len())
                    };
                    // SAFETY: every pointer is valid for the duration of the call, as the
                    // callback's contract says; the callback itself is the caller's.
                    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
                        callback(userdata, server, data, len, &meta, std::ptr::null())
                    }));
                }
                Err(e) => {
                    let error = Failure::of(e).into_error();
                    // SAFETY: as above.
                    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
                        callback(
                            userdata,
                            server,
                            std::ptr::null(),
                            0,
                            std::ptr::null(),
                            &error,
                        )
                    }));
                }
            }
        }
        if let Some(n) = count_out {
            *n = receipts.len();
        }
        Ok(())
    })
}

/// Sets the dead-server detector (on by default, with a 1000 ms probe timeout and a 2000 ms
/// longest pause): a server whose call got no answer (a timeout, a connection refused, reset
/// or lost) is taken out of rotation at once — calls go to the other servers — while a
/// background probe on a runtime thread dials it afresh and sends a heartbeat that must be
/// answered within `probe_timeout_ms`, pausing 200 ms doubling to `max_backoff_ms` (with
/// jitter) between probes; the first answered probe brings it back. `enabled` 0 turns it
/// off (Go's behaviour: every call may pick a dead server again). `RPCX_ERR_NULL_ARG` when
/// `opts` is NULL; `RPCX_ERR_INVALID_ARG` when enabled with `probe_timeout_ms` 0 or
/// `max_backoff_ms` under 200 (nothing changes then). Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_health(
    opts: Option<&mut rpcx_xclient_options>,
    enabled: bool,
    probe_timeout_ms: u64,
    max_backoff_ms: u64,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        if !enabled {
            opts.inner.health = None;
            return Ok(());
        }
        let config = HealthConfig {
            probe_timeout: Duration::from_millis(probe_timeout_ms),
            max_backoff: Duration::from_millis(max_backoff_ms),
        };
        config
            .validate()
            .map_err(|e| crate::guard::invalid_arg(format!("rpcx: {e}")))?;
        opts.inner.health = Some(config);
        Ok(())
    })
}

/// Turns on a circuit breaker per server: after `failures` consecutive failed attempts (0
/// counts as 1) on a server, the XClient stops choosing it for `open_ms` milliseconds, then
/// lets one probe call through, which closes the breaker on success and opens it again on
/// failure. A call whose only server is open fails with `RPCX_ERR_CONNECTION` naming the
/// breaker. `open_ms` 0 turns the breaker off (the default). `RPCX_ERR_NULL_ARG` when `opts`
/// is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_breaker(
    opts: Option<&mut rpcx_xclient_options>,
    failures: u32,
    open_ms: u64,
) -> rpcx_status {
    run(None, || {
        req_mut(opts, "opts")?.inner.breaker = (open_ms > 0).then(|| BreakerConfig {
            threshold: failures,
            open_for: Duration::from_millis(open_ms),
        });
        Ok(())
    })
}
