//! C handlers on top of the core `Handler` trait: the request view handed to the callback,
//! and the responder that completes the call from any thread.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use once_cell::sync::Lazy;
use rpcx_core::server::{BoxFuture, Context, Handler, HandlerResult, ServiceError};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::Failure;
use crate::guard::{bytes, cstr, run, run_or, Finalizer, UserData};
use crate::metadata::rpcx_metadata;
use crate::status::rpcx_status;

/// Error text a caller receives when the handler released its responder without replying.
pub(crate) const RELEASED: &str = "rpcx: handler released the call without replying";
/// Error text a caller receives when the server stopped before the handler replied.
pub(crate) const SHUTTING_DOWN: &str = "rpcx: server is shutting down";

/// Serves one call. `request` is a read-only view, valid only until the callback returns
/// (copy what you need to keep). `responder` must be completed exactly once — with
/// `rpcx_responder_reply` or `rpcx_responder_error`, or released with `rpcx_responder_free`
/// — either before the callback returns or later from any thread.
///
/// Runs on an rpcx runtime worker thread; calls overlap (several threads at once, for the
/// same or different requests), so it must be thread-safe. It must not block for long:
/// blocking stalls other connections. Hand slow work to your own thread pool and reply
/// through the responder. A callback that does not return is abandoned by
/// `rpcx_server_shutdown` / `rpcx_server_free` after their bounded wait: its thread is left
/// inside it, and the server's finalizers wait for it (see `rpcx_server_free`). Blocking
/// rpcx functions (`rpcx_client_call`…) return `RPCX_ERR_BLOCKING_IN_RUNTIME` here; use
/// `rpcx_client_call_async`.
pub type rpcx_handler_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        request: *const rpcx_request,
        responder: *mut rpcx_responder,
    ),
>;

/// A read-only view of one request, passed to a handler callback and valid only until the
/// callback returns. Strings and bytes obtained from it are borrowed from it, with the same
/// lifetime. Use it only on the callback's thread.
pub struct rpcx_request {
    ctx: Context,
    payload: Bytes,
    metadata: OnceLock<rpcx_metadata>,
    service: OnceLock<CString>,
    method: OnceLock<CString>,
    peer: OnceLock<CString>,
}

/// `s` as a C string, cut at its first NUL (names and peers come from the network).
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let end = e.nul_position();
        CString::new(&s.as_bytes()[..end]).unwrap_or_default()
    })
}

impl rpcx_request {
    /// The call's context.
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }
}

/// The handle of one pending call, completed exactly once from any thread.
///
/// Not a pointer to memory: an opaque token, so completing it twice, or after its call was
/// abandoned, is safe and returns `RPCX_ERR_INVALID_STATE`. A call is abandoned — its
/// responder forgotten and its memory freed at once — when the caller's connection closes
/// (the client went away), when the caller's deadline (`__ServerTimeout`) passes, or when the
/// server closes; `rpcx_responder_is_cancelled` tells. A responder never completed keeps its
/// caller waiting until then. Oneway requests get a responder too: complete it as usual,
/// nothing is sent back; they are not abandoned when their connection closes. Tokens are not
/// reused (on 32-bit targets, not before 2³² further calls; a token still pending is never
/// given to another call).
pub struct rpcx_responder {
    _private: u8,
}

struct Slot {
    tx: oneshot::Sender<HandlerResult>,
    ctx: Context,
}

const SHARDS: usize = 16;

/// Pending responders by token, sharded to keep completions from many threads apart.
///
/// Ids are 64-bit and never reused in practice; the token C sees is the id as a pointer-sized
/// integer — the id itself on 64-bit targets, its low 32 bits on 32-bit ones, where tokens
/// therefore wrap after 2³² calls. An insert never overwrites a live slot: a token still in
/// use (or 0, which C would read as NULL) is skipped for the next id. (BTreeMaps: their nodes
/// stay reachable from the static, so leak checkers see no interior pointers.)
pub(crate) struct TokenMap<T> {
    shards: Vec<Mutex<BTreeMap<usize, T>>>,
    next_id: AtomicU64,
    /// The bits of an id that make its token (`usize::BITS`, or fewer in tests).
    token_bits: u32,
}

