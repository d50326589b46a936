//! XClient: calls to one service over a set of servers from a [`Discovery`], with a select
//! mode, a fail mode, one cached connection per server, per-server circuit breakers, and
//! broadcast / fork / inform.
//!
//! ```no_run
//! use rpcx::arith::{Args, Reply};
//! use rpcx::xclient::{FailMode, MultipleServers, SelectMode, XClient, XClientOptions};
//!
//! # async fn run() -> Result<(), rpcx::Error> {
//! let servers = MultipleServers::from_addresses(["tcp@127.0.0.1:8972", "tcp@127.0.0.1:8973"]);
//! let options = XClientOptions {
//!     select_mode: SelectMode::RoundRobin,
//!     fail_mode: FailMode::Failover,
//!     ..Default::default()
//! };
//! let xc = XClient::new("Arith", servers, options)?;
//! let reply: Reply = xc.call("Mul", &Args { a: 7, b: 8 }).await?;
//! # Ok(()) }
//! ```

mod breaker;
#[cfg(feature = "consul")]
pub(crate) mod consul;
#[cfg(feature = "consul")]
mod consul_conn;
mod deadline;
mod discovery;
#[cfg(feature = "dns")]
mod dns;
#[cfg(feature = "etcd")]
pub(crate) mod etcd;
mod health;
mod icmp;
mod meta;
mod options;
mod push;
#[cfg(feature = "redis")]
mod redis;
mod rtt;
mod selector;
#[cfg(test)]
mod tests;
#[cfg(any(
    feature = "etcd",
    feature = "consul",
    feature = "redis",
    feature = "zookeeper"
))]
mod watched;
#[cfg(feature = "zookeeper")]
mod zookeeper;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio_util::sync::CancellationToken;

pub use breaker::{Breaker, BreakerConfig, BreakerPermit};
#[cfg(feature = "consul")]
pub use consul::ConsulDiscovery;
pub use discovery::{Discovery, MultipleServers, Peer, ServerEntry};
#[cfg(feature = "dns")]
pub use dns::DnsDiscovery;
#[cfg(all(feature = "etcd", feature = "tls"))]
pub use etcd::etcd_connect_tls;
#[cfg(feature = "etcd")]
pub use etcd::{etcd_connect, EtcdClient, EtcdDiscovery};
pub use health::{HealthConfig, PROBE_BACKOFF_MIN};
pub use meta::{passes_filter, ServerMeta};
pub use options::{FailMode, XClientOptions};
pub use push::ServerPush;
#[cfg(feature = "redis")]
pub use redis::RedisDiscovery;
pub use rtt::{HeartbeatRtt, HEARTBEAT_RTT_INTERVAL, UNANSWERED};
pub use selector::{
    fnv1a64, haversine_m, jump_hash, rtt_weight, Closest, ConsistentHash, RandomSelector,
    RoundRobin, RttProbe, RttSample, SelectMode, SelectRequest, Selector, WeightedRoundRobin,
    WeightedRtt,
};
#[cfg(feature = "zookeeper")]
pub use zookeeper::ZookeeperDiscovery;

use crate::client::{CallOptions, Client, RawRequest, RawResponse, Response};
use crate::codec::Codable;
use crate::protocol::{Metadata, SerializeType};
use crate::Error;
use deadline::Deadline;

/// One server's outcome of an [`inform`](XClient::inform) call.
#[derive(Debug)]
pub struct Receipt<R> {
    /// The server key (`tcp@host:port`).
    pub server: String,
    /// Its reply or error.
    pub result: Result<R, Error>,
}

type ClientCell = Arc<tokio::sync::OnceCell<Client>>;

struct Inner {
    service: String,
    discovery: Arc<dyn Discovery>,
    selector: Arc<dyn Selector>,
    servers: RwLock<Arc<Vec<ServerEntry>>>,
    clients: Mutex<HashMap<String, ClientCell>>,
    breakers: Mutex<HashMap<String, Arc<Breaker>>>,
    /// Servers out of rotation while a probe checks them (the dead-server detector).
    suspects: health::Suspects,
    /// This XClient's own handle, for the probe tasks it starts.
    me: Weak<Inner>,
    /// The runtime the XClient was made on, where its background tasks run.
    rt: tokio::runtime::Handle,
    options: XClientOptions,
    stop: CancellationToken,
    pushes: push::Pushes,
}

