//! Consul's KV store as a [`KvStore`]: ephemeral keys held by one session (`Behavior =
//! delete`) renewed on every refresh; changes followed with blocking queries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, StatusCode};

use super::{KvStore, Listing, StoreError};
use crate::xclient::consul::{consul_error, escape_key, ConsulHttp, OP_TIMEOUT};
use crate::Error;

/// A Consul HTTP client with the registration's session.
pub(crate) struct ConsulStore {
    http: ConsulHttp,
    /// Session TTL in seconds.
    session_ttl: u64,
    /// The current session id, shared with the registry handle.
    session: Arc<Mutex<String>>,
}

/// Go's `time.Duration.String()` for whole seconds (`15s`, `1m0s`, `1h0m0s`).
fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

impl ConsulStore {
    /// A store over `http`; `session_ttl` is the session TTL for registrations (Consul
    /// accepts 10 s – 24 h).
    pub(crate) fn new(http: ConsulHttp, session_ttl: u64) -> ConsulStore {
        ConsulStore {
            http,
            session_ttl,
            session: Arc::default(),
        }
    }

    /// The session id cell, updated whenever a new session is created.
    pub(crate) fn session(&self) -> Arc<Mutex<String>> {
        Arc::clone(&self.session)
    }

    fn session_id(&self) -> String {
        self.session.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl KvStore for ConsulStore {
    /// Renews well within the session TTL (libkv renews on every refresh).
    fn refresh_period(&self) -> Duration {
        Duration::from_secs(self.session_ttl / 3).max(Duration::from_secs(1))
    }

    async fn new_session(&mut self) -> Result<(), Error> {
        let body = serde_json::json!({
            "Name": "rpcx",
            "Behavior": "delete",
            "TTL": go_duration(self.session_ttl),
            "LockDelay": "1ms",
        });
        let a = self
            .http
            .send(
                Method::PUT,
                "/v1/session/create",
                Some(Bytes::from(body.to_string())),
                OP_TIMEOUT,
            )
            .await?;
        if !a.status.is_success() {
            return Err(consul_error(format!(
                "session create: {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            )));
        }
        let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(consul_error)?;
        let id = v
            .get("ID")
            .and_then(|i| i.as_str())
            .ok_or_else(|| consul_error("session create: no ID"))?;
        if let Ok(mut s) = self.session.lock() {
            *s = id.to_owned();
        }
        Ok(())
    }

    /// Renews the session; [`StoreError::Lost`] when Consul no longer knows it (it expired).
    async fn refresh(&mut self) -> Result<(), StoreError> {
        let path = format!("/v1/session/renew/{}", escape_key(&self.session_id()));
        let a = self.http.send(Method::PUT, &path, None, OP_TIMEOUT).await?;
        match a.status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Err(StoreError::Lost(consul_error("session expired"))),
            s => Err(StoreError::Failed(Error::Io(std::io::Error::other(
                format!("session renew: {s}"),
            )))),
        }
    }

    async fn lost(&mut self) {
        std::future::pending().await
    }

    /// Ephemeral keys are acquired with the session; a key held by another session (e.g. a
    /// previous run's, not yet expired) is deleted and acquired again.
    async fn put(&mut self, key: &str, value: &str, ephemeral: bool) -> Result<(), StoreError> {
        if !ephemeral {
            self.http.put(key, value, None).await?;
            return Ok(());
        }
        let session = self.session_id();
        if self.http.put(key, value, Some(&session)).await? {
            return Ok(());
        }
        self.http.delete(key).await?;
        if self.http.put(key, value, Some(&session)).await? {
            Ok(())
        } else {
            Err(StoreError::Failed(consul_error(format!(
                "cannot acquire {key}"
            ))))
        }
    }

    async fn delete(&mut self, key: &str) -> Result<(), Error> {
        self.http.delete(key).await
    }

    async fn list(&mut self, prefix: &str) -> Result<Listing, Error> {
        let (pairs, version) = self.http.list(prefix, None).await?;
        Ok(Listing { pairs, version })
    }

    /// A blocking query (`?index=N&wait=15s`). An index going backwards means "start over"
    /// (Consul's rule): the listing then carries version 0.
    async fn wait_change(&mut self, prefix: &str, since: u64) -> Result<Listing, Error> {
        let (pairs, index) = self.http.list(prefix, Some(since.max(1))).await?;
        let version = if index < since { 0 } else { index };
        Ok(Listing { pairs, version })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_durations() {
        assert_eq!(super::go_duration(15), "15s");
        assert_eq!(super::go_duration(60), "1m0s");
        assert_eq!(super::go_duration(3725), "1h2m5s");
    }
}
