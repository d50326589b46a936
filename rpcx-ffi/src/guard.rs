//! The panic boundary and argument checks shared by every export.

use std::any::Any;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{rpcx_error, Failure};
use crate::status::rpcx_status;

/// Runs `f` behind the panic boundary; a failure is stored in `*err_out` when `err_out` is
/// not NULL, and its status returned.
pub(crate) fn run(
    err_out: Option<&mut *mut rpcx_error>,
    f: impl FnOnce() -> Result<(), Failure>,
) -> rpcx_status {
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return rpcx_status::RPCX_OK,
        Ok(Err(failure)) => failure,
        Err(panic) => Failure::new(rpcx_status::RPCX_ERR_PANIC, panic_text(&*panic)),
    };
    let status = failure.status;
    if let Some(out) = err_out {
        *out = Box::into_raw(Box::new(failure.into_error()));
    }
    status
}

/// Runs `f` behind the panic boundary for exports that return a value; `fallback` on panic.
pub(crate) fn run_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

pub(crate) fn panic_text(panic: &(dyn Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("rpcx: internal panic: {what}")
}

/// A required reference argument.
pub(crate) fn req<'a, T>(p: Option<&'a T>, name: &str) -> Result<&'a T, Failure> {
    p.ok_or_else(|| null_arg(name))
}

/// A required mutable reference argument.
pub(crate) fn req_mut<'a, T>(p: Option<&'a mut T>, name: &str) -> Result<&'a mut T, Failure> {
    p.ok_or_else(|| null_arg(name))
}

pub(crate) fn null_arg(name: &str) -> Failure {
    Failure::new(
        rpcx_status::RPCX_ERR_NULL_ARG,
        format!("rpcx: argument `{name}` is NULL"),
    )
}

pub(crate) fn invalid_arg(text: impl Into<String>) -> Failure {
    Failure::new(rpcx_status::RPCX_ERR_INVALID_ARG, text)
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and unchanged for `'a`.
pub(crate) unsafe fn cstr<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: `p` is not NULL and, by this function's contract, a valid C string for `'a`.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| invalid_arg(format!("rpcx: argument `{name}` is not valid UTF-8")))
}

/// An optional NUL-terminated UTF-8 string argument (NULL gives `None`).
///
/// # Safety
/// As for [`cstr`].
pub(crate) unsafe fn opt_cstr<'a>(
    p: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: same contract as ours; `p` is not NULL.
    unsafe { cstr(p, name) }.map(Some)
}

/// A borrowed byte buffer `(ptr, len)`: `ptr` may be NULL only when `len` is 0.
///
/// # Safety
/// When `len > 0`, `ptr` points to `len` readable bytes that stay valid and unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null_arg(name));
    }
    if len > isize::MAX as usize {
        return Err(invalid_arg(format!(
            "rpcx: length of `{name}` is too large"
        )));
    }
    // SAFETY: `ptr` is not NULL and, by this function's contract, points to `len` readable
    // bytes valid for `'a`; `len` fits in `isize`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// True when the calling thread is one of the runtime's worker threads (or any thread inside
/// a tokio runtime), where blocking would deadlock.
pub(crate) fn on_runtime_thread() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

/// A `*mut c_void` the C caller promised may be used from any thread.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut std::os::raw::c_void);

// SAFETY: the documentation of every export taking `userdata` states that it is passed to
// callbacks on rpcx runtime threads (and to the finalizer on any thread); making that sound
// is the C caller's part of the contract.
unsafe impl Send for UserData {}
// SAFETY: as above; rpcx itself never dereferences the pointer.
unsafe impl Sync for UserData {}

/// Runs a C finalizer exactly once, when dropped.
pub(crate) struct Finalizer {
    pub(crate) userdata: UserData,
    pub(crate) finalizer: crate::rpcx_finalizer,
}

impl Finalizer {
    /// The userdata and finalizer a C caller passed together.
    pub(crate) fn new(
        userdata: *mut std::os::raw::c_void,
        finalizer: crate::rpcx_finalizer,
    ) -> Self {
        Finalizer {
            userdata: UserData(userdata),
            finalizer,
        }
    }
}

impl Drop for Finalizer {
    fn drop(&mut self) {
        if let Some(f) = self.finalizer.take() {
            let ud = self.userdata.0;
            // A panic cannot cross a C frame; nothing Rust runs here can panic, but keep the
            // boundary so a drop during unwinding never aborts.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: `f` is the finalizer the C caller registered with `ud`; it is called
                // exactly once, here, after the last use of `ud` by rpcx.
                unsafe { f(ud) }
            }));
        }
    }
}
