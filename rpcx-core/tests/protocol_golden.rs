//! Golden frames, produced by the real Go encoder (`tests/interop/go/cmd/capture` checks them):
//! encoding gives exactly these bytes and decoding gives exactly these fields.

use bytes::Bytes;
use rpcx::protocol::{
    CompressType, Header, Limits, Message, MessageStatus, MessageType, Metadata, SerializeType,
};

struct Vector {
    name: &'static str,
    hex: &'static str,
    kind: MessageType,
    heartbeat: bool,
    oneway: bool,
    status: MessageStatus,
    serialize: SerializeType,
    seq: u64,
    path: &'static str,
    method: &'static str,
    meta: &'static [(&'static str, &'static str)],
    payload_hex: &'static str,
}

const V: &[Vector] = &[
    Vector {
        name: "V1 JSON request Arith.Mul",
        hex: "08000010000000000000000100000027000000054172697468000000034d756c000000000000000f7b2241223a31302c2242223a32307d",
        kind: MessageType::Request, heartbeat: false, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::JSON, seq: 1, path: "Arith", method: "Mul", meta: &[],
        payload_hex: "7b2241223a31302c2242223a32307d",
    },
    Vector {
        name: "V2 JSON response",
        hex: "08008010000000000000000100000021000000054172697468000000034d756c00000000000000097b2243223a3230307d",
        kind: MessageType::Response, heartbeat: false, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::JSON, seq: 1, path: "Arith", method: "Mul", meta: &[],
        payload_hex: "7b2243223a3230307d",
    },
    Vector {
        name: "V3 error response, unknown method",
        hex: "0800811000000000000000020000004900000005417269746800000003446976000000310000000e5f5f727063785f6572726f725f5f0000001b727063783a2063616e27742066696e64206d6574686f642044697600000000",
        kind: MessageType::Response, heartbeat: false, oneway: false, status: MessageStatus::Error,
        serialize: SerializeType::JSON, seq: 2, path: "Arith", method: "Div",
        meta: &[("__rpcx_error__", "rpcx: can't find method Div")], payload_hex: "",
    },
    Vector {
        name: "V3c service error with reply payload",
        hex: "0800811000000000000000050000004300000005417269746800000003446976000000240000000e5f5f727063785f6572726f725f5f0000000e646976696465206279207a65726f000000077b2243223a307d",
        kind: MessageType::Response, heartbeat: false, oneway: false, status: MessageStatus::Error,
        serialize: SerializeType::JSON, seq: 5, path: "Arith", method: "Div",
        meta: &[("__rpcx_error__", "divide by zero")], payload_hex: "7b2243223a307d",
    },
    Vector {
        name: "V4 request with __AUTH",
        hex: "0800001000000000000000030000003f000000054172697468000000034d756c00000018000000065f5f415554480000000a626561726572206162630000000f7b2241223a31302c2242223a32307d",
        kind: MessageType::Request, heartbeat: false, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::JSON, seq: 3, path: "Arith", method: "Mul",
        meta: &[("__AUTH", "bearer abc")], payload_hex: "7b2241223a31302c2242223a32307d",
    },
    Vector {
        name: "V4b request with __ServerTimeout",
        hex: "08000010000000000000000600000042000000054172697468000000034d756c0000001b0000000f5f5f53657276657254696d656f757400000004343939390000000f7b2241223a31302c2242223a32307d",
        kind: MessageType::Request, heartbeat: false, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::JSON, seq: 6, path: "Arith", method: "Mul",
        meta: &[("__ServerTimeout", "4999")], payload_hex: "7b2241223a31302c2242223a32307d",
    },
    Vector {
        name: "V5a MsgPack request seq 0",
        hex: "0800003000000000000000000000001f000000054172697468000000034d756c000000000000000782a1410aa14214",
        kind: MessageType::Request, heartbeat: false, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::MSGPACK, seq: 0, path: "Arith", method: "Mul", meta: &[],
        payload_hex: "82a1410aa14214",
    },
    Vector {
        name: "V5b MsgPack response",
        hex: "0800803000000000000000000000001d000000054172697468000000034d756c000000000000000581a143ccc8",
        kind: MessageType::Response, heartbeat: false, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::MSGPACK, seq: 0, path: "Arith", method: "Mul", meta: &[],
        payload_hex: "81a143ccc8",
    },
    Vector {
        name: "V6a heartbeat request",
        hex: "0800403000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
        kind: MessageType::Request, heartbeat: true, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::MSGPACK, seq: 7, path: "", method: "", meta: &[],
        payload_hex: "d317979cfe362a0000",
    },
    Vector {
        name: "V6b heartbeat echo",
        hex: "0800c03000000000000000070000001900000000000000000000000000000009d317979cfe362a0000",
        kind: MessageType::Response, heartbeat: true, oneway: false, status: MessageStatus::Normal,
        serialize: SerializeType::MSGPACK, seq: 7, path: "", method: "", meta: &[],
        payload_hex: "d317979cfe362a0000",
    },
    Vector {
        name: "V7 server push",
        hex: "0800200000000000000000010000003900000011746573745f736572766963655f7061746800000013746573745f736572766963655f6d6574686f6400000000000000056162636465",
        kind: MessageType::Request, heartbeat: false, oneway: true, status: MessageStatus::Normal,
        serialize: SerializeType::RAW, seq: 1, path: "test_service_path",
        method: "test_service_method", meta: &[], payload_hex: "6162636465",
    },
    Vector {
        name: "V8 oneway JSON request",
        hex: "08002010000000000000000400000027000000054172697468000000034d756c000000000000000f7b2241223a31302c2242223a32307d",
        kind: MessageType::Request, heartbeat: false, oneway: true, status: MessageStatus::Normal,
        serialize: SerializeType::JSON, seq: 4, path: "Arith", method: "Mul", meta: &[],
        payload_hex: "7b2241223a31302c2242223a32307d",
    },
];

