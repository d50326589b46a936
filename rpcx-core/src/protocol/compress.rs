//! Payload compression: gzip built in, and a process-wide registry of further
//! compressors by compress type (Go's `protocol.Compressors`), with a hard cap on inflated size.
//!
//! The header has three bits for the compress type: 0 is none, 1 is gzip (both built in and
//! not replaceable), 2 to 7 are free for applications. With the `snappy` feature, type 2
//! ([`CompressType::SNAPPY`]) starts out registered with [`SnappyCompressor`], the framed
//! snappy format of Go's `protocol.SnappyCompressor`.
//!
//! # Why process-wide
//!
//! Like Go's `protocol.Compressors` map, the registry is one per process: a compress type
//! number is an agreement between peers on the wire, and the same frame decoder serves every
//! server, client, XClient, the HTTP gateway and the C and Python bindings. Per-client control
//! is over what a client *sends* ([`ClientOptions::compress`](crate::client::ClientOptions::compress));
//! a server always answers with the compress type of the request, as Go's does. Registering
//! or removing a compressor takes effect for the next frame on every connection.

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, RwLock};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use once_cell::sync::Lazy;

use super::{CompressType, ProtocolError};

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

/// Why a [`Compressor`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressorError {
    /// The decompressed payload would be larger than the `max_len` given to
    /// [`Compressor::decompress`]. Reported as [`ProtocolError::DecompressedTooLarge`].
    TooLarge,
    /// The input is not valid for this compressor, or compressing failed; the text says why.
    /// Reported as [`ProtocolError::Compressor`].
    Failed(String),
}

impl fmt::Display for CompressorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressorError::TooLarge => f.write_str("decompressed size over the limit"),
            CompressorError::Failed(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for CompressorError {}

/// A payload compressor for one compress type (Go's `protocol.Compressor`, `Zip`/`Unzip`).
///
/// Implementations are called from any thread (server connection tasks, client writer tasks,
/// binding threads), concurrently, so they must be `Send + Sync` and keep no per-call state
/// outside the call.
pub trait Compressor: Send + Sync + 'static {
    /// Compresses `data`. An empty input may give an empty output (Go's snappy does that).
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressorError>;

    /// Decompresses `data`, refusing with [`CompressorError::TooLarge`] before the output
    /// grows past `max_len` bytes: a format whose header declares the decompressed length
    /// must check that length against `max_len` before allocating it. (The registry checks
    /// the returned length again, but by then the memory has been spent.)
    fn decompress(&self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CompressorError>;
}

/// The registry: index = compress type (0 and 1 are never stored; they are built in).
type Table = [Option<Arc<dyn Compressor>>; 8];

static REGISTRY: Lazy<RwLock<Table>> = Lazy::new(|| {
    #[allow(unused_mut)]
    let mut table: Table = Default::default();
    #[cfg(feature = "snappy")]
    {
        table[CompressType::SNAPPY.value() as usize] = Some(Arc::new(SnappyCompressor));
    }
    RwLock::new(table)
});

fn read_table() -> std::sync::RwLockReadGuard<'static, Table> {
    // A panic while holding the lock cannot leave the table half-written (one slot store).
    REGISTRY.read().unwrap_or_else(|e| e.into_inner())
}

fn write_table() -> std::sync::RwLockWriteGuard<'static, Table> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

/// Registers `compressor` for compress type `ct` (2 to 7) process-wide, replacing (and
/// returning) the one registered before. Types 0 (none) and 1 (gzip) are built in and refused
/// with [`ProtocolError::UnsupportedCompressor`].
pub fn register_compressor(
    ct: CompressType,
    compressor: Arc<dyn Compressor>,
) -> Result<Option<Arc<dyn Compressor>>, ProtocolError> {
    if ct.value() < 2 {
        return Err(ProtocolError::UnsupportedCompressor(ct));
    }
    Ok(write_table()[ct.value() as usize].replace(compressor))
}

/// Removes the compressor of compress type `ct`, returning it; frames of that type are then
/// refused with [`ProtocolError::UnsupportedCompressor`]. `None` for 0, 1 and free types.
pub fn unregister_compressor(ct: CompressType) -> Option<Arc<dyn Compressor>> {
    if ct.value() < 2 {
        return None;
    }
    write_table()[ct.value() as usize].take()
}

