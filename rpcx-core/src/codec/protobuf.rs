//! Protocol Buffers (serialize type 2), through `prost`.

use super::CodecError;
use crate::protocol::SerializeType;

/// Appends the protobuf binary encoding of `msg` to `out`.
pub fn proto_encode<M: prost::Message>(msg: &M, out: &mut Vec<u8>) -> Result<(), CodecError> {
    // A Vec grows as needed, so prost's only failure (insufficient capacity) cannot happen;
    // map it anyway rather than panic.
    msg.encode(out)
        .map_err(|e| CodecError::encode(SerializeType::PROTOBUF, e))
}

/// Decodes a protobuf message from `bytes` (an empty payload is the default message, as in Go).
pub fn proto_decode<M: prost::Message + Default>(bytes: &[u8]) -> Result<M, CodecError> {
    M::decode(bytes).map_err(|e| CodecError::decode(SerializeType::PROTOBUF, e))
}
