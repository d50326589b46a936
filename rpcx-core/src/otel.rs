//! OpenTelemetry tracing that joins Go rpcx's (feature `otel`): the trace context travels in
//! the request metadata, as with the OpenTelemetry plugins of Go's rpcxio/rpcx-plugins.
//!
//! - [`ClientTracing`], a [client interceptor](crate::client::ClientInterceptor): each call
//!   gets a span `rpcx.client.<Service>.<Method>` (kind client), child of the caller's
//!   current OpenTelemetry context, whose context is injected into the request metadata
//!   (`traceparent`, `tracestate`, and whatever else the propagator writes, such as
//!   `baggage`). The span ends when the reply (or error) arrives, with status error and
//!   the error text when the call failed.
//! - [`ServerTracing`], a [server plugin](crate::server::Plugin): each served call gets a span
//!   `rpcx.service.<Service>.<Method>` (kind server, as Go names it) whose parent is the
//!   context extracted from the request metadata, with the attributes `rpc.system` = `rpcx`,
//!   `rpc.service` and `rpc.method` (set once the sampler decided to record the span, so an
//!   unsampled call does not build them; samplers do not see them). The handler runs with that span as its current context,
//!   so the calls it makes with a [`ClientTracing`] client are its children; the span ends
//!   after the handler, with status error and the error text when it failed (refused by a
//!   later plugin, timed out, panicked, returned an error), its status left unset otherwise.
//!   A call refused before this plugin ran (an earlier plugin, an unknown service) has no
//!   span.
//!
//! Spans go to the tracer provider the application installs: the global one (installed
//! with `opentelemetry::global::set_tracer_provider`, before the interceptor or plugin is
//! made) by default, or the one passed to `with_tracer_provider`. Without any, the global
//! provider is a no-op and only the context is passed along.
//!
//! The metadata is read and written by the application's global text-map propagator
//! (`opentelemetry::global::set_text_map_propagator`; e.g. W3C trace context and baggage). As
//! long as none is installed (the global one is then a no-op), the W3C trace context
//! propagator of [`W3cTraceContext`] is used, so rpcx joins traces with Go's default
//! out of the box. `with_propagator` picks one explicitly.
//!
//! ```
//! use rpcx::client::ClientOptions;
//! use rpcx::otel::{ClientTracing, ServerTracing};
//! use rpcx::server::Server;
//!
//! // After the application installed its tracer provider (opentelemetry_sdk, an exporter).
//! let server = Server::builder().plugin(ServerTracing::new()).build();
//! let options = ClientOptions::default().interceptor(ClientTracing::new());
//! # let _ = (server, options);
//! ```
//!
//! # With `tracing` and tracing-opentelemetry
//!
//! The `tracing` feature adds a `tracing` span `rpcx.call` per served call. When both
//! features are on and the application exports `tracing` spans with tracing-opentelemetry's
//! layer, that span is made while the server span is the current OpenTelemetry context, so
//! the layer makes it a child of `rpcx.service.<Service>.<Method>`. For the other direction —
//! a call made inside the application's own `tracing` span — make that span's OpenTelemetry
//! context current around the call (tracing-opentelemetry's `OpenTelemetrySpanExt::context`,
//! then `opentelemetry::context::FutureExt::with_context` on the call's future): the client
//! span is then its child. tracing-opentelemetry is not a dependency of this crate.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use opentelemetry::global::{self, BoxedSpan, BoxedTracer};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    Span, SpanContext, SpanKind, Status, TraceContextExt, TraceFlags, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::{Context as OtelContext, InstrumentationScope, KeyValue};

use crate::client::{ClientCall, ClientInterceptor, RawResponse};
use crate::protocol::Metadata;
use crate::server::{Context, Plugin};
use crate::trace_context::{TraceParent, FLAG_RANDOM, FLAG_SAMPLED, TRACEPARENT, TRACESTATE};
use crate::Error;

/// The instrumentation scope name of the spans made here.
pub const SCOPE: &str = "rpcx";

/// The request metadata as an OpenTelemetry carrier (Go's plugin uses its metadata map the
/// same way).
pub struct MetadataCarrier<'a>(pub &'a mut Metadata);

impl Injector for MetadataCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// Read-only access to request metadata as an OpenTelemetry carrier.
pub struct MetadataExtractor<'a>(pub &'a Metadata);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get_str(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The W3C trace context propagator (`traceparent`, `tracestate`), the default of Go's
/// OpenTelemetry SDK; used when the application installed no global propagator. A malformed
/// `traceparent` is ignored (the server span then starts a new trace).
#[derive(Debug, Clone, Copy, Default)]
pub struct W3cTraceContext;

fn w3c_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()])
}

