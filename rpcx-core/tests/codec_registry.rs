//! User codecs registered under serialize types 4–15 (Go's `share.RegisterCodec`).

use std::sync::Arc;

use rpcx::codec::{
    self, codec_for, register_codec, unregister_codec, CodecError, DeserializeFn, MsgPackCodec,
    SerdeCodec,
};
use rpcx::protocol::SerializeType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Args {
    a: i64,
    b: i64,
    #[serde(with = "rpcx::codec::go_bytes")]
    blob: Vec<u8>,
}

rpcx::serde_codable!(Args);

/// JSON behind a fixed text prefix.
struct PrefixedJson;

const PREFIX: &[u8] = b"rpcx7:";

impl SerdeCodec for PrefixedJson {
    fn encode(&self, value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(PREFIX);
        erased_serde::serialize(value, &mut serde_json::Serializer::new(out))
            .map_err(|e| e.to_string())
    }

    fn decode(&self, bytes: &[u8], visit: &mut DeserializeFn<'_>) -> Result<(), String> {
        let body = bytes
            .strip_prefix(PREFIX)
            .ok_or_else(|| "prefixed json: missing prefix".to_owned())?;
        let mut de = serde_json::Deserializer::from_slice(body);
        visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de)).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())
    }
}

fn st(n: u8) -> SerializeType {
    SerializeType::new(n).unwrap()
}

#[test]
fn custom_codec_round_trips_through_codable() {
    let seven = st(7);
    assert_eq!(
        codec::encode(&1i32, seven).unwrap_err().to_string(),
        "can not find codec for 7"
    );
    register_codec(seven, Arc::new(PrefixedJson)).unwrap();
    assert!(codec_for(seven).is_some());

    let args = Args {
        a: 10,
        b: 20,
        blob: vec![1, 2, 3],
    };
    let bytes = codec::encode(&args, seven).unwrap();
    assert_eq!(bytes, br#"rpcx7:{"A":10,"B":20,"Blob":"AQID"}"#);
    assert_eq!(codec::decode::<Args>(seven, &bytes).unwrap(), args);

    // Built-in types go through the registry too.
    assert_eq!(
        codec::encode(&vec![1u8, 2, 3], seven).unwrap(),
        br#"rpcx7:"AQID""#
    );
    assert_eq!(
        codec::decode::<Vec<u8>>(seven, br#"rpcx7:"AQID""#).unwrap(),
        [1, 2, 3]
    );
    assert_eq!(codec::encode(&(), seven).unwrap(), b"rpcx7:null");
    codec::decode::<()>(seven, b"rpcx7:{}").unwrap();
    assert_eq!(
        codec::decode::<String>(seven, br#"rpcx7:"hi""#).unwrap(),
        "hi"
    );

    // The codec's own error texts reach the caller unchanged.
    let err = codec::decode::<Args>(seven, br#"{"A":1}"#).unwrap_err();
    assert_eq!(err.to_string(), "prefixed json: missing prefix");
    assert!(matches!(err, CodecError::Decode { codec, .. } if codec == seven));
    let err = codec::decode::<Args>(seven, br#"rpcx7:{"A":1,"B":2,"Blob":""} x"#).unwrap_err();
    assert!(err.to_string().starts_with("trailing characters"), "{err}");
    let err = codec::decode::<Args>(seven, br#"rpcx7:{"A":"x"}"#).unwrap_err();
    assert!(err.to_string().contains("invalid type"), "{err}");

    // Raw and protobuf never consult the registry.
    assert!(matches!(
        codec::encode(&args, SerializeType::RAW).unwrap_err(),
        CodecError::NotRaw { .. }
    ));
}

#[test]
fn builtin_msgpack_codec_under_another_number() {
    let five = st(5);
    register_codec(five, Arc::new(MsgPackCodec)).unwrap();
    let args = Args {
        a: 1,
        b: 2,
        blob: vec![9],
    };
    let bytes = codec::encode(&args, five).unwrap();
    assert_eq!(bytes, codec::encode(&args, SerializeType::MSGPACK).unwrap());
    assert_eq!(codec::decode::<Args>(five, &bytes).unwrap(), args);
    assert_eq!(
        codec::decode::<Args>(five, b"").unwrap_err().to_string(),
        "EOF"
    );
}

#[test]
fn raw_and_protobuf_cannot_be_registered() {
    for n in [0, 2] {
        let err = register_codec(st(n), Arc::new(MsgPackCodec)).unwrap_err();
        assert_eq!(err, CodecError::NotRegistrable(st(n)));
        assert!(codec_for(st(n)).is_none());
    }
}

#[test]
fn unregister_restores_unknown_type() {
    let thirteen = st(13);
    register_codec(thirteen, Arc::new(MsgPackCodec)).unwrap();
    assert!(codec::encode(&5u32, thirteen).is_ok());
    assert!(unregister_codec(thirteen).is_some());
    assert!(codec_for(thirteen).is_none());
    assert_eq!(
        codec::decode::<u32>(thirteen, &[5]).unwrap_err(),
        CodecError::UnknownType(thirteen)
    );
    assert!(unregister_codec(thirteen).is_none());
}
