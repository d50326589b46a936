//! The rpcx wire protocol: frames, headers, metadata, compression
//! (gzip built in, more by [`register_compressor`]).
//!
//! A frame is a 12-byte [`Header`], a big-endian `u32` total length, and four length-prefixed
//! sections: service path, service method, metadata and payload. [`Message::encode_into`]
//! writes one into a reusable buffer; [`FrameCodec`] reads frames incrementally from a byte
//! buffer (and is a `tokio_util` codec), enforcing [`Limits`] before allocating anything a
//! length field claims.

mod compress;
mod decode;
mod encode;
mod error;
mod header;
mod limits;
mod message;
mod meta_map;
mod metadata;
pub(crate) mod query;

#[cfg(feature = "snappy")]
pub use compress::SnappyCompressor;
pub use compress::{
    decompress_limited, gunzip_limited, gzip_into, is_compress_type_supported, register_compressor,
    registered_compressor, unregister_compressor, Compressor, CompressorError,
};
pub use decode::{DecodeError, FrameCodec};
pub use error::Field;
pub use error::ProtocolError;
pub use header::{
    CompressType, Header, MessageStatus, MessageType, SerializeType, HEADER_LEN, MAGIC,
};
pub use limits::Limits;
pub use message::Message;
pub use meta_map::{Metadata, MetadataIter, MetadataIterMut};
pub(crate) use metadata::check_metadata;
pub use metadata::{decode_metadata, encode_metadata, metadata_encoded_len};

/// Metadata key carrying the error text of an error response.
pub const META_ERROR: &str = "__rpcx_error__";
/// Metadata key carrying the auth token of a request.
pub const META_AUTH: &str = "__AUTH";
/// Metadata key carrying the client's remaining deadline in milliseconds (decimal text).
pub const META_SERVER_TIMEOUT: &str = "__ServerTimeout";
/// Payloads larger than this many bytes are compressed when compression is enabled.
pub const COMPRESS_THRESHOLD: usize = 1024;
/// Length of the prefix before the sections: header plus the total-length field.
pub const PREFIX_LEN: usize = HEADER_LEN + 4;
