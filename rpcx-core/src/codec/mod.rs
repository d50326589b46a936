//! Payload serialization.
//!
//! The high nibble of header byte 3 names the codec of both the request payload and the
//! response payload:
//!
//! | n | codec | here |
//! |---|---|---|
//! | 0 | raw bytes | only byte buffers (`Vec<u8>`, [`bytes::Bytes`], …); anything else is [`CodecError::NotRaw`] |
//! | 1 | JSON | `serde_json` with Go's formatting ([`GoFormatter`]), first value read, trailing bytes ignored |
//! | 2 | Protobuf | `prost` messages; anything else is [`CodecError::NotProtobuf`] |
//! | 3 | MsgPack | `rmp-serde`, structs as maps keyed by field name, byte buffers as `bin` |
//! | 4 | Thrift | the binary protocol of a struct for any serde type ([`thrift_encode`]: field ids by position), as Go's `ThriftCodec` |
//! | 5–15 | user codecs | [`register_codec`]; unregistered is [`CodecError::UnknownType`] |
//!
//! A value usable as arguments or reply implements [`Codable`], which encodes and decodes it with
//! whichever serialize type a request names, so one handler answers JSON, MsgPack and Protobuf
//! callers alike. Derive it: `#[derive(rpcx::Codable)]` (see [`derive@crate::Codable`]) finds
//! the serializations from the type's serde and prost derives. The older declarative macros
//! stay, for types a crate cannot put a derive on (types of other crates, generated code):
//!
//! * [`serde_codable!`](crate::serde_codable) for serde types (JSON, MsgPack, user codecs);
//! * [`codable!`](crate::codable) for types that are serde **and** `prost::Message` (all four);
//! * [`proto_codable!`](crate::proto_codable) for prost-only types (Protobuf only).
//!
//! Go peers expect Go field names (`#[serde(rename_all = "PascalCase")]` or `rename`), `[]byte`
//! as base64 in JSON and `bin` in MsgPack ([`go_bytes`]), and may send `null`/`nil` for empty
//! maps and slices ([`nil_as_default`]).

mod base64;
mod error;
pub mod go_bytes;
mod impls;
mod json;
mod msgpack;
mod protobuf;
mod registry;
pub mod thrift;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

pub use error::CodecError;
pub use json::{json_decode, json_encode, GoFormatter, JsonCodec};
pub use msgpack::{msgpack_decode, msgpack_encode, MsgPackCodec, MSGPACK_MAX_DEPTH};
pub use protobuf::{proto_decode, proto_encode};
pub use registry::{
    codec_for, register_codec, registry_decode, registry_encode, unregister_codec, DeserializeFn,
    SerdeCodec,
};
pub use thrift::{thrift_decode, thrift_encode, ThriftError, THRIFT_MAX_DEPTH};

use crate::protocol::SerializeType;

/// A value that can be encoded and decoded with the serialize type a request names.
///
/// Derive it with `#[derive(rpcx::Codable)]` ([`derive@crate::Codable`]), or implement it with
/// [`serde_codable!`](crate::serde_codable), [`codable!`](crate::codable) or
/// [`proto_codable!`](crate::proto_codable); generic types can also implement it by hand with
/// the helper functions those macros call:
///
/// ```
/// use rpcx::codec::{serde_decode_as, serde_encode_as, Codable, CodecError};
/// use rpcx::protocol::SerializeType;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Page<T> {
///     items: Vec<T>,
/// }
///
/// impl<T> Codable for Page<T>
/// where
///     T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
/// {
///     fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         serde_encode_as(self, st, out)
///     }
///     fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError> {
///         serde_decode_as(st, bytes)
///     }
/// }
///
/// let json = rpcx::codec::encode(&Page { items: vec![1, 2] }, SerializeType::JSON).unwrap();
/// assert_eq!(json, br#"{"items":[1,2]}"#);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not rpcx::Codable: it cannot be an rpcx argument or reply",
    label = "not Codable",
    note = "add `#[derive(rpcx::Codable)]` to the type (with serde's `Serialize` and `Deserialize`, or `prost::Message`, or both)"
)]
pub trait Codable: Sized + Send + 'static {
    /// Appends the encoding of `self` with serialize type `st` to `out`. On error `out` is left
    /// as it was.
    fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Decodes a value of this type from a payload of serialize type `st`.
    fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError>;
}

