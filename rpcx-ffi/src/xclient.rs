//! `rpcx_xclient`: calls to one service over the servers of a discovery, with a select mode
//! (or a selector in C), a fail mode, broadcast and fork; its options object.

use std::future::Future;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rpcx_core::client::{CallOptions, Interceptors, RawResponse};
use rpcx_core::protocol::SerializeType;
use rpcx_core::xclient::{FailMode, SelectMode, Selector, XClient, XClientOptions};
use rpcx_core::Error;
use tokio_util::sync::CancellationToken;

use crate::buf::rpcx_buf;
use crate::calls::{
    cancel_call, close, close_handle, rpcx_call_callback, write_reply, AsyncCalls, Closable,
};
use crate::discovery::rpcx_discovery;
use crate::error::{rpcx_error, Failure};
use crate::guard::{
    bytes, cstr, invalid_arg, null_arg, on_runtime_thread, opt_cstr, req, req_mut, run, run_or,
    Finalizer,
};
use crate::metadata::rpcx_metadata;
use crate::options::rpcx_client_options;
use crate::push::{PushCallback, PushPump};
use crate::rpcx_finalizer;
use crate::selector::{rpcx_selector_callback, CSelector, SelectorCallback};
use crate::status::rpcx_status;

/// Select mode 0: a server at random.
pub const RPCX_SELECT_RANDOM: c_int = 0;
/// Select mode 1: in turn, over the servers sorted by address (the default).
pub const RPCX_SELECT_ROUND_ROBIN: c_int = 1;
/// Select mode 2: smooth weighted round robin on each server's `weight` metadata.
pub const RPCX_SELECT_WEIGHTED_ROUND_ROBIN: c_int = 2;
/// Select mode 3: weighted by measured round-trip time (Go's WeightedICMP): ICMP echo on a
/// raw socket (root) or Linux's unprivileged ping socket, else the TCP connect time.
pub const RPCX_SELECT_WEIGHTED_ICMP: c_int = 3;
/// Select mode 4: consistent hashing of `/service/method/<payload>` over the servers sorted
/// by address.
pub const RPCX_SELECT_CONSISTENT_HASH: c_int = 4;
/// Select mode 5: the server nearest to the location set with
/// `rpcx_xclient_options_set_location`, from its `latitude`/`longitude` metadata.
pub const RPCX_SELECT_CLOSEST: c_int = 5;
/// Select mode 6 (not in Go): weighted by the round trip of a heartbeat the XClient sends
/// every 500 ms on its live connection to each server — what a call really waits, proxies
/// and loaded servers included; a server ten times nearer gets ten times the calls.
pub const RPCX_SELECT_HEARTBEAT_RTT: c_int = 6;

/// Fail mode 0: after a connection failure, retry on another server (the default).
pub const RPCX_FAIL_FAILOVER: c_int = 0;
/// Fail mode 1: return the first error.
pub const RPCX_FAIL_FAILFAST: c_int = 1;
/// Fail mode 2: retry on the same server.
pub const RPCX_FAIL_FAILTRY: c_int = 2;
/// Fail mode 3: when no reply came within the backup latency, send the call to a second
/// server too and take whichever reply comes first.
pub const RPCX_FAIL_FAILBACKUP: c_int = 3;

/// Options of an XClient, copied by `rpcx_xclient_new`. Not synchronised: configure it from
/// one thread, then use it for any number of XClients.
#[derive(Clone)]
pub struct rpcx_xclient_options {
    pub(crate) inner: XClientOptions,
    /// TLS settings of every server connection, combined by `resolved` (see `tls.rs`).
    pub(crate) tls: Option<rpcx_core::transport::tls::ClientTlsConfig>,
    select_mode: c_int,
    location: (f64, f64),
    selector: Option<Arc<SelectorCallback>>,
    /// The push callback (`rpcx_xclient_options_set_push_callback`).
    pub(crate) push: Option<Arc<PushCallback>>,
    /// Interceptors added with `rpcx_xclient_options_add_interceptor` (kept apart from the
    /// connection options, which `rpcx_xclient_options_set_client_options` replaces).
    pub(crate) interceptors: Interceptors,
}