/// A client of one service over many servers. Cheap to clone; must be created inside a tokio
/// runtime (it watches the discovery in a task).
#[derive(Clone)]
pub struct XClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for XClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XClient")
            .field("service", &self.inner.service)
            .field("servers", &self.servers().len())
            .finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl XClient {
    /// An XClient for `service` using `options.select_mode`. Options that cannot work are
    /// refused with [`Error::Config`] (see [`XClientOptions::validate`]).
    pub fn new(
        service: &str,
        discovery: impl Discovery,
        options: XClientOptions,
    ) -> Result<XClient, Error> {
        let selector = options.select_mode.build();
        XClient::with_selector(service, Arc::new(discovery), selector, options)
    }

    /// An XClient with a custom selector and a shared discovery.
    pub fn with_selector(
        service: &str,
        discovery: Arc<dyn Discovery>,
        selector: Arc<dyn Selector>,
        options: XClientOptions,
    ) -> Result<XClient, Error> {
        options.validate()?;
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("XClient must be created inside a tokio runtime".into()))?;
        let mut rx = discovery.subscribe();
        let inner = Arc::new_cyclic(|me| Inner {
            service: service.to_owned(),
            discovery,
            selector,
            servers: RwLock::new(Arc::new(Vec::new())),
            clients: Mutex::new(HashMap::new()),
            breakers: Mutex::new(HashMap::new()),
            suspects: health::Suspects::default(),
            me: me.clone(),
            rt: rt.clone(),
            pushes: push::Pushes::new(options.client.push_capacity()),
            options,
            stop: CancellationToken::new(),
        });
        let first = rx.borrow_and_update().clone();
        inner.apply(first);
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        let stop = inner.stop.clone();
        rt.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    r = rx.changed() => if r.is_err() { break },
                }
                let list = rx.borrow_and_update().clone();
                match weak.upgrade() {
                    Some(inner) => inner.apply(list),
                    None => break,
                }
            }
        });
        if let Some(every) = inner.selector.rtt_interval() {
            rt.spawn(measure_rtts(Arc::downgrade(&inner), every));
        }
        Ok(XClient { inner })
    }

    /// The connection options of this XClient's servers (file transfer and streams dial with
    /// them).
    pub(crate) fn client_options(&self) -> &crate::client::ClientOptions {
        &self.inner.options.client
    }

    /// The service path.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The servers currently in use (after state and group filtering).
    pub fn servers(&self) -> Vec<ServerEntry> {
        self.inner
            .servers
            .read()
            .map(|s| s.as_ref().clone())
            .unwrap_or_default()
    }

    /// Calls `method` with the configured fail mode.
    pub async fn call<A: Codable, R: Codable>(&self, method: &str, args: &A) -> Result<R, Error> {
        self.call_with(method, args, CallOptions::default())
            .await
            .map(|r| r.reply)
    }

    /// Calls with per-call options; returns the reply and response metadata.
    pub async fn call_with<A: Codable, R: Codable>(
        &self,
        method: &str,
        args: &A,
        options: CallOptions,
    ) -> Result<Response<R>, Error> {
        let st = self.serialize_type(&options);
        let payload = encode(args, st)?;
        let raw = self.call_raw(method, st, payload, options).await?;
        Ok(Response {
            reply: R::decode_as(st, &raw.payload)?,
            metadata: raw.metadata,
        })
    }

    /// Calls with an encoded payload; the base of every other call method.
    ///
    /// The timeout (`options.timeout`, else the connection options' `default_timeout`) is
    /// one deadline for the whole call: dialling, queueing, replies, retries and the pauses
    /// between them. A reply that breaks the connection's limits fails this call with
    /// [`Error::Protocol`] and is not retried.
    pub async fn call_raw(
        &self,
        method: &str,
        serialize_type: SerializeType,
        payload: Bytes,
        options: CallOptions,
    ) -> Result<RawResponse, Error> {
        let inner = &self.inner;
        let call = Call {
            method,
            serialize_type,
            payload: &payload,
            metadata: &options.metadata,
            deadline: Deadline::after(options.timeout.or(inner.options.client.default_timeout)),
        };
        inner
            .guarded(call.deadline, async {
                match inner.options.fail_mode {
                    FailMode::Failfast => {
                        let key = inner.select(&call, &[]).ok_or(Error::NoServer)?;
                        inner.call_once(&key, &call).await
                    }
                    FailMode::Failover => inner.retrying(&call, false).await,
                    FailMode::Failtry => inner.retrying(&call, true).await,
                    FailMode::Failbackup => inner.backup(&call).await,
                }
            })
            .await
    }

    /// Sends a oneway request to one selected server (no fail mode, like Go's `Oneshot`).
    pub async fn send<A: Codable>(&self, method: &str, args: &A) -> Result<(), Error> {
        let st = self.inner.options.client.serialize_type;
        let payload = encode(args, st)?;
        self.send_raw(method, st, payload, CallOptions::default())
            .await
    }

    /// Raw [`send`](Self::send): an encoded payload with request metadata. Nothing waits
    /// for a reply; the timeout (`options.timeout`, else the default) bounds dialling and
    /// queueing the request.
    pub async fn send_raw(
        &self,
        method: &str,
        serialize_type: SerializeType,
        payload: Bytes,
        options: CallOptions,
    ) -> Result<(), Error> {
        let inner = &self.inner;
        let call = Call {
            method,
            serialize_type,
            payload: &payload,
            metadata: &options.metadata,
            deadline: Deadline::after(options.timeout.or(inner.options.client.default_timeout)),
        };
        inner
            .guarded(call.deadline, async {
                let key = inner.select(&call, &[]).ok_or(Error::NoServer)?;
                let client = inner.client(&key).await?;
                let mut req = call.request(&inner.service);
                req.timeout = call.deadline.remaining()?;
                let r = client.send_raw(req).await;
                r.map_err(|e| call.deadline.attribute(e))
            })
            .await
    }

    /// Calls every server; succeeds only if all do (returning the first reply) and fails as
    /// soon as one fails, as Go's `Broadcast`.
    pub async fn broadcast<A: Codable, R: Codable>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<R, Error> {
        let st = self.inner.options.client.serialize_type;
        let raw = self
            .broadcast_raw(method, st, encode(args, st)?, CallOptions::default())
            .await?;
        Ok(R::decode_as(st, &raw.payload)?)
    }

    /// Calls every server; returns the first success, or an error when all fail (Go's `Fork`).
    pub async fn fork<A: Codable, R: Codable>(&self, method: &str, args: &A) -> Result<R, Error> {
        let st = self.inner.options.client.serialize_type;
        let raw = self
            .fork_raw(method, st, encode(args, st)?, CallOptions::default())
            .await?;
        Ok(R::decode_as(st, &raw.payload)?)
    }

    /// Calls every server and returns each one's outcome (Go's `Inform`).
    pub async fn inform<A: Codable, R: Codable>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<Vec<Receipt<R>>, Error> {
        let st = self.inner.options.client.serialize_type;
        let receipts = self
            .inform_raw(method, st, encode(args, st)?, CallOptions::default())
            .await?;
        Ok(receipts
            .into_iter()
            .map(|r| Receipt {
                server: r.server,
                result: r
                    .result
                    .and_then(|raw| R::decode_as(st, &raw.payload).map_err(Error::from)),
            })
            .collect())
    }

    /// Raw [`broadcast`](Self::broadcast).
    pub async fn broadcast_raw(
        &self,
        method: &str,
        serialize_type: SerializeType,
        payload: Bytes,
        options: CallOptions,
    ) -> Result<RawResponse, Error> {
        let mut all = self
            .inner
            .fan_out(method, serialize_type, payload, options)?;
        let mut first = None;
        while let Some(r) = all.next().await {
            let resp = r.result?;
            first.get_or_insert(resp);
        }
        first.ok_or(Error::NoServer)
    }

    /// Raw [`fork`](Self::fork).
    pub async fn fork_raw(
        &self,
        method: &str,
        serialize_type: SerializeType,
        payload: Bytes,
        options: CallOptions,
    ) -> Result<RawResponse, Error> {
        let mut all = self
            .inner
            .fan_out(method, serialize_type, payload, options)?;
        let mut last = Error::NoServer;
        while let Some(r) = all.next().await {
            match r.result {
                Ok(resp) => return Ok(resp),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Raw [`inform`](Self::inform).
    pub async fn inform_raw(
        &self,
        method: &str,
        serialize_type: SerializeType,
        payload: Bytes,
        options: CallOptions,
    ) -> Result<Vec<Receipt<RawResponse>>, Error> {
        let all = self
            .inner
            .fan_out(method, serialize_type, payload, options)?;
        let mut receipts: Vec<Receipt<RawResponse>> = all.collect().await;
        receipts.sort_by(|a, b| a.server.cmp(&b.server));
        Ok(receipts)
    }

    /// Takes the receiver of server pushes: the oneway requests any server sends on any of
    /// this XClient's connections, each with the server it came from, like Go's
    /// `NewBidirectionalXClient` channel. Up to `options.client.push_buffer` pushes wait
    /// here (and as many per connection); more are dropped. Returns `None` after the first
    /// call. The receiver ends (`recv` gives `None`) once the XClient is closed and the
    /// pushes its connections had received are drained.
    pub fn take_pushes(&self) -> Option<tokio::sync::mpsc::Receiver<ServerPush>> {
        self.inner.pushes.take()
    }

    /// Closes every cached connection and stops watching the discovery. Calls in flight end
    /// at once with [`Error::XClientShutdown`] (their retries stop without dialling), and so
    /// does every later call. Idempotent.
    pub fn close(&self) {
        self.inner.stop.cancel();
        self.inner.pushes.close();
        let clients: Vec<ClientCell> = lock(&self.inner.clients).drain().map(|(_, c)| c).collect();
        for c in clients {
            if let Some(client) = c.get() {
                client.close();
            }
        }
    }

    /// The discovery this client watches.
    pub fn discovery(&self) -> &Arc<dyn Discovery> {
        &self.inner.discovery
    }

    fn serialize_type(&self, options: &CallOptions) -> SerializeType {
        options
            .serialize_type
            .unwrap_or(self.inner.options.client.serialize_type)
    }
}

fn encode<A: Codable>(args: &A, st: SerializeType) -> Result<Bytes, Error> {
    let mut out = Vec::new();
    args.encode_as(st, &mut out)?;
    Ok(out.into())
}

/// Locks `m`, going on with a poisoned one: every update under these locks is a single
/// assignment or map operation, so a panic elsewhere cannot leave them half-done.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One logical call, shared by its attempts.
struct Call<'a> {
    method: &'a str,
    serialize_type: SerializeType,
    payload: &'a Bytes,
    metadata: &'a Metadata,
    deadline: Deadline,
}

impl Call<'_> {
    fn request(&self, service: &str) -> RawRequest {
        RawRequest {
            service: service.to_owned(),
            method: self.method.to_owned(),
            serialize_type: self.serialize_type,
            metadata: self.metadata.clone(),
            payload: self.payload.clone(),
            timeout: None,
        }
    }
}

