//! Interceptors in C — callbacks around the calls a server serves and a client (or XClient)
//! makes, seeing an `rpcx_call` — and the shipped server plugins `IpFilter` and `RateLimit`.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use rpcx_core::client::{ClientCall, ClientInterceptor, RawResponse};
use rpcx_core::server::plugins::{IpFilter, IpNet, RateLimit};
use rpcx_core::server::{Context, Plugin};
use rpcx_core::Error;

use crate::error::Failure;
use crate::guard::{cstr, invalid_arg, null_arg, req, req_mut, run, run_or, Finalizer};
use crate::handler::c_string;
use crate::metadata::rpcx_metadata;
use crate::options::rpcx_client_options;
use crate::rpcx_finalizer;
use crate::server::rpcx_server;
use crate::status::rpcx_status;
use crate::xclient::rpcx_xclient_options;

/// One call as an interceptor callback sees it (see `rpcx_interceptor_callback`): a view
/// valid only during the callback, on the callback's thread. Strings and maps obtained from
/// it are borrowed from it, with the same lifetime.
pub struct rpcx_call {
    side: Side,
    before: bool,
    service: CString,
    method: CString,
    peer: CString,
    oneway: bool,
    /// Request metadata: filled at once on the client side (where it may change), on first
    /// use on the server side.
    metadata: OnceLock<rpcx_metadata>,
    metadata_changed: bool,
    /// After the call: its status and error text (`None` for success).
    outcome: Option<(rpcx_status, CString)>,
    /// Client side, after the call: the reply's (or the server error's) metadata.
    reply_metadata: Option<rpcx_metadata>,
    /// Set by `rpcx_call_reject`.
    rejection: Option<String>,
}

enum Side {
    /// A call the server serves; reply metadata goes to its context.
    Server(Context),
    Client,
}

impl rpcx_call {
    fn server(ctx: &Context, before: bool, error: Option<&str>) -> rpcx_call {
        rpcx_call {
            service: c_string(ctx.service()),
            method: c_string(ctx.method()),
            peer: c_string(ctx.peer()),
            oneway: false,
            side: Side::Server(ctx.clone()),
            before,
            metadata: OnceLock::new(),
            metadata_changed: false,
            outcome: error.map(|e| (rpcx_status::RPCX_ERR_SERVER, c_string(e))),
            reply_metadata: None,
            rejection: None,
        }
    }

    fn client(call: &ClientCall<'_>, before: bool) -> rpcx_call {
        rpcx_call {
            service: c_string(call.service()),
            method: c_string(call.method()),
            peer: c_string(call.server()),
            oneway: call.is_oneway(),
            side: Side::Client,
            before,
            metadata: OnceLock::from(rpcx_metadata::from_core(call.metadata())),
            metadata_changed: false,
            outcome: None,
            reply_metadata: None,
            rejection: None,
        }
    }
}

/// Called before or after a call (see `rpcx_server_add_interceptor`,
/// `rpcx_client_options_add_interceptor`, `rpcx_xclient_options_add_interceptor`) with
/// `call`, a view valid only until the callback returns: read it with the `rpcx_call_*`
/// functions; before the call, refuse it with `rpcx_call_reject`.
///
/// Server interceptors run on rpcx runtime worker threads, for calls of any connection at
/// once. Client interceptors run where the call runs: on the calling thread for blocking
/// calls, on runtime threads for async ones. Either way callbacks overlap (they must be
/// thread-safe) and must be quick: they must not block, and blocking rpcx functions return
/// `RPCX_ERR_BLOCKING_IN_RUNTIME` inside them.
pub type rpcx_interceptor_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, call: *mut rpcx_call)>;

type InterceptorFn = unsafe extern "C" fn(*mut c_void, *mut rpcx_call);

/// A pair of C callbacks and their userdata; the finalizer runs when the last holder (a
/// server, options, clients made from them) releases it.
struct Callbacks {
    before: Option<InterceptorFn>,
    after: Option<InterceptorFn>,
    userdata: Finalizer,
}

