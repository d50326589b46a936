// The benchmark message of the protocol micro-benchmarks: a 581-byte payload (the size of
// the community benchmark's protobuf message) with two metadata pairs.
use bytes::Bytes;
use rpcx::protocol::{Message, SerializeType};

pub fn message() -> Message {
    let mut m = Message::request(
        "Hello",
        "Say",
        SerializeType::PROTOBUF,
        Bytes::from(vec![0x5au8; 581]),
    );
    m.header.set_seq(12345);
    m.metadata.insert("__AUTH".into(), "bearer abc".into());
    m.metadata.insert("__ServerTimeout".into(), "4999".into());
    m
}
