//! The rpcx client: one multiplexed connection per server, typed and raw async calls, oneway
//! sends, timeouts, metadata both ways, heartbeats, gzip, server pushes.
//!
//! ```no_run
//! use rpcx::arith::{Args, Reply};
//! use rpcx::client::{Client, ClientOptions};
//!
//! # async fn run() -> Result<(), rpcx::Error> {
//! let client = Client::connect("tcp@127.0.0.1:8972", ClientOptions::default()).await?;
//! let product: Reply = client.call("Arith", "Mul", &Args { a: 7, b: 8 }).await?;
//! # Ok(()) }
//! ```

mod caller;
mod conn;
mod interceptor;
mod options;
mod started;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::mpsc;

pub use caller::Caller;
pub use interceptor::{ClientCall, ClientInterceptor, Interceptors};
pub use options::{CallOptions, ClientOptions};
pub use started::StartedCall;

use crate::codec::Codable;
use crate::protocol::{Message, Metadata, SerializeType, META_AUTH, META_SERVER_TIMEOUT};
use crate::transport::{dial, Address};
use crate::{Error, ServerError};
use conn::Conn;

/// What a server (Go's or ours) answers when a handler outlives the caller's
/// `__ServerTimeout`.
const SERVER_DEADLINE_EXCEEDED: &str = "context deadline exceeded";

/// The largest `__ServerTimeout` sent: a Go server multiplies it into a nanosecond `int64`
/// (`time.Duration`), which larger values overflow into an instant (or no) deadline.
const MAX_SERVER_TIMEOUT_MS: u128 = (i64::MAX / 1_000_000) as u128;

/// The reply to a call with its response metadata.
#[derive(Debug, Clone)]
pub struct Response<R> {
    /// The decoded reply.
    pub reply: R,
    /// Metadata the server sent back.
    pub metadata: Metadata,
}

/// A raw call: names, serialization, metadata and an already encoded payload.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Service path.
    pub service: String,
    /// Method.
    pub method: String,
    /// Serialize type written in the header (the payload is not touched).
    pub serialize_type: SerializeType,
    /// Request metadata.
    pub metadata: Metadata,
    /// The payload.
    pub payload: Bytes,
    /// Call timeout (also sent as `__ServerTimeout`).
    pub timeout: Option<Duration>,
}

/// A raw reply: the payload as received (decompressed) and the response metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// Reply payload.
    pub payload: Bytes,
    /// Response metadata.
    pub metadata: Metadata,
    /// Serialize type of the response header.
    pub serialize_type: SerializeType,
}

/// A connection to one rpcx server. Cheap to clone; all clones share the connection and
/// calls from any number of tasks are multiplexed on it.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Arc<Conn>,
    options: ClientOptions,
    address: Address,
    /// `address` as text, for interceptors.
    server: String,
    pushes: Mutex<Option<mpsc::Receiver<Message>>>,
    /// Size of the last encoded arguments: the next encoding starts with that capacity
    /// instead of growing a `Vec` from zero (and the payload then needs no extra copy).
    payload_hint: AtomicUsize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.inner.address)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.conn.fail_all(Error::Closed);
    }
}

impl Client {
    /// Connects to `address` (`tcp@host:port`, `host:port` or `unix@/path`). Must be called on
    /// a tokio runtime; the connection's tasks run there. Options that cannot work are
    /// refused first with [`Error::Config`] (see [`ClientOptions::validate`]).
    pub async fn connect(address: &str, options: ClientOptions) -> Result<Client, Error> {
        options.validate()?;
        let addr = Address::parse(address)?;
        let c = establish(&addr, &options).await.map_err(|source| {
            // The caller gets the error: debug only.
            tracing::debug!(address = %address, error = %source, "rpcx: connecting to a server failed");
            Error::Connect {
                address: address.to_owned(),
                source,
            }
        })?;
        let (push_tx, push_rx) = mpsc::channel(options.push_capacity());
        let conn = Conn::start(
            c.read,
            c.write,
            c.direct,
            c.peer,
            options.limits,
            options.max_unsent_bytes,
            push_tx,
        );
        let client = Client {
            inner: Arc::new(Inner {
                conn,
                options,
                server: addr.to_string(),
                address: addr,
                pushes: Mutex::new(Some(push_rx)),
                payload_hint: AtomicUsize::new(0),
            }),
        };
        if let Some(every) = client.inner.options.heartbeat_interval {
            tokio::spawn(heartbeat_loop(
                Arc::downgrade(&client.inner),
                every,
                client.inner.options.heartbeat_timeout,
            ));
        }
        Ok(client)
    }