/// The compressor registered for `ct` (2 to 7); `None` for 0, 1 (built in) and free types.
pub fn registered_compressor(ct: CompressType) -> Option<Arc<dyn Compressor>> {
    read_table()
        .get(ct.value() as usize)
        .and_then(|c| c.clone())
}

/// True when frames of compress type `ct` can be encoded and decoded now: none, gzip, or a
/// registered type.
pub fn is_compress_type_supported(ct: CompressType) -> bool {
    ct.value() < 2 || registered_compressor(ct).is_some()
}

fn map_error(ct: CompressType, max: usize, e: CompressorError) -> ProtocolError {
    match e {
        CompressorError::TooLarge => ProtocolError::DecompressedTooLarge { max },
        CompressorError::Failed(message) => ProtocolError::Compressor { ct, message },
    }
}

/// Compresses `data` with the registered compressor of `ct` (2 to 7).
pub(crate) fn compress_registered(ct: CompressType, data: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let c = registered_compressor(ct).ok_or(ProtocolError::UnsupportedCompressor(ct))?;
    c.compress(data).map_err(|e| map_error(ct, usize::MAX, e))
}

/// Decompresses `data` of compress type `ct` (any type: none, gzip or registered) within `max`
/// bytes of output.
pub fn decompress_limited(
    ct: CompressType,
    data: &[u8],
    max: usize,
) -> Result<Vec<u8>, ProtocolError> {
    match ct {
        CompressType::NONE => {
            if data.len() > max {
                return Err(ProtocolError::DecompressedTooLarge { max });
            }
            Ok(data.to_vec())
        }
        CompressType::GZIP => gunzip_limited(data, max),
        _ => {
            let c = registered_compressor(ct).ok_or(ProtocolError::UnsupportedCompressor(ct))?;
            let out = c.decompress(data, max).map_err(|e| map_error(ct, max, e))?;
            if out.len() > max {
                return Err(ProtocolError::DecompressedTooLarge { max });
            }
            Ok(out)
        }
    }
}

/// Snappy in the framing format (stream identifier, then CRC-32C-checked chunks of at most
/// 64 KiB), the format of Go rpcx's `protocol.SnappyCompressor`
/// (`github.com/golang/snappy`'s `NewBufferedWriter`/`NewReader`), not the raw block format.
///
/// As in Go, an empty payload compresses to an empty payload and an empty input decompresses
/// to nothing. Decompression allocates at most one 64 KiB block (plus its compressed form) at a
/// time whatever a chunk header declares (a chunk declaring more is refused), and stops as soon
/// as the output would pass `max_len`.
#[cfg(feature = "snappy")]
#[derive(Debug, Clone, Copy, Default)]
pub struct SnappyCompressor;

