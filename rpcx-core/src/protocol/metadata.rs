//! Metadata section encoding: `kLen k vLen v` pairs with no count prefix.

use bytes::BufMut;

use super::error::Field;
use super::{Limits, Metadata, ProtocolError};

/// Encoded size of `meta` in bytes.
pub fn metadata_encoded_len(meta: &Metadata) -> usize {
    meta.iter().map(|(k, v)| 8 + k.len() + v.len()).sum()
}

/// Appends the encoded pairs of `meta` to `buf` (an empty map writes nothing).
///
/// Keys or values longer than `u32::MAX` cannot be represented; callers check the section's
/// size first (see [`Message::encode_into`](super::Message::encode_into)).
pub fn encode_metadata(meta: &Metadata, buf: &mut impl BufMut) {
    for (k, v) in meta {
        buf.put_u32(k.len() as u32);
        buf.put_slice(k.as_bytes());
        buf.put_u32(v.len() as u32);
        buf.put_slice(v.as_bytes());
    }
}

/// Decodes a metadata section, enforcing the entry and size limits. Later duplicates win, as
/// with Go's map assignment.
pub fn decode_metadata(mut data: &[u8], limits: &Limits) -> Result<Metadata, ProtocolError> {
    if data.len() > limits.max_metadata_bytes {
        return Err(ProtocolError::MetadataTooLarge {
            len: data.len() as u64,
            max: limits.max_metadata_bytes,
        });
    }
    // First pass: check every length and count the pairs, so a bad section allocates
    // nothing and a good one allocates its vector once, at its exact size.
    let mut rest = data;
    let mut pairs = 0usize;
    while !rest.is_empty() {
        if pairs == limits.max_metadata_entries {
            return Err(ProtocolError::TooManyMetadataEntries {
                max: limits.max_metadata_entries,
            });
        }
        take_bytes(&mut rest, true)?;
        take_bytes(&mut rest, false)?;
        pairs += 1;
    }
    let mut entries = Vec::with_capacity(pairs);
    while !data.is_empty() {
        let key = take_string(&mut data, true)?;
        let value = take_string(&mut data, false)?;
        entries.push((key, value));
    }
    Ok(Metadata::from_pairs(entries))
}

/// Takes one `u32` length and that many bytes. A key must leave room for the value's length
/// field after it (Go's rule).
fn take_bytes<'a>(data: &mut &'a [u8], is_key: bool) -> Result<&'a [u8], ProtocolError> {
    let (len_bytes, rest) = data
        .split_first_chunk::<4>()
        .ok_or(ProtocolError::MetadataTruncated)?;
    let len = u32::from_be_bytes(*len_bytes) as usize;
    let needed = if is_key {
        len.checked_add(4)
    } else {
        Some(len)
    };
    if needed.is_none_or(|n| n > rest.len()) {
        return Err(ProtocolError::MetadataTruncated);
    }
    let (s, rest) = rest.split_at(len);
    *data = rest;
    Ok(s)
}

/// [`take_bytes`], as a UTF-8 string.
fn take_string(data: &mut &[u8], is_key: bool) -> Result<String, ProtocolError> {
    let s = take_bytes(data, is_key)?;
    std::str::from_utf8(s)
        .map(str::to_owned)
        .map_err(|_| ProtocolError::InvalidUtf8(Field::Metadata))
}