impl Callbacks {
    fn new(
        before: rpcx_interceptor_callback,
        after: rpcx_interceptor_callback,
        userdata: Finalizer,
    ) -> Result<Callbacks, Failure> {
        if before.is_none() && after.is_none() {
            return Err(null_arg("before and after"));
        }
        Ok(Callbacks {
            before,
            after,
            userdata,
        })
    }

    /// Runs `cb` on `call`.
    fn run(&self, cb: InterceptorFn, call: &mut rpcx_call) {
        let ud = self.userdata.userdata.0;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the C caller registered `cb` with `userdata` for calls on the threads
            // documented on `rpcx_interceptor_callback`; `call` outlives the callback.
            unsafe { cb(ud, call) }
        }));
    }
}

/// The server plugin running C interceptor callbacks.
struct ServerInterceptor(Callbacks);

impl Plugin for ServerInterceptor {
    fn name(&self) -> &str {
        "C interceptor"
    }

    fn before_call(&self, ctx: &Context, _payload: &Bytes) -> Result<(), String> {
        let Some(cb) = self.0.before else {
            return Ok(());
        };
        let mut call = rpcx_call::server(ctx, true, None);
        self.0.run(cb, &mut call);
        call.rejection.map_or(Ok(()), Err)
    }

    fn after_call(&self, ctx: &Context, result: Result<&Bytes, &str>) {
        if let Some(cb) = self.0.after {
            let mut call = rpcx_call::server(ctx, false, result.err());
            self.0.run(cb, &mut call);
        }
    }
}

/// The client interceptor running C callbacks.
struct CInterceptor(Callbacks);

impl ClientInterceptor for CInterceptor {
    fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
        let Some(cb) = self.0.before else {
            return Ok(());
        };
        let mut c = rpcx_call::client(call, true);
        self.0.run(cb, &mut c);
        if c.metadata_changed {
            if let Some(md) = c.metadata.get() {
                *call.metadata_mut() = md.to_core();
            }
        }
        c.rejection.map_or(Ok(()), Err)
    }

    fn after_call(&self, call: &ClientCall<'_>, result: Result<&RawResponse, &Error>) {
        let Some(cb) = self.0.after else { return };
        let mut c = rpcx_call::client(call, false);
        match result {
            Ok(r) => c.reply_metadata = Some(rpcx_metadata::from_core(&r.metadata)),
            Err(e) => {
                let text = match e {
                    Error::Server(s) => {
                        c.reply_metadata = Some(rpcx_metadata::from_core(&s.metadata));
                        s.message.clone()
                    }
                    other => other.to_string(),
                };
                c.outcome = Some((rpcx_status::of(e), c_string(&text)));
            }
        }
        self.0.run(cb, &mut c);
    }
}

/// The service path of the call (`"Arith"`). Borrowed from `call`. NULL when `call` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_call_service(call: Option<&rpcx_call>) -> *const c_char {
    run_or(std::ptr::null(), || {
        call.map_or(std::ptr::null(), |c| c.service.as_ptr())
    })
}

/// The method of the call (`"Mul"`). Borrowed from `call`. NULL when `call` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_call_method(call: Option<&rpcx_call>) -> *const c_char {
    run_or(std::ptr::null(), || {
        call.map_or(std::ptr::null(), |c| c.method.as_ptr())
    })
}

/// The other end: for a server interceptor the caller's address (`"tcp@127.0.0.1:50123"`),
/// for a client interceptor the server's (`"tcp@127.0.0.1:8972"`). Borrowed from `call`.
/// NULL when `call` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_call_peer(call: Option<&rpcx_call>) -> *const c_char {
    run_or(std::ptr::null(), || {
        call.map_or(std::ptr::null(), |c| c.peer.as_ptr())
    })
}

/// 1 for a client's oneway send (no reply comes back), else 0 (also for server
/// interceptors, which see only two-way calls' outcomes as replies, and a NULL `call`).
#[no_mangle]
pub extern "C" fn rpcx_call_is_oneway(call: Option<&rpcx_call>) -> c_int {
    run_or(0, || call.map_or(0, |c| c_int::from(c.oneway)))
}

