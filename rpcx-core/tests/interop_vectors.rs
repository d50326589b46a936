//! Every golden frame written by the real Go implementation (`tests/interop/vectors/*.json`,
//! produced by `tests/interop/go/cmd/capture`) decodes with [`Message::decode`] to exactly the
//! fields the Go decoder reported, and re-encodes to the same bytes where that is meaningful:
//!
//! * uncompressed frames with at most one metadata pair: byte for byte;
//! * gzip frames: our encoding decodes back to the same message (compressed bytes differ
//!   between gzip implementations);
//! * frames with several metadata pairs (Go's order is random): the metadata maps compare equal
//!   after a decode of our encoding.

use std::path::{Path, PathBuf};

use rpcx::protocol::{
    CompressType, Limits, Message, MessageStatus, MessageType, Metadata, SerializeType,
};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop/vectors")
}

struct Vector {
    file: String,
    hex: String,
    expect: Value,
}

fn load_vectors() -> Vec<Vector> {
    let dir = vectors_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.json vectors in {} (run `go run ./cmd/capture -out ../vectors` in tests/interop/go)",
        dir.display()
    );
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", p.display()));
            let file = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let hex = v["hex"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: no \"hex\" string"))
                .to_owned();
            let expect = v
                .get("expect")
                .cloned()
                .unwrap_or_else(|| panic!("{file}: no \"expect\" object"));
            Vector { file, hex, expect }
        })
        .collect()
}

fn field<'a>(v: &'a Value, name: &str, file: &str) -> &'a Value {
    v.get(name)
        .unwrap_or_else(|| panic!("{file}: expect.{name} missing"))
}

fn as_bool(v: &Value, name: &str, file: &str) -> bool {
    field(v, name, file)
        .as_bool()
        .unwrap_or_else(|| panic!("{file}: expect.{name} is not a bool"))
}

fn as_u64(v: &Value, name: &str, file: &str) -> u64 {
    field(v, name, file)
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: expect.{name} is not an unsigned integer"))
}

fn as_str<'a>(v: &'a Value, name: &str, file: &str) -> &'a str {
    field(v, name, file)
        .as_str()
        .unwrap_or_else(|| panic!("{file}: expect.{name} is not a string"))
}

fn expected_metadata(v: &Value, file: &str) -> Metadata {
    let obj = field(v, "metadata", file)
        .as_object()
        .unwrap_or_else(|| panic!("{file}: expect.metadata is not an object"));
    obj.iter()
        .map(|(k, v)| {
            let s = v
                .as_str()
                .unwrap_or_else(|| panic!("{file}: metadata value of {k:?} is not a string"));
            (k.clone(), s.to_owned())
        })
        .collect()
}

/// Compares every `expect` field with the decoded message; returns the mismatches.
fn check_fields(m: &Message, e: &Value, file: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{file}: {what} = {got}, Go decoded {want}"));
        }
    };
    let h = &m.header;
    let kind = match h.message_type() {
        MessageType::Request => "request",
        MessageType::Response => "response",
    };
    eq(
        "message_type",
        kind.into(),
        as_str(e, "message_type", file).into(),
    );
    eq(
        "heartbeat",
        h.is_heartbeat().to_string(),
        as_bool(e, "heartbeat", file).to_string(),
    );
    eq(
        "oneway",
        h.is_oneway().to_string(),
        as_bool(e, "oneway", file).to_string(),
    );
    eq(
        "compress",
        h.compress_type().value().to_string(),
        as_u64(e, "compress", file).to_string(),
    );
    let status = match h.status() {
        MessageStatus::Normal => 0,
        MessageStatus::Error => 1,
        MessageStatus::Other(n) => u64::from(n),
    };
    eq(
        "status",
        status.to_string(),
        as_u64(e, "status", file).to_string(),
    );
    eq(
        "serialize",
        h.serialize_type().value().to_string(),
        as_u64(e, "serialize", file).to_string(),
    );
    eq(
        "seq",
        h.seq().to_string(),
        as_u64(e, "seq", file).to_string(),
    );
    eq(
        "service_path",
        format!("{:?}", m.service_path),
        format!("{:?}", as_str(e, "service_path", file)),
    );
    eq(
        "service_method",
        format!("{:?}", m.service_method),
        format!("{:?}", as_str(e, "service_method", file)),
    );
    eq(
        "metadata",
        format!("{:?}", m.metadata),
        format!("{:?}", expected_metadata(e, file)),
    );
    eq(
        "payload (decompressed)",
        hex::encode(&m.payload),
        as_str(e, "payload_hex", file).to_ascii_lowercase(),
    );
    bad
}

