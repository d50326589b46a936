//! Pluggable compressors end to end: a custom compressor registered at a free compress type,
//! snappy (feature `snappy`) byte for byte against Go's `protocol.SnappyCompressor`
//! (`tests/interop/vectors/snappy/go_snappy.txt`), client options, server replies in the
//! request's compress type, and bad input (bombs, lying headers, unknown types) refused with
//! an error reply on a connection that stays usable.

#[path = "server_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use bytes::Bytes;
use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::{
    register_compressor, registered_compressor, unregister_compressor, CompressType, Compressor,
    CompressorError, MessageStatus, ProtocolError, SerializeType,
};
use rpcx::Error;
use support::{json_mul, request, start_arith, RawConn, GUARD};

/// The custom compressor's type. Type 4 is never registered in this test binary.
const RLE: CompressType = match CompressType::new(6) {
    Some(c) => c,
    None => panic!(),
};
const UNREGISTERED: CompressType = match CompressType::new(4) {
    Some(c) => c,
    None => panic!(),
};

static RLE_COMPRESS_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Run-length encoding as (count 1..=255, byte) pairs.
struct Rle;

impl Compressor for Rle {
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressorError> {
        RLE_COMPRESS_CALLS.fetch_add(1, Ordering::SeqCst);
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            let mut n = 1;
            while n < 255 && i + n < data.len() && data[i + n] == b {
                n += 1;
            }
            out.push(n as u8);
            out.push(b);
            i += n;
        }
        Ok(out)
    }

    fn decompress(&self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CompressorError> {
        if data.len() % 2 != 0 {
            return Err(CompressorError::Failed("odd RLE length".into()));
        }
        let mut out = Vec::new();
        for pair in data.chunks_exact(2) {
            if pair[0] == 0 {
                return Err(CompressorError::Failed("zero run".into()));
            }
            if out.len() + pair[0] as usize > max_len {
                return Err(CompressorError::TooLarge);
            }
            out.extend(std::iter::repeat_n(pair[1], pair[0] as usize));
        }
        Ok(out)
    }
}

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        register_compressor(RLE, Arc::new(Rle)).unwrap();
    });
}

fn runs(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i / 40 % 7) as u8 + b'a').collect()
}

async fn client(handle: &rpcx::server::ServerHandle, options: ClientOptions) -> Client {
    Client::connect(&handle.local_address().to_string(), options)
        .await
        .unwrap()
}

/// Reads the reply to `seq`: an error containing `needle`, then checks the connection works.
async fn expect_error_then_alive(raw: &mut RawConn, seq: u64, needle: &str) {
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), seq);
    assert_eq!(m.header.status(), MessageStatus::Error);
    let text = m.error().unwrap().to_owned();
    assert!(
        text.contains(needle),
        "seq {seq}: {text:?} lacks {needle:?}"
    );
    raw.send(&json_mul(seq + 1000, 6, 7)).await;
    let m = raw.frame().await;
    assert_eq!(m.header.seq(), seq + 1000);
    assert_eq!(m.payload.as_ref(), br#"{"C":42}"#);
}

#[test]
fn builtin_types_are_not_replaceable() {
    for ct in [CompressType::NONE, CompressType::GZIP] {
        assert!(matches!(
            register_compressor(ct, Arc::new(Rle)),
            Err(ProtocolError::UnsupportedCompressor(c)) if c == ct
        ));
        assert!(unregister_compressor(ct).is_none());
    }
}

