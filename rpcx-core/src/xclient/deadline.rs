//! The one deadline of an XClient call: dialling, queueing, waiting for replies, pauses
//! between retries, all under it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::Error;

/// When a call must be over, and the timeout it came from (for the error).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// `None`: no deadline (none asked for, or one too far away to represent).
    at: Option<Instant>,
    timeout: Option<Duration>,
}

impl Deadline {
    /// A deadline `timeout` from now. A timeout too large to add to the clock (up to
    /// [`Duration::MAX`]) means no deadline rather than a panic.
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline {
            at: timeout.and_then(|d| Instant::now().checked_add(d)),
            timeout,
        }
    }

    fn expired(&self) -> Error {
        Error::Timeout(self.timeout.unwrap_or_default())
    }

    /// The time left, or [`Error::Timeout`] once the deadline passed. `None` when the call
    /// has no timeout; a timeout too large for a deadline is left whole.
    pub(crate) fn remaining(&self) -> Result<Option<Duration>, Error> {
        match self.at {
            None => Ok(self.timeout),
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(self.expired())
                } else {
                    Ok(Some(left))
                }
            }
        }
    }

    /// Reports a timeout of one attempt (its share of the deadline ran out) as this call's.
    pub(crate) fn attribute(&self, e: Error) -> Error {
        match e {
            Error::Timeout(_) if self.timeout.is_some() => self.expired(),
            other => other,
        }
    }

    /// Runs `work` until the deadline; then it is dropped and the result is
    /// [`Error::Timeout`].
    pub(crate) async fn bound<T>(
        &self,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match self.at {
            None => work.await,
            Some(at) => tokio::time::timeout_at(at, work)
                .await
                .unwrap_or_else(|_| Err(self.expired())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn huge_timeouts_mean_no_deadline() {
        let d = Deadline::after(Some(Duration::MAX));
        assert_eq!(d.remaining().unwrap(), Some(Duration::MAX));
        assert_eq!(d.bound(async { Ok(7) }).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_passed_deadline_reports_the_timeout_asked_for() {
        let d = Deadline::after(Some(Duration::ZERO));
        let e = d.remaining().unwrap_err();
        assert!(matches!(e, Error::Timeout(t) if t.is_zero()), "{e:?}");
        let d = Deadline::after(Some(Duration::from_millis(1)));
        let e = d
            .bound(std::future::pending::<Result<(), Error>>())
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Timeout(t) if t == Duration::from_millis(1)),
            "{e:?}"
        );
    }
}
