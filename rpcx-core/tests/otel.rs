//! OpenTelemetry propagation (feature `otel`): client and server spans share one trace and
//! form a parent chain through the request metadata, as with Go's rpcx-plugins.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{
    SpanId, SpanKind, Status, TraceContextExt, TraceId, Tracer, TracerProvider,
};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rpcx::arith::{Args, Reply};
use rpcx::client::{CallOptions, Client, ClientOptions};
use rpcx::otel::{ClientTracing, ServerTracing};
use rpcx::protocol::Metadata;
use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::trace_context::{TraceParent, TRACEPARENT};

const LIMIT: Duration = Duration::from_secs(10);

async fn bounded<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(LIMIT, fut).await.expect("timed out")
}

fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn spans(exporter: &InMemorySpanExporter) -> Vec<SpanData> {
    exporter.get_finished_spans().unwrap()
}

fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {:?}", names(spans)))
}

fn names(spans: &[SpanData]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_ref()).collect()
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv: &&'a KeyValue| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn traced_client_options(provider: &SdkTracerProvider) -> ClientOptions {
    ClientOptions::default().interceptor(ClientTracing::new().with_tracer_provider(provider))
}

fn with_meta(metadata: Metadata) -> CallOptions {
    CallOptions {
        metadata,
        ..CallOptions::default()
    }
}

async fn connect(handle: &ServerHandle, options: ClientOptions) -> Client {
    bounded(Client::connect(
        &handle.local_address().to_string(),
        options,
    ))
    .await
    .unwrap()
}