#[tokio::test]
async fn custom_compressor_round_trips_and_the_reply_uses_it() {
    setup();
    let handle = start_arith().await;
    let big = runs(8192);

    // On the wire: the request payload is the RLE form; a large reply comes back as RLE too.
    let mut raw = RawConn::connect(&handle).await;
    let mut m = request("Arith", "Echo", SerializeType::RAW, 1, &big);
    m.header.set_compress_type(RLE);
    let wire = m.encode().unwrap();
    assert!(wire.len() < big.len() / 10, "{} bytes", wire.len());
    raw.write(&wire).await;
    let r = raw.frame().await;
    assert_eq!(r.header.seq(), 1);
    assert_eq!(r.header.compress_type(), RLE);
    assert_eq!(r.payload.as_ref(), big.as_slice());
    // A small reply to an RLE request goes uncompressed (Go's 1 KiB threshold).
    let mut m = request("Arith", "Echo", SerializeType::RAW, 2, b"aaab");
    m.header.set_compress_type(RLE);
    raw.send(&m).await;
    let r = raw.frame().await;
    assert_eq!(r.header.compress_type(), CompressType::NONE);
    assert_eq!(r.payload.as_ref(), b"aaab");
    // Invalid RLE: an error reply naming the compressor; the connection stays.
    let mut m = request("Arith", "Echo", SerializeType::RAW, 3, b"x");
    m.header.set_compress_type(CompressType::NONE);
    let mut f = m.encode().unwrap().to_vec();
    f[2] = (f[2] & !0x1C) | (RLE.value() << 2);
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 3, "odd RLE length").await;

    // Through the client, for typed and raw payloads.
    for st in [SerializeType::RAW, SerializeType::MSGPACK] {
        let c = client(
            &handle,
            ClientOptions::default().serialize_type(st).compress(RLE),
        )
        .await;
        let data = Bytes::from(big.clone());
        let before = RLE_COMPRESS_CALLS.load(Ordering::SeqCst);
        let back: Bytes = c.call("Arith", "Echo", &data).await.unwrap();
        assert_eq!(back, data, "{st}");
        // Client request and server reply were both compressed with RLE.
        assert!(
            RLE_COMPRESS_CALLS.load(Ordering::SeqCst) >= before + 2,
            "{st}"
        );
    }
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn compress_threshold_decides_what_the_client_compresses() {
    setup();
    let handle = start_arith().await;
    // Payloads of 3 bytes: below the default threshold nothing is compressed, with a zero
    // threshold every request is. (Other tests of this binary may compress concurrently, so
    // only "at least one more" is checked, and "none" through a wire-level server check.)
    let eager = client(
        &handle,
        ClientOptions::default()
            .serialize_type(SerializeType::RAW)
            .compress(RLE)
            .compress_threshold(0),
    )
    .await;
    let before = RLE_COMPRESS_CALLS.load(Ordering::SeqCst);
    let back: Bytes = eager
        .call("Arith", "Echo", &Bytes::from_static(b"abc"))
        .await
        .unwrap();
    assert_eq!(back.as_ref(), b"abc");
    assert!(RLE_COMPRESS_CALLS.load(Ordering::SeqCst) > before);
    let opts = ClientOptions::default().compress(RLE);
    assert_eq!(opts.compress_threshold, 1024);
    handle.shutdown(GUARD).await;
}

#[tokio::test]
async fn unknown_compress_type_is_refused_by_server_and_client() {
    setup();
    assert!(registered_compressor(UNREGISTERED).is_none());
    let handle = start_arith().await;
    let mut raw = RawConn::connect(&handle).await;
    let m = request("Arith", "Echo", SerializeType::RAW, 7, b"hello");
    let mut f = m.encode().unwrap().to_vec();
    f[2] = (f[2] & !0x1C) | (UNREGISTERED.value() << 2);
    raw.write(&f).await;
    expect_error_then_alive(&mut raw, 7, "unsupported compressor: compressor 4").await;

    let e = match Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default().compress(UNREGISTERED),
    )
    .await
    {
        Ok(_) => panic!("a client sending an unregistered compress type is refused"),
        Err(e) => e,
    };
    assert!(
        matches!(&e, Error::Config(t) if t.contains("compress_type 4")),
        "{e:?}"
    );
    // Encoding a frame of that type fails too, leaving the buffer as it was.
    let mut m = request("Arith", "Echo", SerializeType::RAW, 8, b"hello");
    m.header.set_compress_type(UNREGISTERED);
    let mut buf = bytes::BytesMut::from(&b"keep"[..]);
    assert!(matches!(
        m.encode_into(&mut buf),
        Err(ProtocolError::UnsupportedCompressor(c)) if c == UNREGISTERED
    ));
    assert_eq!(buf.as_ref(), b"keep");
    handle.shutdown(GUARD).await;
}

