//! Consul KV registry plugin (§5.4), the counterpart of Go's `ConsulRegisterPlugin`.
//!
//! Node keys are held by one Consul session (`Behavior = delete`, `TTL` = half the node TTL
//! as libkv does, at least Consul's minimum of 10 s) that is renewed in the background; when
//! the process dies the session expires and Consul deletes the node keys. Base and service
//! keys are written without a session and stay.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::{Method, StatusCode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{node_key, registry_plugin, Command, Published, Queue};
use crate::xclient::consul::{consul_error, escape_key, service_prefix, ConsulHttp, OP_TIMEOUT};
use crate::Error;

/// Registers a server's services in Consul's KV store (see the [module docs](super)). Node
/// keys are held by one Consul session (`Behavior = delete`, TTL = half the node TTL as libkv
/// does, at least Consul's 10 s) renewed in the background; base and service keys are
/// written without a session. Cheap to clone.
#[derive(Clone)]
pub struct ConsulRegistry {
    pub(super) queue: Queue,
    session: Arc<Mutex<String>>,
}

impl std::fmt::Debug for ConsulRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsulRegistry")
            .field("session", &self.session_id())
            .finish()
    }
}

/// Go's `time.Duration.String()` for whole seconds (`15s`, `1m0s`, `1h0m0s`).
pub(crate) fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

