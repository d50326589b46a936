//! Exit statuses scripts can use, messages that say where an error came from, and hostile
//! arguments that must never panic the CLI: 0 success, 1 other, 2 usage, 3 unreachable or no
//! server, 4 timeout, 5 the server's error (`error: server error: <its text>`), 6 bad local
//! input.

mod common;

use common::{closed_port, rpcx, start_arith_server as start_server};

#[test]
fn each_kind_of_failure_has_its_exit_status() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start_server(&rt);
    let a = addr.as_str();

    let (code, out, _) = rpcx(&["call", a, "Arith.Mul", r#"{"A":7,"B":8}"#]);
    assert_eq!((code, out.trim()), (Some(0), r#"{"C":56}"#));

    // 5: the server's own text, marked as the server's.
    let (code, _, err) = rpcx(&["call", a, "Arith.Div", r#"{"A":1,"B":0}"#]);
    assert_eq!(code, Some(5), "{err}");
    assert_eq!(err.trim(), "error: server error: divide by zero");
    let (code, _, err) = rpcx(&["call", a, "Nope.Mul", "{}"]);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.starts_with("error: server error: "), "{err}");

    // 4: the call's deadline.
    let (code, _, err) = rpcx(&[
        "call",
        "--timeout",
        "0.2",
        a,
        "Arith.Sleep",
        r#"{"Ms":3000}"#,
    ]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("timed out"), "{err}");

    // 3: nobody there.
    let (code, _, err) = rpcx(&["call", &closed_port(), "Arith.Mul", "{}"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.starts_with("error: connect to"), "{err}");

    // 6: bad local input, found before anything is sent.
    let broken_proto = std::env::temp_dir().join(format!(
        "rpcx-cli-exit-codes-{}-broken.proto",
        std::process::id()
    ));
    std::fs::write(
        &broken_proto,
        "syntax = \"proto3\";\nmessage X { int32 a = 1 }\n",
    )
    .unwrap();
    let broken_proto = broken_proto.display().to_string();
    let missing_args = format!("@{}.json", broken_proto);
    for (args, says) in [
        (
            vec!["call", a, "Arith.Mul", &missing_args],
            "cannot read it",
        ),
        (
            vec!["call", "--proto", &broken_proto, a, "Arith.Mul", "{}"],
            "broken.proto:2:25: expected ';' or '[', but found '}'",
        ),
        (vec!["call", a, "Arith.Mul", "{not json"], "not valid JSON"),
        (
            vec!["call", "--meta", "=x", a, "Arith.Mul", "{}"],
            "non-empty KEY",
        ),
        (
            vec!["call", "--meta", "novalue", a, "Arith.Mul", "{}"],
            "KEY=VALUE",
        ),
        (
            vec!["call", "http://127.0.0.1:8972", "Arith.Mul", "{}"],
            "unsupported scheme \"http\"",
        ),
        (
            vec!["call", "--timeout", "1e20", a, "Arith.Mul", "{}"],
            "too large",
        ),
        (
            vec!["call", "--timeout=-1", a, "Arith.Mul", "{}"],
            "positive",
        ),
        (
            vec!["call", "--timeout", "NaN", a, "Arith.Mul", "{}"],
            "positive",
        ),
        (
            vec!["call", "--select", "round_robin", a, "Arith.Mul", "{}"],
            "--select",
        ),
        (
            vec![
                "call",
                "--fail",
                "Failfast",
                "--group",
                "g",
                a,
                "Arith.Mul",
                "{}",
            ],
            "--fail, --group",
        ),
        (vec!["call", a, "ArithMul", "{}"], "must be Service.Method"),
    ] {
        let (code, _, err) = rpcx(&args);
        assert_eq!(code, Some(6), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("rpcx::"), "a Rust path in {err:?}");
    }

    // 2: the command line itself.
    for args in [
        vec!["call"],
        vec!["call", "Arith.Mul", r#"{"A":1,"B":2}"#],
        vec!["call", "--select", "bogus", a, "Arith.Mul"],
        vec!["call", "--output", "yaml", a, "Arith.Mul"],
        vec![
            "call",
            "--proto",
            &broken_proto,
            "--codec",
            "json",
            a,
            "Arith.Mul",
        ],
        vec!["frobnicate"],
    ] {
        let (code, _, err) = rpcx(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
    let (_, _, err) = rpcx(&["call", "Arith.Mul", "{}"]);
    assert!(err.contains("missing ADDRESS"), "{err}");
    let _ = std::fs::remove_file(&broken_proto);

    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}

#[test]
fn hostile_arguments_never_panic() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start_server(&rt);
    let a = addr.as_str();
    let long = "x".repeat(100_000);
    let deep = "[".repeat(10_000);
    let deep_obj = r#"{"field1":"#.repeat(10_000);
    let hello_proto = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/proto/hello.proto");
    let hostile: Vec<Vec<&str>> = vec![
        vec!["call", "--timeout", "1e308", a, "Arith.Mul", "{}"],
        vec!["call", "--timeout", "inf", a, "Arith.Mul", "{}"],
        vec!["call", "--timeout", "0", a, "Arith.Mul", "{}"],
        vec!["call", "--timeout", "5e-324", a, "Arith.Mul", "{}"],
        vec![
            "call",
            "--compress-threshold",
            "18446744073709551615",
            a,
            "Arith.Mul",
            "{}",
        ],
        vec!["call", "--compress", "255", a, "Arith.Mul", "{}"],
        vec!["call", a, ".", "{}"],
        vec!["call", a, "..", "{}"],
        vec!["call", a, "Arith.", "{}"],
        vec!["call", a, &long, "{}"],
        vec!["call", a, "Arith.Mul", &deep],
        vec!["call", "@", "Arith.Mul", "{}"],
        vec!["call", "tcp@", "Arith.Mul", "{}"],
        vec!["call", "unix@", "Arith.Mul", "{}"],
        vec!["call", "tcp@[::1", "Arith.Mul", "{}"],
        vec!["call", "tcp@127.0.0.1:99999", "Arith.Mul", "{}"],
        vec!["call", "--codec", "raw", a, "Arith.Mul", "\u{1}\u{7f}"],
        vec!["call", "--meta", "k=\u{1}", a, "Arith.Mul", "{}"],
        vec!["call", "--etcd", "", "Arith.Mul", "{}"],
        vec!["call", "--dns", "no-port", "Arith.Mul", "{}"],
        vec!["list"],
        vec!["upload", a, ""],
        vec!["download", a, "", "-o", ""],
        vec!["download", a, "x", "--timeout", "1e20"],
        // Input and output flags.
        vec!["call", a, "Arith.Mul", "@/dev/null"],
        vec!["call", a, "Arith.Mul", "@/"],
        vec!["call", a, "Arith.Mul", "@\u{1}"],
        vec![
            "call",
            "--codec",
            "raw",
            "--output",
            "raw",
            a,
            "Arith.Echo",
            "@/dev/null",
        ],
        vec![
            "call",
            "--output",
            "json",
            "--codec",
            "raw",
            a,
            "Arith.Echo",
            "\u{7f}",
        ],
        vec!["call", "--proto", "/dev/null", a, "Arith.Mul", "{}"],
        vec!["call", "--proto", "/", a, "Arith.Mul", "{}"],
        vec!["call", "--proto", "", a, "Arith.Mul", "{}"],
        vec!["call", "--proto", "x.proto", "--import-path", "", a, "X.Y"],
        vec!["call", "--proto", &hello_proto, a, "Hello.Say", &deep],
        vec!["call", "--proto", &hello_proto, a, "Hello.Say", &deep_obj],
        vec!["call", "--proto", &hello_proto, a, "Hello.", "{}"],
        vec!["call", "--proto", &hello_proto, a, ".Say", "{}"],
        vec![
            "call",
            "--proto",
            &hello_proto,
            "--output",
            "raw",
            a,
            "Arith.Echo",
            "{}",
        ],
    ];
    for args in &hostile {
        let (code, _, err) = rpcx(args);
        assert!(
            matches!(code, Some(0..=6)),
            "{:?} exited {code:?} (a panic is 101): {err}",
            args.iter()
                .map(|s| &s[..s.len().min(40)])
                .collect::<Vec<_>>()
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}