/// A compressor that refuses any payload starting with `FAIL` and stores the others as they
/// are.
struct Picky;

const PICKY: CompressType = match CompressType::new(5) {
    Some(c) => c,
    None => panic!(),
};

impl Compressor for Picky {
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressorError> {
        if data.starts_with(b"FAIL") {
            return Err(CompressorError::Failed("picky: refused".into()));
        }
        Ok(data.to_vec())
    }

    fn decompress(&self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CompressorError> {
        if data.len() > max_len {
            return Err(CompressorError::TooLarge);
        }
        Ok(data.to_vec())
    }
}

/// A request whose payload the client's compressor refuses fails alone with the compressor's
/// error, whether it is written from the caller's thread (a lone call) or queued for the
/// connection's writer behind other calls (the caller encodes it before queueing); the calls
/// around it and the connection go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_compressor_refuses_fails_alone() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        register_compressor(PICKY, Arc::new(Picky)).unwrap();
    });
    let handle = start_arith().await;
    let c = client(
        &handle,
        ClientOptions::default()
            .serialize_type(SerializeType::RAW)
            .compress(PICKY)
            .compress_threshold(0),
    )
    .await;
    let refused = |r: &Result<Bytes, Error>| {
        matches!(r, Err(Error::Protocol(ProtocolError::Compressor { ct, message }))
            if *ct == PICKY && message == "picky: refused")
    };
    let lone = c
        .call("Arith", "Echo", &Bytes::from_static(b"FAIL alone"))
        .await;
    assert!(refused(&lone), "{lone:?}");

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..120 {
        let c = c.clone();
        calls.spawn(async move {
            let payload = if i % 3 == 0 {
                format!("FAIL {i}")
            } else {
                format!("ok {i}")
            };
            let r: Result<Bytes, Error> = c.call("Arith", "Echo", &Bytes::from(payload)).await;
            (i, r)
        });
    }
    let mut failed = 0;
    while let Some(joined) = calls.join_next().await {
        let (i, r) = joined.unwrap();
        if i % 3 == 0 {
            assert!(refused(&r), "call {i}: {r:?}");
            failed += 1;
        } else {
            assert_eq!(r.unwrap(), format!("ok {i}").as_bytes(), "call {i}");
        }
    }
    assert_eq!(failed, 40);
    let back: Bytes = c
        .call("Arith", "Echo", &Bytes::from_static(b"after"))
        .await
        .unwrap();
    assert_eq!(back.as_ref(), b"after");
    handle.shutdown(GUARD).await;
}

#[cfg(feature = "snappy")]
mod snappy {
    use super::*;
    use rpcx::protocol::SnappyCompressor;

