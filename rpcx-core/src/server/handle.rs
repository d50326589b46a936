//! The running server: shared state, the accept loop and the shutdown handle.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::budget::ByteBudget;
use super::registry::LiveServices;
use super::{AuthFn, Plugin, Server, ServerOptions};
use crate::transport::{Address, Listener};
use crate::Error;

/// State shared by the accept loop, every connection and every handle.
pub(crate) struct Shared {
    pub(crate) services: LiveServices,
    pub(crate) plugins: Vec<Arc<dyn Plugin>>,
    pub(crate) auth: Option<AuthFn>,
    pub(crate) options: ServerOptions,
    /// Cancelled when a graceful shutdown begins: stop accepting and reading.
    pub(crate) draining: CancellationToken,
    /// Cancelled when the server closes: drop every connection now.
    pub(crate) closed: CancellationToken,
    inflight: AtomicUsize,
    idle: Notify,
    pub(crate) push_seq: Arc<AtomicU64>,
    /// Bytes held by every connection's requests and unwritten replies.
    pub(crate) pending_bytes: Arc<ByteBudget>,
    tasks: TaskTracker,
    pub(super) local: Address,
    runtime: tokio::runtime::Handle,
}

impl Shared {
    pub(crate) fn call_started(&self) {
        self.inflight.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn call_finished(&self) {
        if self.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(fut);
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.inflight.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Starts serving `listener`, bound for `requested` (whose network, `ws@` say, the local
/// address keeps: registries publish it).
pub(crate) fn start(server: Server, listener: Listener, requested: &Address) -> ServerHandle {
    let local = match listener.local_address() {
        Ok(Address::Tcp(hp)) => requested.with_host_port(hp),
        Ok(a) => a,
        Err(_) => Address::Tcp(String::new()),
    };
    let reflection = server.reflection;
    let shared = Arc::new(Shared {
        services: LiveServices::new(server.services),
        plugins: server.plugins,
        auth: server.auth,
        draining: CancellationToken::new(),
        closed: CancellationToken::new(),
        inflight: AtomicUsize::new(0),
        idle: Notify::new(),
        push_seq: Arc::new(AtomicU64::new(1)),
        pending_bytes: Arc::new(ByteBudget::new(server.options.max_pending_bytes)),
        tasks: TaskTracker::new(),
        local,
        runtime: tokio::runtime::Handle::current(),
        options: server.options,
    });
    if let Some(r) = reflection {
        r.attach(&shared);
    }
    let addr_text = shared.local.to_string();
    for p in &shared.plugins {
        p.on_start(&addr_text);
    }
    let s = Arc::clone(&shared);
    shared.tasks.spawn(accept_loop(s, listener));
    ServerHandle { shared }
}

async fn accept_loop(shared: Arc<Shared>, listener: Listener) {
    let max = shared.options.max_connections;
    let limit = Arc::new(Semaphore::new(max));
    let mut backoff = Duration::from_millis(5);
    // When the connection limit was last reported at warn level (then at debug for a while,
    // so a server that stays at its limit logs one warning a minute, not one per connection).
    let mut limit_warned: Option<tokio::time::Instant> = None;
    loop {
        let permit = match Arc::clone(&limit).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let now = tokio::time::Instant::now();
                if limit_warned.is_none_or(|t| now.duration_since(t) >= LIMIT_WARN_EVERY) {
                    limit_warned = Some(now);
                    tracing::warn!(
                        max_connections = max,
                        "rpcx: connection limit reached; new connections wait in the accept queue"
                    );
                } else {
                    tracing::debug!(
                        max_connections = max,
                        "rpcx: connection limit reached; new connections wait in the accept queue"
                    );
                }
                tokio::select! {
                    _ = shared.draining.cancelled() => break,
                    _ = shared.closed.cancelled() => break,
                    p = Arc::clone(&limit).acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            _ = shared.draining.cancelled() => break,
            _ = shared.closed.cancelled() => break,
            a = listener.accept_stream() => a,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                tracing::debug!(peer = %peer, "rpcx: connection accepted");
                let s = Arc::clone(&shared);
                shared.tasks.spawn(async move {
                    if let Some(conn) = establish(&s, stream, peer).await {
                        super::http::serve(s, conn).await;
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "rpcx: accepting a connection failed");
                // Temporary accept errors (EMFILE…): back off as Go does, 5 ms doubling to 1 s.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
    drop(listener);
}

/// How often a server that stays at its connection limit says so at warn level.
const LIMIT_WARN_EVERY: Duration = Duration::from_secs(60);

/// Bound of the server side of a TLS handshake.
#[cfg(feature = "tls")]
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Turns an accepted stream into a connection: the TLS handshake (bounded, in the
/// connection's own task so a slow peer never stalls accepting) when TLS is on.
async fn establish(
    shared: &Shared,
    stream: crate::transport::Stream,
    peer: String,
) -> Option<crate::transport::Connection> {
    #[cfg(feature = "tls")]
    if let Some(config) = &shared.options.tls {
        let who = peer.clone();
        let handshake = crate::transport::tls::accept(config, stream, peer, TLS_HANDSHAKE_TIMEOUT);
        return tokio::select! {
            c = handshake => c
                .map_err(|e| {
                    // The peer learnt why from the TLS alert; the server logs it.
                    tracing::warn!(
                        peer = %who,
                        reason = "TLS handshake failed",
                        error = %e,
                        "rpcx: connection refused"
                    );
                })
                .ok(),
            _ = shared.closed.cancelled() => None,
        };
    }
    let _ = shared;
    Some(stream.into_connection(peer))
}

/// A handle on a running server: cloneable, usable from any thread or task.
#[derive(Clone)]
pub struct ServerHandle {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("address", &self.shared.local)
            .finish()
    }
}

impl ServerHandle {
    /// The bound address, with the real port when port 0 was asked for.
    pub fn local_address(&self) -> &Address {
        &self.shared.local
    }

    /// The bound TCP port (`None` for Unix sockets).
    pub fn port(&self) -> Option<u16> {
        let (_, port) = self.shared.local.host_port()?.rsplit_once(':')?;
        port.parse().ok()
    }

    /// Requests currently being handled, server-wide.
    pub fn inflight(&self) -> usize {
        self.shared.inflight.load(Ordering::Acquire)
    }

    /// Bytes currently held, server-wide, by requests being served and replies not yet
    /// written (what [`ServerOptions::max_pending_bytes`] bounds).
    pub fn pending_bytes(&self) -> usize {
        self.shared.pending_bytes.used()
    }

    /// Graceful shutdown: unregisters services from registry plugins, stops accepting and
    /// reading new requests, lets in-flight calls finish and write their replies for up to
    /// `grace`, then closes every connection. Idempotent; returns when the server is down.
    pub async fn shutdown(&self, grace: Duration) {
        if !self.shared.draining.is_cancelled() {
            self.shared.draining.cancel();
            self.shared.services.close(&self.shared.plugins);
        }
        let start = tokio::time::Instant::now();
        let _ = tokio::time::timeout(grace, self.shared.wait_idle()).await;
        // Replies of finished calls may still sit in a connection's write queue: let every
        // connection flush and end by itself (within the same grace) before closing.
        self.shared.tasks.close();
        let rest = grace.saturating_sub(start.elapsed());
        let _ = tokio::time::timeout(rest, self.shared.tasks.wait()).await;
        self.close();
        self.stopped().await;
    }

    /// Closes at once: stops accepting and drops every connection; replies not yet written
    /// are lost. Returns immediately; [`stopped`](Self::stopped) waits for the end.
    pub fn close(&self) {
        self.shared.draining.cancel();
        self.shared.closed.cancel();
        self.shared.tasks.close();
    }

    /// Waits until the server has stopped (after [`shutdown`](Self::shutdown) or
    /// [`close`](Self::close)).
    pub async fn stopped(&self) {
        self.shared.closed.cancelled().await;
        self.shared.tasks.wait().await;
    }

    /// [`shutdown`](Self::shutdown) for threads outside the async runtime (C, Python, signal
    /// threads). Refused with [`Error::BlockingInRuntime`] on a runtime thread.
    pub fn shutdown_blocking(&self, grace: Duration) -> Result<(), Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::BlockingInRuntime);
        }
        let this = self.clone();
        self.shared
            .runtime
            .block_on(async move { this.shutdown(grace).await });
        Ok(())
    }

    /// True once shutdown or close has begun.
    pub fn is_stopping(&self) -> bool {
        self.shared.draining.is_cancelled()
    }
}
