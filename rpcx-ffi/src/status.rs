//! Status codes returned by every fallible export.

use std::os::raw::{c_char, c_int};

use rpcx_core::Error;

/// The outcome of a fallible rpcx function. `RPCX_OK` is 0; every other value is an error.
/// Values are stable: new codes are only ever appended.
///
/// Always 32 bits wide: in C `rpcx_status` is a `uint32_t` (the enum only names the values),
/// in C++ an enum with underlying type `uint32_t` — so neither compiler flags such as
/// `-fshort-enums` nor codes added later change its size. A `switch` over it should have a
/// `default:` for codes this header does not know yet.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum rpcx_status {
    /// Success.
    RPCX_OK = 0,
    /// A required pointer argument was NULL.
    RPCX_ERR_NULL_ARG = 1,
    /// An argument is invalid: a string that is not UTF-8, a zero limit, a serialize type
    /// above 15, an index out of range…
    RPCX_ERR_INVALID_ARG = 2,
    /// The remote service answered with an error. The `rpcx_error` carries the server's text
    /// unchanged, its reply payload and the response metadata.
    RPCX_ERR_SERVER = 3,
    /// The call's deadline passed before a reply arrived.
    RPCX_ERR_TIMEOUT = 4,
    /// The client or server was closed; the call was not or will not be completed.
    RPCX_ERR_CLOSED = 5,
    /// Connecting failed, or the connection broke while the call was pending.
    RPCX_ERR_CONNECTION = 6,
    /// Arguments or reply could not be (de)serialized.
    RPCX_ERR_CODEC = 7,
    /// A frame could not be encoded or decoded (limits, malformed data).
    RPCX_ERR_PROTOCOL = 8,
    /// An I/O error outside a call (binding a listener…).
    RPCX_ERR_IO = 9,
    /// A blocking function was called on an rpcx runtime thread (inside a handler or an async
    /// callback), where it would deadlock. Use the async variant there.
    RPCX_ERR_BLOCKING_IN_RUNTIME = 10,
    /// rpcx panicked internally; the operation did not complete. Please report it.
    RPCX_ERR_PANIC = 11,
    /// An address string is unusable (`tcp@host:port`, `unix@/path`, `http@host:port`,
    /// `ws@host:port` or `wss@host:port` expected).
    RPCX_ERR_ADDRESS = 12,
    /// Registration of a service or method was refused.
    RPCX_ERR_REGISTRATION = 13,
    /// A configuration value is invalid.
    RPCX_ERR_CONFIG = 14,
    /// The object is not in a state that allows this: a server already started or stopped,
    /// a responder already completed or whose call was abandoned, the runtime already
    /// running (`rpcx_runtime_set_worker_threads`).
    RPCX_ERR_INVALID_STATE = 15,
    /// No such entry: a metadata key or index, an async call that already completed, a
    /// service that is not registered (`rpcx_server_unregister`).
    RPCX_ERR_NOT_FOUND = 16,
    /// The async call was cancelled with `rpcx_client_cancel`.
    RPCX_ERR_CANCELLED = 17,
    /// An error this version of the C API does not classify further.
    RPCX_ERR_UNKNOWN = 18,
    /// An XClient found no server to call: its discovery lists none (after group
    /// filtering), or the custom selector chose none.
    RPCX_ERR_NO_SERVER = 19,
    /// A client interceptor refused the call before it was sent (`rpcx_call_reject`); the
    /// message is the interceptor's.
    RPCX_ERR_REFUSED = 20,
}

use rpcx_status::*;

impl rpcx_status {
    /// The status of a core error.
    pub(crate) fn of(e: &Error) -> rpcx_status {
        match e {
            Error::Server(_) => RPCX_ERR_SERVER,
            Error::Timeout(_) => RPCX_ERR_TIMEOUT,
            Error::Closed | Error::XClientShutdown => RPCX_ERR_CLOSED,
            Error::ConnectionLost(_) | Error::Connect { .. } => RPCX_ERR_CONNECTION,
            Error::Codec(_) => RPCX_ERR_CODEC,
            Error::Protocol(_) => RPCX_ERR_PROTOCOL,
            Error::Address(_) => RPCX_ERR_ADDRESS,
            Error::Io(_) => RPCX_ERR_IO,
            Error::BlockingInRuntime => RPCX_ERR_BLOCKING_IN_RUNTIME,
            Error::Registration(_) => RPCX_ERR_REGISTRATION,
            Error::Config(_) => RPCX_ERR_CONFIG,
            Error::NoServer => RPCX_ERR_NO_SERVER,
            Error::BreakerOpen(_) => RPCX_ERR_CONNECTION,
            Error::Refused(_) => RPCX_ERR_REFUSED,
            _ => RPCX_ERR_UNKNOWN,
        }
    }

    /// Static NUL-terminated description.
    fn text(code: c_int) -> &'static [u8] {
        const TABLE: [&[u8]; 21] = [
            b"ok\0",
            b"a required argument is NULL\0",
            b"invalid argument\0",
            b"the remote service returned an error\0",
            b"call timed out\0",
            b"closed\0",
            b"connection failed or lost\0",
            b"serialization error\0",
            b"protocol error\0",
            b"I/O error\0",
            b"blocking call on an rpcx runtime thread\0",
            b"internal panic in rpcx\0",
            b"invalid address\0",
            b"registration refused\0",
            b"invalid configuration\0",
            b"invalid state for this operation\0",
            b"not found\0",
            b"cancelled\0",
            b"unknown error\0",
            b"no server available\0",
            b"refused by a client interceptor\0",
        ];
        usize::try_from(code)
            .ok()
            .and_then(|i| TABLE.get(i).copied())
            .unwrap_or(b"unrecognised status code\0")
    }
}

/// A short static description of a status code, e.g. `"call timed out"` for
/// `RPCX_ERR_TIMEOUT`.
///
/// Takes an `int` so any value is accepted: an unrecognised one gives
/// `"unrecognised status code"`. Never returns NULL. The string is static: do not free it.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_status_str(status: c_int) -> *const c_char {
    rpcx_status::text(status).as_ptr().cast()
}
