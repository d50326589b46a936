//! A per-server circuit breaker: after `threshold` consecutive failures the server is skipped
//! for `open_for`; then one probe call is let through (half-open): its success closes the
//! breaker, its failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub threshold: u32,
    /// How long an open breaker refuses calls before a probe.
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
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// The breaker of one server.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Whether a call may go to this server now; an expired open breaker lets exactly one
    /// probe through.
    pub fn allow(&self) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return true;
        };
        match *s {
            State::Closed { .. } => true,
            State::HalfOpen => false,
            State::Open { until } if Instant::now() >= until => {
                *s = State::HalfOpen;
                true
            }
            State::Open { .. } => false,
        }
    }

    /// Records a successful call.
    pub fn success(&self) {
        if let Ok(mut s) = self.state.lock() {
            *s = State::Closed { failures: 0 };
        }
    }

    /// Records a transport failure.
    pub fn failure(&self) {
        if let Ok(mut s) = self.state.lock() {
            let open = State::Open {
                until: Instant::now() + self.config.open_for,
            };
            *s = match *s {
                State::Closed { failures } if failures + 1 < self.config.threshold => {
                    State::Closed {
                        failures: failures + 1,
                    }
                }
                _ => open,
            };
        }
    }

    /// True while calls are refused.
    pub fn is_open(&self) -> bool {
        self.state
            .lock()
            .map(|s| matches!(*s, State::Open { until } if Instant::now() < until))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let b = Breaker::new(BreakerConfig {
            threshold: 2,
            open_for: Duration::from_millis(20),
        });
        assert!(b.allow());
        b.failure();
        assert!(b.allow());
        b.failure();
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.allow(), "one probe");
        assert!(!b.allow(), "only one probe");
        b.failure();
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(30));
        assert!(b.allow());
        b.success();
        assert!(b.allow() && b.allow());
    }
}
