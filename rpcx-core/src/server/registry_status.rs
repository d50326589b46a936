//! What a registry plugin has achieved, readable at any time: whether the server's keys are
//! written on a live lease or session, the last error while they are not, and how many
//! store operations failed. The registration loop of every registry plugin (`rpcx::registry`,
//! with a registry feature) keeps it current; a registry's `status()` reads it, and the
//! server's [`Metrics`](crate::server::Metrics) export it once
//! [tracked](crate::server::Metrics::track_registry).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A snapshot of a registry plugin's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryStatus {
    /// The engine: `"etcd"`, `"consul"`, `"redis"` or `"zookeeper"`.
    pub engine: &'static str,
    /// Where it writes, as configured (endpoints joined with `,`).
    pub target: String,
    /// True when the store answers, the lease or session is alive and every registered
    /// service's keys are written (a server that has not started yet, so has no address to
    /// publish, counts as up once its store answers).
    pub up: bool,
    /// Why it is not up: the store's last error. `None` while up.
    pub last_error: Option<String>,
    /// Store operations (lease or session, write, refresh, delete) that failed since the
    /// registry was created.
    pub failures: u64,
    /// How long it has been down, `None` while up.
    pub down_for: Option<Duration>,
}

#[derive(Debug)]
struct Cell {
    engine: &'static str,
    target: String,
    up: bool,
    last_error: Option<String>,
    failures: u64,
    down_since: Option<Instant>,
}

/// A shared, always-current view of one registry's [`RegistryStatus`]; cheap to clone.
#[derive(Clone, Debug)]
pub struct RegistryStatusHandle(Arc<Mutex<Cell>>);

impl RegistryStatusHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cell> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state.
    pub fn get(&self) -> RegistryStatus {
        let c = self.lock();
        RegistryStatus {
            engine: c.engine,
            target: c.target.clone(),
            up: c.up,
            last_error: if c.up { None } else { c.last_error.clone() },
            failures: c.failures,
            down_for: c.down_since.filter(|_| !c.up).map(|t| t.elapsed()),
        }
    }
}

// The writers are used by the registry plugins, compiled with a registry feature only.
#[cfg_attr(
    not(any(
        feature = "etcd",
        feature = "consul",
        feature = "redis",
        feature = "zookeeper"
    )),
    allow(dead_code)
)]
impl RegistryStatusHandle {
    /// A registry of `engine` writing to `target`, not up yet (no lease or session).
    pub(crate) fn new(engine: &'static str, target: String) -> RegistryStatusHandle {
        RegistryStatusHandle(Arc::new(Mutex::new(Cell {
            engine,
            target,
            up: false,
            last_error: None,
            failures: 0,
            down_since: Some(Instant::now()),
        })))
    }

    /// Counts one failed store operation.
    pub(crate) fn failed(&self, error: &str) {
        let mut c = self.lock();
        c.failures += 1;
        c.last_error = Some(error.to_owned());
    }

    /// Sets whether the registry is up; returns the previous value and, when it comes back
    /// up, how long it was down.
    pub(crate) fn set_up(&self, up: bool) -> (bool, Option<Duration>) {
        let mut c = self.lock();
        let was = c.up;
        c.up = up;
        let mut down_for = None;
        if up {
            down_for = c.down_since.take().map(|t| t.elapsed());
            c.last_error = None;
        } else if was {
            c.down_since = Some(Instant::now());
        }
        (was, down_for)
    }
}

/// The Prometheus text exposition of registries' states: `rpcx_registry_up` (1 or 0) and
/// `rpcx_registry_failures_total`, labelled by engine and target. Empty for no registries.
pub fn prometheus_text(statuses: &[RegistryStatus]) -> String {
    if statuses.is_empty() {
        return String::new();
    }
    let label = |s: &RegistryStatus| {
        format!(
            "registry=\"{}\",target=\"{}\"",
            s.engine,
            super::metrics::escape_label(&s.target)
        )
    };
    let mut out = String::from(
        "# HELP rpcx_registry_up 1 when the registry holds this server's keys on a live lease or session, 0 while it retries.\n# TYPE rpcx_registry_up gauge\n",
    );
    for s in statuses {
        let _ = writeln!(out, "rpcx_registry_up{{{}}} {}", label(s), u8::from(s.up));
    }
    out.push_str("# HELP rpcx_registry_failures_total Registry store operations that failed.\n# TYPE rpcx_registry_failures_total counter\n");
    for s in statuses {
        let _ = writeln!(
            out,
            "rpcx_registry_failures_total{{{}}} {}",
            label(s),
            s.failures
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_and_down_are_tracked_with_their_reason() {
        let h = RegistryStatusHandle::new("etcd", "http://a:1,http://b:2".into());
        let s = h.get();
        assert!(!s.up && s.down_for.is_some() && s.last_error.is_none());
        h.failed("etcd: connection refused");
        assert_eq!(
            h.get().last_error.as_deref(),
            Some("etcd: connection refused")
        );
        assert!(!h.set_up(true).0);
        let s = h.get();
        assert!(s.up && s.last_error.is_none() && s.down_for.is_none());
        assert_eq!(s.failures, 1);
        assert_eq!(h.set_up(false), (true, None));
        let text = prometheus_text(&[h.get()]);
        assert!(text
            .contains("rpcx_registry_up{registry=\"etcd\",target=\"http://a:1,http://b:2\"} 0\n"));
        assert!(text.contains(
            "rpcx_registry_failures_total{registry=\"etcd\",target=\"http://a:1,http://b:2\"} 1\n"
        ));
        assert!(prometheus_text(&[]).is_empty());
    }
}