impl Default for rpcx_xclient_options {
    fn default() -> Self {
        rpcx_xclient_options {
            inner: XClientOptions {
                client: rpcx_client_options::default().inner,
                ..XClientOptions::default()
            },
            select_mode: RPCX_SELECT_ROUND_ROBIN,
            location: (0.0, 0.0),
            selector: None,
            tls: None,
            push: None,
            interceptors: Interceptors::default(),
        }
    }
}

impl rpcx_xclient_options {
    /// The core options: the connection options' interceptors, then the XClient's.
    pub(crate) fn core(&self) -> XClientOptions {
        let mut o = self.inner.clone();
        for i in self.interceptors.iter() {
            o.client.interceptors.push(Arc::clone(i));
        }
        o
    }

    fn selector(&self, service: &str) -> Arc<dyn Selector> {
        if let Some(cb) = &self.selector {
            return Arc::new(CSelector::new(Arc::clone(cb), service));
        }
        let (latitude, longitude) = self.location;
        match self.select_mode {
            RPCX_SELECT_RANDOM => SelectMode::Random,
            RPCX_SELECT_WEIGHTED_ROUND_ROBIN => SelectMode::WeightedRoundRobin,
            RPCX_SELECT_WEIGHTED_ICMP => SelectMode::WeightedIcmp,
            RPCX_SELECT_CONSISTENT_HASH => SelectMode::ConsistentHash,
            RPCX_SELECT_CLOSEST => SelectMode::Closest {
                latitude,
                longitude,
            },
            RPCX_SELECT_HEARTBEAT_RTT => SelectMode::HeartbeatRtt,
            _ => SelectMode::RoundRobin,
        }
        .build()
    }
}

/// New XClient options with the defaults: `RPCX_SELECT_ROUND_ROBIN`, `RPCX_FAIL_FAILOVER`
/// with 3 retries, 10 ms backup latency, no group, and for each server connection the
/// defaults of `rpcx_client_options_new` (serialize type `RPCX_SERIALIZE_RAW`, no call
/// timeout, 1 s connect timeout). Owned by the caller: free with `rpcx_xclient_options_free`.
/// Returns NULL only if rpcx failed internally.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_new() -> *mut rpcx_xclient_options {
    run_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::<rpcx_xclient_options>::default())
    })
}

/// Sets the select mode (`RPCX_SELECT_*`) and removes any custom selector set before.
/// `RPCX_ERR_INVALID_ARG` for an unknown mode. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
/// Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_select_mode(
    opts: Option<&mut rpcx_xclient_options>,
    mode: c_int,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        if !(RPCX_SELECT_RANDOM..=RPCX_SELECT_HEARTBEAT_RTT).contains(&mode) {
            return Err(invalid_arg(format!("rpcx: unknown select mode {mode}")));
        }
        opts.select_mode = mode;
        // Its finalizer runs once no XClient uses it any more.
        opts.selector = None;
        Ok(())
    })
}

/// Sets the client's location for `RPCX_SELECT_CLOSEST`, in degrees (latitude −90…90,
/// longitude −180…180; default 0, 0). `RPCX_ERR_INVALID_ARG` out of range or not finite.
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_location(
    opts: Option<&mut rpcx_xclient_options>,
    latitude: f64,
    longitude: f64,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return Err(invalid_arg("rpcx: latitude or longitude out of range"));
        }
        opts.location = (latitude, longitude);
        Ok(())
    })
}

/// Makes `callback` choose the server of every call (see `rpcx_selector_callback` for its
/// arguments and the threads it runs on), replacing the select mode and any selector set
/// before. Each XClient created from these options calls it with its own server list.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of `callback` — once these options
/// (or their replacement selector) and every XClient created from them are freed and the
/// XClients' last calls have ended; or before this function returns if it fails
/// (`RPCX_ERR_NULL_ARG` for a NULL `opts` or `callback`). It may run on any thread (a
/// runtime thread when an XClient is freed from a callback). Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_selector(
    opts: Option<&mut rpcx_xclient_options>,
    callback: rpcx_selector_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let opts = req_mut(opts, "opts")?;
        let callback = callback.ok_or_else(|| null_arg("callback"))?;
        let old = opts.selector.replace(Arc::new(SelectorCallback {
            callback,
            userdata: fin,
        }));
        drop(old);
        Ok(())
    })
}