impl<T> TokenMap<T> {
    pub(crate) fn new(token_bits: u32) -> TokenMap<T> {
        TokenMap {
            shards: (0..SHARDS).map(|_| Mutex::new(BTreeMap::new())).collect(),
            next_id: AtomicU64::new(1),
            token_bits: token_bits.clamp(2, usize::BITS),
        }
    }

    fn shard(&self, token: usize) -> &Mutex<BTreeMap<usize, T>> {
        &self.shards[token % SHARDS]
    }

    /// The token of `id`: its low `token_bits` bits.
    fn token_of(&self, id: u64) -> usize {
        let mask = u64::MAX >> (u64::BITS - self.token_bits);
        // Lossless: the mask keeps at most `usize::BITS` bits.
        (id & mask) as usize
    }

    /// Stores `value` under the token of a fresh id and returns the token (never 0).
    pub(crate) fn insert(&self, value: T) -> usize {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let token = self.token_of(id);
            if token == 0 {
                continue;
            }
            let mut shard = self.shard(token).lock().unwrap_or_else(|p| p.into_inner());
            if let Entry::Vacant(e) = shard.entry(token) {
                e.insert(value);
                return token;
            }
            // A live slot holds this token (ids wrapped): never overwrite it, take the next.
        }
    }

    /// Runs `f` on the value under `token`, if any, without taking it.
    pub(crate) fn with<R>(&self, token: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let shard = self.shard(token).lock().unwrap_or_else(|p| p.into_inner());
        shard.get(&token).map(f)
    }

    pub(crate) fn take(&self, token: usize) -> Option<T> {
        self.shard(token)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&token)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    #[cfg(test)]
    pub(crate) fn set_next_id(&self, id: u64) {
        self.next_id.store(id, Ordering::Relaxed);
    }
}

static RESPONDERS: Lazy<TokenMap<Slot>> = Lazy::new(|| TokenMap::new(usize::BITS));

fn insert(slot: Slot) -> usize {
    RESPONDERS.insert(slot)
}

fn take(id: usize) -> Option<Slot> {
    RESPONDERS.take(id)
}

fn responder_ptr(id: usize) -> *mut rpcx_responder {
    std::ptr::without_provenance_mut(id)
}

/// Forgets the responder when its call ends (replied, timed out, server closed).
struct SlotGuard(usize);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        drop(take(self.0));
    }
}

/// A registered C handler. Its finalizer runs when the last reference goes: when the method
/// is replaced, or when the server that holds it is freed.
pub(crate) struct FfiHandler {
    pub(crate) callback:
        unsafe extern "C" fn(*mut c_void, *const rpcx_request, *mut rpcx_responder),
    pub(crate) userdata: Finalizer,
    /// Cancelled when the server's grace period ends: pending calls then fail.
    pub(crate) stopping: CancellationToken,
}

impl Handler for FfiHandler {
    fn call(&self, ctx: Context, payload: Bytes) -> BoxFuture<HandlerResult> {
        let (tx, rx) = oneshot::channel();
        let id = insert(Slot {
            tx,
            ctx: ctx.clone(),
        });
        let guard = SlotGuard(id);
        let request = rpcx_request {
            ctx,
            payload,
            metadata: OnceLock::new(),
            service: OnceLock::new(),
            method: OnceLock::new(),
            peer: OnceLock::new(),
        };
        let UserData(ud) = self.userdata.userdata;
        let cb = self.callback;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `cb` and `ud` were registered together by the C caller, who promised
            // `cb` may be called from runtime threads with `ud`; `request` outlives the call
            // and the responder token is live in the registry.
            unsafe { cb(ud, &request, responder_ptr(id)) }
        }));
        drop(request);
        let stopping = self.stopping.clone();
        Box::pin(async move {
            let _guard = guard;
            tokio::select! {
                r = rx => r.unwrap_or_else(|_| Err(ServiceError::new(RELEASED))),
                _ = stopping.cancelled() => Err(ServiceError::new(SHUTTING_DOWN)),
            }
        })
    }
}

/// The request payload (already decompressed). `len_out` may be NULL; otherwise it receives
/// the length. Borrowed from `request`: valid until the callback returns. Returns NULL when
/// the payload is empty or `request` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_request_payload(
    request: Option<&rpcx_request>,
    len_out: Option<&mut usize>,
) -> *const u8 {
    run_or(std::ptr::null(), || {
        let Some(r) = request else {
            return std::ptr::null();
        };
        if let Some(l) = len_out {
            *l = r.payload.len();
        }
        if r.payload.is_empty() {
            std::ptr::null()
        } else {
            r.payload.as_ptr()
        }
    })
}

