//! Latency statistics of a load run.

use std::time::Duration;

/// Figures of one run, printed as one JSON line with the same fields as the Go benchclient.
#[derive(Debug, Clone)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub latencies_us: Vec<u32>,
    pub first_error: Option<String>,
}

impl Stats {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    /// Nearest-rank percentile in milliseconds (`p` in 0..=100); latencies must be sorted.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let n = self.latencies_us.len();
        let rank = ((p / 100.0) * n as f64).ceil().max(1.0) as usize;
        f64::from(self.latencies_us[rank.min(n) - 1]) / 1000.0
    }

    pub fn mean_ms(&self) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let sum: u64 = self.latencies_us.iter().map(|&v| u64::from(v)).sum();
        sum as f64 / self.latencies_us.len() as f64 / 1000.0
    }

    pub fn to_json(&self, concurrency: usize, pool: usize) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "errors": self.errors,
            "seconds": self.seconds,
            "rps": self.rps(),
            "mean_ms": self.mean_ms(),
            "p50_ms": self.percentile_ms(50.0),
            "p99_ms": self.percentile_ms(99.0),
            "p999_ms": self.percentile_ms(99.9),
            "min_ms": self.percentile_ms(0.0),
            "max_ms": self.percentile_ms(100.0),
            "concurrency": concurrency,
            "pool": pool,
            "first_error": self.first_error,
        })
    }
}

pub fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}
