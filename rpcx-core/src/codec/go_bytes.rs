//! Serde helpers giving byte buffers the encoding Go gives `[]byte`.
//!
//! Use it on struct fields with `#[serde(with = "rpcx::codec::go_bytes")]`:
//!
//! * human-readable formats (JSON): a standard base64 string **with padding**, as Go's
//!   `encoding/json` writes it;
//! * binary formats (MsgPack): a `bin` value (`c4`/`c5`/`c6`), as vmihailenco/msgpack writes it.
//!
//! Decoding accepts base64 text (JSON), `bin`, `str` and arrays of small integers, and `null`
//! (Go's nil slice) as an empty buffer.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct FileTransferReply {
//!     #[serde(rename = "Token", with = "rpcx::codec::go_bytes")]
//!     token: Vec<u8>,
//! }
//! let reply = FileTransferReply { token: vec![1, 2, 3] };
//! assert_eq!(serde_json::to_string(&reply).unwrap(), r#"{"Token":"AQID"}"#);
//! ```

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Serializer;

use super::base64;

/// Serializes a byte buffer as Go serializes `[]byte` (see the [module docs](self)).
pub fn serialize<T, S>(bytes: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    T: AsRef<[u8]> + ?Sized,
    S: Serializer,
{
    let bytes = bytes.as_ref();
    if serializer.is_human_readable() {
        serializer.serialize_str(&base64::encode(bytes))
    } else {
        serializer.serialize_bytes(bytes)
    }
}

/// Deserializes a byte buffer written by Go as `[]byte` (see the [module docs](self)).
pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: From<Vec<u8>>,
    D: Deserializer<'de>,
{
    let human_readable = deserializer.is_human_readable();
    let visitor = BytesVisitor { human_readable };
    let bytes = if human_readable {
        deserializer.deserialize_any(visitor)?
    } else {
        deserializer.deserialize_byte_buf(visitor)?
    };
    Ok(T::from(bytes))
}

struct BytesVisitor {
    human_readable: bool,
}

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.human_readable {
            f.write_str("a base64 string")
        } else {
            f.write_str("a byte array")
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        if self.human_readable {
            base64::decode(v.as_bytes()).map_err(E::custom)
        } else {
            Ok(v.as_bytes().to_vec())
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}