/// Encodes `value` with serialize type `st` into a new buffer.
pub fn encode<T: Codable>(value: &T, st: SerializeType) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    value.encode_as(st, &mut out)?;
    Ok(out)
}

/// Decodes a `T` from a payload of serialize type `st`.
pub fn decode<T: Codable>(st: SerializeType, bytes: &[u8]) -> Result<T, CodecError> {
    T::decode_as(st, bytes)
}

/// Runs `f` and, if it fails, truncates `out` back to its length before the call.
fn rollback_on_error(
    out: &mut Vec<u8>,
    f: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
) -> Result<(), CodecError> {
    let len = out.len();
    let result = f(out);
    if result.is_err() {
        out.truncate(len);
    }
    result
}

/// Encodes with a serde codec: a registered one for `st` if any, else built-in JSON (1),
/// MsgPack (3) or Thrift (4), else [`CodecError::UnknownType`].
fn encode_with_serde_codec<T: Serialize + ?Sized>(
    value: &T,
    st: SerializeType,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if let Some(codec) = codec_for(st) {
        return registry_encode(&*codec, st, value, out);
    }
    match st.value() {
        1 => json_encode(value, out),
        3 => msgpack_encode(value, out),
        4 => thrift_encode(value, out),
        _ => Err(CodecError::UnknownType(st)),
    }
}

/// Decodes with a serde codec, chosen as in [`encode_with_serde_codec`].
fn decode_with_serde_codec<T: DeserializeOwned>(
    st: SerializeType,
    bytes: &[u8],
) -> Result<T, CodecError> {
    if let Some(codec) = codec_for(st) {
        return registry_decode(&*codec, st, bytes);
    }
    match st.value() {
        1 => json_decode(bytes),
        3 => msgpack_decode(bytes),
        4 => thrift_decode(bytes),
        _ => Err(CodecError::UnknownType(st)),
    }
}

/// Whether a serde codec exists for `st` (built-in JSON/MsgPack or registered).
fn has_serde_codec(st: SerializeType) -> bool {
    matches!(st.value(), 1 | 3 | 4) || codec_for(st).is_some()
}

/// Shared body of the serde-only encoders, with the type name used in errors given explicitly.
fn serde_encode_named<T: Serialize + ?Sized>(
    value: &T,
    type_name: &'static str,
    st: SerializeType,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match st.value() {
        0 => Err(CodecError::NotRaw { type_name }),
        2 => Err(CodecError::NotProtobuf { type_name }),
        _ => rollback_on_error(out, |out| encode_with_serde_codec(value, st, out)),
    }
}

/// [`Codable::encode_as`] for a serde type: JSON, MsgPack and registered codecs; raw is
/// [`CodecError::NotRaw`], protobuf [`CodecError::NotProtobuf`].
pub fn serde_encode_as<T: Serialize + ?Sized>(
    value: &T,
    st: SerializeType,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    serde_encode_named(value, std::any::type_name::<T>(), st, out)
}

/// [`Codable::decode_as`] for a serde type (see [`serde_encode_as`]).
pub fn serde_decode_as<T: DeserializeOwned>(
    st: SerializeType,
    bytes: &[u8],
) -> Result<T, CodecError> {
    let type_name = std::any::type_name::<T>();
    match st.value() {
        0 => Err(CodecError::NotRaw { type_name }),
        2 => Err(CodecError::NotProtobuf { type_name }),
        _ => decode_with_serde_codec(st, bytes),
    }
}

/// [`Codable::encode_as`] for a type that is both serde and a protobuf message: protobuf for
/// type 2, otherwise as [`serde_encode_as`].
pub fn serde_proto_encode_as<T: Serialize + prost::Message>(
    value: &T,
    st: SerializeType,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if st == SerializeType::PROTOBUF {
        proto_encode(value, out)
    } else {
        serde_encode_as(value, st, out)
    }
}

/// [`Codable::decode_as`] for a type that is both serde and a protobuf message (see
/// [`serde_proto_encode_as`]).
pub fn serde_proto_decode_as<T: DeserializeOwned + prost::Message + Default>(
    st: SerializeType,
    bytes: &[u8],
) -> Result<T, CodecError> {
    if st == SerializeType::PROTOBUF {
        proto_decode(bytes)
    } else {
        serde_decode_as(st, bytes)
    }
}

