//! `rpcx_error`: a status code with a message, plus the reply payload and metadata of a
//! remote error.

use std::os::raw::c_char;

use bytes::Bytes;
use rpcx_core::Error;

use crate::guard::run_or;
use crate::metadata::rpcx_metadata;
use crate::status::rpcx_status;

/// An error with its message. For `RPCX_ERR_SERVER` it also carries the server's reply
/// payload and the response metadata (which includes `__rpcx_error__`).
///
/// Owned by the caller once returned through an `rpcx_error **err_out` parameter; release it
/// with `rpcx_error_free`. Immutable: any thread may read it, and reads may run concurrently.
pub struct rpcx_error {
    status: rpcx_status,
    /// The message bytes followed by one NUL.
    message: Vec<u8>,
    payload: Bytes,
    metadata: rpcx_metadata,
}

/// An error on its way out of an export.
pub(crate) struct Failure {
    pub(crate) status: rpcx_status,
    message: String,
    payload: Bytes,
    metadata: Option<rpcx_core::protocol::Metadata>,
}

impl Failure {
    pub(crate) fn new(status: rpcx_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
            payload: Bytes::new(),
            metadata: None,
        }
    }

    pub(crate) fn into_error(self) -> rpcx_error {
        let mut message = self.message.into_bytes();
        message.push(0);
        rpcx_error {
            status: self.status,
            message,
            payload: self.payload,
            metadata: self
                .metadata
                .as_ref()
                .map(rpcx_metadata::from_core)
                .unwrap_or_default(),
        }
    }
}

impl Failure {
    /// The failure `e` describes, `e` kept (for errors the caller still owns).
    pub(crate) fn of(e: &Error) -> Failure {
        match e {
            Error::Server(s) => Failure {
                status: rpcx_status::of(e),
                message: s.message.clone(),
                payload: s.payload.clone(),
                metadata: Some(s.metadata.clone()),
            },
            other => Failure::new(rpcx_status::of(other), other.to_string()),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::of(&e)
    }
}

/// The status code of `err` (`RPCX_ERR_NULL_ARG` when `err` is NULL). Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_error_code(err: Option<&rpcx_error>) -> rpcx_status {
    run_or(rpcx_status::RPCX_ERR_PANIC, || {
        err.map_or(rpcx_status::RPCX_ERR_NULL_ARG, |e| e.status)
    })
}

/// The message of `err`, NUL-terminated. For `RPCX_ERR_SERVER` it is the server's error text
/// exactly as sent (`__rpcx_error__`); if that text contains NUL bytes, `*len_out` still gives
/// its full length.
///
/// `len_out` may be NULL; otherwise it receives the length in bytes (without the final NUL).
/// The string is borrowed from `err`: valid until `rpcx_error_free(err)`; do not free it.
/// Returns NULL (and leaves `*len_out` unchanged) when `err` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_error_message(
    err: Option<&rpcx_error>,
    len_out: Option<&mut usize>,
) -> *const c_char {
    run_or(std::ptr::null(), || match err {
        None => std::ptr::null(),
        Some(e) => {
            if let Some(l) = len_out {
                *l = e.message.len() - 1;
            }
            e.message.as_ptr().cast()
        }
    })
}

/// The reply payload a server sent along with its error (Go services send their reply
/// object with an error). Empty for every other kind of error.
///
/// `len_out` may be NULL; otherwise it receives the length. The bytes are borrowed from
/// `err`: valid until `rpcx_error_free(err)`. Returns NULL when the payload is empty or `err`
/// is NULL (then `*len_out` is set to 0 if `err` is not NULL).
#[no_mangle]
pub extern "C" fn rpcx_error_payload(
    err: Option<&rpcx_error>,
    len_out: Option<&mut usize>,
) -> *const u8 {
    run_or(std::ptr::null(), || match err {
        None => std::ptr::null(),
        Some(e) => {
            if let Some(l) = len_out {
                *l = e.payload.len();
            }
            if e.payload.is_empty() {
                std::ptr::null()
            } else {
                e.payload.as_ptr()
            }
        }
    })
}

/// The response metadata of a server error (including `__rpcx_error__`); an empty map for
/// every other kind of error.
///
/// Borrowed from `err`: valid until `rpcx_error_free(err)`; do not free or modify it.
/// Returns NULL only when `err` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_error_metadata(err: Option<&rpcx_error>) -> *const rpcx_metadata {
    run_or(std::ptr::null(), || {
        err.map_or(std::ptr::null(), |e| &e.metadata as *const rpcx_metadata)
    })
}

/// Frees an error returned through an `err_out` parameter. NULL is accepted and ignored.
/// Call it once per error; the error must not be in use by another thread.
#[no_mangle]
pub extern "C" fn rpcx_error_free(err: Option<Box<rpcx_error>>) {
    run_or((), || drop(err))
}
