//! The request and reply types of `_filetransfer` and `_streamservice` (Go's `share` package).
//!
//! Go names the fields differently per codec: JSON uses the `json` tags (`file_name`,
//! `file_size`, `meta`, `token`, `addr`, each `omitempty`), MessagePack the Go field names
//! (`FileName`, `FileSize`, `Meta`, `Token`, `Addr`). Encoding follows the same rule; decoding
//! accepts either spelling.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::codec::{
    go_bytes, json_encode, nil_as_default, serde_decode_as, serde_encode_as, Codable, CodecError,
};
use crate::protocol::SerializeType;

/// The file transfer service's name (Go's `share.SendFileServiceName`).
pub const FILE_TRANSFER_SERVICE: &str = "_filetransfer";
/// The stream service's name (Go's `share.StreamServiceName`).
pub const STREAM_SERVICE: &str = "_streamservice";
/// Length of a side-listener token in bytes (the first bytes a client writes there).
pub const TOKEN_LEN: usize = 32;

/// Arguments of `_filetransfer.TransferFile` (Go's `share.FileTransferArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTransferArgs {
    /// The file's name (Go's client sends the base name of the local file).
    #[serde(
        rename = "FileName",
        alias = "file_name",
        default,
        deserialize_with = "nil_as_default"
    )]
    pub file_name: String,
    /// The file's size in bytes.
    #[serde(
        rename = "FileSize",
        alias = "file_size",
        default,
        deserialize_with = "nil_as_default"
    )]
    pub file_size: i64,
    /// Application metadata.
    #[serde(
        rename = "Meta",
        alias = "meta",
        default,
        deserialize_with = "nil_as_default"
    )]
    pub meta: HashMap<String, String>,
}

/// Arguments of `_filetransfer.DownloadFile` (Go's `share.DownloadFileArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadFileArgs {
    /// The requested file, relative to the server's download directory.
    #[serde(
        rename = "FileName",
        alias = "file_name",
        default,
        deserialize_with = "nil_as_default"
    )]
    pub file_name: String,
    /// Application metadata.
    #[serde(
        rename = "Meta",
        alias = "meta",
        default,
        deserialize_with = "nil_as_default"
    )]
    pub meta: HashMap<String, String>,
}

/// Reply of `TransferFile` and `DownloadFile` (Go's `share.FileTransferReply`): the token to
/// write first on the side listener at `addr` (`host:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTransferReply {
    /// The single-use token.
    #[serde(rename = "Token", alias = "token", default, with = "go_bytes")]
    pub token: Vec<u8>,
    /// The side listener's address (`host:port`).
    #[serde(
        rename = "Addr",
        alias = "addr",
        default,
        deserialize_with = "nil_as_default"
    )]
    pub addr: String,
}

/// Arguments of `_streamservice.Stream` (Go's `share.StreamServiceArgs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamServiceArgs {
    /// Application metadata.
    #[serde(
        rename = "Meta",
        alias = "meta",
        default,
        deserialize_with = "nil_as_default"
    )]
    pub meta: HashMap<String, String>,
}

/// Reply of `Stream` (Go's `share.StreamServiceReply`; the same shape as
/// [`FileTransferReply`]).
pub type StreamServiceReply = FileTransferReply;

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct JsonTransferArgs<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    file_name: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    file_size: i64,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    meta: &'a HashMap<String, String>,
}

#[derive(Serialize)]
struct JsonDownloadArgs<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    file_name: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    meta: &'a HashMap<String, String>,
}

#[derive(Serialize)]
struct JsonReply<'a> {
    #[serde(skip_serializing_if = "<[u8]>::is_empty", with = "go_bytes")]
    token: &'a [u8],
    #[serde(skip_serializing_if = "str::is_empty")]
    addr: &'a str,
}

#[derive(Serialize)]
struct JsonStreamArgs<'a> {
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    meta: &'a HashMap<String, String>,
}

macro_rules! go_tagged_codable {
    ($t:ty, |$v:ident| $json:expr) => {
        impl Codable for $t {
            fn encode_as(&self, st: SerializeType, out: &mut Vec<u8>) -> Result<(), CodecError> {
                if st == SerializeType::JSON {
                    let $v = self;
                    json_encode(&$json, out)
                } else {
                    serde_encode_as(self, st, out)
                }
            }
            fn decode_as(st: SerializeType, bytes: &[u8]) -> Result<Self, CodecError> {
                serde_decode_as(st, bytes)
            }
        }
    };
}

go_tagged_codable!(FileTransferArgs, |v| JsonTransferArgs {
    file_name: &v.file_name,
    file_size: v.file_size,
    meta: &v.meta,
});
go_tagged_codable!(DownloadFileArgs, |v| JsonDownloadArgs {
    file_name: &v.file_name,
    meta: &v.meta,
});
go_tagged_codable!(FileTransferReply, |v| JsonReply {
    token: &v.token,
    addr: &v.addr,
});
go_tagged_codable!(StreamServiceArgs, |v| JsonStreamArgs { meta: &v.meta });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};

    #[test]
    fn json_uses_go_json_tags() {
        let args = FileTransferArgs {
            file_name: "a.txt".into(),
            file_size: 3,
            meta: HashMap::new(),
        };
        let json = encode(&args, SerializeType::JSON).unwrap();
        assert_eq!(json, br#"{"file_name":"a.txt","file_size":3}"#);
        let reply = FileTransferReply {
            token: vec![1, 2, 3],
            addr: "127.0.0.1:1".into(),
        };
        let json = encode(&reply, SerializeType::JSON).unwrap();
        assert_eq!(json, br#"{"token":"AQID","addr":"127.0.0.1:1"}"#);
        assert_eq!(
            decode::<FileTransferReply>(SerializeType::JSON, &json).unwrap(),
            reply
        );
        assert_eq!(
            decode::<StreamServiceArgs>(SerializeType::JSON, b"{}").unwrap(),
            StreamServiceArgs::default()
        );
    }

    #[test]
    fn msgpack_uses_go_field_names() {
        let args = DownloadFileArgs {
            file_name: "x".into(),
            meta: HashMap::new(),
        };
        let bytes = encode(&args, SerializeType::MSGPACK).unwrap();
        // fixmap(2) "FileName" "x" "Meta" {}
        let mut want = vec![0x82, 0xa8];
        want.extend_from_slice(b"FileName");
        want.extend_from_slice(&[0xa1, b'x', 0xa4]);
        want.extend_from_slice(b"Meta");
        want.push(0x80);
        assert_eq!(bytes, want);
        // Go writes a nil map as nil and int64 as d3.
        let mut go = vec![0x83, 0xa8];
        go.extend_from_slice(b"FileName");
        go.extend_from_slice(&[0xa1, b'y', 0xa8]);
        go.extend_from_slice(b"FileSize");
        go.extend_from_slice(&[0xd3, 0, 0, 0, 0, 0, 0, 1, 0]);
        go.push(0xa4);
        go.extend_from_slice(b"Meta");
        go.push(0xc0);
        let got: FileTransferArgs = decode(SerializeType::MSGPACK, &go).unwrap();
        assert_eq!(got.file_name, "y");
        assert_eq!(got.file_size, 256);
        assert!(got.meta.is_empty());
    }
}
