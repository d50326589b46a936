//! `--otel MODE` of the server and client: the cost of OpenTelemetry propagation
//! (`rpcx::otel`) on the benchmark workload.
//!
//! - `off`: no tracing plugin or interceptor (the feature is compiled in, unused);
//! - `unsampled`: `ServerTracing` / `ClientTracing` over an SDK tracer provider whose
//!   sampler is `AlwaysOff` — contexts are created, injected and extracted on every call,
//!   spans are not recorded ("sampling off");
//! - `sampled`: the same with `AlwaysOn`: every span is recorded and handed, as it ends, to
//!   an exporter that discards it (the cost of recording, without any exporter's I/O).
//!
//! Two more modes take `unsampled` apart, to see where its cost lies:
//! - `hooks`: a client interceptor and a server plugin that do nothing (the cost of having
//!   any);
//! - `header`: the same hooks carrying a fixed `traceparent` — the client sets it, the
//!   server reads it — with no OpenTelemetry API involved (the cost of the metadata entry).

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use rpcx::client::{ClientCall, ClientInterceptor};
use rpcx::otel::{ClientTracing, ServerTracing};
use rpcx::server::{Context, Plugin};

/// Which tracing the benchmark runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Hooks,
    Header,
    Unsampled,
    Sampled,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Mode::Off),
            "hooks" => Ok(Mode::Hooks),
            "header" => Ok(Mode::Header),
            "unsampled" => Ok(Mode::Unsampled),
            "sampled" => Ok(Mode::Sampled),
            other => Err(format!(
                "--otel {other:?}: expected off, hooks, header, unsampled or sampled"
            )),
        }
    }
}

/// Drops every span it is given.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

/// A W3C `traceparent` as `ClientTracing` sends it (version 00, not sampled).
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

/// The hooks of `hooks` (`header: false`) and `header` (`header: true`).
struct Bare {
    header: bool,
}

impl ClientInterceptor for Bare {
    fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
        if self.header {
            call.set_meta("traceparent", TRACEPARENT);
        }
        Ok(())
    }

    fn reads_metadata_after_call(&self) -> bool {
        false
    }
}

impl Plugin for Bare {
    fn name(&self) -> &str {
        "bare"
    }

    fn before_call(&self, ctx: &Context, _payload: &Bytes) -> Result<(), String> {
        if self.header && ctx.metadata().get_str("traceparent").map(str::len) != Some(55) {
            return Err("rpcx-bench: no traceparent".into());
        }
        Ok(())
    }
}

fn provider(mode: Mode) -> Option<SdkTracerProvider> {
    let sampler = match mode {
        Mode::Off | Mode::Hooks | Mode::Header => return None,
        Mode::Unsampled => Sampler::AlwaysOff,
        Mode::Sampled => Sampler::AlwaysOn,
    };
    Some(
        SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_simple_exporter(Discard)
            .build(),
    )
}

/// The server plugin of `mode` (`None` for off).
pub fn server_plugin(mode: Mode) -> Option<Arc<dyn Plugin>> {
    match mode {
        Mode::Hooks | Mode::Header => Some(Arc::new(Bare {
            header: mode == Mode::Header,
        })),
        _ => provider(mode).map(|p| Arc::new(ServerTracing::new().with_tracer_provider(&p)) as _),
    }
}

/// The client interceptor of `mode` (`None` for off).
pub fn client_interceptor(mode: Mode) -> Option<Arc<dyn ClientInterceptor>> {
    match mode {
        Mode::Hooks | Mode::Header => Some(Arc::new(Bare {
            header: mode == Mode::Header,
        })),
        _ => provider(mode).map(|p| Arc::new(ClientTracing::new().with_tracer_provider(&p)) as _),
    }
}
