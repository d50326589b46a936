//! `rpcx call --proto`: .proto files compiled in-process drive a protobuf call with JSON in
//! and JSON out — `ProtoArith.Mul`/`Add`/`Div` and `Hello.Say` against a server registered
//! as `examples/rust/arith_server.rs` does — and the errors a user makes with them (unknown
//! service or method, JSON that does not fit the message, a .proto that does not compile,
//! missing files) are bad input (exit 6) with a message that says what and where.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use common::{closed_port, rpcx_in, TempDir};

fn rpcx(args: &[&str]) -> Output {
    rpcx_in(args, b"")
}

fn out(o: &Output) -> String {
    common::text(&o.stdout)
}

fn err(o: &Output) -> String {
    common::text(&o.stderr)
}

/// `examples/proto/<name>`.
fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/proto")
        .join(name)
        .display()
        .to_string()
}

/// A server with the services of `examples/rust/arith_server.rs`: `Arith` and `ProtoArith`
/// (the same object), and `Hello.Say`.
fn start_server(rt: &tokio::runtime::Runtime) -> (rpcx::server::ServerHandle, String) {
    rt.block_on(async {
        let mut server = rpcx::server::Server::builder().build();
        let arith = Arc::new(rpcx::arith::Arith);
        server.register_object("Arith", Arc::clone(&arith)).unwrap();
        server.register_object("ProtoArith", arith).unwrap();
        rpcx::benchmark::register(&mut server).unwrap();
        common::serve(server).await
    })
}

#[test]
fn proto_calls_print_json() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start_server(&rt);
    let a = addr.as_str();
    let arith = example("arith.proto");
    let hello = example("hello.proto");
    let call = |extra: &[&str], target: &str, json: &str| -> Output {
        let mut args = vec!["call", "--proto"];
        args.push(if target.starts_with("Hello") {
            &hello
        } else {
            &arith
        });
        args.extend_from_slice(extra);
        args.extend_from_slice(&[a, target, json]);
        rpcx(&args)
    };
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (&[], "ProtoArith.Mul", r#"{"A":7,"B":8}"#, "{\"C\":56}\n"),
        // Negative int32 values: the Rust server reads and writes int64 varints.
        (&[], "ProtoArith.Add", r#"{"A":-5,"B":2}"#, "{\"C\":-3}\n"),
        (&[], "ProtoArith.Div", r#"{"A":100,"B":7}"#, "{\"C\":14}\n"),
        // proto3 JSON leaves out fields with their default value, unless asked.
        (&[], "ProtoArith.Mul", r#"{"A":0,"B":5}"#, "{}\n"),
        (
            &["--emit-defaults"],
            "ProtoArith.Mul",
            r#"{"A":0,"B":5}"#,
            "{\"C\":0}\n",
        ),
        // Go's wire bytes of ProtoReply{C:200} (tests/interop/go/cmd/capture): 08 c8 01.
        (
            &["--output", "hex"],
            "ProtoArith.Mul",
            r#"{"A":10,"B":20}"#,
            "08c801\n",
        ),
        (
            &[],
            "Hello.Say",
            r#"{"field1":"hi","field2":1,"field3":2,"field18":"y","field9":"x","field5":["18446744073709551615"]}"#,
            // Fields in the order of their numbers, not of the JSON given or alphabetical.
            "{\"field1\":\"OK\",\"field2\":100,\"field3\":2,\"field5\":[\"18446744073709551615\"],\
             \"field9\":\"x\",\"field18\":\"y\"}\n",
        ),
    ];
    for (extra, target, json, want) in cases {
        let o = call(extra, target, json);
        assert_eq!(o.status.code(), Some(0), "{target} {json}: {}", err(&o));
        assert_eq!(out(&o), *want, "{target} {json} {extra:?}");
    }

    // Standard input, and the server's error as the server's (5).
    let o = rpcx_in(
        &["call", "--proto", &arith, a, "ProtoArith.Mul", "-"],
        br#"{"A":3,"B":-4}"#,
    );
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "{\"C\":-12}\n".into())
    );
    let o = call(&[], "ProtoArith.Div", r#"{"A":1}"#);
    assert_eq!(o.status.code(), Some(5), "{}", err(&o));
    assert_eq!(err(&o).trim(), "error: server error: divide by zero");

    // Imports through --import-path: the service in one file, its messages in another.
    let dir = TempDir::new("imports");
    dir.write(
        "defs/msgs.proto",
        "syntax = \"proto3\";\npackage m;\nmessage In { int32 A = 1; int32 B = 2; }\n\
         message Out { int32 C = 1; }\n",
    );
    let svc = dir.write(
        "api/svc.proto",
        "syntax = \"proto3\";\nimport \"defs/msgs.proto\";\n\
         service ProtoArith { rpc Mul(m.In) returns (m.Out); }\n",
    );
    let root = dir.0.display().to_string();
    let o = rpcx(&[
        "call",
        "--proto",
        &svc,
        "--import-path",
        &root,
        a,
        "ProtoArith.Mul",
        r#"{"A":6,"B":9}"#,
    ]);
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "{\"C\":54}\n".into()),
        "{}",
        err(&o)
    );
    // Without it, the import is looked up next to svc.proto only.
    let o = rpcx(&["call", "--proto", &svc, a, "ProtoArith.Mul", "{}"]);
    assert_eq!(o.status.code(), Some(6), "{}", err(&o));
    assert!(
        err(&o).contains("svc.proto:2:1: import 'defs/msgs.proto' not found"),
        "{}",
        err(&o)
    );

    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}