/// The request metadata (as the caller sent it, or for a client interceptor as it will be
/// sent, without `__AUTH` and `__ServerTimeout`, which the client adds later). Borrowed from
/// `call`: valid during the callback, until `rpcx_call_set_metadata` changes it. NULL only
/// when `call` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_call_metadata(call: Option<&rpcx_call>) -> *const rpcx_metadata {
    run_or(std::ptr::null(), || {
        call.map_or(std::ptr::null(), |c| {
            c.metadata.get_or_init(|| match &c.side {
                Side::Server(ctx) => rpcx_metadata::from_core(ctx.metadata()),
                Side::Client => rpcx_metadata::default(),
            }) as *const rpcx_metadata
        })
    })
}

fn not_here(what: &str) -> Failure {
    Failure::new(rpcx_status::RPCX_ERR_INVALID_STATE, format!("rpcx: {what}"))
}

/// Sets request metadata `key` to `value` (NUL-terminated UTF-8, copied), replacing any
/// previous value: how a client interceptor attaches a trace id or a token to every call.
/// Only in a client interceptor's `before` callback (`RPCX_ERR_INVALID_STATE` elsewhere).
/// `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for NULL or non-UTF-8 arguments.
#[no_mangle]
pub extern "C" fn rpcx_call_set_metadata(
    call: Option<&mut rpcx_call>,
    key: *const c_char,
    value: *const c_char,
) -> rpcx_status {
    run(None, || {
        let call = req_mut(call, "call")?;
        // SAFETY: the caller passes NUL-terminated strings valid during the call.
        let (key, value) = unsafe { (cstr(key, "key")?, cstr(value, "value")?) };
        if !matches!(call.side, Side::Client) || !call.before {
            return Err(not_here(
                "request metadata can be set only before a client's call",
            ));
        }
        call.metadata.get_or_init(rpcx_metadata::default);
        if let Some(md) = call.metadata.get_mut() {
            md.insert(key, value);
        }
        call.metadata_changed = true;
        Ok(())
    })
}

/// Adds `key: value` (NUL-terminated UTF-8, copied) to the reply's metadata — also to an
/// error reply's. Only in a server interceptor's callbacks, before or after the call
/// (`RPCX_ERR_INVALID_STATE` in a client's). `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG`
/// for NULL or non-UTF-8 arguments.
#[no_mangle]
pub extern "C" fn rpcx_call_set_reply_meta(
    call: Option<&mut rpcx_call>,
    key: *const c_char,
    value: *const c_char,
) -> rpcx_status {
    run(None, || {
        let call = req_mut(call, "call")?;
        // SAFETY: the caller passes NUL-terminated strings valid during the call.
        let (key, value) = unsafe { (cstr(key, "key")?, cstr(value, "value")?) };
        let Side::Server(ctx) = &call.side else {
            return Err(not_here(
                "reply metadata can be set only by a server interceptor",
            ));
        };
        ctx.set_reply_meta(key, value);
        Ok(())
    })
}

/// Refuses the call with `message` (NUL-terminated UTF-8, copied; the last refusal wins).
/// In a server interceptor the handler is skipped and the caller receives `message` as the
/// call's error (`RPCX_ERR_SERVER` for a C client); in a client interceptor nothing is sent
/// and the call fails with `RPCX_ERR_REFUSED` and `message`. Later interceptors' `before`
/// callbacks do not run; `after` callbacks run as usual. Only in a `before` callback
/// (`RPCX_ERR_INVALID_STATE` in an `after` one). `RPCX_ERR_NULL_ARG` /
/// `RPCX_ERR_INVALID_ARG` for NULL or non-UTF-8 arguments.
#[no_mangle]
pub extern "C" fn rpcx_call_reject(
    call: Option<&mut rpcx_call>,
    message: *const c_char,
) -> rpcx_status {
    run(None, || {
        let call = req_mut(call, "call")?;
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let message = unsafe { cstr(message, "message")? };
        if !call.before {
            return Err(not_here("a call can be refused only before it runs"));
        }
        call.rejection = Some(message.to_owned());
        Ok(())
    })
}