fn build(v: &Vector) -> Message {
    let mut h = Header::new();
    h.set_message_type(v.kind);
    h.set_heartbeat(v.heartbeat);
    h.set_oneway(v.oneway);
    h.set_status(v.status);
    h.set_serialize_type(v.serialize);
    h.set_seq(v.seq);
    let metadata: Metadata = v
        .meta
        .iter()
        .map(|(k, val)| (k.to_string(), val.to_string()))
        .collect();
    Message {
        header: h,
        service_path: v.path.into(),
        service_method: v.method.into(),
        metadata,
        payload: Bytes::from(hex::decode(v.payload_hex).unwrap()),
    }
}

#[test]
fn golden_vectors_encode_to_exact_bytes() {
    for v in V {
        let bytes = build(v).encode().unwrap();
        assert_eq!(hex::encode(&bytes), v.hex, "{}", v.name);
    }
}

#[test]
fn golden_vectors_decode_to_exact_fields() {
    for v in V {
        let frame = hex::decode(v.hex).unwrap();
        let m = Message::decode(&frame, &Limits::default()).unwrap();
        assert_eq!(m, build(v), "{}", v.name);
        assert_eq!(m.header.message_type(), v.kind, "{}", v.name);
        assert_eq!(m.header.compress_type(), CompressType::NONE, "{}", v.name);
        assert_eq!(m.header.version(), 0, "{}", v.name);
    }
}

#[test]
fn error_text_is_read_from_error_responses() {
    let m = Message::decode(&hex::decode(V[2].hex).unwrap(), &Limits::default()).unwrap();
    assert_eq!(m.error(), Some("rpcx: can't find method Div"));
    let ok = Message::decode(&hex::decode(V[1].hex).unwrap(), &Limits::default()).unwrap();
    assert_eq!(ok.error(), None);
}

