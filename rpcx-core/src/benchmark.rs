//! The community rpcx benchmark workload (`github.com/rpcxio/rpcx-benchmark`, described in
//! `docs/benchmarks.md`): the proto2
//! `BenchmarkMessage` and the `Hello.Say` service, shared by the benchmarks, the examples and
//! the interop suite.

use bytes::Bytes;

use crate::server::{Context, Server, ServiceError};
use crate::Error;

/// `proto.BenchmarkMessage` of the rpcx benchmark (proto2), fields `field<no.>`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BenchmarkMessage {
    /// Field 1 (required string).
    #[prost(string, required, tag = "1")]
    pub field1: String,
    /// Field 2 (required int32).
    #[prost(int32, required, tag = "2")]
    pub field2: i32,
    /// Field 3 (required int32).
    #[prost(int32, required, tag = "3")]
    pub field3: i32,
    /// Field 4 (optional string).
    #[prost(string, optional, tag = "4")]
    pub field4: Option<String>,
    /// Field 5 (repeated fixed64).
    #[prost(fixed64, repeated, tag = "5")]
    pub field5: Vec<u64>,
    /// Field 6 (optional int32).
    #[prost(int32, optional, tag = "6", default = "0")]
    pub field6: Option<i32>,
    /// Field 7 (optional string).
    #[prost(string, optional, tag = "7")]
    pub field7: Option<String>,
    /// Field 9 (optional string).
    #[prost(string, optional, tag = "9")]
    pub field9: Option<String>,
    /// Field 12 (optional bool).
    #[prost(bool, optional, tag = "12", default = "true")]
    pub field12: Option<bool>,
    /// Field 13 (optional bool).
    #[prost(bool, optional, tag = "13", default = "true")]
    pub field13: Option<bool>,
    /// Field 14 (optional bool).
    #[prost(bool, optional, tag = "14", default = "true")]
    pub field14: Option<bool>,
    /// Field 16 (optional int32).
    #[prost(int32, optional, tag = "16")]
    pub field16: Option<i32>,
    /// Field 17 (optional bool).
    #[prost(bool, optional, tag = "17", default = "true")]
    pub field17: Option<bool>,
    /// Field 18 (optional string).
    #[prost(string, optional, tag = "18")]
    pub field18: Option<String>,
    /// Field 22 (optional int64).
    #[prost(int64, optional, tag = "22")]
    pub field22: Option<i64>,
    /// Field 23 (optional int32).
    #[prost(int32, optional, tag = "23", default = "0")]
    pub field23: Option<i32>,
    /// Field 24 (optional bool).
    #[prost(bool, optional, tag = "24", default = "false")]
    pub field24: Option<bool>,
    /// Field 25 (optional int32).
    #[prost(int32, optional, tag = "25", default = "0")]
    pub field25: Option<i32>,
    /// Field 29 (optional int32).
    #[prost(int32, optional, tag = "29", default = "0")]
    pub field29: Option<i32>,
    /// Field 30 (optional bool).
    #[prost(bool, optional, tag = "30", default = "false")]
    pub field30: Option<bool>,
    /// Field 59 (optional bool).
    #[prost(bool, optional, tag = "59", default = "false")]
    pub field59: Option<bool>,
    /// Field 60 (optional int32).
    #[prost(int32, optional, tag = "60", default = "-1")]
    pub field60: Option<i32>,
    /// Field 67 (optional int32).
    #[prost(int32, optional, tag = "67", default = "0")]
    pub field67: Option<i32>,
    /// Field 68 (optional int32).
    #[prost(int32, optional, tag = "68")]
    pub field68: Option<i32>,
    /// Field 78 (optional bool).
    #[prost(bool, optional, tag = "78")]
    pub field78: Option<bool>,
    /// Field 80 (optional bool).
    #[prost(bool, optional, tag = "80", default = "false")]
    pub field80: Option<bool>,
    /// Field 81 (optional bool).
    #[prost(bool, optional, tag = "81", default = "true")]
    pub field81: Option<bool>,
    /// Field 100 (optional int32).
    #[prost(int32, optional, tag = "100", default = "0")]
    pub field100: Option<i32>,
    /// Field 101 (optional int32).
    #[prost(int32, optional, tag = "101", default = "0")]
    pub field101: Option<i32>,
    /// Field 102 (optional string).
    #[prost(string, optional, tag = "102")]
    pub field102: Option<String>,
    /// Field 103 (optional string).
    #[prost(string, optional, tag = "103")]
    pub field103: Option<String>,
    /// Field 104 (optional int32).
    #[prost(int32, optional, tag = "104", default = "0")]
    pub field104: Option<i32>,
    /// Field 128 (optional int32).
    #[prost(int32, optional, tag = "128", default = "0")]
    pub field128: Option<i32>,
    /// Field 129 (optional string).
    #[prost(string, optional, tag = "129", default = "xxxxxxxxxxxxxxxxxxxxx")]
    pub field129: Option<String>,
    /// Field 130 (optional int32).
    #[prost(int32, optional, tag = "130", default = "0")]
    pub field130: Option<i32>,
    /// Field 131 (optional int32).
    #[prost(int32, optional, tag = "131", default = "0")]
    pub field131: Option<i32>,
    /// Field 150 (optional int32).
    #[prost(int32, optional, tag = "150")]
    pub field150: Option<i32>,
    /// Field 271 (optional int32).
    #[prost(int32, optional, tag = "271", default = "-1")]
    pub field271: Option<i32>,
    /// Field 272 (optional int32).
    #[prost(int32, optional, tag = "272", default = "-1")]
    pub field272: Option<i32>,
    /// Field 280 (optional int32).
    #[prost(int32, optional, tag = "280")]
    pub field280: Option<i32>,
}

