//! The global registry of user codecs (Go's `share.RegisterCodec`).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::CodecError;
use crate::protocol::SerializeType;

/// The callback a [`SerdeCodec::decode`] hands its (erased) deserializer to; it deserializes
/// the caller's target type and stores it.
pub type DeserializeFn<'a> = dyn for<'de> FnMut(&mut dyn erased_serde::Deserializer<'de>) -> Result<(), erased_serde::Error>
    + 'a;

/// A serde-based codec that can be registered under a serialize type number with
/// [`register_codec`].
///
/// Types 5–15 are free; registering under 1 (JSON), 3 (MsgPack) or 4 (Thrift) replaces the
/// built-in codec. Types 0 (raw) and 2 (protobuf) are not
/// serde based and cannot be replaced.
///
/// ```
/// use rpcx::codec::{DeserializeFn, SerdeCodec};
///
/// /// JSON behind a one-byte tag.
/// struct TaggedJson;
///
/// impl SerdeCodec for TaggedJson {
///     fn encode(&self, value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), String> {
///         out.push(b'#');
///         erased_serde::serialize(value, &mut serde_json::Serializer::new(out)).map_err(|e| e.to_string())
///     }
///
///     fn decode(&self, bytes: &[u8], visit: &mut DeserializeFn<'_>) -> Result<(), String> {
///         let body = bytes.strip_prefix(b"#").ok_or("missing tag")?;
///         let mut de = serde_json::Deserializer::from_slice(body);
///         visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de)).map_err(|e| e.to_string())
///     }
/// }
/// ```
pub trait SerdeCodec: Send + Sync {
    /// Appends the encoding of `value` to `out`; the error text is sent to the peer as is.
    fn encode(&self, value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), String>;

    /// Builds a deserializer over `bytes` and calls `visit` with it exactly once; the error
    /// text (of the codec or of `visit`) is sent to the peer as is.
    fn decode(&self, bytes: &[u8], visit: &mut DeserializeFn<'_>) -> Result<(), String>;
}

const SLOTS: usize = 16;
const EMPTY: Option<Arc<dyn SerdeCodec>> = None;

/// Registered codecs by serialize type number.
static CODECS: RwLock<[Option<Arc<dyn SerdeCodec>>; SLOTS]> = RwLock::new([EMPTY; SLOTS]);
/// Bit `n` set ⇔ slot `n` of [`CODECS`] is filled; lets lookups of unregistered types (the
/// common JSON/MsgPack path) skip the lock entirely.
static REGISTERED: AtomicU16 = AtomicU16::new(0);

fn check_registrable(st: SerializeType) -> Result<(), CodecError> {
    if st == SerializeType::RAW || st == SerializeType::PROTOBUF {
        Err(CodecError::NotRegistrable(st))
    } else {
        Ok(())
    }
}

/// Registers `codec` for serialize type `st` process-wide, replacing any earlier registration
/// (and, for 1 and 3, the built-in JSON / MsgPack codec).
///
/// Fails with [`CodecError::NotRegistrable`] for 0 (raw) and 2 (protobuf).
pub fn register_codec(st: SerializeType, codec: Arc<dyn SerdeCodec>) -> Result<(), CodecError> {
    check_registrable(st)?;
    let mut slots = CODECS.write().unwrap_or_else(|e| e.into_inner());
    slots[usize::from(st.value())] = Some(codec);
    REGISTERED.fetch_or(1 << st.value(), Ordering::Release);
    Ok(())
}

/// Removes the codec registered for `st` (restoring the built-in codec for 1 and 3) and
/// returns it.
pub fn unregister_codec(st: SerializeType) -> Option<Arc<dyn SerdeCodec>> {
    let mut slots = CODECS.write().unwrap_or_else(|e| e.into_inner());
    REGISTERED.fetch_and(!(1 << st.value()), Ordering::Release);
    slots[usize::from(st.value())].take()
}

/// The codec registered for `st`, if any (built-in JSON and MsgPack are not listed here unless
/// they were replaced).
pub fn codec_for(st: SerializeType) -> Option<Arc<dyn SerdeCodec>> {
    if REGISTERED.load(Ordering::Acquire) & (1 << st.value()) == 0 {
        return None;
    }
    let slots = CODECS.read().unwrap_or_else(|e| e.into_inner());
    slots[usize::from(st.value())].clone()
}

/// Appends the encoding of `value` by the registered `codec` (for serialize type `st`) to `out`.
pub fn registry_encode<T: Serialize + ?Sized>(
    codec: &dyn SerdeCodec,
    st: SerializeType,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    codec
        .encode(&value as &dyn erased_serde::Serialize, out)
        .map_err(|message| CodecError::Encode { codec: st, message })
}

/// Decodes a `T` from `bytes` with the registered `codec` (for serialize type `st`).
pub fn registry_decode<T: DeserializeOwned>(
    codec: &dyn SerdeCodec,
    st: SerializeType,
    bytes: &[u8],
) -> Result<T, CodecError> {
    let mut slot = None;
    codec
        .decode(bytes, &mut |de| {
            slot = Some(erased_serde::deserialize::<T>(de)?);
            Ok(())
        })
        .map_err(|message| CodecError::Decode { codec: st, message })?;
    slot.ok_or_else(|| CodecError::decode(st, "codec did not decode a value"))
}
