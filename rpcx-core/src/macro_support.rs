//! Support of the code `rpcx-macros` generates. Not public API: names and shapes may change in
//! any release.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::{self, CodecError};
use crate::protocol::SerializeType;
use crate::server::{IntoReply, ServiceError};

pub use prost;
pub use serde;
pub use std::sync::Arc;

/// Asks, for a concrete type `T`, whether it is serde and whether it is a prost message:
/// `(&&Probe::<T>::new()).__rpcx_serde()` resolves to [`SerdeYes`] when `T: Serialize +
/// DeserializeOwned` and to [`SerdeNo`] otherwise (method lookup tries `&Probe<T>` before
/// `Probe<T>`), and likewise for prost.
pub struct Probe<T>(PhantomData<fn() -> T>);

impl<T> Probe<T> {
    /// A probe.
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Probe::new()
    }
}

/// `T` is serde.
pub struct Serde<T>(PhantomData<fn() -> T>);
/// `T` is not serde.
pub struct NoSerde<T>(PhantomData<fn() -> T>);
/// `T` is a prost message.
pub struct Prost<T>(PhantomData<fn() -> T>);
/// `T` is not a prost message.
pub struct NoProst<T>(PhantomData<fn() -> T>);

/// The probe for serde types.
pub trait SerdeYes<T> {
    /// `T` is serde.
    fn __rpcx_serde(&self) -> Serde<T>;
}
impl<T: Serialize + DeserializeOwned> SerdeYes<T> for &Probe<T> {
    fn __rpcx_serde(&self) -> Serde<T> {
        Serde(PhantomData)
    }
}

/// The fallback of [`SerdeYes`].
pub trait SerdeNo<T> {
    /// `T` is not serde.
    fn __rpcx_serde(&self) -> NoSerde<T>;
}
impl<T> SerdeNo<T> for Probe<T> {
    fn __rpcx_serde(&self) -> NoSerde<T> {
        NoSerde(PhantomData)
    }
}

/// The probe for prost messages.
pub trait ProstYes<T> {
    /// `T` is a prost message.
    fn __rpcx_prost(&self) -> Prost<T>;
}
impl<T: prost::Message + Default> ProstYes<T> for &Probe<T> {
    fn __rpcx_prost(&self) -> Prost<T> {
        Prost(PhantomData)
    }
}

/// The fallback of [`ProstYes`].
pub trait ProstNo<T> {
    /// `T` is not a prost message.
    fn __rpcx_prost(&self) -> NoProst<T>;
}
impl<T> ProstNo<T> for Probe<T> {
    fn __rpcx_prost(&self) -> NoProst<T> {
        NoProst(PhantomData)
    }
}

/// The codecs of `T`, chosen by what the probes found.
#[diagnostic::on_unimplemented(
    message = "`{T}` derives `rpcx::Codable` but is neither serde nor a prost message",
    label = "no serialization for `{T}`",
    note = "also derive `serde::Serialize` and `serde::Deserialize` (JSON, MsgPack, Thrift), `prost::Message` (Protobuf), or both"
)]
pub trait Codecs<T> {
    /// Encodes `value` with `st`.
    fn encode(self, value: &T, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Decodes a `T` of `st`.
    fn decode(self, st: SerializeType, bytes: &[u8]) -> Result<T, CodecError>;
}

impl<T> Codecs<T> for (Serde<T>, Prost<T>)
where
    T: Serialize + DeserializeOwned + prost::Message + Default,
{
    fn encode(self, value: &T, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
        codec::serde_proto_encode_as(value, st, out)
    }
    fn decode(self, st: SerializeType, bytes: &[u8]) -> Result<T, CodecError> {
        codec::serde_proto_decode_as(st, bytes)
    }
}

impl<T> Codecs<T> for (Serde<T>, NoProst<T>)
where
    T: Serialize + DeserializeOwned,
{
    fn encode(self, value: &T, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
        codec::serde_encode_as(value, st, out)
    }
    fn decode(self, st: SerializeType, bytes: &[u8]) -> Result<T, CodecError> {
        codec::serde_decode_as(st, bytes)
    }
}

impl<T> Codecs<T> for (NoSerde<T>, Prost<T>)
where
    T: prost::Message + Default,
{
    fn encode(self, value: &T, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
        codec::proto_encode_as(value, st, out)
    }
    fn decode(self, st: SerializeType, bytes: &[u8]) -> Result<T, CodecError> {
        codec::proto_decode_as(st, bytes)
    }
}

/// The probe for replies with a zero value: Go sends the zero reply along with a service
/// error, and Go clients decode it.
pub trait ZeroYes<T> {
    /// `T::default()`.
    fn __rpcx_zero(&self) -> Option<T>;
}
impl<T: Default> ZeroYes<T> for &Probe<T> {
    fn __rpcx_zero(&self) -> Option<T> {
        Some(T::default())
    }
}

/// The fallback of [`ZeroYes`]: no zero reply.
pub trait ZeroNo<T> {
    /// None.
    fn __rpcx_zero(&self) -> Option<T>;
}
impl<T> ZeroNo<T> for Probe<T> {
    fn __rpcx_zero(&self) -> Option<T> {
        None
    }
}

/// A handler's outcome, with the zero reply attached to an error that carries no reply (as Go
/// does).
pub fn with_zero_reply<O: IntoReply>(
    out: O,
    zero: impl FnOnce() -> Option<O::Reply>,
) -> Result<O::Reply, ServiceError> {
    out.into_reply().map_err(|e| match zero() {
        Some(z) if !e.has_reply() => e.with_reply(z),
        _ => e,
    })
}
