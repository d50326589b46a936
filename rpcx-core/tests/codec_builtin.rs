//! Built-in `Codable` implementations and the `codable!` macro (one type, every codec).

use std::collections::{BTreeMap, HashMap};

use rpcx::codec::{self, Codable, CodecError};
use rpcx::protocol::SerializeType;
use serde::{Deserialize, Serialize};

const RAW: SerializeType = SerializeType::RAW;
const JSON: SerializeType = SerializeType::JSON;
const PB: SerializeType = SerializeType::PROTOBUF;
const MP: SerializeType = SerializeType::MSGPACK;

/// Serde and prost at once: answers JSON, MsgPack and Protobuf callers.
#[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Mul {
    #[prost(int32, tag = "1")]
    a: i32,
    #[prost(int32, tag = "2")]
    b: i32,
}

rpcx::codable!(Mul);

fn round_trip<T: Codable + PartialEq + std::fmt::Debug>(value: T, st: SerializeType) -> Vec<u8> {
    let bytes = codec::encode(&value, st).unwrap();
    assert_eq!(codec::decode::<T>(st, &bytes).unwrap(), value, "{st}");
    bytes
}

#[test]
fn one_type_answers_every_codec() {
    let m = Mul { a: 10, b: 20 };
    assert_eq!(round_trip(m.clone(), JSON), br#"{"A":10,"B":20}"#);
    assert_eq!(hex::encode(round_trip(m.clone(), MP)), "82a1410aa14214");
    assert_eq!(hex::encode(round_trip(m.clone(), PB)), "080a1014");
    assert_eq!(
        codec::encode(&m, RAW).unwrap_err().to_string(),
        format!("{} is not a []byte", std::any::type_name::<Mul>())
    );
    // Thrift: i32 field 1 = 10, i32 field 2 = 20, stop (as Go's TBinaryProtocol writes it).
    assert_eq!(
        hex::encode(round_trip(m.clone(), SerializeType::THRIFT)),
        "0800010000000a0800020000001400"
    );
}

#[test]
fn scalars_and_strings() {
    assert_eq!(round_trip("héllo".to_owned(), JSON), "\"héllo\"".as_bytes());
    assert_eq!(hex::encode(round_trip("abc".to_owned(), MP)), "a3616263");
    assert_eq!(round_trip(true, JSON), b"true");
    assert_eq!(round_trip(true, MP), [0xc3]);
    assert_eq!(round_trip(-1i64, MP), [0xff]);
    assert_eq!(hex::encode(round_trip(300u16, MP)), "cd012c");
    assert_eq!(round_trip(u64::MAX, JSON), b"18446744073709551615");
    assert_eq!(round_trip(2.5f32, JSON), b"2.5");
    round_trip(2.5f64, MP);
    round_trip('x', JSON);
    round_trip(-7i8, MP);
    round_trip(7usize, JSON);
    // Any integer width decodes into any integer type that can hold the value.
    assert_eq!(
        codec::decode::<u8>(MP, &[0xd3, 0, 0, 0, 0, 0, 0, 0, 5]).unwrap(),
        5
    );
    assert!(codec::decode::<u8>(MP, &[0xcd, 1, 0]).is_err());
    assert!(matches!(
        codec::encode(&1u32, RAW).unwrap_err(),
        CodecError::NotRaw { type_name: "u32" }
    ));
    assert!(matches!(
        codec::decode::<String>(PB, b"").unwrap_err(),
        CodecError::NotProtobuf {
            type_name: "alloc::string::String"
        }
    ));
}

#[test]
fn unit_is_empty_null_or_nil() {
    assert_eq!(codec::encode(&(), RAW).unwrap(), b"");
    assert_eq!(codec::encode(&(), PB).unwrap(), b"");
    assert_eq!(codec::encode(&(), JSON).unwrap(), b"null");
    assert_eq!(codec::encode(&(), MP).unwrap(), [0xc0]);
    for st in [RAW, JSON, PB, MP] {
        codec::decode::<()>(st, b"").unwrap();
    }
    codec::decode::<()>(JSON, b"null").unwrap();
    codec::decode::<()>(JSON, br#"{"any":[1,2]}"#).unwrap();
    codec::decode::<()>(MP, &[0x80]).unwrap();
    assert!(codec::decode::<()>(JSON, b"{").is_err());
    assert_eq!(
        codec::decode::<()>(SerializeType::new(11).unwrap(), b"").unwrap_err(),
        CodecError::UnknownType(SerializeType::new(11).unwrap())
    );
}

#[test]
fn json_values_options_and_maps() {
    let v = serde_json::json!({"b": [1, "x", null], "a": {"c": 1.5}});
    assert_eq!(
        round_trip(v.clone(), JSON),
        br#"{"a":{"c":1.5},"b":[1,"x",null]}"#
    );
    round_trip(v, MP);

    assert_eq!(round_trip(None::<String>, JSON), b"null");
    assert_eq!(round_trip(None::<String>, MP), [0xc0]);
    assert_eq!(round_trip(Some(5u8), JSON), b"5");

    let map: HashMap<String, String> = [("z", "1"), ("a", "2"), ("m", "<")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // Keys sorted like Go's encoding/json, `<` escaped like Go.
    assert_eq!(
        round_trip(map.clone(), JSON),
        br#"{"a":"2","m":"\u003c","z":"1"}"#
    );
    round_trip(map.clone(), MP);
    let btree: BTreeMap<String, String> = map.into_iter().collect();
    round_trip(btree.clone(), JSON);
    assert_eq!(round_trip(btree, MP)[0], 0x83);
    // Go nil map.
    assert!(matches!(
        codec::decode::<HashMap<String, String>>(JSON, b"null"),
        Err(CodecError::Decode { .. })
    ));
}

#[test]
fn nil_as_default_accepts_go_nil() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct StreamServiceArgs {
        #[serde(default, deserialize_with = "rpcx::codec::nil_as_default")]
        meta: HashMap<String, String>,
    }
    rpcx::serde_codable!(StreamServiceArgs);

    let want = StreamServiceArgs {
        meta: HashMap::new(),
    };
    let go_msgpack = [0x81, 0xa4, b'M', b'e', b't', b'a', 0xc0];
    assert_eq!(
        codec::decode::<StreamServiceArgs>(MP, &go_msgpack).unwrap(),
        want
    );
    assert_eq!(
        codec::decode::<StreamServiceArgs>(JSON, br#"{"Meta":null}"#).unwrap(),
        want
    );
    assert_eq!(
        codec::decode::<StreamServiceArgs>(JSON, b"{}").unwrap(),
        want
    );
}