#[cfg(feature = "snappy")]
impl Compressor for SnappyCompressor {
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressorError> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        // Stream identifier (10 bytes), and per 64 KiB block an 8-byte chunk header and at
        // worst the block stored uncompressed.
        let cap = 10 + data.len() + data.len().div_ceil(1 << 16) * 8;
        let mut enc = snap::write::FrameEncoder::new(Vec::with_capacity(cap));
        enc.write_all(data)
            .map_err(|e| CompressorError::Failed(format!("snappy: {e}")))?;
        enc.into_inner()
            .map_err(|e| CompressorError::Failed(format!("snappy: {}", e.error())))
    }

    fn decompress(&self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CompressorError> {
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(data.len().saturating_mul(2).min(max_len).min(1 << 20));
        snap::read::FrameDecoder::new(data)
            .take((max_len as u64).saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| CompressorError::Failed(format!("invalid snappy payload: {e}")))?;
        if out.len() > max_len {
            return Err(CompressorError::TooLarge);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Xor;
    impl Compressor for Xor {
        fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressorError> {
            Ok(data.iter().map(|b| b ^ 0x5a).collect())
        }
        fn decompress(&self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CompressorError> {
            if data.len() > max_len {
                return Err(CompressorError::TooLarge);
            }
            Ok(data.iter().map(|b| b ^ 0x5a).collect())
        }
    }

    #[test]
    fn builtin_types_cannot_be_registered() {
        for n in [0, 1] {
            let ct = CompressType::new(n).unwrap();
            assert!(matches!(
                register_compressor(ct, Arc::new(Xor)),
                Err(ProtocolError::UnsupportedCompressor(c)) if c == ct
            ));
            assert!(unregister_compressor(ct).is_none());
            assert!(is_compress_type_supported(ct));
        }
    }

    #[test]
    fn registered_compressor_round_trips_and_is_removed() {
        // Type 7 is used by no other unit test.
        let ct = CompressType::new(7).unwrap();
        assert!(register_compressor(ct, Arc::new(Xor)).unwrap().is_none());
        let z = compress_registered(ct, b"hello").unwrap();
        assert_eq!(z, b"hello".iter().map(|b| b ^ 0x5a).collect::<Vec<_>>());
        assert_eq!(decompress_limited(ct, &z, 5).unwrap(), b"hello");
        assert!(matches!(
            decompress_limited(ct, &z, 4),
            Err(ProtocolError::DecompressedTooLarge { max: 4 })
        ));
        assert!(unregister_compressor(ct).is_some());
        assert!(!is_compress_type_supported(ct));
        assert!(matches!(
            decompress_limited(ct, &z, 5),
            Err(ProtocolError::UnsupportedCompressor(c)) if c == ct
        ));
    }

    #[cfg(feature = "snappy")]
    mod snappy {
        use super::super::*;

        /// A framed stream: identifier, then one chunk.
        fn framed(chunk_type: u8, body: &[u8], crc: u32) -> Vec<u8> {
            let mut v = b"\xff\x06\x00\x00sNaPpY".to_vec();
            let len = (body.len() + 4) as u32;
            v.push(chunk_type);
            v.extend_from_slice(&len.to_le_bytes()[..3]);
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(body);
            v
        }

        #[test]
        fn registered_by_default_at_type_2() {
            assert!(registered_compressor(CompressType::SNAPPY).is_some());
        }

        #[test]
        fn round_trip_across_blocks() {
            let data: Vec<u8> = (0..200_000u32)
                .map(|i| (i % 251) as u8 ^ (i >> 9) as u8)
                .collect();
            let z = SnappyCompressor.compress(&data).unwrap();
            assert_eq!(&z[..10], b"\xff\x06\x00\x00sNaPpY");
            assert!(z.len() < data.len());
            assert_eq!(SnappyCompressor.decompress(&z, data.len()).unwrap(), data);
            assert_eq!(
                SnappyCompressor.decompress(&z, data.len() - 1),
                Err(CompressorError::TooLarge)
            );
        }

        #[test]
        fn empty_is_empty_both_ways() {
            assert!(SnappyCompressor.compress(b"").unwrap().is_empty());
            assert!(SnappyCompressor.decompress(b"", 0).unwrap().is_empty());
        }

        #[test]
        fn lying_length_header_is_refused_without_allocating() {
            // A compressed chunk whose varint claims 4 GiB - 1 of output from 3 bytes.
            let body = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00];
            let e = SnappyCompressor.decompress(&framed(0x00, &body, 0), 1 << 30);
            assert!(matches!(e, Err(CompressorError::Failed(_))), "{e:?}");
            // A chunk length field claiming 16 MiB with no bytes behind it.
            let mut v = b"\xff\x06\x00\x00sNaPpY".to_vec();
            v.extend_from_slice(&[0x00, 0xff, 0xff, 0xff]);
            assert!(SnappyCompressor.decompress(&v, 1 << 30).is_err());
        }

        #[test]
        fn bomb_stops_at_the_limit() {
            let zeros = vec![0u8; 8 << 20];
            let z = SnappyCompressor.compress(&zeros).unwrap();
            assert!(z.len() < zeros.len() / 16);
            assert_eq!(
                SnappyCompressor.decompress(&z, 1 << 20),
                Err(CompressorError::TooLarge)
            );
            let e = decompress_limited(CompressType::SNAPPY, &z, 1 << 20);
            assert!(
                matches!(e, Err(ProtocolError::DecompressedTooLarge { max }) if max == 1 << 20)
            );
        }

        #[test]
        fn garbage_and_bad_checksum_are_refused() {
            assert!(SnappyCompressor.decompress(b"not snappy", 100).is_err());
            // A raw block (the unframed format) is not what Go sends: refused.
            let raw = snap::raw::Encoder::new()
                .compress_vec(b"hello hello hello")
                .unwrap();
            assert!(SnappyCompressor.decompress(&raw, 100).is_err());
            let mut z = SnappyCompressor
                .compress(b"hello hello hello hello")
                .unwrap();
            let n = z.len();
            z[n - 1] ^= 1;
            assert!(SnappyCompressor.decompress(&z, 100).is_err());
        }
    }
}
