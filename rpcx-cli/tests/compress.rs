//! `rpcx call --compress`: the request frame carries the chosen compress type (snappy, gzip)
//! above the threshold and none below it; unknown names are refused before connecting.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use bytes::BytesMut;
use rpcx::protocol::{CompressType, FrameCodec, Limits};

/// Serves one connection on a loopback port: answers the first request frame with `{"C":1}`
/// and returns that request's compress type and (decompressed) payload.
fn one_shot_server() -> (String, std::thread::JoinHandle<(CompressType, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let codec = FrameCodec::new(Limits::DEFAULT);
        let mut buf = BytesMut::new();
        let req = loop {
            if let Some(m) = codec.decode_frame(&mut buf).unwrap() {
                break m;
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "client closed before a whole frame");
            buf.extend_from_slice(&chunk[..n]);
        };
        let mut reply = req.response();
        reply.payload = bytes::Bytes::from_static(br#"{"C":1}"#);
        s.write_all(&reply.encode().unwrap()).unwrap();
        (req.header.compress_type(), req.payload.to_vec())
    });
    (addr, t)
}

fn call(addr: &str, arg: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["call", addr, "Arith.Echo", arg, "--timeout", "20"];
    args.extend_from_slice(extra);
    common::rpcx_output(&args)
}

#[test]
fn compress_snappy_gzip_and_threshold() {
    let big = format!("\"{}\"", "x".repeat(3000));
    for (flags, want) in [
        (&["--compress", "snappy"][..], CompressType::SNAPPY),
        (&["--compress", "GZIP"][..], CompressType::GZIP),
        (&["--gzip"][..], CompressType::GZIP),
        (&["--compress", "2"][..], CompressType::SNAPPY),
        (&["--compress", "none"][..], CompressType::NONE),
    ] {
        let (addr, server) = one_shot_server();
        let out = call(&addr, &big, flags);
        assert!(out.status.success(), "{flags:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#"{"C":1}"#);
        let (ct, payload) = server.join().unwrap();
        assert_eq!(ct, want, "{flags:?}");
        assert_eq!(payload, big.as_bytes(), "{flags:?}");
    }
    // Below the threshold: sent uncompressed; a zero threshold compresses even 2 bytes.
    let (addr, server) = one_shot_server();
    assert!(call(&addr, "{}", &["--compress", "snappy"])
        .status
        .success());
    assert_eq!(server.join().unwrap().0, CompressType::NONE);
    let (addr, server) = one_shot_server();
    let out = call(
        &addr,
        "{}",
        &["--compress", "snappy", "--compress-threshold", "0"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        server.join().unwrap(),
        (CompressType::SNAPPY, b"{}".to_vec())
    );
}

#[test]
fn unknown_compressors_are_refused() {
    for bad in ["lz4", "8", "5"] {
        let out = call("tcp@127.0.0.1:9", "{}", &["--compress", bad]);
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--compress"), "{bad}: {err}");
    }
}
