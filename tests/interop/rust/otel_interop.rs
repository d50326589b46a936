//! `otel_interop`: the Rust side of the OpenTelemetry interop check with Go
//! (tests/interop/run_otel.sh). Spans are recorded with an in-memory exporter and compared
//! with what the Go program (`tests/interop/go/cmd/gootel`) reports.
//!
//! ```text
//! otel_interop go-client GOOTEL   # a Go client span is the parent of our server span
//! otel_interop go-server GOOTEL   # our client span is the parent the Go server extracts
//! ```
//!
//! Prints `PASS <case>` or `FAIL <case>: <reason>`, then `otel: N passed, N failed`; exit
//! status 1 if a case failed, 2 on usage errors.

use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rpcx::arith::Args;
use rpcx::client::{Client, ClientOptions};
use rpcx::otel::{ClientTracing, ServerTracing};
use rpcx::protocol::SerializeType;
use rpcx::server::Server;
use serde::{Deserialize, Serialize};
use tokio::process::Command;

#[path = "go_peer.rs"]
mod go_peer;
use go_peer::GoServer;

const LIMIT: Duration = Duration::from_secs(20);

/// The reply of the Go server's `Trace.Seen`.
#[derive(Debug, Serialize, Deserialize)]
struct Seen {
    traceparent: String,
    trace_id: String,
    parent_id: String,
    remote: bool,
    server_trace_id: String,
    server_parent_id: String,
}

rpcx::serde_codable!(Seen);

fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn span_named(exporter: &InMemorySpanExporter, name: &str) -> Result<SpanData, String> {
    let spans = exporter.get_finished_spans().map_err(|e| e.to_string())?;
    spans
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("no span {name} was recorded"))
}

fn check(
    what: &str,
    got: impl std::fmt::Display,
    want: impl std::fmt::Display,
) -> Result<(), String> {
    let (got, want) = (got.to_string(), want.to_string());
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got}, want {want}"))
    }
}

/// A Go client (W3C propagator, context injected into the metadata map) calls our server:
/// our server span is the child of the Go client span.
async fn go_client(gootel: &str) -> Result<(), String> {
    let (provider, exporter) = provider();
    let mut server = Server::builder()
        .plugin(ServerTracing::new().with_tracer_provider(&provider))
        .build();
    rpcx::arith::register(&mut server).map_err(|e| e.to_string())?;
    let handle = server
        .serve("tcp@127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let out = tokio::time::timeout(
        LIMIT,
        Command::new(gootel)
            .args([
                "-mode",
                "client",
                "-addr",
                &handle.local_address().to_string(),
            ])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| "the Go client did not finish in time".to_owned())?
    .map_err(|e| format!("running {gootel}: {e}"))?;
    handle.shutdown(LIMIT).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the Go client failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("GO_CLIENT_SPAN "))
        .ok_or_else(|| format!("no GO_CLIENT_SPAN line in {stdout:?}"))?;
    let (go_trace, go_span) = line
        .split_once(' ')
        .ok_or_else(|| format!("bad GO_CLIENT_SPAN line {line:?}"))?;
    check("reply", stdout.contains("REPLY 42"), true)?;

    let s = span_named(&exporter, "rpcx.service.Arith.Mul")?;
    check("server span trace id", s.span_context.trace_id(), go_trace)?;
    check("server span parent", s.parent_span_id, go_span)?;
    check("parent is remote", s.parent_span_is_remote, true)?;
    check(
        "span kind",
        format!("{:?}", s.span_kind),
        format!("{:?}", SpanKind::Server),
    )?;
    check(
        "status",
        format!("{:?}", s.status),
        format!("{:?}", Status::Unset),
    )?;
    println!(
        "  go client span {go_trace}/{go_span} -> rust server span {}/{}",
        s.span_context.trace_id(),
        s.span_context.span_id()
    );
    Ok(())
}

/// Our client (otel interceptor) calls a Go server that extracts the context from the
/// metadata: what it extracted is our client span.
async fn go_server(gootel: &str) -> Result<(), String> {
    let server = GoServer::start(gootel, LIMIT).await?;
    let addr = server.address.clone();

    let result = async {
        let (provider, exporter) = provider();
        let options = ClientOptions::default()
            .serialize_type(SerializeType::JSON)
            .interceptor(ClientTracing::new().with_tracer_provider(&provider));
        let client = tokio::time::timeout(LIMIT, Client::connect(&addr, options))
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        let seen: Seen =
            tokio::time::timeout(LIMIT, client.call("Trace", "Seen", &Args { a: 1, b: 2 }))
                .await
                .map_err(|_| "call timed out".to_owned())?
                .map_err(|e| e.to_string())?;
        let c = span_named(&exporter, "rpcx.client.Trace.Seen")?;
        check(
            "extracted trace id",
            &seen.trace_id,
            c.span_context.trace_id(),
        )?;
        check(
            "extracted parent id",
            &seen.parent_id,
            c.span_context.span_id(),
        )?;
        check("extracted as remote", seen.remote, true)?;
        check(
            "Go server span trace id",
            &seen.server_trace_id,
            c.span_context.trace_id(),
        )?;
        check(
            "Go server span parent",
            &seen.server_parent_id,
            c.span_context.span_id(),
        )?;
        check(
            "client span kind",
            format!("{:?}", c.span_kind),
            format!("{:?}", SpanKind::Client),
        )?;
        println!(
            "  rust client span {}/{} -> go server extracted {} (traceparent {})",
            c.span_context.trace_id(),
            c.span_context.span_id(),
            seen.parent_id,
            seen.traceparent
        );
        Ok::<_, String>(())
    }
    .await;
    server.stop(LIMIT).await;
    result
}

#[tokio::main]
async fn main() {
    go_peer::run_cases(
        "otel",
        "",
        "otel_interop [go-client|go-server] GOOTEL",
        |case, bin| async move {
            match case {
                "go-client" => go_client(&bin).await,
                _ => go_server(&bin).await,
            }
        },
    )
    .await;
}
