//! Call metrics per service and method — calls, errors, a latency histogram — collected by a
//! plugin and exposed as a snapshot or in the Prometheus text format.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::registry_status::RegistryStatusHandle;
use super::{Context, Plugin};

/// Upper bounds (seconds) of the latency histogram buckets; a final `+Inf` bucket is implied.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    errors: AtomicU64,
    micros_sum: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
}

/// The figures of one method.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodStats {
    /// Service path.
    pub service: String,
    /// Method.
    pub method: String,
    /// Calls completed (errors included).
    pub calls: u64,
    /// Calls that ended with an error reply.
    pub errors: u64,
    /// Sum of latencies, seconds.
    pub latency_sum_seconds: f64,
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS`], then `+Inf` (= `calls`).
    pub latency_buckets: Vec<u64>,
}

/// Collects call metrics; add it to a server with
/// `Server::builder().plugin_arc(metrics.clone())` and read it from anywhere.
#[derive(Default)]
pub struct Metrics {
    methods: RwLock<HashMap<(String, String), Arc<Counters>>>,
    registries: RwLock<Vec<RegistryStatusHandle>>,
}

impl Metrics {
    /// An empty collector, shareable between the server and readers.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    fn counters(&self, service: &str, method: &str) -> Option<Arc<Counters>> {
        if let Some(c) = self
            .methods
            .read()
            .ok()?
            .get(&(service.to_owned(), method.to_owned()))
        {
            return Some(Arc::clone(c));
        }
        let mut w = self.methods.write().ok()?;
        Some(Arc::clone(
            w.entry((service.to_owned(), method.to_owned()))
                .or_default(),
        ))
    }

    /// Adds a registry's state to [`prometheus_text`](Self::prometheus_text)
    /// (`rpcx_registry_up`, `rpcx_registry_failures_total`; see
    /// [`registry_status::prometheus_text`](super::registry_status::prometheus_text)). Take
    /// the handle from the registry's `status_handle()`.
    pub fn track_registry(&self, status: RegistryStatusHandle) {
        if let Ok(mut r) = self.registries.write() {
            r.push(status);
        }
    }

    /// Records one call by hand (the plugin hooks call this).
    pub fn record(&self, service: &str, method: &str, seconds: f64, error: bool) {
        let Some(c) = self.counters(service, method) else {
            return;
        };
        c.calls.fetch_add(1, Ordering::Relaxed);
        if error {
            c.errors.fetch_add(1, Ordering::Relaxed);
        }
        c.micros_sum
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        c.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Every method's figures, sorted by service and method.
    pub fn snapshot(&self) -> Vec<MethodStats> {
        let Ok(m) = self.methods.read() else {
            return Vec::new();
        };
        let mut out: Vec<MethodStats> = m
            .iter()
            .map(|((service, method), c)| {
                let mut cumulative = 0;
                let latency_buckets = c
                    .buckets
                    .iter()
                    .map(|b| {
                        cumulative += b.load(Ordering::Relaxed);
                        cumulative
                    })
                    .collect();
                MethodStats {
                    service: service.clone(),
                    method: method.clone(),
                    calls: c.calls.load(Ordering::Relaxed),
                    errors: c.errors.load(Ordering::Relaxed),
                    latency_sum_seconds: c.micros_sum.load(Ordering::Relaxed) as f64 / 1e6,
                    latency_buckets,
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.service, &a.method).cmp(&(&b.service, &b.method)));
        out
    }

    /// The Prometheus text exposition (version 0.0.4) of every method's figures, then the
    /// state of every [tracked](Self::track_registry) registry.
    pub fn prometheus_text(&self) -> String {
        let stats = self.snapshot();
        let mut out = String::new();
        Self::methods_text(&stats, &mut out);
        if let Ok(r) = self.registries.read() {
            let statuses: Vec<_> = r.iter().map(RegistryStatusHandle::get).collect();
            out.push_str(&super::registry_status::prometheus_text(&statuses));
        }
        out
    }

    fn methods_text(stats: &[MethodStats], out: &mut String) {
        let label = |s: &MethodStats| {
            format!(
                "service=\"{}\",method=\"{}\"",
                escape_label(&s.service),
                escape_label(&s.method)
            )
        };
        out.push_str("# HELP rpcx_server_calls_total Calls served.\n# TYPE rpcx_server_calls_total counter\n");
        for s in stats {
            let _ = writeln!(out, "rpcx_server_calls_total{{{}}} {}", label(s), s.calls);
        }
        out.push_str("# HELP rpcx_server_errors_total Calls answered with an error.\n# TYPE rpcx_server_errors_total counter\n");
        for s in stats {
            let _ = writeln!(out, "rpcx_server_errors_total{{{}}} {}", label(s), s.errors);
        }
        out.push_str("# HELP rpcx_server_call_duration_seconds Time from reading a request to its reply.\n# TYPE rpcx_server_call_duration_seconds histogram\n");
        for s in stats {
            let l = label(s);
            for (i, n) in s.latency_buckets.iter().enumerate() {
                let le = LATENCY_BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "rpcx_server_call_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "rpcx_server_call_duration_seconds_sum{{{l}}} {}",
                s.latency_sum_seconds
            );
            let _ = writeln!(
                out,
                "rpcx_server_call_duration_seconds_count{{{l}}} {}",
                s.calls
            );
        }
    }
}

pub(crate) fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Plugin for Metrics {
    fn name(&self) -> &str {
        "metrics"
    }

    fn after_call(&self, ctx: &Context, result: Result<&Bytes, &str>) {
        self.record(
            ctx.service(),
            ctx.method(),
            ctx.received_at().elapsed().as_secs_f64(),
            result.is_err(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_exposes() {
        let m = Metrics::new();
        m.record("Arith", "Mul", 0.0003, false);
        m.record("Arith", "Mul", 2.0, true);
        m.record("Arith", "Div", 0.00001, false);
        let s = m.snapshot();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].method, "Mul");
        assert_eq!((s[1].calls, s[1].errors), (2, 1));
        assert_eq!(*s[1].latency_buckets.last().unwrap(), 2);
        assert_eq!(s[1].latency_buckets[2], 1); // 0.0003 <= 0.0005
        let text = m.prometheus_text();
        assert!(text.contains("rpcx_server_calls_total{service=\"Arith\",method=\"Mul\"} 2"));
        assert!(text.contains("rpcx_server_call_duration_seconds_bucket{service=\"Arith\",method=\"Mul\",le=\"+Inf\"} 2"));
        assert!(text.contains("rpcx_server_errors_total{service=\"Arith\",method=\"Div\"} 0"));
    }
}
