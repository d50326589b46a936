//! `rpcx call --trace`: a fresh W3C traceparent reaches the server and its trace id is
//! printed on stderr, stdout keeping only the reply.

mod common;

use std::time::Duration;

use common::rpcx_output as rpcx;
use rpcx::server::{Context, Server, ServiceError};
use rpcx::trace_context::{TraceParent, TRACEPARENT};

/// A server whose `Trace.Seen` replies with the traceparent it received ("" when none).
fn start_server(rt: &tokio::runtime::Runtime) -> (rpcx::server::ServerHandle, String) {
    rt.block_on(async {
        let mut server = Server::builder().build();
        server
            .register_fn(
                "Trace",
                "Seen",
                |ctx: Context, _: serde_json::Value| async move {
                    Ok::<_, ServiceError>(ctx.meta(TRACEPARENT).unwrap_or("").to_owned())
                },
            )
            .unwrap();
        common::serve(server).await
    })
}

#[test]
fn trace_sends_a_fresh_traceparent_and_prints_its_trace_id() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (handle, addr) = start_server(&rt);

    let mut seen_traces = Vec::new();
    for _ in 0..2 {
        let out = rpcx(&[
            "call",
            &addr,
            "Trace.Seen",
            "{}",
            "--trace",
            "--timeout",
            "10",
        ]);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{stdout}{stderr}");
        let trace_id = stderr
            .lines()
            .find_map(|l| l.strip_prefix("trace-id: "))
            .unwrap_or_else(|| panic!("no trace-id line on stderr: {stderr:?}"))
            .to_owned();
        // stdout is the reply alone: the JSON string of the traceparent the server saw.
        let sent: String = serde_json::from_str(stdout.trim()).expect("stdout is the reply");
        let tp = TraceParent::parse(&sent).expect("a valid traceparent reached the server");
        assert_eq!(tp.trace_id_hex(), trace_id);
        assert!(tp.is_sampled());
        seen_traces.push(trace_id);
    }
    assert_ne!(
        seen_traces[0], seen_traces[1],
        "each call starts a new trace"
    );

    // Without --trace nothing is sent and nothing printed.
    let out = rpcx(&["call", &addr, "Trace.Seen", "{}"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "\"\"");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("trace-id"));

    // --trace with a traceparent of one's own is refused before anything is sent.
    let out = rpcx(&[
        "call",
        &addr,
        "Trace.Seen",
        "--trace",
        "--meta",
        "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trace"));

    rt.block_on(handle.shutdown(Duration::from_secs(5)));
}