/// A server with the otel plugin: `Arith.Mul`, `Arith.Fail` (an error), `Echo.Meta` (the
/// request's traceparent back).
async fn back_server(provider: &SdkTracerProvider) -> ServerHandle {
    let mut server = Server::builder()
        .plugin(ServerTracing::new().with_tracer_provider(provider))
        .build();
    rpcx::arith::register(&mut server).unwrap();
    server
        .register_fn("Arith", "Fail", |_ctx: Context, _a: Args| async move {
            Err::<Reply, _>(ServiceError::new("no such luck"))
        })
        .unwrap();
    server
        .register_fn("Echo", "Meta", |ctx: Context, _a: Args| async move {
            // The server span is the current context inside the handler, and Context says so.
            let current = OtelContext::current();
            let own = ctx
                .otel_context()
                .expect("otel context")
                .span()
                .span_context()
                .clone();
            assert_eq!(current.span().span_context(), &own);
            Ok::<_, ServiceError>(ctx.meta(TRACEPARENT).unwrap_or("").to_owned())
        })
        .unwrap();
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_spans_share_the_trace() {
    let (provider, exporter) = provider();
    let handle = back_server(&provider).await;
    let client = connect(&handle, traced_client_options(&provider)).await;

    let tracer = provider.tracer("test");
    let root = tracer.start("root");
    let root_cx = OtelContext::current_with_span(root);
    let root_sc = root_cx.span().span_context().clone();
    let call = client.call::<_, Reply>("Arith", "Mul", &Args { a: 6, b: 7 });
    let reply = bounded(opentelemetry::context::FutureExt::with_context(
        call,
        root_cx.clone(),
    ))
    .await
    .unwrap();
    assert_eq!(reply.c, 42);
    root_cx.span().end();

    let all = spans(&exporter);
    let client_span = find(&all, "rpcx.client.Arith.Mul");
    let server_span = find(&all, "rpcx.service.Arith.Mul");
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert_eq!(server_span.span_kind, SpanKind::Server);
    // One trace: root -> client span -> server span.
    let trace = root_sc.trace_id();
    assert_eq!(client_span.span_context.trace_id(), trace);
    assert_eq!(server_span.span_context.trace_id(), trace);
    assert_eq!(client_span.parent_span_id, root_sc.span_id());
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
    assert!(server_span.parent_span_is_remote);
    for s in [client_span, server_span] {
        assert_eq!(attr(s, "rpc.system").as_deref(), Some("rpcx"));
        assert_eq!(attr(s, "rpc.service").as_deref(), Some("Arith"));
        assert_eq!(attr(s, "rpc.method").as_deref(), Some("Mul"));
        assert_eq!(s.status, Status::Unset);
    }
    assert_eq!(
        attr(client_span, "server.address"),
        Some(handle.local_address().to_string())
    );
    handle.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_sets_error_status_on_both_spans() {
    let (provider, exporter) = provider();
    let handle = back_server(&provider).await;
    let client = connect(&handle, traced_client_options(&provider)).await;

    let e = bounded(client.call::<_, Reply>("Arith", "Fail", &Args { a: 1, b: 2 }))
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("no such luck"));

    let all = spans(&exporter);
    let server_span = find(&all, "rpcx.service.Arith.Fail");
    assert_eq!(server_span.status, Status::error("no such luck"));
    let client_span = find(&all, "rpcx.client.Arith.Fail");
    match &client_span.status {
        Status::Error { description } => {
            assert!(description.contains("no such luck"), "{description}")
        }
        other => panic!("{other:?}"),
    }
    // Without a current span the client span is a root and the server span its child.
    assert_eq!(client_span.parent_span_id, SpanId::INVALID);
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
    assert_eq!(
        server_span.span_context.trace_id(),
        client_span.span_context.trace_id()
    );
    handle.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_made_inside_a_handler_is_the_child_of_its_server_span() {
    let (provider, exporter) = provider();
    let back = back_server(&provider).await;
    let back_client = Arc::new(connect(&back, traced_client_options(&provider)).await);

    let mut front = Server::builder()
        .plugin(ServerTracing::new().with_tracer_provider(&provider))
        .build();
    let bc = Arc::clone(&back_client);
    front
        .register_fn("Front", "Hop", move |_ctx: Context, a: Args| {
            let bc = Arc::clone(&bc);
            async move {
                let r: Reply = bc
                    .call("Arith", "Mul", &a)
                    .await
                    .map_err(|e| ServiceError::new(e.to_string()))?;
                Ok::<_, ServiceError>(r)
            }
        })
        .unwrap();
    let front = front.serve("tcp@127.0.0.1:0").await.unwrap();
    let client = connect(&front, traced_client_options(&provider)).await;

    let reply: Reply = bounded(client.call("Front", "Hop", &Args { a: 3, b: 5 }))
        .await
        .unwrap();
    assert_eq!(reply.c, 15);

    let all = spans(&exporter);
    let c1 = find(&all, "rpcx.client.Front.Hop");
    let s1 = find(&all, "rpcx.service.Front.Hop");
    let c2 = find(&all, "rpcx.client.Arith.Mul");
    let s2 = find(&all, "rpcx.service.Arith.Mul");
    let trace = c1.span_context.trace_id();
    assert_ne!(trace, TraceId::INVALID);
    for s in [s1, c2, s2] {
        assert_eq!(s.span_context.trace_id(), trace, "{}", s.name);
    }
    assert_eq!(s1.parent_span_id, c1.span_context.span_id());
    assert_eq!(c2.parent_span_id, s1.span_context.span_id());
    assert_eq!(s2.parent_span_id, c2.span_context.span_id());
    back.shutdown(LIMIT).await;
    front.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w3c_traceparent_from_any_client_is_the_parent_and_bad_ones_start_a_trace() {
    let (provider, exporter) = provider();
    let handle = back_server(&provider).await;
    // A client without the interceptor that writes the metadata itself (as a C app would).
    let client = connect(&handle, ClientOptions::default()).await;

    let sent = TraceParent::new_random(true);
    let mut meta = Metadata::new();
    sent.set_in(&mut meta);
    let echoed: String =
        bounded(client.call_with("Echo", "Meta", &Args { a: 1, b: 1 }, with_meta(meta)))
            .await
            .unwrap()
            .reply;
    assert_eq!(echoed, sent.to_string());
    let all = spans(&exporter);
    let s = find(&all, "rpcx.service.Echo.Meta");
    assert_eq!(s.span_context.trace_id().to_bytes(), sent.trace_id);
    assert_eq!(s.parent_span_id.to_bytes(), sent.parent_id);
    assert!(s.span_context.is_sampled());
    exporter.reset();

    let mut meta = Metadata::new();
    meta.insert(
        TRACEPARENT.to_owned(),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_owned(),
    );
    let _: rpcx::client::Response<String> =
        bounded(client.call_with("Echo", "Meta", &Args { a: 1, b: 1 }, with_meta(meta)))
            .await
            .unwrap();
    let all = spans(&exporter);
    let s = find(&all, "rpcx.service.Echo.Meta");
    assert_eq!(s.parent_span_id, SpanId::INVALID);
    assert_ne!(s.span_context.trace_id(), TraceId::INVALID);
    handle.shutdown(LIMIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_propagator_carries_baggage() {
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::propagation::TextMapCompositePropagator;

    let composite = || {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    };
    let (provider, exporter) = provider();
    let seen = Arc::new(std::sync::Mutex::new(None::<String>));
    let s = Arc::clone(&seen);
    let mut server = Server::builder()
        .plugin(
            ServerTracing::new()
                .with_tracer_provider(&provider)
                .with_propagator(composite()),
        )
        .build();
    server
        .register_fn("Bag", "Get", move |ctx: Context, _a: Args| {
            let s = Arc::clone(&s);
            async move {
                let tenant = OtelContext::current()
                    .baggage()
                    .get("tenant")
                    .map(|v| v.to_string());
                *s.lock().unwrap() = tenant;
                Ok::<_, ServiceError>(ctx.meta("baggage").unwrap_or("").to_owned())
            }
        })
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let options = ClientOptions::default().interceptor(
        ClientTracing::new()
            .with_tracer_provider(&provider)
            .with_propagator(composite()),
    );
    let client = connect(&handle, options).await;

    let cx = OtelContext::current_with_baggage(vec![KeyValue::new("tenant", "blue")]);
    let call = client.call::<_, String>("Bag", "Get", &Args { a: 1, b: 1 });
    let wire = bounded(opentelemetry::context::FutureExt::with_context(call, cx))
        .await
        .unwrap();
    assert_eq!(wire, "tenant=blue");
    assert_eq!(seen.lock().unwrap().as_deref(), Some("blue"));
    let all = spans(&exporter);
    let c = find(&all, "rpcx.client.Bag.Get");
    let s = find(&all, "rpcx.service.Bag.Get");
    assert_eq!(s.parent_span_id, c.span_context.span_id());
    handle.shutdown(LIMIT).await;
}
