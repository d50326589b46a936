//! Option objects of servers and clients, and the frame limits both share.

use std::os::raw::c_char;
use std::time::Duration;

use rpcx_core::client::ClientOptions;
use rpcx_core::protocol::{Limits, SerializeType};
use rpcx_core::server::ServerOptions;
use rpcx_core::transport::tls::{ClientTlsConfig, ServerTlsConfig};

use crate::error::Failure;
use crate::guard::{invalid_arg, opt_cstr, req_mut, run, run_or};
use crate::sized::{self, Extensible};
use crate::status::rpcx_status;

/// Serialize type 0: raw bytes, passed through untouched (the C API's default).
pub const RPCX_SERIALIZE_RAW: u8 = 0;
/// Serialize type 1: JSON.
pub const RPCX_SERIALIZE_JSON: u8 = 1;
/// Serialize type 2: Protocol Buffers.
pub const RPCX_SERIALIZE_PROTOBUF: u8 = 2;
/// Serialize type 3: MessagePack (the Go client's default).
pub const RPCX_SERIALIZE_MSGPACK: u8 = 3;

/// Limits applied to every frame read (and written). An extensible struct (later versions may
/// append fields): initialise it with `rpcx_limits_init(&limits, sizeof limits)`, which sets
/// `struct_size` and the defaults, then change the fields you need. Every limit must be at
/// least 1.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rpcx_limits {
    /// `sizeof(rpcx_limits)` in the program, written by `rpcx_limits_init`: rpcx reads this
    /// many bytes. A struct with `struct_size` 0 (not initialised) or below the size of the
    /// first version is refused with `RPCX_ERR_INVALID_ARG`.
    pub struct_size: usize,
    /// Largest frame, in bytes after the 16-byte prefix. Default 16 MiB.
    pub max_frame_len: u32,
    /// Largest payload after gzip decompression. Default 16 MiB.
    pub max_decompressed_len: usize,
    /// Most metadata pairs in one frame. Default 256.
    pub max_metadata_entries: usize,
    /// Largest encoded metadata section of one frame. Default 256 KiB.
    pub max_metadata_bytes: usize,
}

// SAFETY: `#[repr(C)]`, starts with `struct_size: usize`, integers only.
unsafe impl Extensible for rpcx_limits {
    const NAME: &'static str = "rpcx_limits";
    // The first version: the fields above.
    const MIN_SIZE: usize = size_of::<rpcx_limits>();

    fn defaults() -> rpcx_limits {
        let l = Limits::DEFAULT;
        rpcx_limits {
            struct_size: size_of::<rpcx_limits>(),
            max_frame_len: l.max_frame_len,
            max_decompressed_len: l.max_decompressed_len,
            max_metadata_entries: l.max_metadata_entries,
            max_metadata_bytes: l.max_metadata_bytes,
        }
    }
}

/// The caller's limits, checked.
///
/// # Safety
/// As for [`sized::read`].
unsafe fn to_limits(limits: *const rpcx_limits) -> Result<Limits, Failure> {
    // SAFETY: forwarded from our caller.
    let l = unsafe { sized::read(limits)? };
    if l.max_frame_len == 0
        || l.max_decompressed_len == 0
        || l.max_metadata_entries == 0
        || l.max_metadata_bytes == 0
    {
        return Err(invalid_arg("rpcx: every limit must be at least 1"));
    }
    Ok(Limits::DEFAULT
        .with_max_frame_len(l.max_frame_len)
        .with_max_decompressed_len(l.max_decompressed_len)
        .with_max_metadata_entries(l.max_metadata_entries)
        .with_max_metadata_bytes(l.max_metadata_bytes))
}

/// Initialises `*limits` with the defaults (16 MiB frames and payloads, 256 metadata pairs,
/// 256 KiB of metadata) and sets `limits->struct_size` to `struct_size`, which must be
/// `sizeof(rpcx_limits)` (`sizeof *limits`): the size of the struct your program was compiled
/// with. Fields a newer header has and this librpcx does not know are zeroed (left unset).
///
/// `RPCX_ERR_NULL_ARG` when `limits` is NULL; `RPCX_ERR_INVALID_ARG` when `struct_size` is
/// smaller than the first version of the struct (or absurdly large); nothing is written then.
/// Thread-safe (writes only `*limits`).
#[no_mangle]
pub extern "C" fn rpcx_limits_init(limits: *mut rpcx_limits, struct_size: usize) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller passes NULL or a struct of `struct_size` writable bytes.
        unsafe { sized::init(limits, struct_size) }
    })
}

/// Options of a server, copied by `rpcx_server_new`. Not synchronised: configure it from one
/// thread, then use it for any number of servers.
#[derive(Debug, Clone, Default)]
pub struct rpcx_server_options {
    pub(crate) inner: ServerOptions,
    /// The TLS material behind `inner.tls` (see `tls.rs`).
    pub(crate) tls: Option<ServerTlsConfig>,
}

