//! Replacing the built-in JSON codec through the registry (its own test binary, because the
//! registry is process-wide).

use std::sync::Arc;

use rpcx::codec::{self, register_codec, unregister_codec, DeserializeFn, SerdeCodec};
use rpcx::protocol::SerializeType;

/// Pretty-printed JSON.
struct PrettyJson;

impl SerdeCodec for PrettyJson {
    fn encode(&self, value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), String> {
        erased_serde::serialize(value, &mut serde_json::Serializer::pretty(out))
            .map_err(|e| e.to_string())
    }

    fn decode(&self, bytes: &[u8], visit: &mut DeserializeFn<'_>) -> Result<(), String> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de)).map_err(|e| e.to_string())
    }
}

#[test]
fn json_can_be_replaced_and_restored() {
    let map = std::collections::BTreeMap::from([("k".to_owned(), 1)]);
    assert_eq!(
        codec::encode(&map, SerializeType::JSON).unwrap(),
        br#"{"k":1}"#
    );

    register_codec(SerializeType::JSON, Arc::new(PrettyJson)).unwrap();
    assert_eq!(
        codec::encode(&map, SerializeType::JSON).unwrap(),
        b"{\n  \"k\": 1\n}"
    );
    assert_eq!(
        codec::decode::<std::collections::BTreeMap<String, i32>>(
            SerializeType::JSON,
            b"{\"k\": 1}"
        )
        .unwrap(),
        map
    );
    // An empty payload now gets serde_json's own text instead of Go's `EOF`.
    assert_ne!(
        codec::decode::<String>(SerializeType::JSON, b"")
            .unwrap_err()
            .to_string(),
        "EOF"
    );

    unregister_codec(SerializeType::JSON).unwrap();
    assert_eq!(
        codec::encode(&map, SerializeType::JSON).unwrap(),
        br#"{"k":1}"#
    );
    assert_eq!(
        codec::decode::<String>(SerializeType::JSON, b"")
            .unwrap_err()
            .to_string(),
        "EOF"
    );
}
