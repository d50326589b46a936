//! One test per limit and per malformed-frame error, plus incremental decoding.

use bytes::{BufMut, Bytes, BytesMut};
use rpcx::protocol::{
    CompressType, DecodeError, Field, FrameCodec, Limits, Message, ProtocolError, SerializeType,
};

fn sample() -> Message {
    let mut m = Message::request(
        "Arith",
        "Mul",
        SerializeType::JSON,
        &br#"{"A":1,"B":2}"#[..],
    );
    m.header.set_seq(42);
    m.metadata.insert("k".into(), "v".into());
    m
}

fn decode_all(bytes: &[u8], limits: Limits) -> Result<Option<Message>, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    FrameCodec::new(limits).decode_frame(&mut buf)
}

/// A frame from raw sections, so lengths can lie.
fn raw_frame(total: u32, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x08, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 1];
    f.put_u32(total);
    f.extend_from_slice(body);
    f
}

#[test]
fn bad_magic_is_fatal() {
    let mut f = sample().encode().unwrap().to_vec();
    f[0] = 0x47; // 'G', e.g. an HTTP request
    let e = decode_all(&f, Limits::default()).unwrap_err();
    assert!(matches!(e.error, ProtocolError::BadMagic(0x47)));
    assert!(e.header.is_none());
    assert_eq!(e.to_string(), "wrong magic number: 71");
}

#[test]
fn frame_length_limit_is_checked_before_allocating() {
    // A 16-byte prefix claiming 4 GiB.
    let f = raw_frame(u32::MAX, &[]);
    let mut buf = BytesMut::from(&f[..]);
    let e = FrameCodec::default().decode_frame(&mut buf).unwrap_err();
    assert!(
        matches!(e.error, ProtocolError::FrameTooLong { len, max } if len == u32::MAX as u64 && max == 16 << 20)
    );
    assert!(
        buf.capacity() < 1 << 20,
        "reserved {} bytes",
        buf.capacity()
    );
    let small = Limits::default().with_max_frame_len(10);
    let e = decode_all(&sample().encode().unwrap(), small).unwrap_err();
    assert!(matches!(e.error, ProtocolError::FrameTooLong { .. }));
}

#[test]
fn decompressed_size_limit_stops_gzip_bombs() {
    let bomb = vec![0u8; 8 << 20];
    let mut m = Message::request("S", "M", SerializeType::RAW, bomb);
    m.header.set_compress_type(CompressType::GZIP);
    let frame = m.encode().unwrap();
    assert!(frame.len() < 64 << 10, "8 MiB of zeros compresses well");
    let limits = Limits::default().with_max_decompressed_len(1 << 20);
    let e = decode_all(&frame, limits).unwrap_err();
    assert!(matches!(e.error, ProtocolError::DecompressedTooLarge { max } if max == 1 << 20));
    assert!(
        e.header.is_some(),
        "the frame was consumed; stream still in sync"
    );
    assert!(decode_all(&frame, Limits::default()).unwrap().is_some());
}

#[test]
fn metadata_entry_limit() {
    let mut m = sample();
    for i in 0..10 {
        m.metadata.insert(format!("k{i}"), "v".into());
    }
    let limits = Limits::default().with_max_metadata_entries(5);
    let e = decode_all(&m.encode().unwrap(), limits).unwrap_err();
    assert!(matches!(
        e.error,
        ProtocolError::TooManyMetadataEntries { max: 5 }
    ));
}

#[test]
fn metadata_bytes_limit() {
    let mut m = sample();
    m.metadata.insert("big".into(), "x".repeat(1000));
    let limits = Limits::default().with_max_metadata_bytes(512);
    let e = decode_all(&m.encode().unwrap(), limits).unwrap_err();
    assert!(matches!(
        e.error,
        ProtocolError::MetadataTooLarge { max: 512, .. }
    ));
}

