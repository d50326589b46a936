//! Serialization vectors (bytes written by the Go reference) and the
//! Go-compatible error texts of the codecs.

use std::collections::HashMap;

use rpcx::codec::{self, CodecError};
use rpcx::protocol::SerializeType;
use serde::{Deserialize, Serialize};

const RAW: SerializeType = SerializeType::RAW;
const JSON: SerializeType = SerializeType::JSON;
const PB: SerializeType = SerializeType::PROTOBUF;
const MP: SerializeType = SerializeType::MSGPACK;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Args {
    a: i64,
    b: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Reply {
    c: i64,
}

/// `share.FileTransferArgs` with its msgpack (Go field) names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileTransferArgs {
    file_name: String,
    file_size: i64,
    meta: Option<HashMap<String, String>>,
}

/// `share.FileTransferReply`, `Token` through `serde_bytes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileTransferReply {
    #[serde(with = "serde_bytes")]
    token: Vec<u8>,
    addr: String,
}

/// The same, `Token` through `rpcx::codec::go_bytes` (base64 in JSON, bin in MsgPack).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileTransferReplyGo {
    #[serde(with = "rpcx::codec::go_bytes")]
    token: Vec<u8>,
    addr: String,
}

/// The same with an unannotated `Vec<u8>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileTransferReplyPlain {
    token: Vec<u8>,
    addr: String,
}

rpcx::serde_codable!(
    Args,
    Reply,
    FileTransferArgs,
    FileTransferReply,
    FileTransferReplyGo,
    FileTransferReplyPlain,
);

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoArgs {
    #[prost(int32, tag = "1")]
    a: i32,
    #[prost(int32, tag = "2")]
    b: i32,
}

rpcx::proto_codable!(ProtoArgs);

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text.replace(' ', "")).unwrap()
}

/// Hex of a msgpack fixstr.
fn fixstr(s: &str) -> String {
    assert!(s.len() < 32);
    format!("{:02x}{}", 0xa0 | s.len(), hex::encode(s))
}

#[test]
fn msgpack_args_and_reply_match_go() {
    let args = Args { a: 10, b: 20 };
    assert_eq!(hex(&codec::encode(&args, MP).unwrap()), "82a1410aa14214");
    assert_eq!(
        codec::decode::<Args>(MP, &unhex("82a1410aa14214")).unwrap(),
        args
    );

    let reply = Reply { c: 200 };
    assert_eq!(hex(&codec::encode(&reply, MP).unwrap()), "81a143ccc8");
    assert_eq!(
        codec::decode::<Reply>(MP, &unhex("81a143ccc8")).unwrap(),
        reply
    );
}

#[test]
fn msgpack_file_transfer_args() {
    let args = FileTransferArgs {
        file_name: "a.txt".into(),
        file_size: 3,
        meta: None,
    };
    // What Go writes: int64 at full width (d3 + 8 bytes).
    let go = format!(
        "83{}{}{}d30000000000000003{}c0",
        fixstr("FileName"),
        fixstr("a.txt"),
        fixstr("FileSize"),
        fixstr("Meta")
    );
    assert_eq!(
        codec::decode::<FileTransferArgs>(MP, &unhex(&go)).unwrap(),
        args
    );

    // What we write: identical except that rmp-serde writes integers in their most compact
    // form (positive fixint 03), which Go's decoder accepts for an int64 field.
    let ours = format!(
        "83{}{}{}03{}c0",
        fixstr("FileName"),
        fixstr("a.txt"),
        fixstr("FileSize"),
        fixstr("Meta")
    );
    let encoded = codec::encode(&args, MP).unwrap();
    assert_eq!(hex(&encoded), ours);
    assert_eq!(
        codec::decode::<FileTransferArgs>(MP, &encoded).unwrap(),
        args
    );

    // With a Meta map it round-trips.
    let with_meta = FileTransferArgs {
        meta: Some(HashMap::from([("k".to_owned(), "v".to_owned())])),
        ..args
    };
    let encoded = codec::encode(&with_meta, MP).unwrap();
    assert_eq!(
        codec::decode::<FileTransferArgs>(MP, &encoded).unwrap(),
        with_meta
    );
}

