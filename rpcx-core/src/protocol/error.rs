//! Errors of the wire protocol layer.

use std::fmt;

use super::CompressType;

/// A section of a frame, named in length errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The service path section.
    ServicePath,
    /// The service method section.
    ServiceMethod,
    /// The metadata section.
    Metadata,
    /// The payload section.
    Payload,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::ServicePath => "service path",
            Field::ServiceMethod => "service method",
            Field::Metadata => "metadata",
            Field::Payload => "payload",
        })
    }
}

/// Everything that can be wrong with a frame, one variant per violation.
///
/// Where Go has an error text for the same condition, the message starts with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The first byte of a frame is not 0x08.
    #[error("wrong magic number: {0}")]
    BadMagic(u8),
    /// The total-length field exceeds [`Limits::max_frame_len`](super::Limits::max_frame_len).
    #[error("message is too long: frame claims {len} bytes, limit is {max}")]
    FrameTooLong {
        /// The claimed length.
        len: u64,
        /// The limit in force.
        max: u32,
    },
    /// An inner length field disagrees with the frame's total length (stricter than Go, which
    /// swallows these frames).
    #[error("malformed frame: {field} length {claimed} does not fit the {remaining} bytes left in the frame")]
    LengthMismatch {
        /// The section whose length is wrong.
        field: Field,
        /// The length the field claims (for the payload: its declared length).
        claimed: u64,
        /// Bytes actually left in the frame for it.
        remaining: u64,
    },
    /// A metadata key or value length runs past the metadata section.
    #[error("wrong metadata lines. some keys or values are missing")]
    MetadataTruncated,
    /// More metadata pairs than [`Limits::max_metadata_entries`](super::Limits::max_metadata_entries).
    #[error("too many metadata entries: more than {max}")]
    TooManyMetadataEntries {
        /// The limit in force.
        max: usize,
    },
    /// The metadata section is larger than [`Limits::max_metadata_bytes`](super::Limits::max_metadata_bytes).
    #[error("metadata too large: {len} bytes, limit is {max}")]
    MetadataTooLarge {
        /// The section's length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// The inflated payload exceeds [`Limits::max_decompressed_len`](super::Limits::max_decompressed_len).
    #[error("decompressed size exceeds the maximum allowed size ({max} bytes)")]
    DecompressedTooLarge {
        /// The limit in force.
        max: usize,
    },
    /// The compress type has no compressor: neither none, gzip nor a type registered with
    /// [`register_compressor`](super::register_compressor).
    #[error("unsupported compressor: {0}")]
    UnsupportedCompressor(CompressType),
    /// A registered compressor failed (invalid input, or compressing failed).
    #[error("{ct} failed: {message}")]
    Compressor {
        /// The compress type.
        ct: CompressType,
        /// The compressor's error text.
        message: String,
    },
    /// The payload is not valid gzip.
    #[error("invalid gzip payload: {0}")]
    Gzip(String),
    /// A service path or method is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(Field),
    /// A section is too large to be encoded in a `u32` length or exceeds the frame limit.
    #[error("{field} too large to encode: {len} bytes")]
    TooLargeToEncode {
        /// The section.
        field: Field,
        /// Its length.
        len: u64,
    },
    /// The underlying stream failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