/// After the call: `RPCX_OK` when it succeeded, else its status — for a server interceptor
/// `RPCX_ERR_SERVER` (whatever failed, the caller receives an error reply), for a client
/// interceptor the status the caller gets. `RPCX_OK` before the call; `RPCX_ERR_NULL_ARG`
/// when `call` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_call_status(call: Option<&rpcx_call>) -> rpcx_status {
    run_or(rpcx_status::RPCX_ERR_PANIC, || match call {
        None => rpcx_status::RPCX_ERR_NULL_ARG,
        Some(c) => c.outcome.as_ref().map_or(rpcx_status::RPCX_OK, |(s, _)| *s),
    })
}

/// After a failed call: the error text (for a server interceptor, exactly what the caller
/// receives; for a client interceptor, the server's text of a remote error or the
/// description of a local one), borrowed from `call`. NULL after a successful call, before
/// the call, and when `call` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_call_error(call: Option<&rpcx_call>) -> *const c_char {
    run_or(std::ptr::null(), || {
        call.and_then(|c| c.outcome.as_ref())
            .map_or(std::ptr::null(), |(_, e)| e.as_ptr())
    })
}

/// After a client's call: the metadata the server sent back with its reply or its error
/// (including `__rpcx_error__`), borrowed from `call`. NULL before the call, in server
/// interceptors, for failures that got no answer (timeouts, closed connections…) and when
/// `call` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_call_reply_metadata(call: Option<&rpcx_call>) -> *const rpcx_metadata {
    run_or(std::ptr::null(), || {
        call.and_then(|c| c.reply_metadata.as_ref())
            .map_or(std::ptr::null(), |m| m as *const rpcx_metadata)
    })
}

/// Adds an interceptor to `server`: `before` runs before each call's handler (it may refuse
/// the call with `rpcx_call_reject` and add reply metadata), `after` after the handler
/// answered (or the call was refused), seeing the outcome (`rpcx_call_error`) and able to
/// add reply metadata. Either may be NULL, not both. Interceptors and other plugins run in
/// the order added; calls to unknown services or methods reach none. Only before
/// `rpcx_server_start`. See `rpcx_interceptor_callback` for threads.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible callback — when the server is freed, or
/// before this function returns if it fails (`RPCX_ERR_NULL_ARG` for a NULL `server` or two
/// NULL callbacks, `RPCX_ERR_INVALID_STATE` once started). It may run on any thread.
#[no_mangle]
pub extern "C" fn rpcx_server_add_interceptor(
    server: Option<&rpcx_server>,
    before: rpcx_interceptor_callback,
    after: rpcx_interceptor_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let server = req(server, "server")?;
        let callbacks = Callbacks::new(before, after, fin)?;
        server.add_plugin(Arc::new(ServerInterceptor(callbacks)))
    })
}

/// Adds an interceptor to the clients connected with `opts`, after those added before:
/// `before` runs before each call is sent (it may add request metadata with
/// `rpcx_call_set_metadata`, or refuse the call with `rpcx_call_reject`: it then fails with
/// `RPCX_ERR_REFUSED`), `after` once the call ended, seeing its outcome (`rpcx_call_status`,
/// `rpcx_call_error`, `rpcx_call_reply_metadata`); for oneway sends, once the request is
/// queued. Either may be NULL, not both. See `rpcx_interceptor_callback` for threads.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible callback — once `opts`, every options
/// object copied from them (`rpcx_xclient_options_set_client_options`) and every client
/// connected with them are freed; or before this function returns if it fails
/// (`RPCX_ERR_NULL_ARG` for a NULL `opts` or two NULL callbacks). It may run on any thread.
/// Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_add_interceptor(
    opts: Option<&mut rpcx_client_options>,
    before: rpcx_interceptor_callback,
    after: rpcx_interceptor_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let opts = req_mut(opts, "opts")?;
        let callbacks = Callbacks::new(before, after, fin)?;
        opts.inner
            .interceptors
            .push(Arc::new(CInterceptor(callbacks)));
        Ok(())
    })
}