#[test]
fn lying_inner_lengths_name_the_field() {
    // service path claims 100 bytes, frame has 20
    let mut body = Vec::new();
    body.put_u32(100);
    body.extend_from_slice(&[b'a'; 16]);
    let e = decode_all(&raw_frame(body.len() as u32, &body), Limits::default()).unwrap_err();
    assert!(
        matches!(
            e.error,
            ProtocolError::LengthMismatch {
                field: Field::ServicePath,
                claimed: 100,
                remaining: 16
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("service path"));

    // total length too short to hold the method length
    let mut body = Vec::new();
    body.put_u32(1);
    body.push(b'S');
    let e = decode_all(&raw_frame(body.len() as u32, &body), Limits::default()).unwrap_err();
    assert!(matches!(
        e.error,
        ProtocolError::LengthMismatch {
            field: Field::ServiceMethod,
            ..
        }
    ));

    // payload length disagrees with the rest of the frame (Go ignores it; we do not)
    let mut f = sample().encode().unwrap().to_vec();
    let n = f.len();
    let declared = u32::from_be_bytes(f[n - 17..n - 13].try_into().unwrap());
    assert_eq!(declared, 13);
    f[n - 17..n - 13].copy_from_slice(&5u32.to_be_bytes());
    let e = decode_all(&f, Limits::default()).unwrap_err();
    assert!(matches!(
        e.error,
        ProtocolError::LengthMismatch {
            field: Field::Payload,
            claimed: 5,
            remaining: 13
        }
    ));
    assert_eq!(e.header.unwrap().seq(), 42);

    // metadata length runs past the frame
    let mut body = Vec::new();
    body.put_u32(0);
    body.put_u32(0);
    body.put_u32(999);
    body.put_u32(0);
    let e = decode_all(&raw_frame(body.len() as u32, &body), Limits::default()).unwrap_err();
    assert!(matches!(
        e.error,
        ProtocolError::LengthMismatch {
            field: Field::Metadata,
            ..
        }
    ));
}

#[test]
fn truncated_metadata_pairs_use_go_text() {
    let mut meta = Vec::new();
    meta.put_u32(3);
    meta.extend_from_slice(b"key"); // no value length follows
    let mut body = Vec::new();
    body.put_u32(0);
    body.put_u32(0);
    body.put_u32(meta.len() as u32);
    body.extend_from_slice(&meta);
    body.put_u32(0);
    let e = decode_all(&raw_frame(body.len() as u32, &body), Limits::default()).unwrap_err();
    assert!(matches!(e.error, ProtocolError::MetadataTruncated));
    assert_eq!(
        e.to_string(),
        "wrong metadata lines. some keys or values are missing"
    );
    // metaLen of 1..3 (a Go panic) is the same error here
    let mut body = Vec::new();
    body.put_u32(0);
    body.put_u32(0);
    body.put_u32(2);
    body.extend_from_slice(&[0, 0]);
    body.put_u32(0);
    let e = decode_all(&raw_frame(body.len() as u32, &body), Limits::default()).unwrap_err();
    assert!(matches!(e.error, ProtocolError::MetadataTruncated));
}

#[test]
fn unsupported_compressor_and_bad_gzip() {
    let mut f = sample().encode().unwrap().to_vec();
    f[2] |= 3 << 2;
    let e = decode_all(&f, Limits::default()).unwrap_err();
    assert!(matches!(e.error, ProtocolError::UnsupportedCompressor(c) if c.value() == 3));
    let mut f = sample().encode().unwrap().to_vec();
    f[2] |= 1 << 2; // claims gzip, payload is JSON text
    let e = decode_all(&f, Limits::default()).unwrap_err();
    assert!(matches!(e.error, ProtocolError::Gzip(_)));
    let mut m = sample();
    m.header.set_compress_type(CompressType::new(5).unwrap());
    assert!(matches!(
        m.encode(),
        Err(ProtocolError::UnsupportedCompressor(_))
    ));
}

#[test]
fn non_utf8_names_are_rejected_with_the_frame_consumed() {
    let mut body = Vec::new();
    body.put_u32(2);
    body.extend_from_slice(&[0xff, 0xfe]);
    body.put_u32(0);
    body.put_u32(0);
    body.put_u32(0);
    let e = decode_all(&raw_frame(body.len() as u32, &body), Limits::default()).unwrap_err();
    assert!(matches!(
        e.error,
        ProtocolError::InvalidUtf8(Field::ServicePath)
    ));
    assert!(e.header.is_some());
}

#[test]
fn byte_by_byte_input_decodes_every_frame_once() {
    let a = sample();
    let mut b = sample();
    b.header.set_seq(43);
    b.header.set_compress_type(CompressType::GZIP);
    b.payload = Bytes::from(vec![7u8; 5000]);
    let mut wire = BytesMut::new();
    a.encode_into(&mut wire).unwrap();
    b.encode_into(&mut wire).unwrap();
    let codec = FrameCodec::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for byte in wire.iter() {
        buf.put_u8(*byte);
        while let Some(m) = codec.decode_frame(&mut buf).unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got, vec![a, b]);
    assert!(buf.is_empty());
}

#[test]
fn malformed_frame_leaves_the_stream_in_sync() {
    let mut wire = BytesMut::new();
    let mut bad = sample().encode().unwrap().to_vec();
    let n = bad.len();
    bad[n - 17..n - 13].copy_from_slice(&1u32.to_be_bytes());
    wire.extend_from_slice(&bad);
    sample().encode_into(&mut wire).unwrap();
    let codec = FrameCodec::default();
    assert!(codec.decode_frame(&mut wire).is_err());
    assert_eq!(codec.decode_frame(&mut wire).unwrap().unwrap(), sample());
}

#[test]
fn decode_rejects_trailing_bytes_and_short_input() {
    let mut f = sample().encode().unwrap().to_vec();
    assert!(Message::decode(&f[..f.len() - 1], &Limits::default()).is_err());
    f.push(0);
    assert!(Message::decode(&f, &Limits::default()).is_err());
}

#[test]
fn encode_into_reuses_the_buffer() {
    let mut buf = BytesMut::with_capacity(4096);
    let ptr = buf.as_ptr();
    for _ in 0..10 {
        buf.clear();
        sample().encode_into(&mut buf).unwrap();
    }
    assert_eq!(buf.as_ptr(), ptr);
    assert_eq!(&buf[..], &sample().encode().unwrap()[..]);
}