    /// The inputs of `tests/interop/go/cmd/snappyvectors`, by name.
    fn vector_input(name: &str) -> Vec<u8> {
        match name {
            "empty" => Vec::new(),
            "hello" => b"hello".to_vec(),
            "hello5" => b"hello hello hello hello hello".to_vec(),
            "pattern4k" => {
                let p = b"rpcx-cmpr-payload-";
                (0..4096usize)
                    .map(|i| p[i % 18] + (i / 18 % 3) as u8)
                    .collect()
            }
            "zeros70000" => vec![0; 70000],
            "mixed70000" => (0..70000usize)
                .map(|i| ((i % 251) ^ (i >> 9)) as u8)
                .collect(),
            other => panic!("unknown vector {other}"),
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|k| u8::from_str_radix(&s[2 * k..2 * k + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn byte_for_byte_with_go_snappy_compressor() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/interop/vectors/snappy/go_snappy.txt");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut n = 0;
        for line in text.lines() {
            let (name, hex) = line.split_once(' ').unwrap();
            let input = vector_input(name);
            let go = unhex(hex);
            let ours = SnappyCompressor.compress(&input).unwrap();
            assert!(ours == go, "{name}: our snappy output differs from Go's");
            assert_eq!(
                SnappyCompressor.decompress(&go, input.len()).unwrap(),
                input,
                "{name}"
            );
            n += 1;
        }
        assert_eq!(n, 6, "every vector of {}", path.display());
    }

    #[tokio::test]
    async fn snappy_client_and_server_round_trip() {
        assert!(registered_compressor(CompressType::SNAPPY).is_some());
        let handle = start_arith().await;
        let big: Vec<u8> = (0..20_000u32).map(|i| (i % 97) as u8).collect();
        let mut raw = RawConn::connect(&handle).await;
        let mut m = request("Arith", "Echo", SerializeType::RAW, 1, &big);
        m.header.set_compress_type(CompressType::SNAPPY);
        let wire = m.encode().unwrap();
        assert!(wire.windows(6).any(|w| w == b"sNaPpY"), "framed snappy");
        assert!(wire.len() < big.len() / 2);
        raw.write(&wire).await;
        let r = raw.frame().await;
        assert_eq!(r.header.compress_type(), CompressType::SNAPPY);
        assert_eq!(r.payload.as_ref(), big.as_slice());

        let c = client(
            &handle,
            ClientOptions::default()
                .serialize_type(SerializeType::MSGPACK)
                .compress(CompressType::SNAPPY),
        )
        .await;
        let data = Bytes::from(big);
        let back: Bytes = c.call("Arith", "Echo", &data).await.unwrap();
        assert_eq!(back, data);
        let small: Bytes = c
            .call("Arith", "Echo", &Bytes::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(small.as_ref(), b"abc");
        handle.shutdown(GUARD).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snappy_bombs_and_lying_headers_get_error_replies() {
        let handle = start_arith().await;
        let mut raw = RawConn::connect(&handle).await;

        // 64 MiB of zeros: about 3 MiB of snappy, under the 16 MiB frame limit, over the
        // 16 MiB decompressed limit.
        let mut bomb = request(
            "Arith",
            "Echo",
            SerializeType::RAW,
            41,
            &vec![0u8; 64 << 20],
        );
        bomb.header.set_compress_type(CompressType::SNAPPY);
        let wire = tokio::task::spawn_blocking(move || bomb.encode().unwrap())
            .await
            .unwrap();
        assert!(wire.len() < 8 << 20, "{} bytes", wire.len());
        raw.write(&wire).await;
        expect_error_then_alive(
            &mut raw,
            41,
            "decompressed size exceeds the maximum allowed size",
        )
        .await;

        // A chunk whose length header claims 4 GiB - 1 of output from a few bytes: refused
        // before anything of that size is allocated.
        let mut payload = b"\xff\x06\x00\x00sNaPpY".to_vec();
        let body = [0xffu8, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00];
        payload.push(0x00);
        payload.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes()[..3]);
        payload.extend_from_slice(&[0, 0, 0, 0]);
        payload.extend_from_slice(&body);
        let m = request("Arith", "Echo", SerializeType::RAW, 42, &payload);
        let mut f = m.encode().unwrap().to_vec();
        f[2] = (f[2] & !0x1C) | (CompressType::SNAPPY.value() << 2);
        raw.write(&f).await;
        expect_error_then_alive(&mut raw, 42, "invalid snappy payload").await;

        // Not snappy at all.
        let m = request("Arith", "Echo", SerializeType::RAW, 43, b"plain text");
        let mut f = m.encode().unwrap().to_vec();
        f[2] = (f[2] & !0x1C) | (CompressType::SNAPPY.value() << 2);
        raw.write(&f).await;
        expect_error_then_alive(&mut raw, 43, "invalid snappy payload").await;
        handle.shutdown(GUARD).await;
    }
}
