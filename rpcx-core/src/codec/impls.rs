//! Built-in [`Codable`] implementations.

use std::collections::{BTreeMap, HashMap};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    decode_with_serde_codec, encode_with_serde_codec, go_bytes, has_serde_codec, rollback_on_error,
    serde_decode_as, serde_encode_as, serde_encode_named, Codable, CodecError,
};
use crate::protocol::SerializeType;

/// Borrowed bytes serialized like Go's `[]byte` (base64 in JSON, `bin` in MsgPack).
struct GoBytes<'a>(&'a [u8]);

impl Serialize for GoBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        go_bytes::serialize(self.0, serializer)
    }
}

/// Owned bytes deserialized like Go's `[]byte`.
struct GoByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for GoByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        go_bytes::deserialize(deserializer).map(GoByteBuf)
    }
}

fn bytes_encode_as(
    bytes: &[u8],
    type_name: &'static str,
    st: SerializeType,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    if st == SerializeType::RAW {
        out.extend_from_slice(bytes);
        Ok(())
    } else {
        serde_encode_named(&GoBytes(bytes), type_name, st, out)
    }
}

fn bytes_decode_as(
    type_name: &'static str,
    st: SerializeType,
    bytes: &[u8],
) -> Result<Vec<u8>, CodecError> {
    match st.value() {
        0 => Ok(bytes.to_vec()),
        2 => Err(CodecError::NotProtobuf { type_name }),
        _ => decode_with_serde_codec::<GoByteBuf>(st, bytes).map(|b| b.0),
    }
}

/// Byte buffers: raw is the bytes themselves, JSON a padded base64 string, MsgPack `bin`.
macro_rules! bytes_codable {
    ($($t:ty),+ $(,)?) => {$(
        impl Codable for $t {
            fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
                bytes_encode_as(&self[..], std::any::type_name::<$t>(), st, out)
            }

            fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError> {
                bytes_decode_as(std::any::type_name::<$t>(), st, bytes).map(<$t>::from)
            }
        }
    )+};
}

bytes_codable!(Vec<u8>, bytes::Bytes, serde_bytes::ByteBuf);

crate::serde_codable!(
    String,
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    serde_json::Value,
);

impl<T> Codable for Option<T>
where
    T: Serialize + DeserializeOwned + Send + 'static,
{
    fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
        serde_encode_as(self, st, out)
    }

    fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError> {
        serde_decode_as(st, bytes)
    }
}

/// A map serialized with its keys in ascending order, as Go's `encoding/json` writes maps.
struct SortedMap<'a, V>(Vec<(&'a String, &'a V)>);

impl<V: Serialize> Serialize for SortedMap<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().copied())
    }
}

/// String-keyed maps; a `HashMap` is written with sorted keys so the output is deterministic
/// and matches Go's JSON byte for byte.
impl<V> Codable for HashMap<String, V>
where
    V: Serialize + DeserializeOwned + Send + 'static,
{
    fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let mut entries: Vec<(&String, &V)> = self.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        serde_encode_named(&SortedMap(entries), std::any::type_name::<Self>(), st, out)
    }

    fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError> {
        serde_decode_as(st, bytes)
    }
}

impl<V> Codable for BTreeMap<String, V>
where
    V: Serialize + DeserializeOwned + Send + 'static,
{
    fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
        serde_encode_as(self, st, out)
    }

    fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError> {
        serde_decode_as(st, bytes)
    }
}

/// "No value": an empty payload for raw and protobuf (the empty message), `null` for JSON and
/// `nil` for MsgPack. Decoding accepts an empty payload with every known codec and otherwise
/// skips over one well-formed value of any shape (so a Go `struct{}` argument is fine).
impl Codable for () {
    fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match st.value() {
            0 | 2 => Ok(()),
            _ => rollback_on_error(out, |out| encode_with_serde_codec(&(), st, out)),
        }
    }

    fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError> {
        match st.value() {
            0 | 2 => Ok(()),
            _ if !has_serde_codec(st) => Err(CodecError::UnknownType(st)),
            _ if bytes.is_empty() => Ok(()),
            _ => decode_with_serde_codec::<IgnoredAny>(st, bytes).map(|_| ()),
        }
    }
}