#[test]
fn msgpack_file_transfer_reply_matches_go() {
    let go = format!(
        "82{}c403010203{}{}",
        fixstr("Token"),
        fixstr("Addr"),
        fixstr("127.0.0.1:8975")
    );
    let reply = FileTransferReply {
        token: vec![1, 2, 3],
        addr: "127.0.0.1:8975".into(),
    };
    assert_eq!(hex(&codec::encode(&reply, MP).unwrap()), go);
    assert_eq!(
        codec::decode::<FileTransferReply>(MP, &unhex(&go)).unwrap(),
        reply
    );

    // `go_bytes` and a plain `Vec<u8>` give the same bin encoding.
    let reply_go = FileTransferReplyGo {
        token: vec![1, 2, 3],
        addr: "127.0.0.1:8975".into(),
    };
    assert_eq!(hex(&codec::encode(&reply_go, MP).unwrap()), go);
    assert_eq!(
        codec::decode::<FileTransferReplyGo>(MP, &unhex(&go)).unwrap(),
        reply_go
    );
    let reply_plain = FileTransferReplyPlain {
        token: vec![1, 2, 3],
        addr: "127.0.0.1:8975".into(),
    };
    assert_eq!(hex(&codec::encode(&reply_plain, MP).unwrap()), go);
    assert_eq!(
        codec::decode::<FileTransferReplyPlain>(MP, &unhex(&go)).unwrap(),
        reply_plain
    );
}

#[test]
fn msgpack_decodes_any_int_width_and_skips_unknown_keys() {
    // A=10 as int64 (d3), B=20 as uint16 (cd), plus an unknown key "X": nil.
    let bytes = unhex("83 a141 d3000000000000000a a142 cd0014 a158 c0");
    assert_eq!(
        codec::decode::<Args>(MP, &bytes).unwrap(),
        Args { a: 10, b: 20 }
    );
}