/// `rpcx_client_options_add_interceptor` for XClients: the interceptor runs around every
/// attempt of every call of each XClient created with `opts` (a call retried on another
/// server passes through it again, with `rpcx_call_peer` naming that server), after the
/// interceptors of the connection options. Broadcast and fork run it once per server.
/// Ownership of `userdata` and the finalizer as there (XClients hold it until freed).
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_add_interceptor(
    opts: Option<&mut rpcx_xclient_options>,
    before: rpcx_interceptor_callback,
    after: rpcx_interceptor_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let opts = req_mut(opts, "opts")?;
        let callbacks = Callbacks::new(before, after, fin)?;
        opts.interceptors.push(Arc::new(CInterceptor(callbacks)));
        Ok(())
    })
}

/// Reads `count` NUL-terminated networks (`"10.0.0.0/8"`, `"::1"`) at `nets`.
///
/// # Safety
/// `nets` is NULL (only with `count` 0) or points to `count` valid C strings.
unsafe fn networks(
    nets: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<IpNet>, Failure> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if nets.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: by this function's contract, `nets` points to `count` pointers.
    let list = unsafe { std::slice::from_raw_parts(nets, count) };
    list.iter()
        .map(|&p| {
            // SAFETY: each entry is a NUL-terminated string valid during the call.
            let text = unsafe { cstr(p, name)? };
            text.trim()
                .parse::<IpNet>()
                .map_err(|e| invalid_arg(format!("rpcx: {name}: {e}")))
        })
        .collect()
}

/// Filters the connections `server` accepts by the client's IP address: a client in one of
/// the `deny_count` networks at `deny` is refused; when `allow_count` is not 0, a client must
/// also lie in one of the networks at `allow`. A refused connection is closed at once,
/// before anything is read. Networks are NUL-terminated CIDR strings (`"10.0.0.0/8"`,
/// `"::1/128"`; a bare address is a /32 or /128), copied; an IPv4-mapped IPv6 client matches
/// IPv4 networks. Unix-socket clients are always accepted. Only before `rpcx_server_start`.
///
/// Errors: `RPCX_ERR_INVALID_ARG` for a malformed network (the message names it),
/// `RPCX_ERR_NULL_ARG` for a NULL `server`, or a NULL array with a non-zero count,
/// `RPCX_ERR_INVALID_STATE` once started. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_server_add_ip_filter(
    server: Option<&rpcx_server>,
    allow: *const *const c_char,
    allow_count: usize,
    deny: *const *const c_char,
    deny_count: usize,
) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes arrays of `*_count` NUL-terminated strings (or NULL, 0).
        let (allow, deny) = unsafe {
            (
                networks(allow, allow_count, "allow")?,
                networks(deny, deny_count, "deny")?,
            )
        };
        server.add_plugin(Arc::new(IpFilter::new(allow, deny)))
    })
}

/// Limits the requests `server` takes, over all connections, with a token bucket of
/// `capacity` tokens refilled one every `fill_interval_us` microseconds (Go's
/// `NewReqRateLimitingPlugin` without blocking): a request arriving with the bucket empty is
/// answered with the error `"request reached rate limit"` (`RPCX_ERR_SERVER` for a C
/// client) and its connection is kept. Heartbeats take tokens too, as in Go. Only before
/// `rpcx_server_start`.
///
/// Errors: `RPCX_ERR_INVALID_ARG` when `fill_interval_us` or `capacity` is 0,
/// `RPCX_ERR_NULL_ARG` for a NULL `server`, `RPCX_ERR_INVALID_STATE` once started.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_server_add_rate_limit(
    server: Option<&rpcx_server>,
    fill_interval_us: u64,
    capacity: u32,
) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        if fill_interval_us == 0 || capacity == 0 {
            return Err(invalid_arg(
                "rpcx: the rate limit's fill interval and capacity must be at least 1",
            ));
        }
        let limit = RateLimit::new(Duration::from_micros(fill_interval_us), capacity);
        server.add_plugin(Arc::new(limit))
    })
}