#[test]
fn response_header_is_built_like_go() {
    // V1 request → V2 header: response bit set, everything else copied.
    let req = Message::decode(&hex::decode(V[0].hex).unwrap(), &Limits::default()).unwrap();
    let mut resp = req.response();
    resp.payload = Bytes::from_static(br#"{"C":200}"#);
    assert_eq!(hex::encode(resp.encode().unwrap()), V[1].hex);
    // V6a heartbeat → V6b echo.
    let hb = Message::decode(&hex::decode(V[8].hex).unwrap(), &Limits::default()).unwrap();
    assert_eq!(hex::encode(hb.heartbeat_echo().encode().unwrap()), V[9].hex);
    // V3: an error response for V3's request.
    let mut req3 = req.clone();
    req3.header.set_seq(2);
    req3.service_method = "Div".into();
    let mut err = req3.response();
    err.set_error("rpcx: can't find method Div");
    assert_eq!(hex::encode(err.encode().unwrap()), V[2].hex);
}

#[test]
fn version_byte_is_ignored_on_read_and_reserved_bits_survive() {
    let mut frame = hex::decode(V[0].hex).unwrap();
    frame[1] = 7; // version
    frame[3] |= 0x05; // reserved low nibble of the serialize byte
    let m = Message::decode(&frame, &Limits::default()).unwrap();
    assert_eq!(m.header.version(), 7);
    assert_eq!(m.header.serialize_type(), SerializeType::JSON);
    assert_eq!(m.header.as_bytes()[3], 0x15);
    assert_eq!(m.response().header.as_bytes()[3], 0x15);
}

#[test]
fn v9_gzip_request_header_and_round_trip() {
    let payload: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    let mut m = Message::request("Arith", "Echo", SerializeType::RAW, payload.clone());
    m.header.set_seq(9);
    m.header.set_compress_type(CompressType::GZIP);
    let bytes = m.encode().unwrap();
    assert_eq!(hex::encode(&bytes[..12]), "080004000000000000000009");
    // payload section: after 16 + (4+5) + (4+4) + 4 + 4
    let payload_at = 16 + 9 + 8 + 4 + 4;
    assert_eq!(hex::encode(&bytes[payload_at..payload_at + 3]), "1f8b08");
    assert!(bytes.len() < payload.len());
    let back = Message::decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(back.payload.as_ref(), payload.as_slice());
    assert_eq!(back.header.compress_type(), CompressType::GZIP);
}

/// `encode` gives a compressed frame a buffer of about its own size, not the one reserved for
/// the uncompressed payload (the client's send budget charges a queued frame its length).
#[test]
fn an_encoded_compressed_frame_holds_about_its_length() {
    let mut m = Message::request("S", "M", SerializeType::RAW, vec![0u8; 1 << 20]);
    m.header.set_compress_type(CompressType::GZIP);
    let bytes = m.encode().unwrap();
    assert!(bytes.len() < 8 << 10, "{} bytes", bytes.len());
    let held = bytes.try_into_mut().expect("the only handle").capacity();
    assert!(held <= 2 * (8 << 10), "holds {held} bytes");
    // An uncompressed frame is encoded in place, at its exact size.
    let plain = Message::request("S", "M", SerializeType::RAW, vec![7u8; 4096]);
    let bytes = plain.encode().unwrap();
    let len = bytes.len();
    assert_eq!(bytes.try_into_mut().unwrap().capacity(), len);
}

#[test]
fn concatenated_gzip_members_are_read_whole() {
    let mut gz = Vec::new();
    rpcx::protocol::gzip_into(b"hello ", &mut gz).unwrap();
    rpcx::protocol::gzip_into(b"world", &mut gz).unwrap();
    let mut m = Message::request("S", "M", SerializeType::RAW, Bytes::new());
    m.header.set_compress_type(CompressType::GZIP);
    // Hand-build the frame so the payload section holds both members verbatim.
    let mut frame = Message::request("S", "M", SerializeType::RAW, gz.clone())
        .encode()
        .unwrap()
        .to_vec();
    frame[2] = m.header.as_bytes()[2];
    let back = Message::decode(&frame, &Limits::default()).unwrap();
    assert_eq!(back.payload.as_ref(), b"hello world");
}