/// Sets the fail mode (`RPCX_FAIL_*`). Only connection failures are retried (refused or
/// broken connections, no server); errors returned by the service and timeouts never are.
/// `RPCX_ERR_INVALID_ARG` for an unknown mode. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
/// Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_fail_mode(
    opts: Option<&mut rpcx_xclient_options>,
    mode: c_int,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        opts.inner.fail_mode = match mode {
            RPCX_FAIL_FAILOVER => FailMode::Failover,
            RPCX_FAIL_FAILFAST => FailMode::Failfast,
            RPCX_FAIL_FAILTRY => FailMode::Failtry,
            RPCX_FAIL_FAILBACKUP => FailMode::Failbackup,
            _ => return Err(invalid_arg(format!("rpcx: unknown fail mode {mode}"))),
        };
        Ok(())
    })
}

/// Sets how many times Failover and Failtry retry after the first attempt (default 3; 0: no
/// retry; more than 1000 makes `rpcx_xclient_new` fail with `RPCX_ERR_CONFIG`).
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_retries(
    opts: Option<&mut rpcx_xclient_options>,
    retries: usize,
) -> rpcx_status {
    run(None, || {
        req_mut(opts, "opts")?.inner.retries = retries;
        Ok(())
    })
}

/// Sets how long Failbackup waits for the first server before asking a second one, in
/// milliseconds (default 10). `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access
/// to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_backup_latency_ms(
    opts: Option<&mut rpcx_xclient_options>,
    ms: u64,
) -> rpcx_status {
    run(None, || {
        req_mut(opts, "opts")?.inner.backup_latency = Duration::from_millis(ms);
        Ok(())
    })
}

/// Uses only servers whose metadata lists `group` (`group=<name>`), copied; NULL or `""`
/// removes the filter. `RPCX_ERR_INVALID_ARG` if it is not UTF-8. `RPCX_ERR_NULL_ARG` when
/// `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_group(
    opts: Option<&mut rpcx_xclient_options>,
    group: *const c_char,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes NULL or a NUL-terminated string valid during the call.
        let group = unsafe { opt_cstr(group, "group")? };
        opts.inner.group = group.filter(|g| !g.is_empty()).map(str::to_owned);
        Ok(())
    })
}

/// Copies the connection settings of `client_opts` — serialize type, call timeout, connect
/// timeout, gzip, heartbeats, auth token, limits, TLS, interceptors — used for every server
/// connection, replacing those set before (interceptors added with
/// `rpcx_xclient_options_add_interceptor` are kept, and run after those of `client_opts`).
/// The push callback of `client_opts` is not used: set one with
/// `rpcx_xclient_options_set_push_callback`. `RPCX_ERR_NULL_ARG` when an argument is NULL. Needs exclusive
/// access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_client_options(
    opts: Option<&mut rpcx_xclient_options>,
    client_opts: Option<&rpcx_client_options>,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        let client_opts = req(client_opts, "client_opts")?;
        opts.inner.client = client_opts.inner.clone();
        opts.tls = client_opts.tls.clone();
        Ok(())
    })
}

/// Sets the serialize type written in every request (`RPCX_SERIALIZE_*`, 0–15; default
/// `RPCX_SERIALIZE_RAW`). The C API never encodes payloads: this tells the servers how you
/// encoded them. `RPCX_ERR_INVALID_ARG` above 15. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
/// Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_serialize_type(
    opts: Option<&mut rpcx_xclient_options>,
    serialize_type: u8,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        opts.inner.client.serialize_type = SerializeType::new(serialize_type)
            .ok_or_else(|| invalid_arg("rpcx: serialize type must be 0..=15"))?;
        Ok(())
    })
}

/// Sets the timeout of calls that pass none themselves, in milliseconds, covering every
/// retry of a call; 0 means wait forever (the default; broadcast and fork stop after one
/// minute). The remaining time is also sent to the server (`__ServerTimeout`).
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_timeout_ms(
    opts: Option<&mut rpcx_xclient_options>,
    ms: u64,
) -> rpcx_status {
    run(None, || {
        req_mut(opts, "opts")?.inner.client.default_timeout =
            (ms > 0).then(|| Duration::from_millis(ms));
        Ok(())
    })
}

/// Frees XClient options (a custom selector's finalizer runs if no XClient uses it). NULL is
/// accepted and ignored.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_free(opts: Option<Box<rpcx_xclient_options>>) {
    run_or((), || drop(opts))
}