/// New server options with the defaults: the limits of `rpcx_limits_init`, 16 384 requests in flight
/// per connection, 10 000 connections, no idle timeout; HTTP on the rpcx port (gateway,
/// JSON-RPC, `CONNECT` and WebSocket tunnels) on, CORS off (see
/// `rpcx_server_options_set_http_gateway` and the setters beside it). Owned by the caller: free with
/// `rpcx_server_options_free`. Returns NULL only if rpcx failed internally.
#[no_mangle]
pub extern "C" fn rpcx_server_options_new() -> *mut rpcx_server_options {
    run_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::<rpcx_server_options>::default())
    })
}

/// Sets the frame limits (copied; see `rpcx_limits` and `rpcx_limits_init`).
/// `RPCX_ERR_INVALID_ARG` if a limit is 0 or `limits->struct_size` is wrong (0: not
/// initialised with `rpcx_limits_init`). `RPCX_ERR_NULL_ARG` when a pointer argument is
/// NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_limits(
    opts: Option<&mut rpcx_server_options>,
    limits: *const rpcx_limits,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes NULL or a struct with a truthful `struct_size`.
        opts.inner.limits = unsafe { to_limits(limits)? };
        Ok(())
    })
}

/// Applies `set` to a copy of the options and keeps it only if the core accepts the result
/// (`ServerOptions::validate`, the same check `rpcx_server_start` makes).
pub(crate) fn set_server_option(
    opts: Option<&mut rpcx_server_options>,
    set: impl FnOnce(&mut ServerOptions),
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        let mut next = opts.inner.clone();
        set(&mut next);
        next.validate()
            .map_err(|e| invalid_arg(format!("rpcx: {e}")))?;
        opts.inner = next;
        Ok(())
    })
}

/// Sets how many requests one connection may have in flight; reading from it pauses while
/// the limit is reached. Default 16384. `RPCX_ERR_INVALID_ARG` if `n` is 0 or over
/// 4294967295. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_max_inflight(
    opts: Option<&mut rpcx_server_options>,
    n: usize,
) -> rpcx_status {
    set_server_option(opts, |o| o.max_inflight_per_conn = n)
}

/// Sets how many connections are served at once; more wait in the accept queue. Default
/// 10000. `RPCX_ERR_INVALID_ARG` if `n` is 0 (or absurdly large).
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_max_connections(
    opts: Option<&mut rpcx_server_options>,
    n: usize,
) -> rpcx_status {
    set_server_option(opts, |o| o.max_connections = n)
}

/// Sets how many bytes one connection may hold in requests being served plus replies not yet
/// written; while it holds that much the server reads nothing more from it (its client is
/// held back by TCP), so a client that never reads its replies pins a bounded amount of
/// memory. Default 4 MiB. `RPCX_ERR_INVALID_ARG` if `n` is 0.
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_max_pending_bytes_per_conn(
    opts: Option<&mut rpcx_server_options>,
    n: usize,
) -> rpcx_status {
    set_server_option(opts, |o| o.max_pending_bytes_per_conn = n)
}

/// Sets the same byte budget for the whole server, over all its connections. Default 256 MiB.
/// `RPCX_ERR_INVALID_ARG` if `n` is 0. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs
/// exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_max_pending_bytes(
    opts: Option<&mut rpcx_server_options>,
    n: usize,
) -> rpcx_status {
    set_server_option(opts, |o| o.max_pending_bytes = n)
}

/// Closes connections that send nothing (not even heartbeats) for `ms` milliseconds; 0
/// turns the idle timeout off (the default).
/// `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_idle_timeout_ms(
    opts: Option<&mut rpcx_server_options>,
    ms: u64,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        opts.inner.idle_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        Ok(())
    })
}

/// Frees server options. NULL is accepted and ignored.
#[no_mangle]
pub extern "C" fn rpcx_server_options_free(opts: Option<Box<rpcx_server_options>>) {
    run_or((), || drop(opts))
}

/// Options of a client, copied by `rpcx_client_connect`. Not synchronised: configure it from
/// one thread, then use it for any number of clients.
#[derive(Debug, Clone)]
pub struct rpcx_client_options {
    pub(crate) inner: ClientOptions,
    /// TLS settings, combined with `inner` by `resolved` (see `tls.rs`).
    pub(crate) tls: Option<ClientTlsConfig>,
    /// The push callback (`rpcx_client_options_set_push_callback`).
    pub(crate) push: Option<std::sync::Arc<crate::push::PushCallback>>,
}

impl Default for rpcx_client_options {
    fn default() -> Self {
        rpcx_client_options {
            inner: ClientOptions::default().serialize_type(SerializeType::RAW),
            tls: None,
            push: None,
        }
    }
}

