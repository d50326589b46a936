//! Property tests: arbitrary messages round-trip; arbitrary bytes never panic the decoder.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rpcx::protocol::{
    CompressType, FrameCodec, Header, Limits, Message, MessageStatus, MessageType, Metadata,
    SerializeType,
};

fn arb_message() -> impl Strategy<Value = Message> {
    (
        any::<u64>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0u8..2,
        0u8..16,
        ".{0,20}",
        ".{0,20}",
        proptest::collection::btree_map(".{0,10}", ".{0,10}", 0..6),
        proptest::collection::vec(any::<u8>(), 0..3000),
    )
        .prop_map(
            |(seq, resp, hb, ow, gz, st, ser, path, method, meta, payload)| {
                let mut h = Header::new();
                h.set_seq(seq);
                h.set_message_type(if resp {
                    MessageType::Response
                } else {
                    MessageType::Request
                });
                h.set_heartbeat(hb);
                h.set_oneway(ow);
                if gz {
                    h.set_compress_type(CompressType::GZIP);
                }
                h.set_status(if st == 1 {
                    MessageStatus::Error
                } else {
                    MessageStatus::Normal
                });
                h.set_serialize_type(SerializeType::new(ser).unwrap());
                Message {
                    header: h,
                    service_path: path,
                    service_method: method,
                    metadata: meta.into_iter().collect::<Metadata>(),
                    payload: Bytes::from(payload),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encode_decode_round_trips(m in arb_message()) {
        let bytes = m.encode().unwrap();
        let back = Message::decode(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn split_points_do_not_matter(m in arb_message(), cut in any::<prop::sample::Index>()) {
        let bytes = m.encode().unwrap();
        let at = cut.index(bytes.len());
        let codec = FrameCodec::default();
        let mut buf = BytesMut::from(&bytes[..at]);
        let first = codec.decode_frame(&mut buf).unwrap();
        prop_assert!(first.is_none());
        buf.extend_from_slice(&bytes[at..]);
        prop_assert_eq!(codec.decode_frame(&mut buf).unwrap(), Some(m));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let codec = FrameCodec::new(Limits::default().with_max_frame_len(4096));
        let mut buf = BytesMut::from(&data[..]);
        for _ in 0..8 {
            match codec.decode_frame(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
    }

    #[test]
    fn mutated_frames_never_panic(m in arb_message(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = m.encode().unwrap().to_vec();
        for (i, v) in flips {
            let at = i.index(bytes.len());
            bytes[at] = v;
        }
        let _ = Message::decode(&bytes, &Limits::default());
    }
}
