//! `rpcx call` input and output: ARGS from standard input (`-`, `@-`) and from files
//! (`@FILE`, binary-safe with `--codec raw`), `@@` for a literal leading `@`, and each
//! `--output` form (json, raw, hex, base64) with the exact bytes written to stdout, against
//! a server with the Arith service.

mod common;

use std::process::Output;

use common::{start_arith_server as start_server, TempDir};

/// Runs the CLI with `stdin` as its standard input (empty when `None`).
fn rpcx_in(args: &[&str], stdin: Option<&[u8]>) -> Output {
    common::rpcx_in(args, stdin.unwrap_or_default())
}

fn rpcx(args: &[&str]) -> Output {
    rpcx_in(args, None)
}

fn err(o: &Output) -> String {
    common::text(&o.stderr)
}

/// Asserts success and returns stdout.
fn ok(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let o = rpcx_in(args, stdin);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", err(&o));
    o.stdout
}

/// Bytes that are not UTF-8 and hold a NUL, a newline and every byte value.
fn binary() -> Vec<u8> {
    let mut v = b"a\0b\xff\xfe\n".to_vec();
    v.extend(0u8..=255);
    v
}

#[test]
fn json_args_from_stdin_and_files() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start_server(&rt);
    let a = addr.as_str();
    let dir = TempDir::new("json");
    let args = br#"{"A":6,"B":7}"#;
    let want = b"{\"C\":42}\n";

    assert_eq!(ok(&["call", a, "Arith.Mul", "-"], Some(args)), want);
    assert_eq!(ok(&["call", a, "Arith.Mul", "@-"], Some(args)), want);
    let file = dir.at_file("args.json", b"{\n  \"A\": 6,\n  \"B\": 7\n}\n");
    assert_eq!(ok(&["call", a, "Arith.Mul", &file], None), want);
    // MsgPack from the same JSON file.
    assert_eq!(
        ok(&["call", "--codec", "msgpack", a, "Arith.Mul", &file], None),
        want
    );

    // A file that is not JSON is bad input naming the file; nothing is sent.
    let bad = dir.at_file("bad.json", b"\xff\xfe not json");
    let o = rpcx(&["call", a, "Arith.Mul", &bad]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(
        err(&o).contains("bad.json\" are not valid JSON"),
        "{}",
        err(&o)
    );
    // Empty standard input is not JSON either.
    let o = rpcx(&["call", a, "Arith.Mul", "-"]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(
        err(&o).contains("ARGS from standard input are not valid JSON"),
        "{}",
        err(&o)
    );
    // A missing file, and `@` without a name.
    let missing = format!("@{}", dir.0.join("missing.json").display());
    let o = rpcx(&["call", a, "Arith.Mul", &missing]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(
        err(&o).contains("missing.json\": cannot read it"),
        "{}",
        err(&o)
    );
    let o = rpcx(&["call", a, "Arith.Mul", "@"]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(err(&o).contains("names no file"), "{}", err(&o));

    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}

#[test]
fn raw_payloads_are_binary_safe() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start_server(&rt);
    let a = addr.as_str();
    let dir = TempDir::new("raw");
    let bin = binary();
    let file = dir.at_file("payload.bin", &bin);
    let with = |last: &str, stdin: Option<&[u8]>| -> Vec<u8> {
        ok(
            &[
                "call",
                "--codec",
                "raw",
                "--output",
                "raw",
                a,
                "Arith.Echo",
                last,
            ],
            stdin,
        )
    };

    // Through Arith.Echo and back, byte for byte: from a file and from stdin.
    assert_eq!(with(&file, None), bin);
    assert_eq!(with("-", Some(&bin)), bin);
    assert_eq!(with("@-", Some(&bin)), bin);
    // A larger payload (1 MiB, every byte value many times).
    let big: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    let big_file = dir.at_file("big.bin", &big);
    let out = with(&big_file, None);
    assert!(out == big, "1 MiB echo differs ({} bytes back)", out.len());
    // Empty stdin is an empty payload.
    assert_eq!(with("-", Some(b"")), b"");

    // The default output of --codec raw: UTF-8 as text, anything else as hex, + newline.
    let plain = ["call", "--codec", "raw", a, "Arith.Echo"];
    let hex: String = bin.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        ok(&[&plain[..], &[file.as_str()]].concat(), None),
        format!("{hex}\n").as_bytes()
    );
    assert_eq!(
        ok(&[&plain[..], &["-"]].concat(), Some("héllo".as_bytes())),
        "héllo\n".as_bytes()
    );

    // `@@` sends a literal leading `@`; a plain `@` inside or at the end is left alone.
    assert_eq!(with("@@home", None), b"@home");
    assert_eq!(with("me@example.org", None), b"me@example.org");

    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}

#[test]
fn each_output_form_writes_exact_bytes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start_server(&rt);
    let a = addr.as_str();
    let mul = |codec: &str, output: &str| -> Vec<u8> {
        ok(
            &[
                "call",
                "--codec",
                codec,
                "--output",
                output,
                a,
                "Arith.Mul",
                r#"{"A":7,"B":8}"#,
            ],
            None,
        )
    };
    // JSON on the wire: the reply payload is `{"C":56}`.
    assert_eq!(mul("json", "json"), b"{\"C\":56}\n");
    assert_eq!(mul("json", "raw"), b"{\"C\":56}");
    assert_eq!(mul("json", "hex"), b"7b2243223a35367d\n");
    assert_eq!(mul("json", "base64"), b"eyJDIjo1Nn0=\n");
    // MsgPack on the wire: the reply payload is the map {"C": 56} = 81 a1 43 38.
    assert_eq!(mul("msgpack", "json"), b"{\"C\":56}\n");
    assert_eq!(mul("msgpack", "raw"), [0x81, 0xa1, b'C', 0x38]);
    assert_eq!(mul("msgpack", "hex"), b"81a14338\n");
    assert_eq!(mul("msgpack", "base64"), b"gaFDOA==\n");

    // Raw on the wire.
    let echo = |output: &str, payload: &[u8]| {
        rpcx_in(
            &[
                "call",
                "--codec",
                "raw",
                "--output",
                output,
                a,
                "Arith.Echo",
                "-",
            ],
            Some(payload),
        )
    };
    let o = echo("json", b"say \"hi\"\n");
    assert_eq!(o.stdout, b"\"say \\\"hi\\\"\\n\"\n", "{}", err(&o));
    let o = echo("hex", &[0, 0xff, 0x10]);
    assert_eq!(o.stdout, b"00ff10\n", "{}", err(&o));
    let o = echo("base64", &[0, 0xff, 0x10]);
    assert_eq!(o.stdout, b"AP8Q\n", "{}", err(&o));
    // A reply that is not UTF-8 has no JSON string form: said, exit 1 (the call succeeded,
    // its reply could not be shown as asked).
    let o = echo("json", &[0xff]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("not UTF-8"), "{}", err(&o));
    assert!(o.stdout.is_empty());

    // An unknown form is a usage error.
    let o = rpcx(&["call", "--output", "xml", a, "Arith.Mul", "{}"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("json, raw, hex, base64"), "{}", err(&o));

    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}
