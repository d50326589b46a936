//! Frame encoding into a caller-owned, reusable buffer.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::Field;
use super::{gzip_into, metadata_encoded_len, CompressType, Message, ProtocolError, PREFIX_LEN};

impl Message {
    /// Appends this message as one complete frame to `buf`, compressing the payload when the
    /// header's compress type says so. Nothing is allocated per field; gzip output is written
    /// straight into `buf` (a registered compressor's output is copied in). A compress type with
    /// no compressor registered is refused with [`ProtocolError::UnsupportedCompressor`]. On error `buf` is left as it was.
    pub fn encode_into(&self, buf: &mut BytesMut) -> Result<(), ProtocolError> {
        let start = buf.len();
        let result = self.write_frame(buf, start);
        if result.is_err() {
            buf.truncate(start);
        }
        result
    }

    /// Encodes this message as one frame into a new buffer of about the frame's length: a
    /// compressed frame is copied out of the buffer reserved for its uncompressed size when
    /// that is more than twice what it needs (the client's send budget charges a queued frame
    /// its length, so that is what it may hold).
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        let mut buf = BytesMut::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut buf)?;
        Ok(if buf.capacity() / 2 > buf.len() {
            Bytes::copy_from_slice(&buf)
        } else {
            buf.freeze()
        })
    }

    /// The frame size when the payload is not compressed.
    pub fn encoded_len_hint(&self) -> usize {
        PREFIX_LEN
            + 16
            + self.service_path.len()
            + self.service_method.len()
            + metadata_encoded_len(&self.metadata)
            + self.payload.len()
    }

    fn write_frame(&self, buf: &mut BytesMut, start: usize) -> Result<(), ProtocolError> {
        let meta_len = metadata_encoded_len(&self.metadata);
        let compress = self.header.compress_type();
        // A registered compressor writes into its own buffer, before anything is appended.
        let compressed = if compress.value() > CompressType::GZIP.value() {
            Some(super::compress::compress_registered(
                compress,
                &self.payload,
            )?)
        } else {
            None
        };
        buf.reserve(self.encoded_len_hint());
        buf.put_slice(self.header.as_bytes());
        buf.put_u32(0); // total length, patched below
        put_section(buf, Field::ServicePath, self.service_path.as_bytes())?;
        put_section(buf, Field::ServiceMethod, self.service_method.as_bytes())?;
        put_len(buf, Field::Metadata, meta_len)?;
        super::encode_metadata(&self.metadata, buf);
        if compress == CompressType::GZIP {
            let len_at = buf.len();
            buf.put_u32(0);
            gzip_into(&self.payload, &mut buf.writer())?;
            let len = buf.len() - len_at - 4;
            let len = u32::try_from(len).map_err(|_| too_large(Field::Payload, len))?;
            buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        } else if let Some(z) = &compressed {
            put_section(buf, Field::Payload, z)?;
        } else {
            put_section(buf, Field::Payload, &self.payload)?;
        }
        let total = buf.len() - start - PREFIX_LEN;
        let total = u32::try_from(total).map_err(|_| too_large(Field::Payload, total))?;
        buf[start + PREFIX_LEN - 4..start + PREFIX_LEN].copy_from_slice(&total.to_be_bytes());
        Ok(())
    }
}

fn too_large(field: Field, len: usize) -> ProtocolError {
    ProtocolError::TooLargeToEncode {
        field,
        len: len as u64,
    }
}

fn put_len(buf: &mut BytesMut, field: Field, len: usize) -> Result<(), ProtocolError> {
    let n = u32::try_from(len).map_err(|_| too_large(field, len))?;
    buf.put_u32(n);
    Ok(())
}

fn put_section(buf: &mut BytesMut, field: Field, data: &[u8]) -> Result<(), ProtocolError> {
    put_len(buf, field, data.len())?;
    buf.put_slice(data);
    Ok(())
}
