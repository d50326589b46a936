//! `rpcx list ADDRESS [SERVICE]` and `rpcx describe ADDRESS [SERVICE]` against our server's
//! reflection service (Go's `Reflection.GetServices` / `GetService`); the Go side is in
//! tests/interop/run_reflect.sh.

mod common;

use common::{closed_port, rpcx};

fn start(rt: &tokio::runtime::Runtime, reflection: bool) -> (rpcx::server::ServerHandle, String) {
    rt.block_on(async {
        let mut server = rpcx::server::Server::builder().build();
        rpcx::arith::register(&mut server).unwrap();
        server
            .register_fn(
                "Hello",
                "Say",
                |_ctx: rpcx::server::Context, name: String| async move {
                    Ok::<_, rpcx::server::ServiceError>(format!("hello {name}"))
                },
            )
            .unwrap();
        if reflection {
            let r = server.enable_reflection().unwrap();
            r.describe_typed::<rpcx::arith::Args, rpcx::arith::Reply>("Arith", "Mul");
        }
        common::serve(server).await
    })
}

#[test]
fn list_and_describe_a_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start(&rt, true);
    let a = addr.as_str();

    let (code, out, err) = rpcx(&["list", a]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Arith\nHello\nReflection\n");
    // host:port works as an address too.
    let (code, out, err) = rpcx(&["list", a.trim_start_matches("tcp@"), "Hello"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Hello.Say\n");
    let (code, out, _) = rpcx(&["list", a, "Arith"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "Arith.Add\nArith.Div\nArith.Echo\nArith.Meta\nArith.Mul\nArith.Push\nArith.Sleep\n"
    );

    let (code, out, err) = rpcx(&["describe", a, "Hello"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "package rpcx\n\ntype Hello struct{}\n\n\n\n\n\
         type (s *Hello) Say(ctx context.Context, arg *string, reply *string) error {\n\treturn nil\n}\n\n"
    );
    let (code, out, _) = rpcx(&["describe", a]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("package rpcx\n\ntype Arith struct{}\n"),
        "{out}"
    );
    assert!(
        out.contains("type Args struct {\n\tA int64\n\tB int64\n}\n\ntype Reply struct {\n\tC int64\n}\n\ntype (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {"),
        "{out}"
    );
    assert!(out.contains("type (s *Hello) Say("), "{out}");

    // Unknown service: the server's error, exit 5.
    let (code, out, err) = rpcx(&["describe", a, "Nope"]);
    assert_eq!((code, out.as_str()), (Some(5), ""));
    assert_eq!(err.trim(), "error: server error: not found service Nope");
    let (code, _, err) = rpcx(&["list", a, "Nope"]);
    assert_eq!(code, Some(5));
    assert_eq!(err.trim(), "error: server error: not found service Nope");
    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}

#[test]
fn servers_without_reflection_and_bad_input() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start(&rt, false);
    let (code, _, err) = rpcx(&["list", &addr]);
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.starts_with("error: server error: rpcx: can't find service Reflection (the server does not serve Go's reflection service"),
        "{err}"
    );
    let (code, _, err) = rpcx(&["describe", &addr]);
    assert_eq!(code, Some(5), "{err}");

    // Nothing listening: unreachable (3).
    let closed = closed_port();
    let (code, _, err) = rpcx(&["describe", &closed, "--timeout", "5"]);
    assert_eq!(code, Some(3), "{err}");
    // Bad local input (6) and usage (2).
    let (code, _, err) = rpcx(&["describe", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("unsupported scheme"), "{err}");
    let (code, _, err) = rpcx(&["describe", &addr, "--timeout", "1e20"]);
    assert_eq!(code, Some(6), "{err}");
    let (code, _, _) = rpcx(&["describe"]);
    assert_eq!(code, Some(2));
    let (code, _, err) = rpcx(&["list", "--consul", "127.0.0.1:1", "Arith", "Extra"]);
    assert_eq!(code, Some(2), "{err}");
    rt.block_on(handle.shutdown(std::time::Duration::from_secs(1)));
}
