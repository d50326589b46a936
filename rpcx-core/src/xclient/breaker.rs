//! A per-server circuit breaker: after `threshold` consecutive failures the server is skipped
//! for `open_for`; then one probe call is let through (half-open): its success closes the
//! breaker, its failure opens it again.
//!
//! A probe always ends: a [`BreakerPermit`] dropped without a report (its call was cancelled,
//! lost a race or timed out at the caller) counts as a failure, and so does a probe that has
//! not reported within `open_for` of starting.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (0 counts as 1).
    pub threshold: u32,
    /// How long an open breaker refuses calls before a probe, and how long a probe may take
    /// before it counts as failed. Any value works: one too large to add to the current time
    /// (up to [`Duration::MAX`]) keeps an opened breaker open for good.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            threshold: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    /// Refusing calls until `until` (`None`: for good).
    Open {
        until: Option<Instant>,
    },
    /// One probe is in flight; past `expires` it counts as failed.
    HalfOpen {
        expires: Option<Instant>,
    },
}

/// The breaker of one server.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// Leave to make one call through a [`Breaker`]; report its outcome with
/// [`success`](Self::success) or [`failure`](Self::failure). Dropping the permit of a probe
/// without a report counts as a failure; dropping any other permit reports nothing.
#[derive(Debug)]
#[must_use = "a dropped probe permit counts as a failure"]
pub struct BreakerPermit<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

impl BreakerPermit<'_> {
    /// True when this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports a successful call.
    pub fn success(self) {
        self.breaker.success();
        std::mem::forget(self);
    }

    /// Reports a failed call.
    pub fn failure(self) {
        self.breaker.failure();
        std::mem::forget(self);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.failure();
        }
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// The state, after expiring a probe that took too long. A poisoned lock is used as is:
    /// no update leaves the state half-written.
    fn state(&self, now: Instant) -> MutexGuard<'_, State> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let State::HalfOpen {
            expires: Some(at), ..
        } = *s
        {
            if now >= at {
                *s = self.opened(now);
            }
        }
        s
    }

    fn opened(&self, now: Instant) -> State {
        State::Open {
            until: now.checked_add(self.config.open_for),
        }
    }

    /// Closes the breaker at once (the server proved alive otherwise, e.g. by a probe).
    pub fn reset(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = State::Closed { failures: 0 };
    }

    /// Leave for a call to this server now, or `None` while the breaker is open or a probe is
    /// in flight; an expired open breaker lets exactly one probe through.
    pub fn permit(&self) -> Option<BreakerPermit<'_>> {
        let now = Instant::now();
        let mut s = self.state(now);
        let probe = match *s {
            State::Closed { .. } => false,
            State::Open { until: Some(t) } if now >= t => {
                *s = State::HalfOpen {
                    expires: now.checked_add(self.config.open_for),
                };
                true
            }
            State::Open { .. } | State::HalfOpen { .. } => return None,
        };
        Some(BreakerPermit {
            breaker: self,
            probe,
        })
    }

    /// Records a successful call: the breaker closes.
    pub fn success(&self) {
        *self.state(Instant::now()) = State::Closed { failures: 0 };
    }

    /// Records a failed call: counts towards the threshold, or (re)opens the breaker.
    pub fn failure(&self) {
        let now = Instant::now();
        let mut s = self.state(now);
        *s = match *s {
            State::Closed { failures } if failures.saturating_add(1) < self.config.threshold => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            _ => self.opened(now),
        };
    }

    /// True while the server should not be selected: the breaker is open, or its probe is in
    /// flight.
    pub fn is_open(&self) -> bool {
        let now = Instant::now();
        match *self.state(now) {
            State::Closed { .. } => false,
            State::Open { until } => until.is_none_or(|t| now < t),
            State::HalfOpen { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, open_for: Duration) -> Breaker {
        Breaker::new(BreakerConfig {
            threshold,
            open_for,
        })
    }

    /// Polls `cond` every 5 ms until it holds (at most 10 s).
    fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
        for _ in 0..2000 {
            if cond() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("never: {what}");
    }

    #[test]
    fn opens_probes_and_closes() {
        let b = breaker(2, Duration::from_millis(20));
        b.permit().unwrap().failure();
        assert!(!b.is_open());
        b.permit().unwrap().failure();
        assert!(b.permit().is_none() && b.is_open());
        eventually("the open period ends", || !b.is_open());
        let probe = b.permit().expect("one probe");
        assert!(probe.is_probe());
        assert!(b.permit().is_none(), "only one probe");
        probe.failure();
        assert!(b.permit().is_none());
        eventually("the open period ends again", || !b.is_open());
        b.permit().unwrap().success();
        let (p1, p2) = (b.permit().unwrap(), b.permit().unwrap());
        assert!(!p1.is_probe() && !p2.is_probe());
    }

    #[test]
    fn a_dropped_probe_counts_as_failed() {
        let b = breaker(1, Duration::from_millis(20));
        b.permit().unwrap().failure();
        eventually("the open period ends", || !b.is_open());
        drop(b.permit().expect("probe"));
        assert!(b.is_open(), "the dropped probe reopened the breaker");
        assert!(b.permit().is_none());
        eventually("the open period ends again", || !b.is_open());
        b.permit().expect("a new probe").success();
        // A dropped ordinary permit reports nothing.
        drop(b.permit().unwrap());
        assert!(!b.is_open());
    }

    #[test]
    fn a_probe_that_never_reports_expires() {
        let b = breaker(1, Duration::from_millis(20));
        b.permit().unwrap().failure();
        eventually("the open period ends", || !b.is_open());
        let lost = b.permit().expect("probe");
        assert!(b.is_open(), "half-open counts as open for selection");
        // The probe never reports (leaked): after open_for it counts as failed, and after
        // another open_for the next probe goes through.
        std::mem::forget(lost);
        eventually("a new probe", || b.permit().is_some_and(|p| p.is_probe()));
    }

    #[test]
    fn huge_open_for_keeps_the_breaker_open_without_panicking() {
        let b = breaker(1, Duration::MAX);
        b.permit().unwrap().failure();
        assert!(b.is_open());
        assert!(b.permit().is_none());
        b.failure();
        assert!(b.is_open(), "still working after a second failure");
        b.success();
        assert!(!b.is_open() && b.permit().is_some());
    }

    #[test]
    fn threshold_zero_opens_on_the_first_failure() {
        let b = breaker(0, Duration::from_secs(60));
        b.permit().unwrap().failure();
        assert!(b.is_open());
    }
}
