//! `rpcx._rpcx`: the Rust half of the `rpcx` Python package.
//!
//! The extension only moves bytes: Python objects are encoded and decoded by the package's
//! Python code on Python threads. Every wait happens with the GIL released
//! ([`runtime::wait`]); runtime threads never take the GIL — server calls reach Python through
//! a job queue served by Python threads ([`server`]) and async completions reach the event
//! loop through a socket-signalled queue ([`completion`]).
//!
//! Free-threaded CPython (3.14t and later; pyo3 0.30 has no 3.13t support): the module declares `gil_used = false`, so
//! importing it keeps the GIL off. Nothing here relies on the GIL for mutual exclusion: every
//! `#[pyclass]` is `frozen` and keeps its state behind `Mutex`/`RwLock`/atomics/channels (the
//! compiler checks they are `Sync`), the process-wide state (runtime slot, log queue,
//! compressor table) is in `std::sync` types, and Python callables held by Rust (handlers,
//! selectors, compressors) are called with an attached thread like any other Python code.
//! pyo3 builds a version-specific (`cp313t`) module for such an interpreter: its `abi3`
//! features do not apply to free-threaded builds before 3.15.

mod client;
mod completion;
mod compress;
mod errors;
mod hooks;
mod http;
mod logs;
mod meta;
mod push;
mod registry;
mod runtime;
mod server;
mod tls;
mod transfer;
mod xclient;

use pyo3::prelude::*;

/// Sets the number of runtime worker threads (default: one per CPU). Only before the first
/// client or server of this process.
#[pyfunction]
fn set_worker_threads(n: usize) -> PyResult<()> {
    runtime::set_worker_threads(n)
}

/// The rpcx Rust extension (safe to run without the GIL: see the module documentation).
#[pymodule(gil_used = false)]
fn _rpcx(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::install_fork_hook(m)?;
    m.add_class::<client::RawClient>()?;
    m.add_class::<server::RawServer>()?;
    m.add_class::<server::Job>()?;
    m.add_class::<server::RawContext>()?;
    m.add_class::<completion::CompletionQueue>()?;
    m.add_class::<completion::CallHandle>()?;
    m.add_class::<xclient::RawXClient>()?;
    m.add_class::<xclient::Peer>()?;
    m.add_class::<xclient::MultipleServers>()?;
    m.add_class::<xclient::StoreDiscovery>()?;
    m.add_class::<xclient::Etcd>()?;
    m.add_class::<xclient::Consul>()?;
    m.add_class::<xclient::Redis>()?;
    m.add_class::<xclient::Zookeeper>()?;
    m.add_class::<xclient::Dns>()?;
    m.add_class::<xclient::SelectRequest>()?;
    m.add_class::<registry::PyRegistry>()?;
    m.add_class::<registry::PyEtcdRegistry>()?;
    m.add_class::<registry::PyConsulRegistry>()?;
    m.add_class::<registry::PyRedisRegistry>()?;
    m.add_class::<registry::PyRegistryStatus>()?;
    m.add_class::<registry::PyZookeeperRegistry>()?;
    m.add_class::<push::RawPushes>()?;
    m.add_class::<hooks::IpFilter>()?;
    m.add_class::<hooks::RateLimit>()?;
    m.add_class::<transfer::StreamJob>()?;
    m.add_class::<transfer::RawDownload>()?;
    m.add_class::<transfer::RawUpload>()?;
    m.add_class::<transfer::UploadJob>()?;
    m.add_class::<transfer::DownloadJob>()?;
    m.add_function(wrap_pyfunction!(set_worker_threads, m)?)?;
    m.add_function(wrap_pyfunction!(compress::register_compressor, m)?)?;
    m.add_function(wrap_pyfunction!(compress::unregister_compressor, m)?)?;
    m.add_function(wrap_pyfunction!(compress::compressor_available, m)?)?;
    m.add_function(wrap_pyfunction!(logs::_log_start, m)?)?;
    m.add_function(wrap_pyfunction!(logs::_log_set_level, m)?)?;
    m.add_function(wrap_pyfunction!(logs::_log_next, m)?)?;
    m.add_function(wrap_pyfunction!(logs::_log_stop, m)?)?;
    m.add_function(wrap_pyfunction!(logs::_log_dropped, m)?)?;
    m.add_function(wrap_pyfunction!(tls::tls_check, m)?)?;
    m.add_function(wrap_pyfunction!(http::cors_allow_all, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