#[test]
fn proto_mistakes_are_bad_input() {
    let nowhere = closed_port();
    let n = nowhere.as_str();
    let arith = example("arith.proto");
    let hello = example("hello.proto");
    let dir = TempDir::new("bad");
    let broken = dir.write(
        "broken.proto",
        "syntax = \"proto3\";\nmessage X {\n  int32 a = 1\n}\n",
    );
    let undefined = dir.write(
        "undefined.proto",
        "syntax = \"proto3\";\nmessage X {\n  Missing a = 1;\n}\n",
    );
    let nested = dir.write(
        "nested.proto",
        "syntax = \"proto3\";\nmessage Inner { int32 x = 1; }\n\
         message Outer { Inner inner = 1; repeated Inner list = 2; }\n\
         service Deep { rpc Go(Outer) returns (Outer); rpc Stream(stream Outer) returns (Outer); }\n",
    );
    let required = dir.write(
        "required.proto",
        "syntax = \"proto2\";\nmessage Item { required int32 id = 1; optional string note = 2; }\n\
         message Order { required string who = 1; repeated Item items = 2; optional Item main = 3; }\n\
         service Shop { rpc Buy(Order) returns (Order); }\n",
    );
    let missing = dir.0.join("missing.proto").display().to_string();
    let dir_path = dir.0.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--proto", &arith, n, "Nope.Mul", "{}"],
            "no service \"Nope\" in the .proto files (services: arith.ProtoArith)",
        ),
        (
            vec!["--proto", &arith, n, "ProtoArith.Pow", "{}"],
            "service arith.ProtoArith has no rpc \"Pow\" (it has: Mul, Add, Div)",
        ),
        (
            vec!["--proto", &arith, n, "ProtoArith.Mul", r#"{"A":1,"Z":2}"#],
            "unrecognized field name 'Z'",
        ),
        (
            vec![
                "--proto",
                &arith,
                n,
                "ProtoArith.Mul",
                r#"{"A":1,"B":"two"}"#,
            ],
            "do not fit arith.ProtoArgs (the request of arith.ProtoArith.Mul): field \"B\":",
        ),
        (
            vec!["--proto", &arith, n, "ProtoArith.Mul", r#"{"A":1e40}"#],
            "field \"A\":",
        ),
        (
            vec!["--proto", &arith, n, "ProtoArith.Mul", "[1,2]"],
            "do not fit arith.ProtoArgs",
        ),
        (
            vec!["--proto", &arith, n, "ProtoArith.Mul", "{\"A\":1"],
            "do not fit arith.ProtoArgs",
        ),
        (
            vec!["--proto", &hello, n, "Hello.Say", r#"{"field5":[1,"z"]}"#],
            "field \"field5\":",
        ),
        (
            vec!["--proto", &nested, n, "Deep.Go", r#"{"inner":{"x":true}}"#],
            "field \"inner.x\":",
        ),
        (
            vec![
                "--proto",
                &nested,
                n,
                "Deep.Go",
                r#"{"list":[{"x":1},{"x":"y"}]}"#,
            ],
            "field \"list[1].x\":",
        ),
        (vec!["--proto", &nested, n, "Deep.Stream", "{}"], "streams"),
        // proto2 `required` fields (Go's peer refuses a message without them).
        (
            vec!["--proto", &hello, n, "Hello.Say", r#"{"field1":"x"}"#],
            "missing required fields \"field2\", \"field3\"",
        ),
        (
            vec![
                "--proto",
                &required,
                n,
                "Shop.Buy",
                r#"{"who":"me","items":[{"id":1},{"note":"n"}],"main":{}}"#,
            ],
            "(the request of Shop.Buy): missing required fields \"items[1].id\", \"main.id\"",
        ),
        (
            vec!["--proto", &broken, n, "X.Y", "{}"],
            "broken.proto:4:1: expected ';' or '[', but found '}'",
        ),
        (
            vec!["--proto", &undefined, n, "X.Y", "{}"],
            "undefined.proto:3:3: name 'Missing' is not defined",
        ),
        (
            vec!["--proto", &missing, n, "ProtoArith.Mul", "{}"],
            "missing.proto: no such file",
        ),
        (
            vec![
                "--proto",
                &arith,
                "--import-path",
                &missing,
                n,
                "ProtoArith.Mul",
                "{}",
            ],
            "not a directory",
        ),
        // The file must be inside the import path it is looked up in.
        (
            vec![
                "--proto",
                &arith,
                "--import-path",
                &dir_path,
                n,
                "ProtoArith.Mul",
                "{}",
            ],
            "arith.proto",
        ),
    ];
    for (args, says) in cases {
        let args = [&["call"][..], &args].concat();
        let o = rpcx(&args);
        assert_eq!(o.status.code(), Some(6), "{args:?}: {}", err(&o));
        assert!(
            err(&o).contains(says),
            "{args:?}: want {says:?} in {}",
            err(&o)
        );
        assert!(out(&o).is_empty(), "{args:?}");
    }

    // Flags that do not go together are usage errors (2).
    for args in [
        vec![
            "call",
            "--proto",
            &arith,
            "--codec",
            "msgpack",
            n,
            "ProtoArith.Mul",
        ],
        vec!["call", "--import-path", ".", n, "ProtoArith.Mul"],
        vec!["call", "--emit-defaults", n, "ProtoArith.Mul"],
    ] {
        let o = rpcx(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", err(&o));
    }
}