/// A client of one service over the servers of a discovery: one cached connection per
/// server, the select mode picking the server of each call and the fail mode deciding what a
/// connection failure leads to.
///
/// Thread-safe: every function may be called from any thread, concurrently, except
/// `rpcx_xclient_free`, which must be the last call on the XClient and must not race with any
/// other.
pub struct rpcx_xclient {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) xc: XClient,
    calls: AsyncCalls,
    /// Cancelled by close: blocking calls in progress give up.
    closed: CancellationToken,
    pub(crate) serialize_type: SerializeType,
    tasks: Arc<Tasks>,
    /// Delivers pushes to the options' push callback, if any.
    pushes: Option<PushPump>,
}

/// How long `rpcx_xclient_free` waits for the XClient's tasks to be gone.
const FREE_WAIT: Duration = Duration::from_secs(10);

/// Counts the async tasks still alive (running, or aborted but not yet dropped), so that
/// `rpcx_xclient_free` can wait until none holds the XClient (and its selector) any more.
#[derive(Default)]
struct Tasks {
    live: Mutex<usize>,
    gone: Condvar,
}

/// Held by each async task: releases the task's reference on the XClient first, then counts
/// the task as gone.
struct TaskGuard {
    shared: Option<Arc<Shared>>,
    tasks: Arc<Tasks>,
}

impl TaskGuard {
    fn new(shared: &Arc<Shared>) -> TaskGuard {
        *shared.tasks.live.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        TaskGuard {
            shared: Some(Arc::clone(shared)),
            tasks: Arc::clone(&shared.tasks),
        }
    }

    fn shared(&self) -> &Shared {
        self.shared.as_deref().expect("present until dropped")
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        drop(self.shared.take());
        let mut n = self.tasks.live.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        if *n == 0 {
            self.tasks.gone.notify_all();
        }
    }
}

impl Tasks {
    /// Waits (at most `FREE_WAIT`, documented on `rpcx_xclient_free`) until every task has
    /// been dropped.
    fn wait(&self) {
        let mut n = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = std::time::Instant::now() + FREE_WAIT;
        while *n > 0 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            n = self
                .gone
                .wait_timeout(n, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Creates an XClient of `service` (NUL-terminated UTF-8, non-empty, copied) over
/// `discovery` (borrowed: the XClient shares it, so the discovery handle may be freed at any
/// time afterwards) with `opts` (copied; NULL for the defaults of
/// `rpcx_xclient_options_new`). Connections are made lazily, by the first call to each
/// server. On success `*xclient_out` receives the XClient, owned by the caller: free it with
/// `rpcx_xclient_free`.
///
/// Does not block; callable from any thread, including rpcx runtime threads. Errors:
/// `RPCX_ERR_NULL_ARG` (`service`, `discovery` or `xclient_out` NULL), `RPCX_ERR_INVALID_ARG`
/// (empty or non-UTF-8 service), `RPCX_ERR_CONFIG` (TLS on without a CA and no system CA
/// bundle). `err_out` may be NULL; otherwise on failure it receives an
/// `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_new(
    service: *const c_char,
    discovery: Option<&rpcx_discovery>,
    opts: Option<&rpcx_xclient_options>,
    xclient_out: Option<&mut *mut rpcx_xclient>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let service = unsafe { cstr(service, "service")? };
        if service.is_empty() {
            return Err(invalid_arg("rpcx: the service name is empty"));
        }
        let discovery = req(discovery, "discovery")?;
        let out = req_mut(xclient_out, "xclient_out")?;
        let default = rpcx_xclient_options::default();
        let opts = opts.unwrap_or(&default);
        let rt = crate::runtime::handle()?;
        let _enter = rt.enter();
        let xc = XClient::with_selector(
            service,
            Arc::clone(&discovery.inner),
            opts.selector(service),
            opts.resolved()?,
        )?;
        let pushes = match (&opts.push, xc.take_pushes()) {
            (Some(callback), Some(rx)) => {
                Some(PushPump::start(rx, Arc::clone(callback), String::new())?)
            }
            _ => None,
        };
        let shared = Arc::new(Shared {
            pushes,
            xc,
            calls: AsyncCalls::default(),
            closed: CancellationToken::new(),
            serialize_type: opts.inner.client.serialize_type,
            tasks: Arc::default(),
        });
        *out = Box::into_raw(Box::new(rpcx_xclient { shared }));
        Ok(())
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Call,
    Broadcast,
    Fork,
}

pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) payload: Bytes,
    pub(crate) options: CallOptions,
}