/// Whether a call's outcome counts against its server's breaker: transport failures and
/// timeouts do; answers (errors included) do not.
fn breaker_failure(result: &Result<RawResponse, Error>) -> bool {
    matches!(result, Err(e) if e.is_retryable() || matches!(e, Error::Timeout(_)))
}

/// Probes a server out of rotation until a fresh connection answers a heartbeat (then the
/// server is restored on it), the server leaves the list, or the XClient closes. Pauses
/// between probes back off (see [`HealthConfig::backoff`]).
async fn probe(inner: Weak<Inner>, key: String, config: HealthConfig) {
    let mut failed = 0u32;
    loop {
        let Some(me) = inner.upgrade() else { return };
        if me.stop.is_cancelled() || !me.suspects.contains(&key) {
            me.suspects.remove(&key);
            return;
        }
        let stop = me.stop.clone();
        let bound = me
            .options
            .client
            .connect_timeout
            .saturating_add(config.probe_timeout);
        let attempt = async {
            let client = me.connect(&key).await?;
            match client.heartbeat(config.probe_timeout).await {
                Ok(_) => Ok(client),
                Err(e) => {
                    client.close();
                    Err(e)
                }
            }
        };
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            r = tokio::time::timeout(bound, attempt) => r,
        };
        if let Ok(Ok(client)) = outcome {
            me.restore(&key, client);
            return;
        }
        drop(me);
        let pause = config.backoff(failed);
        failed = failed.saturating_add(1);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Every `every`, sends a heartbeat on the connection to each listed server (dialling it
/// if needed; servers out of rotation are left to their probe) and reports the round trips
/// to the selector, until the XClient closes.
async fn measure_rtts(inner: Weak<Inner>, every: std::time::Duration) {
    loop {
        let stop = match inner.upgrade() {
            Some(me) => me.stop.clone(),
            None => return,
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let Some(me) = inner.upgrade() else { return };
        let keys: Vec<String> = me
            .servers
            .read()
            .map(|s| s.iter().map(|e| e.key.clone()).collect())
            .unwrap_or_default();
        let wait = every.max(std::time::Duration::from_secs(1));
        let rounds = keys.iter().filter(|k| !me.suspects.contains(k)).map(|k| {
            let me = Arc::clone(&me);
            async move {
                let rtt = async {
                    let client = me.client(k).await?;
                    client.heartbeat(wait).await
                };
                let rtt = tokio::time::timeout(wait.saturating_mul(2), rtt).await;
                me.selector.observe_rtt(k, rtt.ok().and_then(Result::ok));
            }
        });
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = futures_util::future::join_all(rounds) => {}
        }
    }
}

/// The line a server taken out of rotation logs.
fn log_suspect(service: &str, key: &str) {
    tracing::warn!(service = %service, server = %key, "rpcx: server not answering; out of rotation while probed");
}

/// The line a server brought back logs.
fn log_restored(service: &str, key: &str, out_for: std::time::Duration) {
    tracing::info!(service = %service, server = %key, out_for = ?out_for, "rpcx: server answers again; back in rotation");
}

type FanOut = FuturesUnordered<futures_util::future::BoxFuture<'static, Receipt<RawResponse>>>;

impl Inner {
    /// Takes a new server list: the selector, the cached connections and the breakers follow
    /// it (a server that leaves loses its breaker, so one that comes back starts closed).
    fn apply(&self, list: Vec<ServerEntry>) {
        let group = self.options.group.as_deref();
        let filtered: Arc<Vec<ServerEntry>> = Arc::new(
            list.into_iter()
                .filter(|s| passes_filter(&s.meta(), group))
                .collect(),
        );
        self.selector.update(&filtered);
        let listed: HashSet<&str> = filtered.iter().map(|s| s.key.as_str()).collect();
        if let Some(config) = self.options.breaker {
            let mut breakers = lock(&self.breakers);
            breakers.retain(|k, _| listed.contains(k.as_str()));
            for k in &listed {
                if !breakers.contains_key(*k) {
                    breakers.insert((*k).to_owned(), Arc::new(Breaker::new(config)));
                }
            }
        }
        // The list first, then the cache: `client` caches a connection only for a listed
        // server, checking the list under the cache's lock.
        *self.servers.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&filtered);
        // Calls in flight keep their own handle on a removed server's client; the
        // connection closes when the last of them finishes.
        lock(&self.clients).retain(|k, _| listed.contains(k.as_str()));
        self.suspects.retain(&listed);
    }

    fn is_listed(&self, key: &str) -> bool {
        self.servers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|s| s.key == key)
    }

    /// The breaker of a listed server (`None` when breakers are off or the server has left).
    fn breaker(&self, key: &str) -> Option<Arc<Breaker>> {
        self.options.breaker?;
        lock(&self.breakers).get(key).cloned()
    }

    /// Runs one call's `work` under its deadline, ending it with
    /// [`Error::XClientShutdown`] as soon as the XClient is closed.
    async fn guarded<T>(
        &self,
        deadline: Deadline,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if self.stop.is_cancelled() {
            return Err(Error::XClientShutdown);
        }
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => Err(Error::XClientShutdown),
            r = deadline.bound(work) => r,
        }
    }

    /// Picks a server, avoiding `exclude`, servers whose breaker is open (or probing) and
    /// servers out of rotation (dead-server detector) when another candidate exists.
    fn select(&self, call: &Call<'_>, exclude: &[String]) -> Option<String> {
        let req = SelectRequest {
            service: &self.service,
            method: call.method,
            args: call.payload,
        };
        let tries = self.servers.read().map(|s| s.len()).unwrap_or(1).max(1) + 1;
        let usable = |k: &str| {
            !exclude.iter().any(|e| e == k)
                && !self.breaker(k).is_some_and(|b| b.is_open())
                && !self.suspects.contains(k)
        };
        let mut pick = None;
        for _ in 0..tries {
            let k = self.selector.select(&req)?;
            if usable(&k) {
                return Some(k);
            }
            pick.get_or_insert(k);
        }
        // The selector kept naming unusable servers (a weighted one may favour a dead
        // server): any usable one is better; only when there is none, its own pick.
        let listed = self
            .servers
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default();
        listed
            .iter()
            .find(|e| usable(&e.key))
            .map(|e| e.key.clone())
            .or(pick)
    }

    /// The cached connection to `key`, dialing it (once, however many callers wait) if needed.
    /// A server no longer listed gets a connection of its own, closed when the caller drops it.
    async fn client(&self, key: &str) -> Result<Client, Error> {
        let mut why = None;
        for _ in 0..2 {
            let cell = {
                let mut m = lock(&self.clients);
                // Checked under the lock `close` drains: no connection is cached after it.
                if self.stop.is_cancelled() {
                    return Err(Error::XClientShutdown);
                }
                match m.get(key) {
                    Some(c) => Some(Arc::clone(c)),
                    None if self.is_listed(key) => {
                        Some(Arc::clone(m.entry(key.to_owned()).or_default()))
                    }
                    None => None,
                }
            };
            let Some(cell) = cell else {
                return self.connect(key).await;
            };
            let result = cell.get_or_try_init(|| self.connect(key)).await;
            match result {
                Ok(c) if !c.is_closed() => return Ok(c.clone()),
                Ok(c) => {
                    why = c.closed_reason();
                    self.forget(key, &cell);
                }
                Err(e) => {
                    self.forget(key, &cell);
                    return Err(e);
                }
            }
        }
        // The reason of the last closed connection (e.g. a TLS alert: with TLS 1.3 a server
        // refuses a client certificate after the client's handshake is done).
        Err(Error::ConnectionLost(match why {
            Some(e) => format!("connection to {key} keeps closing: {e}"),
            None => format!("connection to {key} keeps closing"),
        }))
    }

    /// A new connection to `key`, its pushes forwarded to the XClient's.
    async fn connect(&self, key: &str) -> Result<Client, Error> {
        let client = Client::connect(key, self.options.client.clone()).await?;
        self.pushes.forward(key, &client);
        Ok(client)
    }

    fn forget(&self, key: &str, cell: &ClientCell) {
        let mut m = lock(&self.clients);
        if m.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            m.remove(key);
        }
    }

    /// Closes a connection a call found broken and uncaches it, unless another task has
    /// already replaced it with a fresh one.
    fn evict(&self, key: &str, client: &Client) {
        client.close();
        let mut m = lock(&self.clients);
        let same = m
            .get(key)
            .and_then(|cell| cell.get())
            .is_some_and(|cached| cached.same_connection(client));
        if same {
            m.remove(key);
        }
    }

    async fn call_once(&self, key: &str, call: &Call<'_>) -> Result<RawResponse, Error> {
        call.deadline.remaining()?;
        let breaker = self.breaker(key);
        // Held until the outcome is known; dropped early (this call cancelled), a probe's
        // permit reports a failure.
        let permit = match &breaker {
            None => None,
            Some(b) => Some(
                b.permit()
                    .ok_or_else(|| Error::BreakerOpen(key.to_owned()))?,
            ),
        };
        let started = std::time::Instant::now();
        let result = self.attempt(key, call).await;
        let unanswered = breaker_failure(&result);
        if let Some(p) = permit {
            if unanswered {
                p.failure();
            } else {
                p.success();
            }
        }
        if unanswered {
            self.suspect(key, started);
        }
        result
    }

    /// Takes `key` out of rotation and starts its probe (dead-server detector) after a call
    /// started at `started` got no answer — unless the detector is off, the server is out
    /// already, or it was restored after that call began (a late failure of the connection
    /// the probe replaced). The probe runs on the XClient's runtime.
    fn suspect(&self, key: &str, started: std::time::Instant) {
        let Some(config) = self.options.health else {
            return;
        };
        if !self.is_listed(key) || !self.suspects.insert(key, started) {
            return;
        }
        // `apply` may have delisted it meanwhile: a suspect without a listing has no probe.
        if !self.is_listed(key) {
            self.suspects.remove(key);
            return;
        }
        // A weighted selector must not keep favouring it on an old estimate.
        self.selector.observe_rtt(key, None);
        log_suspect(&self.service, key);
        self.rt
            .spawn(probe(self.me.clone(), key.to_owned(), config));
    }

    /// Brings `key` back on the probe's connection `client`, which replaces the cached one
    /// (calls in flight on the old connection keep it until they end).
    fn restore(&self, key: &str, client: Client) {
        {
            let mut m = lock(&self.clients);
            if self.stop.is_cancelled() || !self.is_listed(key) {
                client.close();
                self.suspects.remove(key);
                return;
            }
            let cell: ClientCell = Arc::new(tokio::sync::OnceCell::new_with(Some(client)));
            m.insert(key.to_owned(), cell);
        }
        if let Some(b) = self.breaker(key) {
            b.reset();
        }
        if let Some(out_for) = self.suspects.remove(key) {
            log_restored(&self.service, key, out_for);
        }
    }

    async fn attempt(&self, key: &str, call: &Call<'_>) -> Result<RawResponse, Error> {
        let client = self.client(key).await?;
        let mut req = call.request(&self.service);
        req.timeout = call.deadline.remaining()?;
        let r = client.call_raw(req).await;
        if r.as_ref().err().is_some_and(Error::is_retryable) {
            self.evict(key, &client);
        }
        r.map_err(|e| call.deadline.attribute(e))
    }

    async fn retrying(&self, call: &Call<'_>, same_server: bool) -> Result<RawResponse, Error> {
        let mut failed: Vec<String> = Vec::new();
        let mut last = Error::NoServer;
        let mut key = None;
        for attempt in 0..=self.options.retries {
            if attempt > 0 && !self.options.retry_interval.is_zero() {
                tokio::time::sleep(self.options.retry_interval).await;
            }
            call.deadline.remaining()?;
            if !same_server || key.is_none() {
                key = self.select(call, &failed);
            }
            let Some(k) = key.as_deref() else {
                continue;
            };
            match self.call_once(k, call).await {
                Ok(r) => return Ok(r),
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => {
                    failed.push(k.to_owned());
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn backup(&self, call: &Call<'_>) -> Result<RawResponse, Error> {
        let first_key = self.select(call, &[]).ok_or(Error::NoServer)?;
        let first = self.call_once(&first_key, call);
        tokio::pin!(first);
        tokio::select! {
            r = &mut first => return r,
            _ = tokio::time::sleep(self.options.backup_latency) => {}
        }
        let Some(second_key) = self.select(call, std::slice::from_ref(&first_key)) else {
            return first.await;
        };
        let second = self.call_once(&second_key, call);
        tokio::pin!(second);
        tokio::select! {
            r = &mut first => r,
            r = &mut second => r,
        }
    }

    fn fan_out(
        self: &Arc<Self>,
        method: &str,
        serialize_type: SerializeType,
        payload: Bytes,
        options: CallOptions,
    ) -> Result<FanOut, Error> {
        if self.stop.is_cancelled() {
            return Err(Error::XClientShutdown);
        }
        let servers = self
            .servers
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_default();
        if servers.is_empty() {
            return Err(Error::NoServer);
        }
        let limit = options.timeout.map_or(self.options.broadcast_timeout, |t| {
            t.min(self.options.broadcast_timeout)
        });
        let deadline = Deadline::after(Some(limit));
        let all = FuturesUnordered::new();
        for s in servers.iter() {
            let inner = Arc::clone(self);
            let key = s.key.clone();
            let method = method.to_owned();
            let payload = payload.clone();
            let metadata = options.metadata.clone();
            all.push(Box::pin(async move {
                let call = Call {
                    method: &method,
                    serialize_type,
                    payload: &payload,
                    metadata: &metadata,
                    deadline,
                };
                let result = inner.guarded(deadline, inner.call_once(&key, &call)).await;
                Receipt {
                    server: key,
                    result,
                }
            })
                as futures_util::future::BoxFuture<'static, Receipt<RawResponse>>);
        }
        Ok(all)
    }
}
