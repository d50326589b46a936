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
//! and an `AsyncCalls` of its own), `registry` (etcd and Consul registry plugins of a server),
//! `tls` (TLS and mutual TLS settings of the options, registries over TLS), `server_http`
//! (HTTP on the rpcx port: gateway, JSON-RPC, tunnels, CORS and request limits), `log` (the
//! core's log events to a C callback or stderr), `compress` (compressors registered by
//! callbacks, the compress type a client sends), `transfer` (file transfer and streams: server
//! side listeners, client uploads, downloads and `rpcx_stream`).
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
mod compress;
mod discovery;
mod error;
mod guard;
mod handler;
mod inform;
mod interceptor;
mod log;
mod metadata;
mod observe;
mod options;
mod push;
mod reflection;
mod registry;
mod runtime;
mod selector;
mod server;
mod server_http;
mod sized;
mod status;
mod tls;
mod trace;
mod transfer;
mod xclient;

use std::os::raw::{c_char, c_void};

pub use buf::{rpcx_buf, rpcx_buf_free};
pub use calls::rpcx_call_callback;
pub use client::*;
pub use compress::*;
pub use discovery::*;
pub use error::*;
pub use handler::*;
pub use inform::*;
pub use interceptor::*;
pub use log::*;
pub use metadata::*;
pub use observe::*;
pub use options::*;
pub use push::*;
pub use reflection::*;
pub use registry::*;
pub use selector::rpcx_selector_callback;
pub use server::*;
pub use server_http::*;
pub use status::{rpcx_status, rpcx_status_str};
pub use tls::*;
pub use trace::*;
pub use transfer::*;
pub use xclient::*;

use guard::{invalid_arg, run, run_or};

/// Releases the `userdata` registered with a callback. Called exactly once, after the last
/// possible call of that callback, on whichever thread drops the last reference (documented
/// on each function taking one). May be NULL when there is nothing to release.
pub type rpcx_finalizer = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// The version of librpcx (`"0.1.0"`): a static NUL-terminated string, never NULL; do not
/// free it. The header's `RPCX_VERSION` is the version a program was compiled against; this is
/// the version of the library it runs with. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    run_or(std::ptr::null(), || VERSION.as_ptr().cast())
}

/// The version of librpcx as one number: major × 10000 + minor × 100 + patch (`100` for
/// 0.1.0). Compare it with the header's `RPCX_VERSION_NUMBER` (the same formula over
/// `RPCX_VERSION_MAJOR`, `_MINOR` and `_PATCH`, the version a program was compiled against):
/// before 1.0 a program runs only with the minor version it was built for (the SONAME
/// `librpcx.so.0` does not tell 0.x releases apart), from 1.0 on with any later minor of its
/// major version. Never fails; thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_version_number() -> u32 {
    VERSION_NUMBER
}

/// `major * 10000 + minor * 100 + patch` of this crate, checked at compile time: minor and
/// patch must stay below 100 for the number to be unambiguous.
const VERSION_NUMBER: u32 = {
    let major = decimal(env!("CARGO_PKG_VERSION_MAJOR"));
    let minor = decimal(env!("CARGO_PKG_VERSION_MINOR"));
    let patch = decimal(env!("CARGO_PKG_VERSION_PATCH"));
    assert!(
        minor < 100 && patch < 100,
        "rpcx_version_number needs minor and patch below 100"
    );
    major * 10000 + minor * 100 + patch
};

const fn decimal(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut n = 0u32;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "version parts are decimal numbers");
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

/// Sets the number of worker threads of the rpcx runtime, which runs every connection,
/// handler callback and async completion. Without this call the runtime starts lazily, on the
/// first server start, client connect or XClient, with one worker per CPU.
///
/// Returns `RPCX_OK` only when the runtime will start with `n` workers: the call is atomic
/// with respect to the runtime's start — if another thread is starting it, this waits for
/// that start and returns `RPCX_ERR_INVALID_STATE`, as it does whenever the runtime is
/// already running. Before the start it may be called again (the last value counts).
/// `RPCX_ERR_INVALID_ARG` when `n` is 0. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_runtime_set_worker_threads(n: usize) -> rpcx_status {
    run(None, || {
        if n == 0 {
            return Err(invalid_arg("rpcx: worker threads must be at least 1"));
        }
        runtime::set_worker_threads(n)
    })
}

#[cfg(test)]
mod tests;