/// New client options with the defaults: serialize type `RPCX_SERIALIZE_RAW`, no call
/// timeout, 1 s connect timeout, no gzip, no heartbeat, no auth token, default limits.
/// Owned by the caller: free with `rpcx_client_options_free`. Returns NULL only if rpcx failed
/// internally.
#[no_mangle]
pub extern "C" fn rpcx_client_options_new() -> *mut rpcx_client_options {
    run_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::<rpcx_client_options>::default())
    })
}

/// Sets the serialize type written in every request header (`RPCX_SERIALIZE_*`, 0–15). The
/// C API never encodes payloads: this tells the server how you encoded them.
/// `RPCX_ERR_INVALID_ARG` above 15.
/// `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_serialize_type(
    opts: Option<&mut rpcx_client_options>,
    serialize_type: u8,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        let st = SerializeType::new(serialize_type)
            .ok_or_else(|| invalid_arg("rpcx: serialize type must be 0..=15"))?;
        opts.inner.serialize_type = st;
        Ok(())
    })
}

/// Sets the timeout of calls that pass none themselves, in milliseconds; 0 means wait
/// forever (the default). The remaining time is also sent to the server (`__ServerTimeout`).
/// `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_timeout_ms(
    opts: Option<&mut rpcx_client_options>,
    ms: u64,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        opts.inner.default_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        Ok(())
    })
}

/// Sets how many bytes of requests may wait for the connection's writer (default 16 MiB):
/// when a server stops reading, calls wait for room (within their timeout) instead of the
/// queue growing. A single request larger than this waits until the queue is empty, then goes
/// alone. For an XClient, set it on the client options given to
/// `rpcx_xclient_options_set_client_options`. `RPCX_ERR_INVALID_ARG` if 0.
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_max_unsent_bytes(
    opts: Option<&mut rpcx_client_options>,
    bytes: usize,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        if bytes == 0 {
            return Err(invalid_arg("rpcx: max_unsent_bytes must be at least 1"));
        }
        opts.inner.max_unsent_bytes = bytes;
        Ok(())
    })
}

/// Sets the connect timeout in milliseconds (default 1000). `RPCX_ERR_INVALID_ARG` if 0.
/// `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_connect_timeout_ms(
    opts: Option<&mut rpcx_client_options>,
    ms: u64,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        if ms == 0 {
            return Err(invalid_arg("rpcx: connect timeout must be at least 1 ms"));
        }
        opts.inner.connect_timeout = Duration::from_millis(ms);
        Ok(())
    })
}

/// Turns gzip compression of request payloads larger than 1 KiB on or off (default off).
/// `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_gzip(
    opts: Option<&mut rpcx_client_options>,
    enable: bool,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        opts.inner = opts.inner.clone().gzip(enable);
        Ok(())
    })
}

/// Sends a heartbeat every `interval_ms` milliseconds (0: no heartbeats, the default); a
/// heartbeat unanswered within `timeout_ms` (0: 30 s) closes the connection and fails its
/// pending calls with `RPCX_ERR_CONNECTION`.
/// `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_heartbeat(
    opts: Option<&mut rpcx_client_options>,
    interval_ms: u64,
    timeout_ms: u64,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        opts.inner.heartbeat_interval =
            (interval_ms > 0).then(|| Duration::from_millis(interval_ms));
        opts.inner.heartbeat_timeout = if timeout_ms > 0 {
            Duration::from_millis(timeout_ms)
        } else {
            Duration::from_secs(30)
        };
        Ok(())
    })
}

/// Sets the token sent as `__AUTH` with every call (copied); NULL removes it.
/// `RPCX_ERR_INVALID_ARG` if it is not UTF-8.
/// `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_auth_token(
    opts: Option<&mut rpcx_client_options>,
    token: *const c_char,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes NULL or a NUL-terminated string valid during the call.
        let token = unsafe { opt_cstr(token, "token")? };
        opts.inner.auth_token = token.map(str::to_owned);
        Ok(())
    })
}

/// Sets the limits on frames read from the server (copied; see `rpcx_limits_init`).
/// `RPCX_ERR_INVALID_ARG` if a limit is 0 or `limits->struct_size` is wrong (0: not
/// initialised with `rpcx_limits_init`). `RPCX_ERR_NULL_ARG` when a pointer argument is
/// NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_limits(
    opts: Option<&mut rpcx_client_options>,
    limits: *const rpcx_limits,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes NULL or a struct with a truthful `struct_size`.
        opts.inner.limits = unsafe { to_limits(limits)? };
        Ok(())
    })
}

/// Frees client options. NULL is accepted and ignored.
#[no_mangle]
pub extern "C" fn rpcx_client_options_free(opts: Option<Box<rpcx_client_options>>) {
    run_or((), || drop(opts))
}
