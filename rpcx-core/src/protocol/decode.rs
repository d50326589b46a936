//! Incremental frame decoding, stricter than Go: every inner length must agree with the
//! frame's total length, and every [`Limits`] value is checked before memory is committed.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::error::Field;
use super::{
    check_metadata, decompress_limited, CompressType, Header, Limits, Message, MessageType,
    ProtocolError, HEADER_LEN, MAGIC, PREFIX_LEN,
};

/// A decoding failure, with the header of the offending frame when the frame was consumed
/// whole: then the stream is still in sync and a server may answer that seq with an error
/// instead of dropping the connection.
#[derive(Debug)]
pub struct DecodeError {
    /// The header of the malformed frame when it was fully consumed; `None` when the stream
    /// can no longer be read (bad magic, oversized length, I/O failure).
    pub header: Option<Header>,
    /// What was wrong.
    pub error: ProtocolError,
}

impl DecodeError {
    fn fatal(error: ProtocolError) -> DecodeError {
        DecodeError {
            header: None,
            error,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<std::io::Error> for DecodeError {
    fn from(e: std::io::Error) -> Self {
        DecodeError::fatal(ProtocolError::Io(e))
    }
}

/// Reads frames out of a growing byte buffer and writes them into one; usable directly or as
/// a `tokio_util::codec` decoder/encoder under a `Framed` stream.
///
/// The decoder never panics on any input and never reserves more than
/// [`Limits::max_frame_len`] bytes for a frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCodec {
    limits: Limits,
}

impl FrameCodec {
    /// A codec enforcing `limits`.
    pub const fn new(limits: Limits) -> FrameCodec {
        FrameCodec { limits }
    }

    /// The limits in force.
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Takes one complete frame off the front of `src`, or returns `Ok(None)` (after reserving
    /// room for the rest of the frame, within limits) when more bytes are needed.
    pub fn decode_frame(&self, src: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        self.decode_frame_as(src, Names::Keep)
    }

    /// Like [`decode_frame`](Self::decode_frame), but leaves `service_path` and
    /// `service_method` empty in responses (they are still checked): a client never reads
    /// them, and skipping them saves two allocations per reply.
    pub(crate) fn decode_reply_frame(
        &self,
        src: &mut BytesMut,
    ) -> Result<Option<Message>, DecodeError> {
        self.decode_frame_as(src, Names::SkipInResponses)
    }

    fn decode_frame_as(
        &self,
        src: &mut BytesMut,
        names: Names,
    ) -> Result<Option<Message>, DecodeError> {
        let Some(&first) = src.first() else {
            return Ok(None);
        };
        if first != MAGIC {
            return Err(DecodeError::fatal(ProtocolError::BadMagic(first)));
        }
        if src.len() < PREFIX_LEN {
            src.reserve(PREFIX_LEN - src.len());
            return Ok(None);
        }
        let total = u32::from_be_bytes([src[12], src[13], src[14], src[15]]);
        if total > self.limits.max_frame_len {
            return Err(DecodeError::fatal(ProtocolError::FrameTooLong {
                len: total.into(),
                max: self.limits.max_frame_len,
            }));
        }
        let frame_len = PREFIX_LEN + total as usize;
        if src.len() < frame_len {
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(frame_len).freeze();
        let mut hb = [0u8; HEADER_LEN];
        hb.copy_from_slice(&frame[..HEADER_LEN]);
        let header = Header::from_bytes(hb);
        frame.advance(PREFIX_LEN);
        let keep = match names {
            Names::Keep => true,
            Names::SkipInResponses => header.message_type() != MessageType::Response,
        };
        parse_body(header, frame, &self.limits, keep)
            .map(Some)
            .map_err(|error| DecodeError {
                header: Some(header),
                error,
            })
    }
}

impl Message {
    /// Decodes exactly one complete frame from `bytes`; trailing bytes are an error.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Message, DecodeError> {
        let mut buf = BytesMut::from(bytes);
        let codec = FrameCodec::new(*limits);
        match codec.decode_frame(&mut buf)? {
            Some(m) if buf.is_empty() => Ok(m),
            Some(m) => Err(DecodeError {
                header: Some(m.header),
                error: ProtocolError::LengthMismatch {
                    field: Field::Payload,
                    claimed: 0,
                    remaining: buf.len() as u64,
                },
            }),
            None => Err(DecodeError::fatal(ProtocolError::Io(
                std::io::ErrorKind::UnexpectedEof.into(),
            ))),
        }
    }
}

/// Whether a decoded message keeps its service path and method.
#[derive(Clone, Copy)]
enum Names {
    Keep,
    SkipInResponses,
}

/// Parses the four sections of a frame body (everything after the total-length field);
/// `names` false checks the path and method but leaves them empty.
fn parse_body(
    header: Header,
    mut body: Bytes,
    limits: &Limits,
    names: bool,
) -> Result<Message, ProtocolError> {
    let path = take_section(&mut body, Field::ServicePath)?;
    let method = take_section(&mut body, Field::ServiceMethod)?;
    let meta = take_section(&mut body, Field::Metadata)?;
    let declared = take_len(&mut body, Field::Payload)?;
    if declared as usize != body.len() {
        return Err(ProtocolError::LengthMismatch {
            field: Field::Payload,
            claimed: declared.into(),
            remaining: body.len() as u64,
        });
    }
    let metadata = check_metadata(&meta, limits)?;
    let payload = match header.compress_type() {
        CompressType::NONE => body,
        other => decompress_limited(other, &body, limits.max_decompressed_len)?.into(),
    };
    let (service_path, service_method) = if names {
        (
            utf8(path, Field::ServicePath)?,
            utf8(method, Field::ServiceMethod)?,
        )
    } else {
        check_utf8(&path, Field::ServicePath)?;
        check_utf8(&method, Field::ServiceMethod)?;
        (String::new(), String::new())
    };
    Ok(Message {
        header,
        service_path,
        service_method,
        metadata,
        payload,
    })
}

fn take_len(body: &mut Bytes, field: Field) -> Result<u32, ProtocolError> {
    if body.len() < 4 {
        return Err(ProtocolError::LengthMismatch {
            field,
            claimed: 4,
            remaining: body.len() as u64,
        });
    }
    Ok(body.get_u32())
}

fn take_section(body: &mut Bytes, field: Field) -> Result<Bytes, ProtocolError> {
    let len = take_len(body, field)? as usize;
    if len > body.len() {
        return Err(ProtocolError::LengthMismatch {
            field,
            claimed: len as u64,
            remaining: body.len() as u64,
        });
    }
    Ok(body.split_to(len))
}

fn check_utf8(b: &[u8], field: Field) -> Result<(), ProtocolError> {
    std::str::from_utf8(b)
        .map(drop)
        .map_err(|_| ProtocolError::InvalidUtf8(field))
}

fn utf8(b: Bytes, field: Field) -> Result<String, ProtocolError> {
    match std::str::from_utf8(&b) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(ProtocolError::InvalidUtf8(field)),
    }
}

impl tokio_util::codec::Decoder for FrameCodec {
    type Item = Message;
    type Error = DecodeError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        self.decode_frame(src)
    }
}

impl tokio_util::codec::Encoder<&Message> for FrameCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        item.encode_into(dst)
    }
}
