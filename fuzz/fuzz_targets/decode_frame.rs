//! Feeds arbitrary bytes to the frame decoder, in arbitrary chunks, with small limits so the
//! limit paths are reached; any panic is a bug. Frames that decode must re-encode and decode
//! to the same message.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rpcx::protocol::{FrameCodec, Limits, Message};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default()
        .with_max_frame_len(64 << 10)
        .with_max_decompressed_len(256 << 10)
        .with_max_metadata_entries(16)
        .with_max_metadata_bytes(4 << 10);
    let codec = FrameCodec::new(limits);
    let split = data.first().map_or(0, |b| *b as usize).min(data.len());
    let mut buf = BytesMut::from(&data[..split]);
    let mut rest = &data[split..];
    loop {
        match codec.decode_frame(&mut buf) {
            Ok(Some(m)) => {
                let again = m.encode().expect("a decoded message encodes");
                let back = Message::decode(&again, &Limits::UNLIMITED).expect("re-decodes");
                assert_eq!(back, m);
            }
            Ok(None) if !rest.is_empty() => {
                let n = rest.len().min(97);
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
            Ok(None) | Err(_) => break,
        }
    }
});