/// # Safety
/// The pointers follow the contract of `rpcx_xclient_call`.
pub(crate) unsafe fn request(
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
) -> Result<Request, Failure> {
    // SAFETY: forwarded from our caller's contract.
    let (method, data) = unsafe {
        (
            cstr(method, "method")?,
            bytes(payload, payload_len, "payload")?,
        )
    };
    Ok(Request {
        method: method.to_owned(),
        payload: Bytes::copy_from_slice(data),
        options: CallOptions {
            metadata: meta.map(rpcx_metadata::to_core).unwrap_or_default(),
            timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
            serialize_type: None,
        },
    })
}

impl Shared {
    async fn run(&self, kind: Kind, r: Request) -> Result<RawResponse, Error> {
        let st = self.serialize_type;
        let (xc, m) = (&self.xc, r.method.as_str());
        self.unless_closed(async move {
            match kind {
                Kind::Call => xc.call_raw(m, st, r.payload, r.options).await,
                Kind::Broadcast => xc.broadcast_raw(m, st, r.payload, r.options).await,
                Kind::Fork => xc.fork_raw(m, st, r.payload, r.options).await,
            }
        })
        .await
    }

    /// Runs `work` unless the XClient is closed, before or while it runs (`Error::Closed`).
    pub(crate) async fn unless_closed<T>(
        &self,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if self.closed.is_cancelled() {
            return Err(Error::Closed);
        }
        tokio::select! {
            biased;
            _ = self.closed.cancelled() => Err(Error::Closed),
            r = work => r,
        }
    }
}

fn blocking(
    xclient: Option<&rpcx_xclient>,
    kind: Kind,
    make: impl FnOnce() -> Result<Request, Failure>,
    reply_out: Option<&mut rpcx_buf>,
    reply_meta_out: Option<&mut *mut rpcx_metadata>,
) -> Result<(), Failure> {
    let shared = &req(xclient, "xclient")?.shared;
    let r = make()?;
    let resp = crate::runtime::block_on(shared.run(kind, r))??;
    write_reply(resp, reply_out, reply_meta_out);
    Ok(())
}

fn start_async(
    xclient: Option<&rpcx_xclient>,
    kind: Kind,
    make: impl FnOnce() -> Result<Request, Failure>,
    callback: rpcx_call_callback,
    userdata: *mut c_void,
    call_id_out: Option<&mut u64>,
) -> Result<(), Failure> {
    let shared = &req(xclient, "xclient")?.shared;
    let r = make()?;
    shared.calls.start(callback, userdata, call_id_out, |id| {
        let guard = TaskGuard::new(shared);
        async move {
            // Declared first, dropped last: after every future that uses the XClient.
            let guard = guard;
            let s = guard.shared();
            let result = s.run(kind, r).await;
            s.calls.finish(id, result.map_err(Failure::from));
        }
    })
}

/// Calls `method` of the XClient's service on a server chosen by the select mode, applying
/// the fail mode, and waits for the reply.
///
/// Arguments: `method` NUL-terminated UTF-8; `payload[0..payload_len)` the request payload,
/// already encoded as the serialize type says (copied; NULL allowed when the length is 0);
/// `meta` request metadata (copied; NULL for none); `timeout_ms` the timeout of the whole
/// call, retries included (0: the XClient's default), also sent to the server as
/// `__ServerTimeout`.
///
/// On `RPCX_OK`: `*reply_out` (may be NULL to discard) receives the reply payload — free it
/// with `rpcx_buf_free` — and `*reply_meta_out` (may be NULL to discard) the response
/// metadata — free it with `rpcx_metadata_free`. On failure neither is written, and
/// `*err_out` (may be NULL) receives an `rpcx_error` to free with `rpcx_error_free`:
/// `RPCX_ERR_SERVER` (the service's error, text intact), `RPCX_ERR_NO_SERVER`,
/// `RPCX_ERR_CONNECTION` (every attempt failed to connect), `RPCX_ERR_TIMEOUT`,
/// `RPCX_ERR_CLOSED` (the XClient was closed, also while this call waited),
/// `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for a NULL `xclient` or `method` or a
/// non-UTF-8 name.
///
/// Blocks the calling thread (the selector callback, if any, runs on it); on an rpcx runtime
/// thread it returns `RPCX_ERR_BLOCKING_IN_RUNTIME` at once — use `rpcx_xclient_call_async`
/// there.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_xclient_call(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    reply_out: Option<&mut rpcx_buf>,
    reply_meta_out: Option<&mut *mut rpcx_metadata>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = || unsafe { request(method, payload, payload_len, meta, timeout_ms) };
        blocking(xclient, Kind::Call, r, reply_out, reply_meta_out)
    })
}

