//! `rpcx_client`: one multiplexed connection; blocking, async and oneway calls.

use std::os::raw::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rpcx_core::client::{Client, RawRequest};

use crate::buf::rpcx_buf;
use crate::calls::{
    cancel_call, close, close_handle, rpcx_call_callback, write_reply, AsyncCalls, Closable,
};
use crate::error::{rpcx_error, Failure};
use crate::guard::{bytes, cstr, req, req_mut, run, run_or};
use crate::metadata::rpcx_metadata;
use crate::options::rpcx_client_options;
use crate::push::PushPump;
use crate::status::rpcx_status;

/// A connection to one rpcx server. Calls from any number of threads are multiplexed on it.
///
/// Thread-safe: every function may be called from any thread, concurrently, except
/// `rpcx_client_free`, which must be the last call on the client and must not race with any
/// other.
pub struct rpcx_client {
    shared: Arc<Shared>,
}

impl rpcx_client {
    /// The core client.
    pub(crate) fn core(&self) -> &Client {
        &self.shared.client
    }
}

struct Shared {
    client: Client,
    calls: AsyncCalls,
    /// Delivers pushes to the options' push callback, if any.
    pushes: Option<PushPump>,
}

/// Connects to `address` (`tcp@host:port`, `host:port` or `unix@/path`; or rpcx tunnelled
/// as Go's clients do: `http@host:port` through an HTTP `CONNECT /_rpcx_`, `ws@host:port` in
/// a WebSocket at `/_rpcx_`, `wss@host:port` the same over TLS, which needs the TLS options)
/// with `opts` (copied; NULL for the defaults of `rpcx_client_options_new`). Blocks until
/// connected (tunnel set up) or the connect timeout passes. On success `*client_out` receives the client, owned by the caller: free
/// it with `rpcx_client_free`.
///
/// Errors: `RPCX_ERR_NULL_ARG` (`address` or `client_out` NULL), `RPCX_ERR_ADDRESS`,
/// `RPCX_ERR_CONNECTION` (refused, unreachable, timed out, or a TLS handshake failed: the
/// message says why, e.g. `TLS handshake: invalid peer certificate: UnknownIssuer`),
/// `RPCX_ERR_CONFIG` (TLS on without a CA and no system CA bundle),
/// `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out` may be NULL; otherwise on failure it receives an
/// `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_client_connect(
    address: *const c_char,
    opts: Option<&rpcx_client_options>,
    client_out: Option<&mut *mut rpcx_client>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let address = unsafe { cstr(address, "address")? };
        let out = req_mut(client_out, "client_out")?;
        let opts = opts.cloned().unwrap_or_default();
        let options = opts.resolved()?;
        let client = crate::runtime::block_on(Client::connect(address, options))??;
        let pushes = match (opts.push, client.take_pushes()) {
            (Some(callback), Some(rx)) => {
                Some(PushPump::start(rx, callback, client.address().to_string())?)
            }
            _ => None,
        };
        let shared = Arc::new(Shared {
            client,
            calls: AsyncCalls::default(),
            pushes,
        });
        *out = Box::into_raw(Box::new(rpcx_client { shared }));
        Ok(())
    })
}

/// Builds the request shared by the call functions.
///
/// # Safety
/// The pointers follow the contract of `rpcx_client_call`.
unsafe fn request(
    service: *const c_char,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    timeout_ms: u64,
    client: &Client,
) -> Result<RawRequest, Failure> {
    // SAFETY: forwarded from our caller's contract.
    let (service, method, data) = unsafe {
        (
            cstr(service, "service")?,
            cstr(method, "method")?,
            bytes(payload, payload_len, "payload")?,
        )
    };
    Ok(RawRequest {
        service: service.to_owned(),
        method: method.to_owned(),
        serialize_type: client.options().serialize_type,
        metadata: meta.map(rpcx_metadata::to_core).unwrap_or_default(),
        payload: Bytes::copy_from_slice(data),
        timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
    })
}

/// Calls `service.method` and waits for the reply.
///
/// Arguments: `service`, `method` NUL-terminated UTF-8; `payload[0..payload_len)` the request
/// payload, already encoded as the client's serialize type says (copied; NULL allowed when
/// the length is 0); `meta` request metadata (copied; NULL for none); `timeout_ms` the call
/// timeout (0: the client's default), also sent to the server as `__ServerTimeout`.
///
/// On `RPCX_OK`: `*reply_out` (may be NULL to discard) receives the reply payload — free it
/// with `rpcx_buf_free` — and `*reply_meta_out` (may be NULL to discard) the response
/// metadata — free it with `rpcx_metadata_free`. On failure neither is written, and
/// `*err_out` (may be NULL) receives an `rpcx_error` to free with `rpcx_error_free`:
/// `RPCX_ERR_SERVER` (the service's error, with its text intact, reply payload and metadata),
/// `RPCX_ERR_TIMEOUT`, `RPCX_ERR_CLOSED`, `RPCX_ERR_CONNECTION`, `RPCX_ERR_PROTOCOL`…, and
/// `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` when `client`, `service` or `method` is NULL
/// or a name is not UTF-8.
///
/// Blocks the calling thread; on an rpcx runtime thread (in a handler or a callback) it
/// returns `RPCX_ERR_BLOCKING_IN_RUNTIME` at once — use `rpcx_client_call_async` there.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_client_call(
    client: Option<&rpcx_client>,
    service: *const c_char,
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
        let client = req(client, "client")?;
        let c = &client.shared.client;
        // SAFETY: the caller follows this function's documented pointer contract.
        let req = unsafe { request(service, method, payload, payload_len, meta, timeout_ms, c)? };
        let resp = crate::runtime::block_on(c.call_raw(req))??;
        write_reply(resp, reply_out, reply_meta_out);
        Ok(())
    })
}

