//! MessagePack (serialize type 3), compatible with Go's vmihailenco/msgpack v5.

use std::io;

use rmp_serde::config::BytesMode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::registry::{DeserializeFn, SerdeCodec};
use super::CodecError;
use crate::protocol::SerializeType;

/// Encoding settings shared by [`msgpack_encode`] and [`MsgPackCodec`]: structs as maps keyed
/// by field name (what Go expects), and `Vec<u8>`/`&[u8]` as `bin` like Go's `[]byte` even
/// without `serde_bytes` (rmp-serde's `BytesMode::ForceIterables`; fixed-size arrays and empty
/// vectors stay arrays).
fn serializer<W: io::Write>(
    out: W,
) -> rmp_serde::Serializer<W, rmp_serde::config::StructMapConfig<rmp_serde::config::DefaultConfig>>
{
    rmp_serde::Serializer::new(out)
        .with_struct_map()
        .with_bytes(BytesMode::ForceIterables)
}

/// Maximum nesting of arrays, maps and extensions a payload may have, the same limit serde_json
/// applies to JSON. rmp-serde's default (1024) overflows a 2 MiB thread stack (tokio's worker
/// default) on hostile input such as 1000 nested one-element arrays.
pub const MSGPACK_MAX_DEPTH: usize = 128;

/// A deserializer over `bytes` with the [`MSGPACK_MAX_DEPTH`] limit.
fn deserializer(
    bytes: &[u8],
) -> rmp_serde::Deserializer<rmp_serde::decode::ReadRefReader<'_, [u8]>> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MSGPACK_MAX_DEPTH);
    de
}

/// Appends the MessagePack encoding of `value` to `out`.
///
/// Structs become maps keyed by their (serde) field names, byte vectors become `bin`, `None`
/// becomes `nil`. Integers are written in their most compact form whatever their Rust width
/// (Go writes sized ints such as `int64` at full width, but decodes any width).
pub fn msgpack_encode<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    value
        .serialize(&mut serializer(out))
        .map_err(|e| CodecError::encode(SerializeType::MSGPACK, e))
}

/// Decodes one MessagePack value from `bytes`; structs may be maps (keys matched exactly, unknown
/// keys skipped) or arrays. Bytes after the value are ignored; nesting deeper than
/// [`MSGPACK_MAX_DEPTH`] is an error. An empty payload is the error
/// `EOF` and a truncated one `unexpected EOF`, as in Go; other errors read `msgpack: …`.
pub fn msgpack_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::decode(SerializeType::MSGPACK, "EOF"));
    }
    let mut de = deserializer(bytes);
    T::deserialize(&mut de).map_err(|e| CodecError::decode(SerializeType::MSGPACK, error_text(&e)))
}

fn error_text(e: &rmp_serde::decode::Error) -> String {
    use rmp_serde::decode::Error;
    match e {
        Error::InvalidMarkerRead(io) | Error::InvalidDataRead(io)
            if io.kind() == io::ErrorKind::UnexpectedEof =>
        {
            "unexpected EOF".to_owned()
        }
        other => format!("msgpack: {other}"),
    }
}

/// The built-in MessagePack codec as a [`SerdeCodec`], e.g. to register it under another
/// serialize type number. Same behaviour as [`msgpack_encode`] / [`msgpack_decode`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgPackCodec;

impl SerdeCodec for MsgPackCodec {
    fn encode(&self, value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), String> {
        value
            .serialize(&mut serializer(out))
            .map_err(|e| e.to_string())
    }

    fn decode(&self, bytes: &[u8], visit: &mut DeserializeFn<'_>) -> Result<(), String> {
        if bytes.is_empty() {
            return Err("EOF".to_owned());
        }
        let mut de = deserializer(bytes);
        let mut erased = <dyn erased_serde::Deserializer>::erase(&mut de);
        visit(&mut erased).map_err(|e| format!("msgpack: {e}"))
    }
}
