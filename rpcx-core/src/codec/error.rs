//! The error type shared by every codec.

use crate::protocol::SerializeType;

/// Why a value could not be encoded to or decoded from a payload.
///
/// The `Display` texts follow the Go reference where Go has one, because a server sends the
/// text of a codec error to the caller in the `__rpcx_error__` metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// No codec is known for this serialize type (Go: `can not find codec for <n>`).
    #[error("can not find codec for {}", .0.value())]
    UnknownType(SerializeType),
    /// Raw serialization (type 0) was asked of a value that is not a byte buffer.
    #[error("{type_name} is not a []byte")]
    NotRaw {
        /// Rust name of the offending type.
        type_name: &'static str,
    },
    /// Protobuf serialization (type 2) was asked of a value that is not a protobuf message.
    #[error("{type_name} is not a proto.Marshaler or pb.Message")]
    NotProtobuf {
        /// Rust name of the offending type.
        type_name: &'static str,
    },
    /// A protobuf-only type (a `prost` message without serde) was asked to be encoded to or
    /// decoded from another serialization (JSON, MsgPack, Thrift or a registered codec).
    #[error("{type_name} supports only protobuf")]
    ProtobufOnly {
        /// The serialize type that was asked for.
        codec: SerializeType,
        /// Rust name of the protobuf-only type.
        type_name: &'static str,
    },
    /// The codec failed to encode a value; the text is the codec's own message.
    #[error("{message}")]
    Encode {
        /// The serialize type whose codec failed.
        codec: SerializeType,
        /// The codec's error text.
        message: String,
    },
    /// The codec failed to decode a payload; the text is the codec's own message (an empty
    /// JSON or MsgPack payload gives `EOF`, exactly as Go does).
    #[error("{message}")]
    Decode {
        /// The serialize type whose codec failed.
        codec: SerializeType,
        /// The codec's error text.
        message: String,
    },
    /// Serialize types 0 (raw) and 2 (protobuf) are not serde based and cannot be replaced by
    /// a registered [`SerdeCodec`](super::SerdeCodec).
    #[error("serialize type {} cannot be replaced by a registered codec", .0.value())]
    NotRegistrable(SerializeType),
}

impl CodecError {
    /// An [`CodecError::Encode`] for `codec` with the given text.
    pub fn encode(codec: SerializeType, message: impl ToString) -> CodecError {
        CodecError::Encode {
            codec,
            message: message.to_string(),
        }
    }

    /// A [`CodecError::Decode`] for `codec` with the given text.
    pub fn decode(codec: SerializeType, message: impl ToString) -> CodecError {
        CodecError::Decode {
            codec,
            message: message.to_string(),
        }
    }
}
