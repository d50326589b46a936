//! # rpcx
//!
//! A Rust implementation of the [rpcx](https://github.com/smallnest/rpcx) RPC framework,
//! wire-compatible with the Go reference in both directions.
//!
//! - [`protocol`]: the rpcx frame format (header, metadata, payload, gzip), an encoder that
//!   writes into a reusable buffer and an incremental decoder with explicit [`protocol::Limits`].
//! - [`codec`]: serializations (raw bytes, JSON, Protobuf, MessagePack and user codecs) and the
//!   [`codec::Codable`] trait that lets one handler answer callers of every serialization.
//! - [`#[rpcx::service]`](service) and [`#[derive(rpcx::Codable)]`](derive@Codable): a service
//!   from an `impl` block of plain functions, registered under Go's method names, with a
//!   generated typed client (the README's Rust quickstart).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The derive and attribute macros name this crate `::rpcx`, here as in user crates.
extern crate self as rpcx;

pub mod arith;
pub mod benchmark;
pub mod blocking;
pub mod client;
pub mod codec;
mod error;
#[cfg(any(
    feature = "etcd",
    feature = "consul",
    feature = "redis",
    feature = "zookeeper"
))]
mod kv;
pub mod logs;
#[cfg(feature = "otel")]
pub mod otel;
pub mod protocol;
#[cfg(any(
    feature = "etcd",
    feature = "consul",
    feature = "redis",
    feature = "zookeeper"
))]
pub mod registry;
pub mod runtime;
pub mod server;
pub mod trace_context;
pub mod transfer;
pub mod transport;
pub mod xclient;

pub use error::{Error, Result, ServerError};

pub use codec::Codable;
pub use rpcx_macros::{service, Codable};

#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;

/// The README's Rust quickstart, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeQuickstart;