    /// The server's address.
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// The options in force.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Calls `service.method` with `args`, encoded with the client's serialization.
    pub async fn call<A: Codable, R: Codable>(
        &self,
        service: &str,
        method: &str,
        args: &A,
    ) -> Result<R, Error> {
        self.call_with(service, method, args, CallOptions::default())
            .await
            .map(|r| r.reply)
    }

    /// Calls with per-call metadata, timeout or serialization; returns the reply and the
    /// response metadata.
    pub async fn call_with<A: Codable, R: Codable>(
        &self,
        service: &str,
        method: &str,
        args: &A,
        options: CallOptions,
    ) -> Result<Response<R>, Error> {
        let st = options
            .serialize_type
            .unwrap_or(self.inner.options.serialize_type);
        let payload = self.encode_args(args, st)?;
        let raw = self
            .call_raw(RawRequest {
                service: service.to_owned(),
                method: method.to_owned(),
                serialize_type: st,
                metadata: options.metadata,
                payload: payload.into(),
                timeout: options.timeout,
            })
            .await?;
        Ok(Response {
            reply: R::decode_as(st, &raw.payload)?,
            metadata: raw.metadata,
        })
    }

    /// Sends a raw request and waits for its reply. A server error becomes
    /// [`Error::Server`] with the server's text, metadata and payload, except the server's
    /// `context deadline exceeded` for a call with a timeout, which is [`Error::Timeout`].
    /// The timeout is one deadline for queueing the request (a peer that stops reading
    /// fills the send queue) and for the reply. A reply that arrives whole but breaks a
    /// [`Limits`](crate::protocol::Limits) value fails this call alone with
    /// [`Error::Protocol`]; the connection and its other calls go on.
    ///
    /// The client's [interceptors](ClientOptions::interceptors) run around it.
    pub async fn call_raw(&self, mut req: RawRequest) -> Result<RawResponse, Error> {
        let hooks = &self.inner.options.interceptors;
        if hooks.is_empty() {
            return self.exchange(req).await;
        }
        let server = &self.inner.server;
        let (seen, refused) = hooks.before(&mut req, server, false);
        let result = match refused {
            Some(e) => Err(e),
            None => self.exchange(req).await,
        };
        hooks.after(seen, server, result.as_ref());
        result
    }

    /// [`call_raw`](Self::call_raw) without the interceptors.
    async fn exchange(&self, req: RawRequest) -> Result<RawResponse, Error> {
        let timeout = req.timeout.or(self.inner.options.default_timeout);
        let conn = &self.inner.conn;
        let seq = conn.next_seq();
        let msg = self.build(req, seq, false, timeout);
        let rx = conn.register(seq)?;
        // Forgets the pending entry if this future is dropped or fails before the reply.
        let mut pending = PendingGuard {
            conn,
            seq,
            armed: true,
        };
        let exchange = async {
            conn.send(msg).await?;
            rx.await
                .map_err(|_| conn.closed_reason().unwrap_or(Error::Closed))?
        };
        let msg = within(timeout, exchange).await?;
        pending.armed = false;
        response_within(msg, timeout)
    }

    /// Sends a oneway request: no reply is ever sent; returns once the frame is queued.
    pub async fn send<A: Codable>(
        &self,
        service: &str,
        method: &str,
        args: &A,
    ) -> Result<(), Error> {
        let st = self.inner.options.serialize_type;
        let payload = self.encode_args(args, st)?;
        self.send_raw(RawRequest {
            service: service.to_owned(),
            method: method.to_owned(),
            serialize_type: st,
            metadata: Metadata::new(),
            payload: payload.into(),
            timeout: None,
        })
        .await
    }