/// The error for a protobuf-only type asked for another serialize type: Go's texts for raw and
/// unknown types, otherwise [`CodecError::ProtobufOnly`].
fn proto_only_error(type_name: &'static str, st: SerializeType) -> CodecError {
    if st == SerializeType::RAW {
        CodecError::NotRaw { type_name }
    } else if !has_serde_codec(st) {
        CodecError::UnknownType(st)
    } else {
        CodecError::ProtobufOnly {
            codec: st,
            type_name,
        }
    }
}

/// [`Codable::encode_as`] for a prost-only message: protobuf for type 2; every other type is an
/// error (raw: [`CodecError::NotRaw`]; unknown: [`CodecError::UnknownType`]; JSON, MsgPack and
/// registered codecs: [`CodecError::ProtobufOnly`]).
pub fn proto_encode_as<M: prost::Message>(
    msg: &M,
    st: SerializeType,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if st == SerializeType::PROTOBUF {
        proto_encode(msg, out)
    } else {
        Err(proto_only_error(std::any::type_name::<M>(), st))
    }
}

/// [`Codable::decode_as`] for a prost-only message (see [`proto_encode_as`]).
pub fn proto_decode_as<M: prost::Message + Default>(
    st: SerializeType,
    bytes: &[u8],
) -> Result<M, CodecError> {
    if st == SerializeType::PROTOBUF {
        proto_decode(bytes)
    } else {
        Err(proto_only_error(std::any::type_name::<M>(), st))
    }
}

/// For `#[serde(deserialize_with = "rpcx::codec::nil_as_default")]`: reads `null` (JSON) or
/// `nil` (MsgPack), which Go sends for nil maps, slices and pointers, as `T::default()`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Args {
///     #[serde(rename = "Meta", default, deserialize_with = "rpcx::codec::nil_as_default")]
///     meta: std::collections::HashMap<String, String>,
/// }
/// let args: Args = serde_json::from_str(r#"{"Meta":null}"#).unwrap();
/// assert!(args.meta.is_empty());
/// ```
pub fn nil_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The `Codable` impl the three macros below share: encode and decode through the named
/// functions of [`codec`](crate::codec). Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __codable_impl {
    ($t:ty, $encode:ident, $decode:ident) => {
        impl $crate::codec::Codable for $t {
            fn encode_as(
                &self,
                st: $crate::protocol::SerializeType,
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), $crate::codec::CodecError> {
                $crate::codec::$encode(self, st, out)
            }

            fn decode_as(
                st: $crate::protocol::SerializeType,
                bytes: &[u8],
            ) -> ::core::result::Result<Self, $crate::codec::CodecError> {
                $crate::codec::$decode(st, bytes)
            }
        }
    };
}

/// Implements [`Codable`](crate::codec::Codable) for serde types (`Serialize +
/// DeserializeOwned + Send + 'static`): JSON, MsgPack and registered codecs; raw gives
/// `<T> is not a []byte` and protobuf `<T> is not a proto.Marshaler or pb.Message`.
///
/// ```
/// #[derive(serde::Serialize, serde::Deserialize)]
/// #[serde(rename_all = "PascalCase")]
/// struct Args {
///     a: i64,
///     b: i64,
/// }
/// rpcx::serde_codable!(Args);
///
/// let json = rpcx::codec::encode(&Args { a: 10, b: 20 }, rpcx::protocol::SerializeType::JSON);
/// assert_eq!(json.unwrap(), br#"{"A":10,"B":20}"#);
/// ```
#[macro_export]
macro_rules! serde_codable {
    ($($t:ty),+ $(,)?) => {$(
        $crate::__codable_impl!($t, serde_encode_as, serde_decode_as);
    )+};
}

/// Implements [`Codable`](crate::codec::Codable) for types that are serde **and**
/// `prost::Message + Default`: protobuf for type 2, JSON, MsgPack and registered codecs
/// otherwise, so one handler answers callers of every serialization.
#[macro_export]
macro_rules! codable {
    ($($t:ty),+ $(,)?) => {$(
        $crate::__codable_impl!($t, serde_proto_encode_as, serde_proto_decode_as);
    )+};
}

/// Implements [`Codable`](crate::codec::Codable) for prost-only messages (`prost::Message +
/// Default`): protobuf only; other serialize types are errors (see
/// [`proto_encode_as`](crate::codec::proto_encode_as)).
#[macro_export]
macro_rules! proto_codable {
    ($($t:ty),+ $(,)?) => {$(
        $crate::__codable_impl!($t, proto_encode_as, proto_decode_as);
    )+};
}
