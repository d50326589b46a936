//! Metadata section encoding: `kLen k vLen v` pairs with no count prefix.

use bytes::{BufMut, Bytes};

use super::error::Field;
use super::meta_map::decode_wire;
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
pub fn decode_metadata(data: &[u8], limits: &Limits) -> Result<Metadata, ProtocolError> {
    // Checked first, so a bad section allocates nothing.
    check_section(data, limits)?;
    Ok(decode_wire(data))
}

/// Checks a received metadata section as [`decode_metadata`] does and returns a map that
/// holds a copy of it and reads it in place: its pairs become `String`s only when something
/// asks for them that way (see [`Metadata::get_str`]). A copy, not a slice of `data`: a
/// slice would keep the whole buffer it was cut from (a connection's read buffer) alive for
/// as long as the call runs, beyond what the memory budgets charge for the request.
pub(crate) fn check_metadata(data: &[u8], limits: &Limits) -> Result<Metadata, ProtocolError> {
    if data.is_empty() {
        return Ok(Metadata::new());
    }
    check_section(data, limits)?;
    Ok(Metadata::from_checked_wire(Bytes::copy_from_slice(data)))
}

/// Checks the size limit, every length, the entry limit and that every key and value is
/// UTF-8.
fn check_section(mut data: &[u8], limits: &Limits) -> Result<(), ProtocolError> {
    if data.len() > limits.max_metadata_bytes {
        return Err(ProtocolError::MetadataTooLarge {
            len: data.len() as u64,
            max: limits.max_metadata_bytes,
        });
    }
    let mut pairs = 0usize;
    while !data.is_empty() {
        if pairs == limits.max_metadata_entries {
            return Err(ProtocolError::TooManyMetadataEntries {
                max: limits.max_metadata_entries,
            });
        }
        for is_key in [true, false] {
            let s = take_bytes(&mut data, is_key)?;
            if std::str::from_utf8(s).is_err() {
                return Err(ProtocolError::InvalidUtf8(Field::Metadata));
            }
        }
        pairs += 1;
    }
    Ok(())
}

/// The `(key, value)` byte slices of a section in wire order, up to the first malformed pair
/// (there is none in a section [`check_section`] accepted).
pub(crate) fn wire_pairs(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let key = take_bytes(&mut data, true).ok()?;
        let value = take_bytes(&mut data, false).ok()?;
        Some((key, value))
    })
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
