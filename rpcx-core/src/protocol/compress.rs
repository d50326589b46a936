//! gzip compression of payloads (§1.7), with a hard cap on inflated size.

use std::io::{Read, Write};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::ProtocolError;

/// Writes the gzip (RFC 1952) compression of `data` to `out` (a `Vec`, a `BytesMut` writer…).
pub fn gzip_into(data: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    let mut enc = GzEncoder::new(out, Compression::default());
    enc.write_all(data)?;
    enc.finish()?;
    Ok(())
}

/// Inflates gzip `data` (concatenated members included), failing with
/// [`ProtocolError::DecompressedTooLarge`] as soon as the output would exceed `max` bytes, so a
/// gzip bomb costs at most `max` bytes of memory.
pub fn gunzip_limited(data: &[u8], max: usize) -> Result<Vec<u8>, ProtocolError> {
    // Start modestly: the compressed size times a typical ratio, never above the limit.
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(max).min(1 << 20));
    let limit = (max as u64).saturating_add(1);
    MultiGzDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| ProtocolError::Gzip(e.to_string()))?;
    if out.len() > max {
        return Err(ProtocolError::DecompressedTooLarge { max });
    }
    Ok(out)
}