    /// Sends a raw oneway request. Its timeout (or the client's default) bounds the wait
    /// for room in the send queue. The client's [interceptors](ClientOptions::interceptors)
    /// run around it (`after_call` sees an empty reply once the request is queued).
    pub async fn send_raw(&self, mut req: RawRequest) -> Result<(), Error> {
        let hooks = &self.inner.options.interceptors;
        if hooks.is_empty() {
            return self.enqueue(req).await;
        }
        let server = &self.inner.server;
        let (seen, refused) = hooks.before(&mut req, server, true);
        let result = match refused {
            Some(e) => Err(e),
            None => self.enqueue(req).await,
        };
        let sent = RawResponse {
            payload: Bytes::new(),
            metadata: Metadata::new(),
            serialize_type: SerializeType::RAW,
        };
        hooks.after(seen, server, result.as_ref().map(|()| &sent));
        result
    }

    /// [`send_raw`](Self::send_raw) without the interceptors.
    async fn enqueue(&self, req: RawRequest) -> Result<(), Error> {
        let timeout = req.timeout.or(self.inner.options.default_timeout);
        let conn = &self.inner.conn;
        let msg = self.build(req, conn.next_seq(), true, None);
        within(timeout, conn.send(msg)).await
    }

    /// Takes the receiver of server pushes (oneway requests the server sends on this
    /// connection). Returns `None` after the first call.
    pub fn take_pushes(&self) -> Option<mpsc::Receiver<Message>> {
        self.inner.pushes.lock().ok()?.take()
    }

    /// Sends one heartbeat and waits (at most `wait`) for its answer: the round trip on this
    /// connection, or [`Error::Timeout`] / the connection's error. The connection stays open
    /// either way.
    pub async fn heartbeat(&self, wait: Duration) -> Result<Duration, Error> {
        heartbeat_exchange(&self.inner.conn, wait).await
    }

    /// Closes the connection: pending calls fail with [`Error::Closed`] at once, and so does
    /// every later call.
    pub fn close(&self) {
        self.inner.conn.fail_all(Error::Closed);
    }

    /// True once the connection is closed or broken.
    pub fn is_closed(&self) -> bool {
        self.inner.conn.is_closed()
    }

    /// Why the connection ended (`None` while it is open).
    pub(crate) fn closed_reason(&self) -> Option<Error> {
        self.inner.conn.closed_reason()
    }

    /// The peer address of the connection.
    pub fn peer(&self) -> &str {
        &self.inner.conn.peer
    }

    /// True when both handles share one connection.
    pub(crate) fn same_connection(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn encode_args<A: Codable>(&self, args: &A, st: SerializeType) -> Result<Vec<u8>, Error> {
        const MAX_HINT: usize = 64 << 10;
        let hint = &self.inner.payload_hint;
        let mut payload = Vec::with_capacity(hint.load(Ordering::Relaxed));
        args.encode_as(st, &mut payload)?;
        hint.store(payload.len().min(MAX_HINT), Ordering::Relaxed);
        Ok(payload)
    }

    fn build(&self, req: RawRequest, seq: u64, oneway: bool, timeout: Option<Duration>) -> Message {
        let opts = &self.inner.options;
        let mut msg = Message::request(req.service, req.method, req.serialize_type, req.payload);
        msg.metadata = req.metadata;
        msg.header.set_seq(seq);
        msg.header.set_oneway(oneway);
        if opts.compress_type != crate::protocol::CompressType::NONE
            && msg.payload.len() > opts.compress_threshold
        {
            msg.header.set_compress_type(opts.compress_type);
        }
        if let Some(token) = &opts.auth_token {
            if !msg.metadata.contains_key(META_AUTH) {
                msg.metadata.insert(META_AUTH.to_owned(), token.clone());
            }
        }
        if let Some(d) = timeout {
            let ms = d.as_millis().min(MAX_SERVER_TIMEOUT_MS);
            msg.metadata
                .insert(META_SERVER_TIMEOUT.to_owned(), ms.to_string());
        }
        msg
    }
}

/// Runs `work` under `timeout` (`None`: no limit); the elapsed timer is [`Error::Timeout`].
/// Durations too large for a deadline (up to [`Duration::MAX`]) mean no limit.
async fn within<T>(
    timeout: Option<Duration>,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match timeout {
        None => work.await,
        Some(d) => tokio::time::timeout(d, work)
            .await
            .unwrap_or(Err(Error::Timeout(d))),
    }
}

/// Dials `addr`, with the TLS handshake when the options ask for it, then the tunnel's
/// (`http@`, `ws@`, `wss@`).
async fn establish(
    addr: &Address,
    options: &ClientOptions,
) -> std::io::Result<crate::transport::Connection> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &options.tls {
        let (stream, peer) = crate::transport::dial_stream(addr, options.connect_timeout).await?;
        let conn =
            crate::transport::tls::connect_to(tls, addr, stream, peer, options.connect_timeout)
                .await?;
        return crate::transport::tunnel::open(addr, conn, options.connect_timeout).await;
    }
    dial(addr, options.connect_timeout).await
}

