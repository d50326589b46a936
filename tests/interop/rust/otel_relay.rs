//! `otel_relay`: the middle of a three-language trace (tests/python/test_otel.py): a Rust
//! server with `ServerTracing` whose handler `Relay.Via` calls the Go server `gootel -mode
//! server` (`Trace.Seen`, which reports the trace context it extracted) through a
//! `ClientTracing` client, so that a Python client → this server → the Go server leaves one
//! trace. `Relay.Spans` returns the spans recorded so far (an in-memory exporter), for the
//! caller to check the parent chain.
//!
//! ```text
//! otel_relay tcp@127.0.0.1:PORT   # the Go server's address
//! ```
//!
//! Prints `LISTENING tcp@127.0.0.1:PORT` once it serves; runs until killed or stdin closes.

use std::time::Duration;

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use rpcx::client::{Client, ClientOptions};
use rpcx::otel::{ClientTracing, ServerTracing};
use rpcx::protocol::SerializeType;
use rpcx::server::{Context, Server, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncReadExt;

const LIMIT: Duration = Duration::from_secs(10);

/// One recorded span, ids in lowercase hex.
#[derive(Debug, Serialize, Deserialize)]
struct SpanIds {
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    kind: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Spans(Vec<SpanIds>);

rpcx::serde_codable!(Spans);

/// What the Go server replied (its `Seen`), passed through as JSON.
#[derive(Debug, Serialize, Deserialize)]
struct Relayed(Value);

rpcx::serde_codable!(Relayed);

#[tokio::main]
async fn main() {
    let Some(go) = std::env::args().nth(1) else {
        eprintln!("usage: otel_relay GO_ADDRESS");
        std::process::exit(2);
    };
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let options = ClientOptions::default()
        .serialize_type(SerializeType::JSON)
        .interceptor(ClientTracing::new().with_tracer_provider(&provider));
    let go_client = Client::connect(&go, options)
        .await
        .unwrap_or_else(|e| panic!("connect to the Go server {go}: {e}"));

    let mut server = Server::builder()
        .plugin(ServerTracing::new().with_tracer_provider(&provider))
        .build();
    server
        .register_fn("Relay", "Via", move |_ctx: Context, _: i64| {
            let go_client = go_client.clone();
            async move {
                // Inside the server span: the client span of this call is its child.
                let seen: Relayed = tokio::time::timeout(
                    LIMIT,
                    go_client.call("Trace", "Seen", &rpcx::arith::Args { a: 1, b: 2 }),
                )
                .await
                .map_err(|_| ServiceError::new("the Go server did not answer in time"))?
                .map_err(|e| ServiceError::new(format!("Go server: {e}")))?;
                Ok::<_, ServiceError>(seen)
            }
        })
        .unwrap();
    let recorded = exporter.clone();
    server
        .register_fn("Relay", "Spans", move |_ctx: Context, _: i64| {
            let recorded = recorded.clone();
            async move {
                let spans = recorded
                    .get_finished_spans()
                    .map_err(|e| ServiceError::new(e.to_string()))?;
                Ok::<_, ServiceError>(Spans(
                    spans
                        .into_iter()
                        .map(|s| SpanIds {
                            name: s.name.to_string(),
                            trace_id: s.span_context.trace_id().to_string(),
                            span_id: s.span_context.span_id().to_string(),
                            parent_id: s.parent_span_id.to_string(),
                            kind: format!("{:?}", s.span_kind),
                        })
                        .collect(),
                ))
            }
        })
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    println!("LISTENING {}", handle.local_address());
    // Until the parent closes our stdin (or kills us).
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    handle.shutdown(Duration::from_secs(1)).await;
}
