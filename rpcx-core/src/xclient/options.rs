//! XClient configuration: fail mode and the options of [`XClient`](super::XClient).

use super::health::HealthConfig;
use std::time::Duration;

use super::breaker::BreakerConfig;
use super::selector::SelectMode;
use crate::client::ClientOptions;
use crate::Error;

/// What to do when a call fails with a transport error (Go's numbers in brackets). Server
/// errors, passed deadlines and malformed replies are never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailMode {
    /// Retry on another server chosen by the selector (0). The default.
    #[default]
    Failover,
    /// Return the first error (1).
    Failfast,
    /// Retry the same server (2).
    Failtry,
    /// If no reply within `backup_latency`, send the same call to a second server and take
    /// whichever answers first (3).
    Failbackup,
}

/// XClient settings; `Default` gives Go's defaults (3 retries, 10 ms backup latency) with
/// RoundRobin and Failover.
///
/// `XClient::new` checks them with [`validate`](Self::validate). Every duration may be as
/// large as [`Duration::MAX`] without overflowing anything; the waits it configures (retry
/// interval, backup latency) never outlast the call's own timeout.
#[derive(Debug, Clone)]
pub struct XClientOptions {
    /// Fail mode.
    pub fail_mode: FailMode,
    /// Select mode (ignored when a custom selector is given).
    pub select_mode: SelectMode,
    /// Retries after the first attempt for Failover and Failtry; at most
    /// [`MAX_RETRIES`](Self::MAX_RETRIES).
    pub retries: usize,
    /// Pause between attempts.
    pub retry_interval: Duration,
    /// Use only servers whose metadata lists this `group`.
    pub group: Option<String>,
    /// Failbackup's wait before the second request.
    pub backup_latency: Duration,
    /// Per-server circuit breaker (`None`: off).
    pub breaker: Option<BreakerConfig>,
    /// The dead-server detector: a server whose call got no answer leaves the rotation until
    /// a probe's heartbeat is answered (see [`HealthConfig`]). On by default; `None`: off
    /// (Go's behaviour: every call may pick a dead server again).
    pub health: Option<HealthConfig>,
    /// Options of each server connection (serialization, auth, heartbeats, gzip…); their
    /// `default_timeout` is also the XClient calls' default timeout.
    pub client: ClientOptions,
    /// Upper bound of broadcast, fork and inform calls (Go: 1 minute).
    pub broadcast_timeout: Duration,
}

impl Default for XClientOptions {
    fn default() -> Self {
        XClientOptions {
            fail_mode: FailMode::Failover,
            select_mode: SelectMode::RoundRobin,
            retries: 3,
            retry_interval: Duration::ZERO,
            group: None,
            backup_latency: Duration::from_millis(10),
            breaker: None,
            health: Some(HealthConfig::default()),
            client: ClientOptions::default(),
            broadcast_timeout: Duration::from_secs(60),
        }
    }
}

impl XClientOptions {
    /// The most [`retries`](Self::retries) accepted. Attempts refused without any I/O (no
    /// server listed, every breaker open) take no time, so an unbounded count would spin.
    pub const MAX_RETRIES: usize = 1000;

    /// Refuses, with [`Error::Config`], more than [`MAX_RETRIES`](Self::MAX_RETRIES) retries
    /// and connection options that [`ClientOptions::validate`] refuses.
    pub fn validate(&self) -> Result<(), Error> {
        self.client.validate()?;
        if self.retries > Self::MAX_RETRIES {
            return Err(Error::Config(format!(
                "retries must be at most {} (got {})",
                Self::MAX_RETRIES,
                self.retries
            )));
        }
        if let Some(h) = &self.health {
            h.validate()?;
        }
        Ok(())
    }
}