impl ConsulRegistry {
    /// Connects to the Consul agent at `address` (`127.0.0.1:8500`), creates the session and
    /// starts renewing it. `ttl` is the node TTL (Go: UpdateInterval + Expired); the session
    /// TTL is `ttl / 2`, kept within Consul's 10 s – 24 h. An empty `service_address` means
    /// the address the server reports when it starts listening.
    pub async fn connect(
        address: &str,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<ConsulRegistry, Error> {
        ConsulRegistry::start(ConsulHttp::new(address)?, base_path, service_address, ttl).await
    }

    /// Like [`connect`](Self::connect) over TLS (feature `tls`; see
    /// [`ConsulDiscovery::connect_tls`](crate::xclient::ConsulDiscovery::connect_tls)).
    #[cfg(feature = "tls")]
    pub async fn connect_tls(
        address: &str,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
        tls: &crate::transport::tls::ClientTlsConfig,
    ) -> Result<ConsulRegistry, Error> {
        let http = ConsulHttp::with_tls(address, tls)?;
        ConsulRegistry::start(http, base_path, service_address, ttl).await
    }

    async fn start(
        http: ConsulHttp,
        base_path: &str,
        service_address: &str,
        ttl: Duration,
    ) -> Result<ConsulRegistry, Error> {
        let session_ttl = (ttl.as_secs() / 2).clamp(10, 86_400);
        let id = create_session(&http, session_ttl).await?;
        let session = Arc::new(Mutex::new(id));
        let (queue, rx) = Queue::new("consul registry");
        let worker = Worker {
            http,
            base: service_prefix(base_path, ""),
            address: service_address.to_owned(),
            session_ttl,
            session: Arc::clone(&session),
            state: Published::default(),
        };
        tokio::spawn(worker.run(rx, queue.stop.clone()));
        Ok(ConsulRegistry { queue, session })
    }

    /// Publishes `service` with `metadata`.
    pub fn register(&self, service: &str, metadata: &str) {
        self.queue.register(service, metadata);
    }

    /// Deletes `service`'s node key.
    pub fn unregister(&self, service: &str) {
        self.queue.unregister(service);
    }

    /// Waits until every write queued so far has been tried; returns the last error if a
    /// write is still pending.
    pub async fn flush(&self) -> Result<(), Error> {
        self.queue.flush().await
    }

    /// The current session id.
    pub fn session_id(&self) -> String {
        self.session.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops renewing and writing without deleting: the node keys vanish when the session
    /// expires, as if the process had been killed.
    pub fn close(&self) {
        self.queue.stop.cancel();
    }
}

registry_plugin!(ConsulRegistry);

async fn create_session(http: &ConsulHttp, ttl_secs: u64) -> Result<String, Error> {
    let body = serde_json::json!({
        "Name": "rpcx",
        "Behavior": "delete",
        "TTL": go_duration(ttl_secs),
        "LockDelay": "1ms",
    });
    let a = http
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
    v.get("ID")
        .and_then(|i| i.as_str())
        .map(str::to_owned)
        .ok_or_else(|| consul_error("session create: no ID"))
}

struct Worker {
    http: ConsulHttp,
    base: String,
    address: String,
    session_ttl: u64,
    session: Arc<Mutex<String>>,
    state: Published,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>, stop: CancellationToken) {
        // Renew well within the TTL (libkv renews on every refresh).
        let period = Duration::from_secs(self.session_ttl / 3).max(Duration::from_secs(1));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Command::Flush(reply)) => {
                        self.sync().await;
                        let pending = !self.state.dirty.is_empty() || !self.state.deletes.is_empty();
                        let _ = reply.send(match self.state.last_error.clone() {
                            Some(e) if pending => Err(e),
                            _ => Ok(()),
                        });
                    }
                    Some(Command::Started { address }) => {
                        if self.address.is_empty() {
                            self.address = address;
                            self.state.all_dirty();
                        }
                        self.sync().await;
                    }
                    Some(cmd) => {
                        self.state.apply(&cmd);
                        self.sync().await;
                    }
                },
                _ = tick.tick() => {
                    self.renew().await;
                    self.sync().await;
                }
            }
        }
    }

    fn session_id(&self) -> String {
        self.session.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn set_session(&self, id: String) {
        if let Ok(mut s) = self.session.lock() {
            *s = id;
        }
    }

    /// Renews the session; if Consul no longer knows it (it expired), creates a new one and
    /// marks every node key for rewriting.
    async fn renew(&mut self) {
        let id = self.session_id();
        let path = format!("/v1/session/renew/{}", escape_key(&id));
        match self.http.send(Method::PUT, &path, None, OP_TIMEOUT).await {
            Ok(a) if a.status.is_success() => {}
            Ok(a) if a.status == StatusCode::NOT_FOUND => self.new_session().await,
            Ok(a) => self.state.last_error = Some(format!("session renew: {}", a.status)),
            Err(e) => self.state.last_error = Some(e.to_string()),
        }
    }

    async fn new_session(&mut self) {
        match create_session(&self.http, self.session_ttl).await {
            Ok(id) => {
                self.set_session(id);
                self.state.all_dirty();
            }
            Err(e) => self.state.last_error = Some(e.to_string()),
        }
    }

    async fn sync(&mut self) {
        if self.address.is_empty() {
            return;
        }
        let deletes: Vec<String> = self.state.deletes.iter().cloned().collect();
        for service in deletes {
            match self
                .http
                .delete(&node_key(&self.base, &service, &self.address))
                .await
            {
                Ok(()) => {
                    self.state.deletes.remove(&service);
                }
                Err(e) => self.state.last_error = Some(e.to_string()),
            }
        }
        let dirty: Vec<String> = self.state.dirty.iter().cloned().collect();
        for service in dirty {
            let Some(metadata) = self.state.services.get(&service).cloned() else {
                self.state.dirty.remove(&service);
                continue;
            };
            match self.publish(&service, &metadata).await {
                Ok(()) => {
                    self.state.dirty.remove(&service);
                }
                Err(e) => self.state.last_error = Some(e.to_string()),
            }
        }
        if self.state.dirty.is_empty() && self.state.deletes.is_empty() {
            self.state.last_error = None;
        }
    }

    async fn publish(&self, service: &str, metadata: &str) -> Result<(), Error> {
        self.http.put(&self.base, "rpcx_path", None).await?;
        self.http
            .put(&format!("{}/{service}", self.base), service, None)
            .await?;
        let node = node_key(&self.base, service, &self.address);
        let session = self.session_id();
        if self.http.put(&node, metadata, Some(&session)).await? {
            return Ok(());
        }
        // Held by another session (e.g. a previous run's, not yet expired): take it over.
        self.http.delete(&node).await?;
        if self.http.put(&node, metadata, Some(&session)).await? {
            Ok(())
        } else {
            Err(consul_error(format!("cannot acquire {node}")))
        }
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
