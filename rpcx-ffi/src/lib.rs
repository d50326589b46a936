//! # librpcx — the C ABI of rpcx
//!
//! Exported names are `rpcx_<type>_<verb>`; types are opaque; every fallible function returns
//! an [`rpcx_status`] and writes its out-parameters only on success. A message-carrying
//! [`rpcx_error`] comes back through an optional `rpcx_error **err_out`. Every export sits
//! behind a panic boundary (`RPCX_ERR_PANIC`) and checks its pointer arguments for NULL
//! (`RPCX_ERR_NULL_ARG`) and its strings for UTF-8 (`RPCX_ERR_INVALID_ARG`).
//!
//! The header `include/rpcx.h` is generated from this crate by cbindgen
//! (`scripts/gen-header.sh`); the documentation there is these doc comments.
//!
//! Layout: `status`/`error`/`guard` (codes, error objects, the panic boundary and argument
//! checks), `buf`/`metadata` (data crossing the boundary), `options`, `server` + `handler`
//! (C handlers on the core `Handler` trait, responders as tokens), `client` + `calls` (the
//! async-call registry: ids, cancel, completion exactly once), `discovery` (peer, multiple
//! servers, etcd, Consul), `xclient` + `selector` (options, a selector in C, call / async /
//! broadcast / fork / send with the client's argument order, the same `rpcx_call_callback`
//! and an `AsyncCalls` of its own), `registry` (etcd and Consul registry plugins of a server).
#![allow(non_camel_case_types)]
// The exports are the C ABI: callers are C programs, for which `unsafe` means nothing. Each
// export documents its pointer contract, checks what can be checked (NULL, UTF-8, lengths)
// and derefs raw pointers only through the helpers in `guard`, in `// SAFETY:` blocks.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![deny(missing_docs)]

#[cfg(panic = "abort")]
compile_error!(
    "rpcx-ffi needs panic = \"unwind\": its panic boundary turns panics into RPCX_ERR_PANIC"
);

mod buf;
mod calls;
mod client;
mod discovery;
mod error;
mod guard;
mod handler;
mod metadata;
mod observe;
mod options;
mod registry;
mod selector;
mod server;
mod status;
mod xclient;

use std::os::raw::{c_char, c_void};

pub use buf::{rpcx_buf, rpcx_buf_free};
pub use calls::rpcx_call_callback;
pub use client::*;
pub use discovery::*;
pub use error::*;
pub use handler::*;
pub use metadata::*;
pub use observe::*;
pub use options::*;
pub use registry::*;
pub use selector::rpcx_selector_callback;
pub use server::*;
pub use status::{rpcx_status, rpcx_status_str};
pub use xclient::*;

use guard::{invalid_arg, run, run_or};

/// Releases the `userdata` registered with a callback. Called exactly once, after the last
/// possible call of that callback, on whichever thread drops the last reference (documented
/// on each function taking one). May be NULL when there is nothing to release.
pub type rpcx_finalizer = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// The version of librpcx (`"0.1.0"`): a static NUL-terminated string, never NULL; do not
/// free it. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    run_or(std::ptr::null(), || VERSION.as_ptr().cast())
}

/// Sets the number of worker threads of the rpcx runtime, which runs every connection,
/// handler callback and async completion. Without this call the runtime starts lazily, on the
/// first server start or client connect, with one worker per CPU.
///
/// Call it before anything starts the runtime. Returns `RPCX_ERR_INVALID_ARG` when `n` is 0
/// and `RPCX_ERR_CONFIG` once the runtime is running. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_runtime_set_worker_threads(n: usize) -> rpcx_status {
    run(None, || {
        if n == 0 {
            return Err(invalid_arg("rpcx: worker threads must be at least 1"));
        }
        rpcx_core::runtime::set_worker_threads(n)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests;