/// What [`W3cTraceContext`] writes for a context whose span has this span context: nothing
/// for an invalid one, else `traceparent` (its flags as they are, sampled or not) and a
/// non-empty `tracestate`.
fn inject_w3c(sc: &SpanContext, injector: &mut dyn Injector) {
    if !sc.is_valid() {
        return;
    }
    let tp = TraceParent {
        trace_id: sc.trace_id().to_bytes(),
        parent_id: sc.span_id().to_bytes(),
        flags: sc.trace_flags().to_u8() & (FLAG_SAMPLED | FLAG_RANDOM),
    };
    injector.set(TRACEPARENT, tp.to_header());
    let state = sc.trace_state().header();
    if !state.is_empty() {
        injector.set(TRACESTATE, state);
    }
}

impl TextMapPropagator for W3cTraceContext {
    fn inject_context(&self, cx: &OtelContext, injector: &mut dyn Injector) {
        inject_w3c(cx.span().span_context(), injector);
    }

    fn extract_with_context(&self, cx: &OtelContext, extractor: &dyn Extractor) -> OtelContext {
        let Some(Ok(tp)) = extractor.get(TRACEPARENT).map(TraceParent::parse) else {
            return cx.clone();
        };
        let state = extractor
            .get(TRACESTATE)
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let sc = SpanContext::new(
            opentelemetry::trace::TraceId::from_bytes(tp.trace_id),
            opentelemetry::trace::SpanId::from_bytes(tp.parent_id),
            TraceFlags::new(tp.flags & (FLAG_SAMPLED | FLAG_RANDOM)),
            true,
            state,
        );
        cx.with_remote_span_context(sc)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        opentelemetry::propagation::text_map_propagator::FieldIter::new(w3c_fields())
    }
}

/// Which propagator reads and writes the metadata.
#[derive(Clone)]
enum Propagation {
    /// The global one, or [`W3cTraceContext`] while the global one is a no-op.
    Global,
    Given(Arc<dyn TextMapPropagator + Send + Sync>),
}

impl Propagation {
    /// Writes the context of the client span `span` (child of the current context) into
    /// `metadata`, and returns what `after_call` ends: nothing for a span that is not
    /// recorded. With the built-in W3C propagator the span's ids are written directly, and
    /// no context is built around it.
    fn inject(&self, span: BoxedSpan, metadata: &mut Metadata) -> Option<ClientSpan> {
        let mut carrier = MetadataCarrier(metadata);
        let propagator = match self {
            Propagation::Given(p) => Some(p),
            Propagation::Global => None,
        };
        if propagator.is_none() && global::get_text_map_propagator(|p| p.fields().next().is_none())
        {
            inject_w3c(span.span_context(), &mut carrier);
            return span
                .is_recording()
                .then(|| ClientSpan::Span(Mutex::new(span)));
        }
        let cx = OtelContext::current_with_span(span);
        match propagator {
            Some(p) => p.inject_context(&cx, &mut carrier),
            // The global propagator, or W3C again if it was removed meanwhile.
            None => global::get_text_map_propagator(|p| {
                if p.fields().next().is_some() {
                    p.inject_context(&cx, &mut carrier)
                } else {
                    W3cTraceContext.inject_context(&cx, &mut carrier)
                }
            }),
        }
        cx.span().is_recording().then_some(ClientSpan::Context(cx))
    }

    fn extract(&self, metadata: &Metadata) -> OtelContext {
        let carrier = MetadataExtractor(metadata);
        match self {
            Propagation::Given(p) => p.extract(&carrier),
            Propagation::Global => global::get_text_map_propagator(|p| {
                if p.fields().next().is_some() {
                    p.extract(&carrier)
                } else {
                    W3cTraceContext.extract(&carrier)
                }
            }),
        }
    }
}

/// A recorded client span, kept from `before_call` to `after_call`. A span that is not
/// recorded is dropped once its context is in the metadata: ending it would keep nothing,
/// and keeping it would cost an allocation per call.
enum ClientSpan {
    /// The span alone (the W3C propagator needs no context around it); the lock only gives
    /// `after_call`, which sees the call by shared reference, the span to end.
    Span(Mutex<BoxedSpan>),
    /// The span as the current context's child, as a propagator other than the built-in
    /// W3C one was given it.
    Context(OtelContext),
}