/// Calls `method` on every server the XClient currently uses, at once, and succeeds only if
/// all succeed: then the reply is the first one received. Fails as soon as one server fails,
/// with that error; `RPCX_ERR_NO_SERVER` when there is no server. No fail mode applies.
/// Without a timeout (argument or default) it gives up after one minute. Arguments, results,
/// ownership, errors and blocking as for `rpcx_xclient_call` (the selector is not used).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_xclient_broadcast(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    reply_out: Option<&mut rpcx_buf>,
    reply_meta_out: Option<&mut *mut rpcx_metadata>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = || unsafe { request(method, payload, payload_len, meta, timeout_ms) };
        blocking(xclient, Kind::Broadcast, r, reply_out, reply_meta_out)
    })
}

/// Calls `method` on every server the XClient currently uses, at once, and returns the first
/// successful reply; fails only when every server failed (with the last error), or with
/// `RPCX_ERR_NO_SERVER` when there is no server. No fail mode applies. Without a timeout
/// (argument or default) it gives up after one minute. Arguments, results, ownership, errors
/// and blocking as for `rpcx_xclient_call` (the selector is not used).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_xclient_fork(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    reply_out: Option<&mut rpcx_buf>,
    reply_meta_out: Option<&mut *mut rpcx_metadata>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = || unsafe { request(method, payload, payload_len, meta, timeout_ms) };
        blocking(xclient, Kind::Fork, r, reply_out, reply_meta_out)
    })
}

/// Starts `rpcx_xclient_call` without waiting (arguments as there, all copied before this
/// returns). On `RPCX_OK` the call is under way and `callback` will be called exactly once
/// with its outcome (see `rpcx_call_callback`; it runs on an rpcx runtime worker thread, or
/// on the thread of `rpcx_xclient_cancel` / `rpcx_xclient_close` / `rpcx_xclient_free` when
/// those complete it) — possibly before this function returns. `*call_id_out` (may be NULL)
/// receives the call's id (never 0), for `rpcx_xclient_cancel`.
///
/// On failure (`RPCX_ERR_NULL_ARG` — `callback` included —, `RPCX_ERR_INVALID_ARG`,
/// `RPCX_ERR_CLOSED` after `rpcx_xclient_close`) the callback is never called. `userdata` is
/// passed to the callback untouched; rpcx never frees it. Callable from any thread, including
/// rpcx runtime threads (handlers, callbacks).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_xclient_call_async(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    callback: rpcx_call_callback,
    userdata: *mut c_void,
    call_id_out: Option<&mut u64>,
) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = || unsafe { request(method, payload, payload_len, meta, timeout_ms) };
        start_async(xclient, Kind::Call, r, callback, userdata, call_id_out)
    })
}

/// `rpcx_xclient_broadcast` without waiting: arguments as for `rpcx_xclient_broadcast`,
/// completion, ownership and errors as for `rpcx_xclient_call_async`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_xclient_broadcast_async(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    callback: rpcx_call_callback,
    userdata: *mut c_void,
    call_id_out: Option<&mut u64>,
) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = || unsafe { request(method, payload, payload_len, meta, timeout_ms) };
        start_async(xclient, Kind::Broadcast, r, callback, userdata, call_id_out)
    })
}

/// `rpcx_xclient_fork` without waiting: arguments as for `rpcx_xclient_fork`, completion,
/// ownership and errors as for `rpcx_xclient_call_async`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_xclient_fork_async(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    callback: rpcx_call_callback,
    userdata: *mut c_void,
    call_id_out: Option<&mut u64>,
) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = || unsafe { request(method, payload, payload_len, meta, timeout_ms) };
        start_async(xclient, Kind::Fork, r, callback, userdata, call_id_out)
    })
}