fn decode_hex(v: &Vector) -> Vec<u8> {
    hex::decode(v.hex.trim()).unwrap_or_else(|e| panic!("{}: bad hex: {e}", v.file))
}

#[test]
fn go_vectors_decode_to_the_fields_go_reported() {
    let vectors = load_vectors();
    let mut bad = Vec::new();
    for v in &vectors {
        let bytes = decode_hex(v);
        match Message::decode(&bytes, &Limits::DEFAULT) {
            Ok(m) => bad.extend(check_fields(&m, &v.expect, &v.file)),
            Err(e) => bad.push(format!("{}: decode failed: {e}", v.file)),
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} vectors disagree:\n{}",
        bad.len(),
        vectors.len(),
        bad.join("\n")
    );
}

#[test]
fn go_vectors_reencode_identically() {
    let vectors = load_vectors();
    let mut bad = Vec::new();
    let (mut exact, mut gzip, mut multi) = (0, 0, 0);
    for v in &vectors {
        let bytes = decode_hex(v);
        let Ok(m) = Message::decode(&bytes, &Limits::DEFAULT) else {
            bad.push(format!("{}: does not decode", v.file));
            continue;
        };
        let ours = match m.encode() {
            Ok(b) => b,
            Err(e) => {
                bad.push(format!("{}: re-encode failed: {e}", v.file));
                continue;
            }
        };
        let compressed = m.header.compress_type() != CompressType::NONE;
        if !compressed && m.metadata.len() <= 1 {
            exact += 1;
            if ours[..] != bytes[..] {
                bad.push(format!(
                    "{}: re-encoded bytes differ\n  go:   {}\n  rust: {}",
                    v.file,
                    v.hex,
                    hex::encode(&ours)
                ));
            }
            continue;
        }
        // Compressed or several metadata pairs: compare what our encoding decodes to.
        if compressed {
            gzip += 1;
            if ours.get(..2) != Some(&b"\x08\x00"[..]) {
                bad.push(format!("{}: re-encoded frame has a bad prefix", v.file));
            }
        }
        if m.metadata.len() > 1 {
            multi += 1;
        }
        match Message::decode(&ours, &Limits::DEFAULT) {
            Ok(back) => {
                if back.header != m.header {
                    bad.push(format!(
                        "{}: header {:?} after re-encoding, was {:?}",
                        v.file, back.header, m.header
                    ));
                }
                if back.metadata != m.metadata {
                    bad.push(format!("{}: metadata map changed by re-encoding", v.file));
                }
                if (&back.service_path, &back.service_method, &back.payload)
                    != (&m.service_path, &m.service_method, &m.payload)
                {
                    bad.push(format!(
                        "{}: path/method/payload changed by re-encoding",
                        v.file
                    ));
                }
                bad.extend(check_fields(&back, &v.expect, &v.file));
            }
            Err(e) => bad.push(format!("{}: our re-encoding does not decode: {e}", v.file)),
        }
    }
    assert!(
        bad.is_empty(),
        "{} problems over {} vectors:\n{}",
        bad.len(),
        vectors.len(),
        bad.join("\n")
    );
    assert!(exact > 0, "no vector was compared byte for byte");
    eprintln!(
        "{} vectors: {exact} byte for byte, {gzip} gzip (compared decoded), {multi} multi-key (maps)",
        vectors.len()
    );
}

#[test]
fn heartbeat_vectors_are_echoed_as_go_does() {
    // The server's heartbeat echo of each Go heartbeat request is the Go server's response.
    let vectors = load_vectors();
    let find = |name: &str| vectors.iter().find(|v| v.file == format!("{name}.json"));
    let mut pairs = 0;
    for (req, res) in [
        ("go_request_heartbeat", "go_response_heartbeat"),
        ("go_live_request_heartbeat", "go_live_response_heartbeat"),
    ] {
        let (Some(req), Some(res)) = (find(req), find(res)) else {
            continue;
        };
        pairs += 1;
        let m = Message::decode(&decode_hex(req), &Limits::DEFAULT).expect("request decodes");
        assert!(m.is_heartbeat(), "{}: not a heartbeat", req.file);
        assert_eq!(m.header.serialize_type(), SerializeType::MSGPACK);
        let echo = m.heartbeat_echo().encode().expect("echo encodes");
        assert_eq!(
            hex::encode(&echo),
            res.hex.to_ascii_lowercase(),
            "{} echo differs from {}",
            req.file,
            res.file
        );
    }
    assert!(pairs > 0, "no heartbeat request/response vector pair found");
}
