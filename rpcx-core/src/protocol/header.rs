//! The 12-byte rpcx frame header and the enums packed into its flag bytes.

use std::fmt;

/// First byte of every rpcx frame.
pub const MAGIC: u8 = 0x08;
/// Size of the fixed header (magic, version, flags, serialize type, seq).
pub const HEADER_LEN: usize = 12;

const TYPE_MASK: u8 = 0x80;
const HEARTBEAT_MASK: u8 = 0x40;
const ONEWAY_MASK: u8 = 0x20;
const COMPRESS_MASK: u8 = 0x1C;
const STATUS_MASK: u8 = 0x03;

/// Whether a frame is a request or a response (bit 7 of byte 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A request (also used for server pushes).
    Request,
    /// A response.
    Response,
}

/// Status of a response (bits 1..0 of byte 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// Normal (0).
    Normal,
    /// Error (1): metadata carries `__rpcx_error__`.
    Error,
    /// Values 2 and 3 are unused by Go; kept so a header round-trips unchanged.
    Other(u8),
}

/// Compression applied to the payload (bits 4..2 of byte 2, values 0–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompressType(u8);

impl CompressType {
    /// No compression (0).
    pub const NONE: CompressType = CompressType(0);
    /// gzip, RFC 1952 (1).
    pub const GZIP: CompressType = CompressType(1);
    /// snappy (2) by this crate's convention: Go rpcx ships `protocol.SnappyCompressor` but
    /// gives it no number, so a Go peer registers it at the same type,
    /// `protocol.Compressors[2] = &protocol.SnappyCompressor{}`. With the `snappy` feature the
    /// [`SnappyCompressor`](super::SnappyCompressor) is registered at this type.
    pub const SNAPPY: CompressType = CompressType(2);

    /// A compress type from its 3-bit wire number; `None` when `n > 7`.
    pub const fn new(n: u8) -> Option<CompressType> {
        if n <= 7 {
            Some(CompressType(n))
        } else {
            None
        }
    }

    /// The wire number (0–7).
    pub const fn value(self) -> u8 {
        self.0
    }
}

impl fmt::Display for CompressType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("none"),
            1 => f.write_str("gzip"),
            n => write!(f, "compressor {n}"),
        }
    }
}

/// Serialization of payloads (high nibble of byte 3, values 0–15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerializeType(u8);

impl SerializeType {
    /// Raw bytes, no serialization (0).
    pub const RAW: SerializeType = SerializeType(0);
    /// JSON (1).
    pub const JSON: SerializeType = SerializeType(1);
    /// Protocol Buffers (2).
    pub const PROTOBUF: SerializeType = SerializeType(2);
    /// MessagePack (3), the Go client's default.
    pub const MSGPACK: SerializeType = SerializeType(3);
    /// Apache Thrift binary protocol (4): built in for serde types ([`crate::codec::thrift_encode`]).
    pub const THRIFT: SerializeType = SerializeType(4);

    /// A serialize type from its 4-bit wire number; `None` when `n > 15`.
    pub const fn new(n: u8) -> Option<SerializeType> {
        if n <= 15 {
            Some(SerializeType(n))
        } else {
            None
        }
    }

    /// The wire number (0–15).
    pub const fn value(self) -> u8 {
        self.0
    }
}

impl fmt::Display for SerializeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.pad("raw"),
            1 => f.pad("json"),
            2 => f.pad("protobuf"),
            3 => f.pad("msgpack"),
            4 => f.pad("thrift"),
            n => f.pad(&format!("codec {n}")),
        }
    }
}

/// The fixed 12-byte header, stored as its wire bytes so reserved bits and the version byte
/// survive a request → response copy exactly as Go does.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header([u8; HEADER_LEN]);

impl Default for Header {
    fn default() -> Self {
        Header::new()
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("type", &self.message_type())
            .field("heartbeat", &self.is_heartbeat())
            .field("oneway", &self.is_oneway())
            .field("compress", &self.compress_type())
            .field("status", &self.status())
            .field("serialize", &self.serialize_type())
            .field("seq", &self.seq())
            .finish()
    }
}

impl Header {
    /// A request header: magic set, version 0, no flags, raw serialization, seq 0.
    pub const fn new() -> Header {
        let mut b = [0u8; HEADER_LEN];
        b[0] = MAGIC;
        Header(b)
    }