/// Starts a call of `service.method` without waiting (arguments as for `rpcx_client_call`,
/// all copied before this returns). On `RPCX_OK` the call is under way and `callback` will be
/// called exactly once with its outcome (see `rpcx_call_callback`) — possibly before this
/// function returns, on another thread. `*call_id_out` (may be NULL) receives the call's id
/// (never 0), for `rpcx_client_cancel`.
///
/// On failure (`RPCX_ERR_NULL_ARG` — `callback` included —, `RPCX_ERR_INVALID_ARG`,
/// `RPCX_ERR_CLOSED` after `rpcx_client_close`) the callback is never called. `userdata` is
/// passed to the callback untouched; rpcx never frees it. Callable from any thread, including
/// rpcx runtime threads (handlers, callbacks).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_client_call_async(
    client: Option<&rpcx_client>,
    service: *const c_char,
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
        let client = req(client, "client")?;
        let shared = &client.shared;
        // SAFETY: the caller follows this function's documented pointer contract.
        let req = unsafe {
            request(
                service,
                method,
                payload,
                payload_len,
                meta,
                timeout_ms,
                &shared.client,
            )?
        };
        shared.calls.start(callback, userdata, call_id_out, |id| {
            let task_shared = Arc::clone(shared);
            async move {
                let result = task_shared.client.call_raw(req).await;
                task_shared.calls.finish(id, result.map_err(Failure::from));
            }
        })
    })
}

/// Cancels the async call `call_id`: its callback runs now, on this thread, before this
/// returns, with `RPCX_ERR_CANCELLED`; a reply arriving later is dropped. Returns
/// `RPCX_ERR_NOT_FOUND` when the call already completed (its callback ran or is running) or
/// the id is unknown, `RPCX_ERR_NULL_ARG` when `client` is NULL. Callable from any thread.
#[no_mangle]
pub extern "C" fn rpcx_client_cancel(client: Option<&rpcx_client>, call_id: u64) -> rpcx_status {
    cancel_call(client.map(|c| &c.shared), "client", call_id)
}

/// Sends a oneway request (no reply is ever sent; arguments as for `rpcx_client_call`) and
/// returns once it is queued on the connection. Blocking: `RPCX_ERR_BLOCKING_IN_RUNTIME` on
/// rpcx runtime threads. `err_out` as for `rpcx_client_call`.
#[no_mangle]
pub extern "C" fn rpcx_client_send(
    client: Option<&rpcx_client>,
    service: *const c_char,
    method: *const c_char,
    payload: *const u8,
    payload_len: usize,
    meta: Option<&rpcx_metadata>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let client = req(client, "client")?;
        let c = &client.shared.client;
        // SAFETY: the caller follows this function's documented pointer contract.
        let req = unsafe { request(service, method, payload, payload_len, meta, 0, c)? };
        crate::runtime::block_on(c.send_raw(req))??;
        Ok(())
    })
}

/// The number of async calls started and not yet completed (0 when `client` is NULL).
#[no_mangle]
pub extern "C" fn rpcx_client_pending(client: Option<&rpcx_client>) -> usize {
    run_or(0, || client.map_or(0, |c| c.shared.calls.pending()))
}

impl Closable for Shared {
    fn calls(&self) -> &AsyncCalls {
        &self.calls
    }

    fn close_core(&self) {
        self.client.close();
    }

    fn pushes(&self) -> Option<&PushPump> {
        self.pushes.as_ref()
    }
}

/// Closes the connection: blocking calls in progress fail with `RPCX_ERR_CLOSED`, every
/// pending async call's callback runs with `RPCX_ERR_CLOSED` on this thread before this
/// returns, and later calls fail with `RPCX_ERR_CLOSED`. Also waits for callbacks running on
/// other threads to return (not when called from inside one of this client's callbacks).
/// Idempotent; callable from any thread. `RPCX_ERR_NULL_ARG` when `client` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_client_close(client: Option<&rpcx_client>) -> rpcx_status {
    close_handle(client.map(|c| &c.shared), "client")
}

/// Closes the client as `rpcx_client_close` does (pending callbacks complete with
/// `RPCX_ERR_CLOSED` before this returns) and frees it. NULL is accepted and ignored. Must be
/// the last call on `client`.
#[no_mangle]
pub extern "C" fn rpcx_client_free(client: Option<Box<rpcx_client>>) {
    run_or((), || {
        if let Some(c) = client {
            close(&*c.shared);
        }
    })
}
