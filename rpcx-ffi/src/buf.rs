//! `rpcx_buf`: bytes owned by rpcx, handed to the caller.

use std::os::raw::c_void;

use bytes::Bytes;

use crate::guard::run_or;

/// Bytes owned by rpcx and handed to the caller (a reply payload). Read `data[0..len)`;
/// release with `rpcx_buf_free`, which also resets the struct to all zeroes. `data` may be
/// NULL when `len` is 0. Do not modify the bytes or the fields; do not free a copy of the
/// struct as well as the original. A plain value: any thread may read or free it (once).
///
/// All zeroes (`rpcx_buf b = {0};`) is an empty buffer that `rpcx_buf_free` accepts:
/// initialise an out-parameter that way, and it can be freed whether or not the call that
/// fills it succeeded (failed calls leave it untouched). The layout is frozen: `rpcx_buf`
/// never grows (it is not an extensible struct, see `rpcx_limits`).
#[repr(C)]
#[derive(Debug)]
pub struct rpcx_buf {
    /// The first byte (NULL when `len` is 0).
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
    /// Private to rpcx (what keeps the bytes alive): do not read, change or rely on it,
    /// except to zero it when initialising an empty buffer.
    pub owner: *mut c_void,
}

impl rpcx_buf {
    /// Hands `bytes` to C without copying.
    pub(crate) fn from_bytes(bytes: Bytes) -> rpcx_buf {
        if bytes.is_empty() {
            return rpcx_buf {
                data: std::ptr::null(),
                len: 0,
                owner: std::ptr::null_mut(),
            };
        }
        let owner = Box::new(bytes);
        rpcx_buf {
            data: owner.as_ptr(),
            len: owner.len(),
            owner: Box::into_raw(owner).cast(),
        }
    }
}

/// Releases the bytes of `buf` and sets its fields to NULL/0, so freeing it again is a
/// no-op. NULL is accepted and ignored. The struct itself is the caller's (usually on the
/// stack); only what it owns is released.
#[no_mangle]
pub extern "C" fn rpcx_buf_free(buf: Option<&mut rpcx_buf>) {
    run_or((), || {
        let Some(buf) = buf else { return };
        let owner = std::mem::replace(&mut buf.owner, std::ptr::null_mut());
        buf.data = std::ptr::null();
        buf.len = 0;
        if !owner.is_null() {
            // SAFETY: a non-NULL `owner` was produced by `Box::into_raw(Box<Bytes>)` in
            // `from_bytes`, and is reset to NULL above so it is reclaimed only once.
            drop(unsafe { Box::from_raw(owner.cast::<Bytes>()) });
        }
    })
}