    /// Wraps 12 wire bytes as they are (the magic byte is not checked here).
    pub const fn from_bytes(bytes: [u8; HEADER_LEN]) -> Header {
        Header(bytes)
    }

    /// The 12 wire bytes.
    pub const fn as_bytes(&self) -> &[u8; HEADER_LEN] {
        &self.0
    }

    /// Version byte (written as 0, ignored on read).
    pub const fn version(&self) -> u8 {
        self.0[1]
    }

    /// Sets the version byte.
    pub fn set_version(&mut self, v: u8) {
        self.0[1] = v;
    }

    /// Request or response.
    pub const fn message_type(&self) -> MessageType {
        if self.0[2] & TYPE_MASK != 0 {
            MessageType::Response
        } else {
            MessageType::Request
        }
    }

    /// Sets request or response (unlike Go's setter this can also clear the bit).
    pub fn set_message_type(&mut self, t: MessageType) {
        match t {
            MessageType::Request => self.0[2] &= !TYPE_MASK,
            MessageType::Response => self.0[2] |= TYPE_MASK,
        }
    }

    /// True for a heartbeat (flag 0x40).
    pub const fn is_heartbeat(&self) -> bool {
        self.0[2] & HEARTBEAT_MASK != 0
    }

    /// Sets or clears the heartbeat flag.
    pub fn set_heartbeat(&mut self, on: bool) {
        self.set_bit(HEARTBEAT_MASK, on);
    }

    /// True for a oneway message (flag 0x20): never answered.
    pub const fn is_oneway(&self) -> bool {
        self.0[2] & ONEWAY_MASK != 0
    }

    /// Sets or clears the oneway flag.
    pub fn set_oneway(&mut self, on: bool) {
        self.set_bit(ONEWAY_MASK, on);
    }

    /// The payload's compression.
    pub const fn compress_type(&self) -> CompressType {
        CompressType((self.0[2] & COMPRESS_MASK) >> 2)
    }

    /// Sets the payload's compression.
    pub fn set_compress_type(&mut self, c: CompressType) {
        self.0[2] = (self.0[2] & !COMPRESS_MASK) | ((c.0 << 2) & COMPRESS_MASK);
    }

    /// Response status.
    pub const fn status(&self) -> MessageStatus {
        match self.0[2] & STATUS_MASK {
            0 => MessageStatus::Normal,
            1 => MessageStatus::Error,
            n => MessageStatus::Other(n),
        }
    }

    /// Sets the response status.
    pub fn set_status(&mut self, s: MessageStatus) {
        let n = match s {
            MessageStatus::Normal => 0,
            MessageStatus::Error => 1,
            MessageStatus::Other(n) => n & STATUS_MASK,
        };
        self.0[2] = (self.0[2] & !STATUS_MASK) | n;
    }

    /// The payload's serialization.
    pub const fn serialize_type(&self) -> SerializeType {
        SerializeType(self.0[3] >> 4)
    }

    /// Sets the payload's serialization (the reserved low nibble is kept).
    pub fn set_serialize_type(&mut self, s: SerializeType) {
        self.0[3] = (self.0[3] & 0x0F) | (s.0 << 4);
    }

    /// Sequence number matching a response to its request.
    pub const fn seq(&self) -> u64 {
        u64::from_be_bytes([
            self.0[4], self.0[5], self.0[6], self.0[7], self.0[8], self.0[9], self.0[10],
            self.0[11],
        ])
    }

    /// Sets the sequence number.
    pub fn set_seq(&mut self, seq: u64) {
        self.0[4..12].copy_from_slice(&seq.to_be_bytes());
    }

    /// True for a server push: a oneway request that is not a heartbeat.
    pub const fn is_server_push(&self) -> bool {
        matches!(self.message_type(), MessageType::Request)
            && self.is_oneway()
            && !self.is_heartbeat()
    }

    /// The header of the response to this request, built as Go does: a copy with the
    /// response bit set, compression cleared, status normal.
    pub fn response(&self) -> Header {
        let mut h = *self;
        h.set_message_type(MessageType::Response);
        h.set_compress_type(CompressType::NONE);
        h.set_status(MessageStatus::Normal);
        h
    }

    fn set_bit(&mut self, mask: u8, on: bool) {
        if on {
            self.0[2] |= mask;
        } else {
            self.0[2] &= !mask;
        }
    }
}
