//! The dead-server detector of an XClient: a server whose call failed for want of an answer
//! (a timeout, a connection refused, reset or lost) is taken out of rotation at once — calls
//! go to the other servers — while a background probe dials it afresh and sends a heartbeat,
//! retrying with a backoff of [`PROBE_BACKOFF_MIN`] doubling to
//! [`HealthConfig::max_backoff`] (with jitter, so that many clients do not dial in step).
//! The first answered heartbeat brings the server back, on the probe's fresh connection. A
//! frozen or black-holed server thus costs the calls already sent to it, not every other
//! call of the outage, and a server that is down is dialled at the probe's pace, not by every
//! call.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The first pause between two probes of a server out of rotation.
pub const PROBE_BACKOFF_MIN: Duration = Duration::from_millis(200);

/// How an XClient detects dead servers, on by default: a server whose call got no answer
/// (a timeout, a connection refused, reset or lost) leaves the rotation at once, while a
/// background probe dials it afresh and sends a heartbeat, pausing [`PROBE_BACKOFF_MIN`]
/// doubling to [`max_backoff`](Self::max_backoff) (±20 % jitter) between probes; the first
/// answered probe brings it back on the probe's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// How long a probe's heartbeat may take to be answered (after its connection is made,
    /// within the client's `connect_timeout`). Must not be zero.
    pub probe_timeout: Duration,
    /// The longest pause between two probes of a server that keeps failing them. Must not
    /// be less than [`PROBE_BACKOFF_MIN`].
    pub max_backoff: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            probe_timeout: Duration::from_secs(1),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl HealthConfig {
    /// Refuses settings that cannot work, with [`Error::Config`](crate::Error::Config).
    pub fn validate(&self) -> Result<(), crate::Error> {
        if self.probe_timeout.is_zero() {
            return Err(crate::Error::Config(
                "health.probe_timeout must be more than zero".into(),
            ));
        }
        if self.max_backoff < PROBE_BACKOFF_MIN {
            return Err(crate::Error::Config(format!(
                "health.max_backoff must be at least {PROBE_BACKOFF_MIN:?}"
            )));
        }
        Ok(())
    }

    /// The pause after `failed` probes in a row: the minimum doubled each time, capped, with
    /// ±20 % jitter.
    pub(crate) fn backoff(&self, failed: u32) -> Duration {
        let base = PROBE_BACKOFF_MIN
            .saturating_mul(1u32 << failed.min(16))
            .min(self.max_backoff);
        base.mul_f64(0.8 + fastrand::f64() * 0.4)
    }
}

/// The servers out of rotation (and since when), and when each was last brought back.
#[derive(Debug, Default)]
pub(crate) struct Suspects(Mutex<SuspectState>);

#[derive(Debug, Default)]
pub(crate) struct SuspectState {
    out: HashMap<String, Instant>,
    restored: HashMap<String, Instant>,
}

impl Suspects {
    fn lock(&self) -> std::sync::MutexGuard<'_, SuspectState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while `key` is out of rotation.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.lock().out.contains_key(key)
    }

    /// Takes `key` out of rotation after a call started at `started` got no answer; true
    /// when it was not out already (the caller starts the probe). False too when `key` was
    /// brought back after that call started: its failure belongs to the replaced connection.
    pub(crate) fn insert(&self, key: &str, started: Instant) -> bool {
        let mut m = self.lock();
        if m.out.contains_key(key) || m.restored.get(key).is_some_and(|t| *t > started) {
            return false;
        }
        m.out.insert(key.to_owned(), Instant::now());
        true
    }

    /// Brings `key` back; how long it was out.
    pub(crate) fn remove(&self, key: &str) -> Option<Duration> {
        let mut m = self.lock();
        let out = m.out.remove(key).map(|t| t.elapsed());
        if out.is_some() {
            m.restored.insert(key.to_owned(), Instant::now());
        }
        out
    }

    /// Forgets servers no longer listed (their probes end at their next round).
    pub(crate) fn retain(&self, listed: &HashSet<&str>) {
        let mut m = self.lock();
        m.out.retain(|k, _| listed.contains(k.as_str()));
        m.restored.retain(|k, _| listed.contains(k.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter() {
        let c = HealthConfig::default();
        for (failed, base) in [
            (0u32, 200u64),
            (1, 400),
            (2, 800),
            (3, 1600),
            (4, 2000),
            (40, 2000),
        ] {
            let d = c.backoff(failed).as_millis() as u64;
            assert!(
                d >= base * 8 / 10 && d <= base * 12 / 10,
                "{failed}: {d} vs {base}"
            );
        }
        assert!(c.validate().is_ok());
        assert!(HealthConfig {
            probe_timeout: Duration::ZERO,
            ..c
        }
        .validate()
        .is_err());
        assert!(HealthConfig {
            max_backoff: Duration::from_millis(1),
            ..c
        }
        .validate()
        .is_err());
    }

    #[test]
    fn suspects_come_and_go() {
        let s = Suspects::default();
        let before = Instant::now();
        assert!(s.insert("a", before) && !s.insert("a", before) && s.contains("a"));
        assert!(s.remove("a").is_some() && !s.contains("a"));
        // A call that began before the restore cannot take it out again; a later one can.
        assert!(!s.insert("a", before));
        assert!(s.insert("a", Instant::now()));
        s.insert("b", Instant::now());
        s.retain(&HashSet::from(["c"]));
        assert!(!s.contains("b") && !s.contains("a"));
    }
}