/// The request metadata (including `__AUTH` and `__ServerTimeout` when sent). Borrowed from
/// `request`: valid until the callback returns; copy it with `rpcx_metadata_clone` to keep it.
/// Returns NULL only when `request` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_request_metadata(request: Option<&rpcx_request>) -> *const rpcx_metadata {
    run_or(std::ptr::null(), || {
        request.map_or(std::ptr::null(), |r| {
            r.metadata
                .get_or_init(|| rpcx_metadata::from_core(r.ctx.metadata()))
                as *const rpcx_metadata
        })
    })
}

/// The serialize type the caller wrote in the request header (`RPCX_SERIALIZE_*`, 0–15);
/// the reply is labelled with the same. 0 when `request` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_request_serialize_type(request: Option<&rpcx_request>) -> u8 {
    run_or(0, || request.map_or(0, |r| r.ctx.serialize_type().value()))
}

/// The service path of the call (`"Arith"`). Borrowed from `request`: valid until the
/// callback returns. NULL when `request` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_request_service(request: Option<&rpcx_request>) -> *const c_char {
    run_or(std::ptr::null(), || {
        request.map_or(std::ptr::null(), |r| {
            r.service.get_or_init(|| c_string(r.ctx.service())).as_ptr()
        })
    })
}

/// The method of the call (`"Mul"`). Borrowed from `request`: valid until the callback
/// returns. NULL when `request` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_request_method(request: Option<&rpcx_request>) -> *const c_char {
    run_or(std::ptr::null(), || {
        request.map_or(std::ptr::null(), |r| {
            r.method.get_or_init(|| c_string(r.ctx.method())).as_ptr()
        })
    })
}

/// The caller's address (`"tcp@127.0.0.1:50123"`). Borrowed from `request`: valid until the
/// callback returns. NULL when `request` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_request_peer(request: Option<&rpcx_request>) -> *const c_char {
    run_or(std::ptr::null(), || {
        request.map_or(std::ptr::null(), |r| {
            r.peer.get_or_init(|| c_string(r.ctx.peer())).as_ptr()
        })
    })
}

/// Milliseconds left until the caller's deadline (sent as `__ServerTimeout`), 0 once it has
/// passed, or -1 when the caller set none (or `request` is NULL). When the deadline passes
/// the call is abandoned: the caller gets a timeout and the responder becomes invalid.
#[no_mangle]
pub extern "C" fn rpcx_request_timeout_ms(request: Option<&rpcx_request>) -> i64 {
    run_or(-1, || {
        request.and_then(|r| r.ctx.deadline()).map_or(-1, |d| {
            let left = d.saturating_duration_since(Instant::now()).as_millis();
            i64::try_from(left).unwrap_or(i64::MAX)
        })
    })
}

/// 1 once nobody waits for this call's reply any more, else 0: the caller's connection closed
/// (the client went away or was refused), the caller's deadline (`__ServerTimeout`) passed, or
/// the server closed. A handler doing long work should check it and stop early: its responder
/// has been abandoned (completing it returns `RPCX_ERR_INVALID_STATE`). Oneway calls are not
/// tied to their connection: they report 1 only past their deadline or when the server closes.
/// 1 when `request` is NULL. Use only on the callback's thread, during the callback; later,
/// from any thread, use `rpcx_responder_is_cancelled`.
#[no_mangle]
pub extern "C" fn rpcx_request_is_cancelled(request: Option<&rpcx_request>) -> c_int {
    run_or(1, || {
        request.map_or(1, |r| c_int::from(r.ctx.is_cancelled()))
    })
}

/// 1 once the call of `responder` no longer waits for a reply, else 0: it was abandoned (the
/// caller's connection closed, its deadline passed, the server closed) or the responder was
/// already completed or released. Callable from any thread, at any time, with any responder
/// token the library handed out: it never dereferences it. 1 when `responder` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_responder_is_cancelled(responder: *mut rpcx_responder) -> c_int {
    run_or(1, || {
        if responder.is_null() {
            return 1;
        }
        let pending = RESPONDERS.with(responder.addr(), |slot| slot.ctx.is_cancelled());
        c_int::from(pending.unwrap_or(true))
    })
}