/// Cancels the async call `call_id`: its callback runs now, on this thread, before this
/// returns, with `RPCX_ERR_CANCELLED`; a reply arriving later is dropped. Returns
/// `RPCX_ERR_NOT_FOUND` when the call already completed (its callback ran or is running) or
/// the id is unknown, `RPCX_ERR_NULL_ARG` when `xclient` is NULL. Callable from any thread.
#[no_mangle]
pub extern "C" fn rpcx_xclient_cancel(xclient: Option<&rpcx_xclient>, call_id: u64) -> rpcx_status {
    cancel_call(xclient.map(|x| &x.shared), "xclient", call_id)
}

/// Sends a oneway request (no reply is ever sent) of `method` to one server chosen by the
/// select mode, and returns once it is queued on that server's connection (connecting first
/// if needed). No fail mode applies. Arguments as for `rpcx_xclient_call` (without timeout);
/// `err_out` likewise. Blocking: `RPCX_ERR_BLOCKING_IN_RUNTIME` on rpcx runtime threads.
#[no_mangle]
pub extern "C" fn rpcx_xclient_send(
    xclient: Option<&rpcx_xclient>,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let shared = &req(xclient, "xclient")?.shared;
        // SAFETY: the caller follows this function's documented pointer contract.
        let r = unsafe { request(method, payload, payload_len, meta, 0)? };
        let send = shared
            .xc
            .send_raw(&r.method, shared.serialize_type, r.payload, r.options);
        crate::runtime::block_on(shared.unless_closed(send))??;
        Ok(())
    })
}

/// The number of servers the XClient currently uses: its discovery's list after group and
/// state filtering (0 when `xclient` is NULL). Follows discovery updates. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_xclient_server_count(xclient: Option<&rpcx_xclient>) -> usize {
    run_or(0, || xclient.map_or(0, |x| x.shared.xc.servers().len()))
}

/// The number of async calls started and not yet completed (0 when `xclient` is NULL).
#[no_mangle]
pub extern "C" fn rpcx_xclient_pending(xclient: Option<&rpcx_xclient>) -> usize {
    run_or(0, || xclient.map_or(0, |x| x.shared.calls.pending()))
}

impl Closable for Shared {
    fn calls(&self) -> &AsyncCalls {
        &self.calls
    }

    fn close_core(&self) {
        self.closed.cancel();
        self.xc.close();
    }

    fn pushes(&self) -> Option<&PushPump> {
        self.pushes.as_ref()
    }
}

/// Closes the XClient: its server connections close and it stops following its discovery;
/// blocking calls in progress fail with `RPCX_ERR_CLOSED`, every pending async call's
/// callback runs with `RPCX_ERR_CLOSED` on this thread before this returns, and later calls
/// fail with `RPCX_ERR_CLOSED`. Also waits for callbacks running on other threads to return
/// (not when called from inside one of this XClient's callbacks). Idempotent; callable from
/// any thread. `RPCX_ERR_NULL_ARG` when `xclient` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_xclient_close(xclient: Option<&rpcx_xclient>) -> rpcx_status {
    close_handle(xclient.map(|x| &x.shared), "xclient")
}

/// Closes the XClient as `rpcx_xclient_close` does (pending callbacks complete with
/// `RPCX_ERR_CLOSED` before this returns) and frees it. Outside rpcx runtime threads it also
/// waits until the XClient's background tasks are gone, so that a custom selector's finalizer
/// has run when this returns if nothing else (options, other XClients) holds the selector.
/// That wait is capped at 10 seconds: a task still alive then (one whose selector callback
/// does not return) is left behind, and the selector's finalizer runs later, on the rpcx
/// runtime thread that drops the last task (never, if the callback never returns). From a
/// runtime thread it does not wait. NULL is accepted and ignored. Must be the last call on
/// `xclient`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_free(xclient: Option<Box<rpcx_xclient>>) {
    run_or((), || {
        let Some(x) = xclient else { return };
        close(&*x.shared);
        if !on_runtime_thread() {
            x.shared.tasks.wait();
        }
    })
}