crate::proto_codable!(BenchmarkMessage);

/// The string every string field of the filled request holds (18 characters, 54 bytes).
pub const FILL_TEXT: &str = "许多往事在眼前一幕一幕，变的那麼模糊";

impl BenchmarkMessage {
    /// The benchmark request: every singular field set (integers 100000, booleans true,
    /// strings [`FILL_TEXT`]), the repeated field empty. Encodes to 581 bytes.
    pub fn filled() -> BenchmarkMessage {
        let s = FILL_TEXT.to_owned();
        BenchmarkMessage {
            field1: s.clone(),
            field2: 100_000,
            field3: 100_000,
            field4: Some(s.clone()),
            field6: Some(100_000),
            field7: Some(s.clone()),
            field9: Some(s.clone()),
            field12: Some(true),
            field13: Some(true),
            field14: Some(true),
            field16: Some(100_000),
            field17: Some(true),
            field18: Some(s.clone()),
            field22: Some(100_000),
            field23: Some(100_000),
            field24: Some(true),
            field25: Some(100_000),
            field29: Some(100_000),
            field30: Some(true),
            field59: Some(true),
            field60: Some(100_000),
            field67: Some(100_000),
            field68: Some(100_000),
            field78: Some(true),
            field80: Some(true),
            field81: Some(true),
            field100: Some(100_000),
            field101: Some(100_000),
            field102: Some(s.clone()),
            field103: Some(s.clone()),
            field104: Some(100_000),
            field128: Some(100_000),
            field129: Some(s.clone()),
            field130: Some(100_000),
            field131: Some(100_000),
            field150: Some(100_000),
            field271: Some(100_000),
            field272: Some(100_000),
            field280: Some(100_000),
            field5: Vec::new(),
        }
    }

    /// The encoded benchmark request.
    pub fn filled_bytes() -> Bytes {
        Bytes::from(prost::Message::encode_to_vec(&Self::filled()))
    }
}

/// `Hello.Say`: sets `field1 = "OK"`, `field2 = 100` and returns the message.
pub async fn say(
    _ctx: Context,
    mut msg: BenchmarkMessage,
) -> Result<BenchmarkMessage, ServiceError> {
    msg.field1 = "OK".to_owned();
    msg.field2 = 100;
    Ok(msg)
}

/// Registers `Hello.Say` on `server`.
pub fn register(server: &mut Server) -> Result<(), Error> {
    server.register_fn("Hello", "Say", say)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_request_is_581_bytes_and_reply_527() {
        assert_eq!(BenchmarkMessage::filled_bytes().len(), 581);
        let mut m = BenchmarkMessage::filled();
        m.field1 = "OK".into();
        m.field2 = 100;
        assert_eq!(prost::Message::encoded_len(&m), 527);
    }
}
