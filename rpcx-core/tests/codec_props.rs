//! Property tests: arbitrary structs survive JSON and MsgPack round trips.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rpcx::codec;
use rpcx::protocol::SerializeType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inner {
    name: String,
    flags: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    id: i64,
    count: u32,
    small: i8,
    ratio: f64,
    label: String,
    #[serde(with = "rpcx::codec::go_bytes")]
    data: Vec<u8>,
    plain_bytes: Vec<u8>,
    tags: Vec<String>,
    meta: BTreeMap<String, String>,
    maybe: Option<i32>,
    inner: Option<Inner>,
}

rpcx::serde_codable!(Record);

fn inner() -> impl Strategy<Value = Inner> {
    (any::<String>(), prop::collection::vec(any::<bool>(), 0..4))
        .prop_map(|(name, flags)| Inner { name, flags })
}

fn record() -> impl Strategy<Value = Record> {
    (
        (any::<i64>(), any::<u32>(), any::<i8>()),
        // Finite decimals with up to 6 fractional digits: exact through serde_json's parser
        // (see `json_floats_are_shortest_round_trip_text`).
        (any::<i32>(), 0..=6i32).prop_map(|(m, k)| f64::from(m) / 10f64.powi(k)),
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<String>(), 0..4),
        prop::collection::btree_map(any::<String>(), any::<String>(), 0..4),
        any::<Option<i32>>(),
        prop::option::of(inner()),
    )
        .prop_map(
            |((id, count, small), ratio, label, data, plain_bytes, tags, meta, maybe, inner)| {
                Record {
                    id,
                    count,
                    small,
                    ratio,
                    label,
                    data,
                    plain_bytes,
                    tags,
                    meta,
                    maybe,
                    inner,
                }
            },
        )
}

proptest! {
    #[test]
    fn json_round_trip(r in record()) {
        let bytes = codec::encode(&r, SerializeType::JSON).unwrap();
        prop_assert!(!bytes.contains(&b'\n'));
        prop_assert_eq!(codec::decode::<Record>(SerializeType::JSON, &bytes).unwrap(), r);
    }

    /// The text we write for any finite float is its shortest round-trip form (so Go reads it
    /// exactly). serde_json without its `float_roundtrip` feature may read such text back a few
    /// ULPs off (e.g. 6.795629672737389e-41, 1.8233257060049774e-96).
    #[test]
    fn json_floats_are_shortest_round_trip_text(x in prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO) {
        let bytes = codec::encode(&x, SerializeType::JSON).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), x.to_bits());
        let back = codec::decode::<f64>(SerializeType::JSON, &bytes).unwrap();
        let tolerance = (x.abs() * 8.0 * f64::EPSILON).max(8.0 * 5e-324);
        prop_assert!((back - x).abs() <= tolerance, "{:e} -> {:e}", x, back);
    }

    #[test]
    fn msgpack_round_trip(r in record()) {
        let bytes = codec::encode(&r, SerializeType::MSGPACK).unwrap();
        // A map of 11 named fields.
        prop_assert_eq!(bytes[0], 0x8b);
        prop_assert_eq!(codec::decode::<Record>(SerializeType::MSGPACK, &bytes).unwrap(), r);
    }

    #[test]
    fn byte_vectors_round_trip(data in prop::collection::vec(any::<u8>(), 0..300)) {
        for st in [SerializeType::RAW, SerializeType::JSON, SerializeType::MSGPACK] {
            let bytes = codec::encode(&data, st).unwrap();
            prop_assert_eq!(codec::decode::<Vec<u8>>(st, &bytes).unwrap(), data.clone());
        }
    }

    #[test]
    fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = codec::decode::<Record>(SerializeType::JSON, &bytes);
        let _ = codec::decode::<Record>(SerializeType::MSGPACK, &bytes);
        let _ = codec::decode::<Vec<u8>>(SerializeType::JSON, &bytes);
        let _ = codec::decode::<()>(SerializeType::MSGPACK, &bytes);
    }
}