fn complete(
    responder: *mut rpcx_responder,
    result: impl FnOnce(&Context) -> HandlerResult,
) -> Result<(), Failure> {
    if responder.is_null() {
        return Err(crate::guard::null_arg("responder"));
    }
    let Some(slot) = take(responder.addr()) else {
        return Err(Failure::new(
            rpcx_status::RPCX_ERR_INVALID_STATE,
            "rpcx: responder already completed or its call was abandoned",
        ));
    };
    // Past the deadline (or with the caller gone) the call is over even if the runtime has not
    // yet dropped it: refuse, as `rpcx_responder_is_cancelled` already says 1.
    if slot.ctx.is_cancelled() {
        return Err(Failure::new(
            rpcx_status::RPCX_ERR_INVALID_STATE,
            "rpcx: the call was abandoned before the reply",
        ));
    }
    let result = result(&slot.ctx);
    slot.tx.send(result).map_err(|_| {
        Failure::new(
            rpcx_status::RPCX_ERR_INVALID_STATE,
            "rpcx: the call was abandoned before the reply",
        )
    })
}

/// Completes a call with a reply: `payload[0..payload_len)` (copied; NULL allowed when
/// `payload_len` is 0) and optional reply metadata `meta` (copied; NULL for none). The
/// caller sees `RPCX_OK` with these. Callable from any thread, before or after the handler
/// callback returned.
///
/// On `RPCX_OK` the responder is consumed. Returns `RPCX_ERR_INVALID_STATE` if it was already
/// completed or released, or its call was abandoned (the caller's deadline passed, the
/// connection or server closed) — harmless, nothing is sent. On `RPCX_ERR_NULL_ARG` (NULL
/// `responder`, or NULL `payload` with a non-zero length) the responder is left pending: you
/// must still complete it.
#[no_mangle]
pub extern "C" fn rpcx_responder_reply(
    responder: *mut rpcx_responder,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
) -> rpcx_status {
    run(None, || {
        if responder.is_null() {
            return Err(crate::guard::null_arg("responder"));
        }
        // SAFETY: the caller passes `payload_len` readable bytes at `payload` (or len 0).
        let data = unsafe { bytes(payload, payload_len, "payload")? };
        let meta = meta.map(rpcx_metadata::to_core);
        complete(responder, |ctx| {
            if let Some(m) = meta {
                for (k, v) in m {
                    ctx.set_reply_meta(k, v);
                }
            }
            Ok(Bytes::copy_from_slice(data))
        })
    })
}

/// Completes a call with an error: the caller receives `RPCX_ERR_SERVER` with `message`
/// (NUL-terminated UTF-8, copied) as the error text, and `payload[0..payload_len)` (copied;
/// NULL allowed when 0) as the reply payload that goes with it. Callable from any thread.
///
/// Consumes the responder on `RPCX_OK`; `RPCX_ERR_INVALID_STATE` as for
/// `rpcx_responder_reply`. On `RPCX_ERR_NULL_ARG` or `RPCX_ERR_INVALID_ARG` (message not
/// UTF-8) the responder is left pending.
#[no_mangle]
pub extern "C" fn rpcx_responder_error(
    responder: *mut rpcx_responder,
    message: *const c_char,
    payload: *const u8,
    payload_len: usize,
) -> rpcx_status {
    run(None, || {
        if responder.is_null() {
            return Err(crate::guard::null_arg("responder"));
        }
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let message = unsafe { cstr(message, "message")? };
        // SAFETY: the caller passes `payload_len` readable bytes at `payload` (or len 0).
        let data = unsafe { bytes(payload, payload_len, "payload")? };
        complete(responder, |_| {
            Err(ServiceError::new(message).with_payload(Bytes::copy_from_slice(data)))
        })
    })
}

/// Releases a responder without replying: the caller receives `RPCX_ERR_SERVER` with the
/// text "rpcx: handler released the call without replying". NULL, or a responder already
/// completed, released or abandoned, is ignored. Callable from any thread.
#[no_mangle]
pub extern "C" fn rpcx_responder_free(responder: *mut rpcx_responder) {
    run_or((), || {
        if !responder.is_null() {
            drop(take(responder.addr()));
        }
    })
}

/// Pending responders, for tests.
#[cfg(test)]
pub(crate) fn pending_responders() -> usize {
    RESPONDERS.len()
}