/// Removes a call's pending entry unless its reply arrived (the call future was dropped,
/// timed out or failed to send).
struct PendingGuard<'a> {
    conn: &'a Conn,
    seq: u64,
    armed: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.conn.forget(self.seq);
        }
    }
}

/// The reply of a call made with `timeout`: the server cutting the handler at the deadline
/// this call sent as `__ServerTimeout` is this call's own timeout, whichever of the two
/// timers fired first.
fn response_within(msg: Message, timeout: Option<Duration>) -> Result<RawResponse, Error> {
    match (into_response(msg), timeout) {
        (Err(Error::Server(e)), Some(d)) if e.message == SERVER_DEADLINE_EXCEEDED => {
            Err(Error::Timeout(d))
        }
        (result, _) => result,
    }
}

fn into_response(msg: Message) -> Result<RawResponse, Error> {
    if let Some(text) = msg.error() {
        return Err(Error::Server(ServerError {
            message: text.to_owned(),
            metadata: msg.metadata,
            payload: msg.payload,
        }));
    }
    Ok(RawResponse {
        serialize_type: msg.header.serialize_type(),
        payload: msg.payload,
        metadata: msg.metadata,
    })
}

/// Sends a heartbeat every `every`; a heartbeat not sent and answered within `wait` closes
/// the connection (pending calls fail), as Go's client does. Any reply proves the peer alive,
/// even one that broke a limit.
async fn heartbeat_loop(inner: std::sync::Weak<Inner>, every: Duration, wait: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else { return };
        let conn = Arc::clone(&inner.conn);
        drop(inner);
        if conn.is_closed() {
            return;
        }
        if heartbeat_exchange(&conn, wait).await.is_err() {
            conn.fail_all(Error::ConnectionLost("heartbeat not answered".into()));
            return;
        }
    }
}

/// One heartbeat on `conn`, sent and answered within `wait`: the round trip, or why not.
async fn heartbeat_exchange(conn: &conn::Conn, wait: Duration) -> Result<Duration, Error> {
    let seq = conn.next_seq();
    let mut msg = Message::request("", "", SerializeType::MSGPACK, heartbeat_payload());
    msg.header.set_seq(seq);
    msg.header.set_heartbeat(true);
    let rx = conn.register(seq)?;
    let start = std::time::Instant::now();
    let exchange = async {
        conn.send(msg).await?;
        match rx.await {
            Ok(Ok(_) | Err(Error::Protocol(_))) => Ok(start.elapsed()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::ConnectionLost("heartbeat not answered".into())),
        }
    };
    let r = match tokio::time::timeout(wait, exchange).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout(wait)),
    };
    if r.is_err() {
        conn.forget(seq);
    }
    r
}

/// The current Unix time in nanoseconds as a MsgPack int64 (`d3` + 8 bytes), as Go sends.
fn heartbeat_payload() -> Bytes {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    let mut v = Vec::with_capacity(9);
    v.push(0xd3);
    v.extend_from_slice(&nanos.to_be_bytes());
    Bytes::from(v)
}
