//! `--otel MODE` of the server and client: the cost of OpenTelemetry propagation
//! (`rpcx::otel`) on the benchmark workload.
//!
//! - `off`: no tracing plugin or interceptor (the feature is compiled in, unused);
//! - `unsampled`: `ServerTracing` / `ClientTracing` over an SDK tracer provider whose
//!   sampler is `AlwaysOff` — contexts are created, injected and extracted on every call,
//!   spans are not recorded ("sampling off");
//! - `sampled`: the same with `AlwaysOn`: every span is recorded and handed, as it ends, to
//!   an exporter that discards it (the cost of recording, without any exporter's I/O).

use std::sync::Arc;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use rpcx::client::ClientInterceptor;
use rpcx::otel::{ClientTracing, ServerTracing};

/// Which tracing the benchmark runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Unsampled,
    Sampled,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Mode::Off),
            "unsampled" => Ok(Mode::Unsampled),
            "sampled" => Ok(Mode::Sampled),
            other => Err(format!(
                "--otel {other:?}: expected off, unsampled or sampled"
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

fn provider(mode: Mode) -> Option<SdkTracerProvider> {
    let sampler = match mode {
        Mode::Off => return None,
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
pub fn server_plugin(mode: Mode) -> Option<ServerTracing> {
    provider(mode).map(|p| ServerTracing::new().with_tracer_provider(&p))
}

/// The client interceptor of `mode` (`None` for off).
pub fn client_interceptor(mode: Mode) -> Option<Arc<dyn ClientInterceptor>> {
    provider(mode).map(|p| Arc::new(ClientTracing::new().with_tracer_provider(&p)) as _)
}