#[test]
fn json_uses_go_field_names_and_formatting() {
    let args = Args { a: 10, b: 20 };
    assert_eq!(codec::encode(&args, JSON).unwrap(), br#"{"A":10,"B":20}"#);
    assert_eq!(
        codec::encode(&Reply { c: 200 }, JSON).unwrap(),
        br#"{"C":200}"#
    );
    // Payload of golden vector V1.
    assert_eq!(
        codec::decode::<Args>(JSON, &unhex("7b2241223a31302c2242223a32307d")).unwrap(),
        args
    );

    let reply = FileTransferReplyGo {
        token: vec![1, 2, 3],
        addr: "127.0.0.1:8975".into(),
    };
    let json = codec::encode(&reply, JSON).unwrap();
    assert_eq!(json, br#"{"Token":"AQID","Addr":"127.0.0.1:8975"}"#);
    assert_eq!(
        codec::decode::<FileTransferReplyGo>(JSON, &json).unwrap(),
        reply
    );
    let from_go_nil: FileTransferReplyGo =
        codec::decode(JSON, br#"{"Token":null,"Addr":""}"#).unwrap();
    assert!(from_go_nil.token.is_empty());
}

#[test]
fn json_escapes_and_floats_like_go() {
    let s = "<a href=\"x\">&\u{2028}\u{2029}é</a>".to_owned();
    assert_eq!(
        String::from_utf8(codec::encode(&s, JSON).unwrap()).unwrap(),
        r#""\u003ca href=\"x\"\u003e\u0026\u2028\u2029é\u003c/a\u003e""#
    );
    let cases: [(f64, &str); 8] = [
        (100.0, "100"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (-1.5e300, "-1.5e+300"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
    ];
    for (value, go) in cases {
        assert_eq!(
            codec::encode(&value, JSON).unwrap(),
            go.as_bytes(),
            "{value}"
        );
        assert_eq!(codec::decode::<f64>(JSON, go.as_bytes()).unwrap(), value);
    }
    assert_eq!(codec::encode(&0.0f64, JSON).unwrap(), b"0");
    assert_eq!(codec::encode(&1.5f32, JSON).unwrap(), b"1.5");
}

#[test]
fn byte_vectors_per_codec() {
    let bytes = vec![1u8, 2, 3];
    assert_eq!(codec::encode(&bytes, RAW).unwrap(), [1, 2, 3]);
    assert_eq!(codec::encode(&bytes, JSON).unwrap(), br#""AQID""#);
    assert_eq!(hex(&codec::encode(&bytes, MP).unwrap()), "c403010203");
    assert_eq!(codec::decode::<Vec<u8>>(RAW, &[1, 2, 3]).unwrap(), bytes);
    assert_eq!(codec::decode::<Vec<u8>>(JSON, br#""AQID""#).unwrap(), bytes);
    assert_eq!(
        codec::decode::<Vec<u8>>(MP, &unhex("c403010203")).unwrap(),
        bytes
    );
    assert_eq!(
        codec::decode::<Vec<u8>>(JSON, br#""AQI""#)
            .unwrap_err()
            .to_string(),
        "illegal base64 data at input byte 3 at line 1 column 5"
    );

    let b = bytes::Bytes::from_static(b"hi");
    assert_eq!(codec::encode(&b, RAW).unwrap(), b"hi");
    assert_eq!(codec::encode(&b, JSON).unwrap(), br#""aGk=""#);
    assert_eq!(
        codec::decode::<bytes::Bytes>(JSON, br#""aGk=""#).unwrap(),
        b
    );
    assert_eq!(codec::decode::<bytes::Bytes>(RAW, b"hi").unwrap(), b);

    assert_eq!(
        codec::encode(&bytes, PB).unwrap_err(),
        CodecError::NotProtobuf {
            type_name: "alloc::vec::Vec<u8>"
        }
    );
}

#[test]
fn empty_payloads_are_eof_like_go() {
    let err = codec::decode::<Args>(JSON, b"").unwrap_err();
    assert_eq!(err.to_string(), "EOF");
    assert!(matches!(err, CodecError::Decode { codec, .. } if codec == JSON));
    assert_eq!(
        codec::decode::<Args>(JSON, b" \r\n\t")
            .unwrap_err()
            .to_string(),
        "EOF"
    );
    assert_eq!(
        codec::decode::<Args>(MP, b"").unwrap_err().to_string(),
        "EOF"
    );
    assert_eq!(
        codec::decode::<String>(JSON, b"").unwrap_err().to_string(),
        "EOF"
    );
    // Cut short inside a value: Go says `unexpected EOF`.
    assert_eq!(
        codec::decode::<Args>(JSON, br#"{"A":10"#)
            .unwrap_err()
            .to_string(),
        "unexpected EOF"
    );
    assert_eq!(
        codec::decode::<Args>(MP, &unhex("82a1410a"))
            .unwrap_err()
            .to_string(),
        "unexpected EOF"
    );
}

#[test]
fn json_reads_only_the_first_value() {
    let want = Args { a: 1, b: 2 };
    assert_eq!(
        codec::decode::<Args>(JSON, br#"{"A":1,"B":2}garbage"#).unwrap(),
        want
    );
    assert_eq!(
        codec::decode::<Args>(JSON, b"  {\"A\":1,\"B\":2}\n{\"A\":3,\"B\":4}\n").unwrap(),
        want
    );
    assert_eq!(codec::decode::<i64>(JSON, b"123 456").unwrap(), 123);
    // Unknown fields are ignored, as in Go.
    assert_eq!(
        codec::decode::<Args>(JSON, br#"{"A":1,"B":2,"Z":[1]}"#).unwrap(),
        want
    );
    // Malformed input carries serde_json's text.
    assert!(codec::decode::<Args>(JSON, b"{x").is_err());
}

#[test]
fn protobuf_prost_message() {
    let args = ProtoArgs { a: 10, b: 20 };
    let bytes = codec::encode(&args, PB).unwrap();
    assert_eq!(hex(&bytes), "080a1014");
    assert_eq!(codec::decode::<ProtoArgs>(PB, &bytes).unwrap(), args);
    assert_eq!(
        codec::decode::<ProtoArgs>(PB, b"").unwrap(),
        ProtoArgs::default()
    );

    // A prost-only type refuses the other codecs.
    let name = std::any::type_name::<ProtoArgs>();
    let err = codec::encode(&args, JSON).unwrap_err();
    assert_eq!(err.to_string(), format!("{name} supports only protobuf"));
    assert!(matches!(err, CodecError::ProtobufOnly { codec, .. } if codec == JSON));
    let err = codec::decode::<ProtoArgs>(MP, b"\x80").unwrap_err();
    assert!(matches!(err, CodecError::ProtobufOnly { codec, .. } if codec == MP));
    assert_eq!(
        codec::encode(&args, RAW).unwrap_err().to_string(),
        format!("{name} is not a []byte")
    );
    assert_eq!(
        codec::encode(&args, SerializeType::new(12).unwrap())
            .unwrap_err()
            .to_string(),
        "can not find codec for 12"
    );
    assert!(codec::decode::<ProtoArgs>(PB, &[0x08]).is_err());
}

#[test]
fn go_error_texts() {
    let args = Args { a: 1, b: 2 };
    let name = std::any::type_name::<Args>();
    assert_eq!(
        codec::encode(&args, SerializeType::new(9).unwrap())
            .unwrap_err()
            .to_string(),
        "can not find codec for 9"
    );
    assert_eq!(
        codec::decode::<Args>(SerializeType::new(9).unwrap(), b"{}").unwrap_err(),
        CodecError::UnknownType(SerializeType::new(9).unwrap())
    );
    assert_eq!(
        codec::decode::<Args>(SerializeType::THRIFT, b"")
            .unwrap_err()
            .to_string(),
        "EOF"
    );
    assert_eq!(
        codec::encode(&args, RAW).unwrap_err().to_string(),
        format!("{name} is not a []byte")
    );
    assert_eq!(
        codec::decode::<Args>(RAW, b"x").unwrap_err(),
        CodecError::NotRaw { type_name: name }
    );
    assert_eq!(
        codec::encode(&args, PB).unwrap_err().to_string(),
        format!("{name} is not a proto.Marshaler or pb.Message")
    );
}

#[test]
fn failed_encode_leaves_buffer_untouched() {
    use rpcx::codec::Codable;
    let mut out = b"prefix".to_vec();
    // JSON map keys must be strings: a byte-vector key fails after `{` was written.
    let mut map = std::collections::BTreeMap::new();
    map.insert(vec![1u8], 1);
    #[derive(Serialize, Deserialize)]
    struct BadKeys(std::collections::BTreeMap<Vec<u8>, i32>);
    rpcx::serde_codable!(BadKeys);
    let err = BadKeys(map).encode_as(JSON, &mut out).unwrap_err();
    assert!(matches!(err, CodecError::Encode { .. }));
    assert_eq!(out, b"prefix");
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    // 1000 nested one-element arrays: rmp-serde's default depth limit (1024) would overflow
    // the 2 MiB stack of a test (or tokio worker) thread.
    let mut deep = vec![0x91u8; 1000];
    deep.push(0xc0);
    for err in [
        codec::decode::<serde_json::Value>(MP, &deep).unwrap_err(),
        codec::decode::<()>(MP, &deep).unwrap_err(),
    ] {
        assert_eq!(err.to_string(), "msgpack: depth limit exceeded");
    }
    let mut ok = vec![0x91u8; rpcx::codec::MSGPACK_MAX_DEPTH - 1];
    ok.push(0xc0);
    codec::decode::<serde_json::Value>(MP, &ok).unwrap();

    let deep_json = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    assert!(codec::decode::<serde_json::Value>(JSON, deep_json.as_bytes()).is_err());
}