impl ClientSpan {
    /// Ends the span, with status error and `error`'s text for a failed call.
    fn end(&self, error: Option<&Error>) {
        let status = error.map(|e| Status::error(e.to_string()));
        match self {
            ClientSpan::Span(span) => {
                let mut span = span.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(status) = status {
                    span.set_status(status);
                }
                span.end();
            }
            ClientSpan::Context(cx) => {
                let span = cx.span();
                if let Some(status) = status {
                    span.set_status(status);
                }
                span.end();
            }
        }
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn boxed_tracer<P>(provider: &P) -> BoxedTracer
where
    P: TracerProvider,
    P::Tracer: Send + Sync + 'static,
    <P::Tracer as Tracer>::Span: Send + Sync + 'static,
{
    BoxedTracer::new(Box::new(provider.tracer_with_scope(scope())))
}

fn attributes(service: &str, method: &str) -> [KeyValue; 3] {
    [
        KeyValue::new("rpc.system", "rpcx"),
        KeyValue::new("rpc.service", service.to_owned()),
        KeyValue::new("rpc.method", method.to_owned()),
    ]
}

/// `<prefix><service>.<method>` in one allocation.
fn span_name(prefix: &str, service: &str, method: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + service.len() + 1 + method.len());
    name.push_str(prefix);
    name.push_str(service);
    name.push('.');
    name.push_str(method);
    name
}

/// Starts a span of `kind` under `parent`. The attributes are set once the sampler decided to
/// record it: a span that is not sampled costs no attribute values.
fn start_span(
    tracer: &BoxedTracer,
    name: String,
    kind: SpanKind,
    parent: &OtelContext,
    attributes: impl FnOnce() -> Vec<KeyValue>,
) -> BoxedSpan {
    let mut span = tracer
        .span_builder(name)
        .with_kind(kind)
        .start_with_context(tracer, parent);
    if span.is_recording() {
        span.set_attributes(attributes());
    }
    span
}

/// `Debug`, `Default`, `new` and the builder methods of [`ClientTracing`] and
/// [`ServerTracing`] (both a tracer and a propagation).
macro_rules! tracing_builders {
    ($ty:ident, $propagated:literal, $propagator_doc:literal) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($ty))
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                $ty::new()
            }
        }

        impl $ty {
            #[doc = concat!(
                "Spans from the global tracer provider as installed now (install it first), ",
                "context ", $propagated, " (W3C trace context while none is installed)."
            )]
            pub fn new() -> $ty {
                $ty {
                    tracer: global::tracer_provider().tracer_with_scope(scope()),
                    propagation: Propagation::Global,
                }
            }

            /// Spans from this tracer provider instead of the global one.
            pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
            where
                P: TracerProvider,
                P::Tracer: Send + Sync + 'static,
                <P::Tracer as Tracer>::Span: Send + Sync + 'static,
            {
                self.tracer = boxed_tracer(provider);
                self
            }

            #[doc = $propagator_doc]
            pub fn with_propagator(
                mut self,
                propagator: impl TextMapPropagator + Send + Sync + 'static,
            ) -> Self {
                self.propagation = Propagation::Given(Arc::new(propagator));
                self
            }
        }
    };
}

/// Client interceptor: a client span per call, its context injected into the request
/// metadata. See the [module docs](self).
pub struct ClientTracing {
    tracer: BoxedTracer,
    propagation: Propagation,
}

tracing_builders!(
    ClientTracing,
    "written by the global propagator",
    "Writes the context with this propagator instead of the global one."
);

impl ClientInterceptor for ClientTracing {
    fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
        let span = OtelContext::map_current(|parent| {
            start_span(
                &self.tracer,
                span_name("rpcx.client.", call.service(), call.method()),
                SpanKind::Client,
                parent,
                || {
                    let mut attrs = attributes(call.service(), call.method()).to_vec();
                    attrs.push(KeyValue::new("server.address", call.server().to_owned()));
                    attrs
                },
            )
        });
        if let Some(recorded) = self.propagation.inject(span, call.metadata_mut()) {
            call.set_local(recorded);
        }
        Ok(())
    }

    fn after_call(&self, call: &ClientCall<'_>, result: Result<&RawResponse, &Error>) {
        // Success leaves the status unset (OpenTelemetry's rule for instrumentation, and what
        // a status the application set itself then keeps).
        if let Some(span) = call.local::<ClientSpan>() {
            span.end(result.err());
        }
    }

    fn reads_metadata_after_call(&self) -> bool {
        false
    }
}

/// Server plugin: a server span per served call, child of the context in the request
/// metadata, current while the handler runs. See the [module docs](self).
pub struct ServerTracing {
    tracer: BoxedTracer,
    propagation: Propagation,
}

tracing_builders!(
    ServerTracing,
    "read by the global propagator",
    "Reads the context with this propagator instead of the global one."
);

impl Plugin for ServerTracing {
    fn name(&self) -> &str {
        "otel"
    }

    fn before_call(&self, ctx: &Context, _payload: &Bytes) -> Result<(), String> {
        // A second otel plugin on the same server keeps the first one's span (and makes none).
        if ctx.inner.otel.get().is_some() {
            return Ok(());
        }
        let parent = self.propagation.extract(ctx.metadata());
        let span = start_span(
            &self.tracer,
            span_name("rpcx.service.", ctx.service(), ctx.method()),
            SpanKind::Server,
            &parent,
            || attributes(ctx.service(), ctx.method()).to_vec(),
        );
        let _ = ctx.inner.otel.set(parent.with_span(span));
        Ok(())
    }

    fn after_call(&self, ctx: &Context, result: Result<&Bytes, &str>) {
        let Some(cx) = ctx.otel_context() else {
            return;
        };
        let span = cx.span();
        // An unrecorded span is not ended: nothing of it is kept, and ending would read the
        // clock for nothing. It goes with the call's context.
        if !span.is_recording() {
            return;
        }
        if let Err(text) = result {
            span.set_status(Status::error(text.to_owned()));
        }
        span.end();
    }
}
