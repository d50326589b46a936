//! The server: every registered method is a [`PyHandler`] that turns a call into a [`Job`]
//! on a queue. Python threads (the `workers` pool of `rpcx.Server`) take jobs with
//! [`RawServer::next_job`] and run the Python handler with the GIL; runtime threads never take
//! the GIL. The Python code answers with [`Job::reply`] or [`Job::fail`]. Calls of `async def`
//! handlers skip the pool when the server was started with an `async_queue`: they go to
//! their event loop's [`CompletionQueue`] (see [`AsyncFeed`]), and the loop thread starts
//! their tasks and answers them.
//!
//! With `auth`, the first request of each token on a connection becomes an auth job for the
//! pool; the answer is remembered for that connection ([`AuthCache`]), so later requests with
//! that token go straight to their handler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use rpcx::protocol::{Message, Metadata};
use rpcx::registry::AnyRegistry;
use rpcx::server::{
    BoxFuture, Handler, HandlerResult, Metrics, Plugin, Server, ServerHandle, ServerOptions,
    ServiceError, LATENCY_BUCKETS,
};

use crate::client::{limits_from, seconds, LimitsTuple};
use crate::completion::{spawn_into, CallHandle, CompletionQueue};
use crate::errors::{forked, to_py};
use crate::meta::{metadata_dict, MetaArg};
use crate::runtime::{wait, wait_for, Owned};

/// Error text of calls that were queued or running when the server gave up on them.
const ABANDONED: &str = "rpcx: server stopped before the handler answered";
/// How often a worker waiting for a job wakes up to let Python handle signals.
const JOB_TICK: Duration = Duration::from_millis(200);

/// Work for the Python pool.
enum JobMsg {
    Call {
        index: usize,
        ctx: rpcx::server::Context,
        payload: Bytes,
        reply: oneshot::Sender<HandlerResult>,
        /// Where a cancellation notice for this call goes (see `RawContext::watch_cancel`).
        notices: Sender<JobMsg>,
    },
    /// An auth check, or (with `stream`: the client's stream metadata) a stream acceptor
    /// check of a `_streamservice.Stream` call.
    Auth {
        request: AuthRequest,
        token: String,
        stream: Option<HashMap<String, String>>,
        reply: Sender<Result<(), String>>,
    },
    /// A watched call was cancelled before it was answered.
    Cancelled { watch: u64 },
}

/// What the auth callable knows about a request.
#[derive(Clone)]
struct AuthRequest {
    service: String,
    method: String,
    metadata: Metadata,
    peer: String,
    serialize: u8,
}

/// The handler registered for one Python method.
struct PyHandler {
    index: usize,
    jobs: Sender<JobMsg>,
    abandon: CancellationToken,
    /// For an `async def` handler: the event loop's queue its calls go to (the pool gets
    /// them when `None`).
    feed: Option<Arc<AsyncFeed>>,
}

/// Calls of `async def` handlers go straight to their event loop: each call becomes work on
/// a [`CompletionQueue`] the loop watches (`loop.add_reader(queue.fileno(), queue.drain)`),
/// and the loop thread hands it to `dispatch` (a Python callable taking the [`Job`]), which
/// starts the handler's task. A burst of calls costs one wake-up of the loop, and no worker
/// thread takes the GIL for them.
struct AsyncFeed {
    queue: Arc<crate::completion::Inner>,
    /// Cleared when the server gives up (drops the reference to the Python side).
    dispatch: Mutex<Option<Arc<Py<PyAny>>>>,
}

/// Error text of async calls that arrive once their event loop's queue is closed.
const LOOP_GONE: &str = "rpcx: the event loop of async handlers is closed";

impl AsyncFeed {
    /// Queues `job` for the loop; gives it back when the server gave up or the queue is
    /// closed.
    fn send(&self, job: JobMsg) -> Result<(), &'static str> {
        let Some(dispatch) = self.dispatch.lock().ok().and_then(|d| d.clone()) else {
            return Err(ABANDONED);
        };
        let queued = self.queue.run_on_loop(Box::new(move |py| {
            let job = Job::from_msg(job);
            if let Err(e) = dispatch.bind(py).call1((job,)) {
                e.write_unraisable(py, None);
            }
        }));
        if queued {
            Ok(())
        } else {
            Err(LOOP_GONE)
        }
    }
}

impl Handler for PyHandler {
    fn call(&self, ctx: rpcx::server::Context, payload: Bytes) -> BoxFuture<HandlerResult> {
        let (tx, rx) = oneshot::channel();
        let job = JobMsg::Call {
            index: self.index,
            ctx,
            payload,
            reply: tx,
            notices: self.jobs.clone(),
        };
        let refused = if self.abandon.is_cancelled() {
            Some(ABANDONED)
        } else if let Some(feed) = &self.feed {
            feed.send(job).err()
        } else {
            self.jobs.send(job).err().map(|_| ABANDONED)
        };
        if let Some(text) = refused {
            return Box::pin(std::future::ready(Err(ServiceError::new(text))));
        }
        let abandon = self.abandon.clone();
        Box::pin(async move {
            tokio::select! {
                r = rx => r.unwrap_or_else(|_| Err(ServiceError::new("rpcx: the handler did not answer"))),
                _ = abandon.cancelled() => Err(ServiceError::new(ABANDONED)),
            }
        })
    }
}

/// Tokens accepted on each open connection: a connection asks the Python pool once per
/// token, not once per request.
///
/// The core calls the auth function from the task that reads the connection, and runs the
/// connection's accept and close hooks in that same task, so the task id names the
/// connection; [`AuthCachePlugin`] forgets a connection's tokens when it opens and closes
/// (task ids are reused only after their task has ended). Outside a task nothing is cached.
#[derive(Default)]
struct AuthCache {
    accepted: RwLock<HashMap<tokio::task::Id, Vec<String>>>,
}

/// Tokens remembered per connection; further ones are checked on every request.
const TOKENS_PER_CONNECTION: usize = 8;
/// Connections remembered at most; past that the cache starts over (a safety net should
/// close hooks ever stop running in the reading task).
const CACHED_CONNECTIONS: usize = 1 << 16;

impl AuthCache {
    fn knows(&self, conn: tokio::task::Id, token: &str) -> bool {
        self.accepted
            .read()
            .is_ok_and(|m| m.get(&conn).is_some_and(|t| t.iter().any(|t| t == token)))
    }

    fn remember(&self, conn: tokio::task::Id, token: &str) {
        if let Ok(mut m) = self.accepted.write() {
            if m.len() >= CACHED_CONNECTIONS && !m.contains_key(&conn) {
                m.clear();
            }
            let tokens = m.entry(conn).or_default();
            if tokens.len() < TOKENS_PER_CONNECTION {
                tokens.push(token.to_owned());
            }
        }
    }

    fn forget_current(&self) {
        if let Some(conn) = tokio::task::try_id() {
            if let Ok(mut m) = self.accepted.write() {
                m.remove(&conn);
            }
        }
    }
}

/// Clears a connection's entry in the [`AuthCache`] when it opens and when it closes.
struct AuthCachePlugin(Arc<AuthCache>);

impl Plugin for AuthCachePlugin {
    fn name(&self) -> &str {
        "rpcx-python auth cache"
    }

    fn on_conn_accept(&self, _peer: &str) -> bool {
        self.0.forget_current();
        true
    }

    fn on_conn_close(&self, _peer: &str) {
        self.0.forget_current();
    }
}

/// Decides whether `token` may call: at once when this connection already passed it,
/// otherwise by asking the Python pool, blocking this runtime thread (moved out of the
/// worker set with `block_in_place`) until a Python worker answers.
fn authenticate(
    jobs: &Sender<JobMsg>,
    gave_up: &Receiver<()>,
    cache: &AuthCache,
    msg: &Message,
    token: &str,
    peer: &str,
) -> Result<(), String> {
    let conn = tokio::task::try_id();
    if conn.is_some_and(|c| cache.knows(c, token)) {
        return Ok(());
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let job = JobMsg::Auth {
        request: AuthRequest {
            service: msg.service_path.clone(),
            method: msg.service_method.clone(),
            metadata: msg.metadata.clone(),
            peer: peer.to_owned(),
            serialize: msg.header.serialize_type().value(),
        },
        token: token.to_owned(),
        stream: None,
        reply: tx,
    };
    let verdict = ask_pool(jobs, gave_up, job, rx, "authentication");
    if let (Ok(()), Some(c)) = (&verdict, conn) {
        cache.remember(c, token);
    }
    verdict
}

/// Queues a check `job` for the Python pool and waits for its answer on `rx`, blocking this
/// runtime thread (moved out of the worker set with `block_in_place` on a multi-thread
/// runtime); an error when the server gave up first.
fn ask_pool(
    jobs: &Sender<JobMsg>,
    gave_up: &Receiver<()>,
    job: JobMsg,
    rx: Receiver<Result<(), String>>,
    what: &str,
) -> Result<(), String> {
    if jobs.send(job).is_err() {
        return Err(ABANDONED.into());
    }
    let answer = || {
        crossbeam_channel::select! {
            recv(rx) -> r => r.unwrap_or_else(|_| Err(format!("rpcx: {what} was not answered"))),
            recv(gave_up) -> _ => Err(ABANDONED.into()),
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(answer)
        }
        _ => answer(),
    }
}

/// The stream acceptor for a Python one: each `_streamservice.Stream` call becomes an accept
/// check for the pool (the request's context and the client's stream metadata); the call is
/// accepted only when Python answers yes, refused when it says no, fails or the server gave
/// up.
fn stream_acceptor_fn(jobs: Sender<JobMsg>, gave_up: Receiver<()>) -> crate::transfer::Acceptor {
    Arc::new(move |ctx, args| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job = JobMsg::Auth {
            request: AuthRequest {
                service: ctx.service().to_owned(),
                method: ctx.method().to_owned(),
                metadata: ctx.metadata().clone(),
                peer: ctx.peer().to_owned(),
                serialize: ctx.serialize_type().value(),
            },
            token: String::new(),
            stream: Some(args.meta.clone()),
            reply: tx,
        };
        ask_pool(&jobs, &gave_up, job, rx, "the stream acceptor").is_ok()
    })
}

struct Inner {
    handle: ServerHandle,
    /// Where handlers registered while the server runs queue their jobs.
    jobs_tx: Sender<JobMsg>,
    /// Registry plugins (etcd, Consul): `stop` waits for their deletes, then closes them.
    registries: Mutex<Vec<AnyRegistry>>,
    /// The metrics plugin, when the server was started with `metrics=True`.
    metrics: Option<Arc<Metrics>>,
    jobs: Receiver<JobMsg>,
    /// Cancelled when the server gives up on calls still waiting for Python.
    abandon: CancellationToken,
    /// Dropped at the same moment: wakes workers and auth waits blocked on channels.
    gave_up_tx: Mutex<Option<Sender<()>>>,
    gave_up: Receiver<()>,
    /// The file transfer and stream side listeners, and the queue of accepted streams.
    sides: crate::transfer::Sides,
    /// Go's reflection service, when started with `reflection=True`.
    reflection: Option<rpcx::server::Reflection>,
    /// Where calls of `async def` handlers go, when started with an `async_queue`.
    feed: Option<Arc<AsyncFeed>>,
}

impl Inner {
    fn handler(&self, index: usize, is_async: bool) -> Arc<PyHandler> {
        Arc::new(PyHandler {
            index,
            jobs: self.jobs_tx.clone(),
            abandon: self.abandon.clone(),
            feed: if is_async { self.feed.clone() } else { None },
        })
    }

    fn take_registries(&self) -> Vec<AnyRegistry> {
        self.registries
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }

    fn give_up(&self) {
        self.abandon.cancel();
        self.sides.close();
        if let Ok(mut tx) = self.gave_up_tx.lock() {
            tx.take();
        }
        // Calls still queued fail now instead of waiting for a worker.
        while self.jobs.try_recv().is_ok() {}
        // Async calls arriving from now on are refused; those queued for the loop are
        // dropped when its queue is closed (the Python side closes it as the server stops).
        if let Some(feed) = &self.feed {
            if let Ok(mut d) = feed.dispatch.lock() {
                d.take();
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropped without `stop` (`close`, or the server object collected): the keys expire
        // with their lease or session, as if the process had died.
        for r in self.take_registries() {
            r.close();
        }
    }
}

/// A running server (the machinery under `rpcx.Server`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RawServer {
    inner: Owned<Inner>,
}

#[pymethods]
impl RawServer {
    /// Binds `address` and starts serving `methods` (`(service, method)` pairs; a job's
    /// `index` is the position of its method in this list), with `metadata`
    /// (`(service, metadata)` pairs) for registry plugins. `http_*`, `jsonrpc`, `websocket`
    /// and `cors` are the HTTP options of the port (see `crate::http`). Calls of the methods
    /// at the `async_methods` positions go to `async_queue` (a `CompletionQueue` the event
    /// loop of async handlers drains), where the loop thread hands each `Job` to
    /// `async_dispatch`; the two come together. Every other call goes to `next_job`.
    #[staticmethod]
    #[pyo3(signature = (address, methods, auth=false, limits=None, max_connections=None, max_inflight_per_conn=None, idle_timeout=None, metrics=false, max_pending_bytes_per_conn=None, max_pending_bytes=None, metadata=None, tls=None, plugins=None, http_gateway=true, jsonrpc=true, http_connect=true, websocket=true, cors=None, http_request_timeout=None, http_max_header_bytes=None, http_max_headers=None, file_transfer=None, streams=None, stream_acceptor=false, reflection=false, async_queue=None, async_dispatch=None, async_methods=None))]
    #[allow(clippy::too_many_arguments)]
    fn start(
        py: Python<'_>,
        address: &str,
        methods: Vec<(String, String)>,
        auth: bool,
        limits: Option<LimitsTuple>,
        max_connections: Option<usize>,
        max_inflight_per_conn: Option<usize>,
        idle_timeout: Option<f64>,
        metrics: bool,
        max_pending_bytes_per_conn: Option<usize>,
        max_pending_bytes: Option<usize>,
        metadata: Option<Vec<(String, String)>>,
        tls: Option<Bound<'_, PyAny>>,
        plugins: Option<Vec<Bound<'_, PyAny>>>,
        http_gateway: bool,
        jsonrpc: bool,
        http_connect: bool,
        websocket: bool,
        cors: Option<crate::http::CorsTuple>,
        http_request_timeout: Option<f64>,
        http_max_header_bytes: Option<usize>,
        http_max_headers: Option<usize>,
        file_transfer: Option<crate::transfer::FileTransferTuple>,
        streams: Option<crate::transfer::SideTuple>,
        stream_acceptor: bool,
        reflection: bool,
        async_queue: Option<&CompletionQueue>,
        async_dispatch: Option<Py<PyAny>>,
        async_methods: Option<Vec<usize>>,
    ) -> PyResult<RawServer> {
        let feed = match (async_queue, async_dispatch) {
            (Some(q), Some(d)) => Some(Arc::new(AsyncFeed {
                queue: q.inner.arc(),
                dispatch: Mutex::new(Some(Arc::new(d))),
            })),
            (None, None) => None,
            _ => {
                return Err(PyValueError::new_err(
                    "async_queue and async_dispatch go together",
                ))
            }
        };
        let async_methods = async_methods.unwrap_or_default();
        if stream_acceptor && streams.is_none() {
            return Err(PyValueError::new_err(
                "stream_acceptor needs streams (a stream service to accept calls of)",
            ));
        }
        let sides_plan = crate::transfer::plan(file_transfer, streams)?;
        let mut options = ServerOptions {
            limits: limits_from(limits),
            http: crate::http::http_options(
                http_gateway,
                jsonrpc,
                http_connect,
                websocket,
                cors,
                http_request_timeout,
                http_max_header_bytes,
                http_max_headers,
            )?,
            ..ServerOptions::default()
        };
        let set = |slot: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut options.max_connections, max_connections);
        set(&mut options.max_inflight_per_conn, max_inflight_per_conn);
        set(
            &mut options.max_pending_bytes_per_conn,
            max_pending_bytes_per_conn,
        );
        set(&mut options.max_pending_bytes, max_pending_bytes);
        if let Some(t) = idle_timeout {
            options.idle_timeout = Some(seconds("idle_timeout", t)?);
        }
        options.tls = crate::tls::server(tls.as_ref())?;
        // Out-of-range values are the caller's mistake: a ValueError naming the option.
        options
            .validate()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;

        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        let (gave_up_tx, gave_up) = crossbeam_channel::bounded::<()>(0);
        let abandon = CancellationToken::new();
        let acceptor =
            stream_acceptor.then(|| stream_acceptor_fn(jobs_tx.clone(), gave_up.clone()));
        let mut builder = Server::builder().options(options);
        if auth {
            let jobs = jobs_tx.clone();
            let gave_up = gave_up.clone();
            let cache = Arc::new(AuthCache::default());
            builder = builder.plugin(AuthCachePlugin(Arc::clone(&cache)));
            builder = builder.auth(move |msg, token, peer| {
                authenticate(&jobs, &gave_up, &cache, msg, token, peer)
            });
        }
        // `rpcx.IpFilter` / `rpcx.RateLimit`, in the order given.
        for p in crate::hooks::plugins_of(&plugins.unwrap_or_default())? {
            builder = builder.plugin_arc(p);
        }
        let metrics = metrics.then(Metrics::new);
        if let Some(m) = &metrics {
            builder = builder.plugin_arc(m.clone());
        }
        let mut server = builder.build();
        let reflection = if reflection {
            Some(server.enable_reflection().map_err(|e| to_py(py, e))?)
        } else {
            None
        };
        for (service, meta) in metadata.unwrap_or_default() {
            server.set_service_metadata(&service, meta);
        }
        for (index, (service, method)) in methods.iter().enumerate() {
            let handler = Arc::new(PyHandler {
                index,
                jobs: jobs_tx.clone(),
                abandon: abandon.clone(),
                feed: if async_methods.contains(&index) {
                    feed.clone()
                } else {
                    None
                },
            });
            server
                .register_handler(service, method, handler)
                .map_err(|e| to_py(py, e))?;
        }
        let address = address.to_owned();
        let (handle, sides) = wait(py, async move {
            let sides = crate::transfer::register(sides_plan, acceptor, &mut server).await?;
            let handle = server.serve(&address).await?;
            Ok::<_, rpcx::Error>((handle, sides))
        })?
        .map_err(|e| to_py(py, e))?;
        Ok(RawServer {
            inner: Owned::new(Inner {
                handle,
                jobs_tx,
                registries: Mutex::new(Vec::new()),
                metrics,
                jobs: jobs_rx,
                abandon,
                gave_up_tx: Mutex::new(Some(gave_up_tx)),
                gave_up,
                sides,
                reflection,
                feed,
            }),
        })
    }

    /// The call metrics in the Prometheus text format, then the state of every registry
    /// (`rpcx_registry_up`, `rpcx_registry_failures_total`); `None` without `metrics=True`.
    fn metrics_text(&self) -> Option<String> {
        let mut text = self.inner.metrics.as_ref()?.prometheus_text();
        let statuses: Vec<_> = self
            .inner
            .registries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|r| r.status_handle().get())
            .collect();
        text.push_str(&rpcx::registry::prometheus_text(&statuses));
        Some(text)
    }

    /// The call metrics per method: `(service, method, calls, errors, latency_sum_seconds,
    /// [(bucket upper bound in seconds, cumulative count)…])`, the last bound being
    /// infinity; `None` without `metrics=True`.
    #[allow(clippy::type_complexity)]
    fn metrics(&self) -> Option<Vec<(String, String, u64, u64, f64, Vec<(f64, u64)>)>> {
        let m = self.inner.metrics.as_ref()?;
        Some(
            m.snapshot()
                .into_iter()
                .map(|s| {
                    let bounds = LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]);
                    let buckets = bounds.zip(s.latency_buckets.iter().copied()).collect();
                    (
                        s.service,
                        s.method,
                        s.calls,
                        s.errors,
                        s.latency_sum_seconds,
                        buckets,
                    )
                })
                .collect(),
        )
    }

    /// Takes the next job, waiting at most `timeout` seconds (forever when `None`) with the
    /// GIL released. `None` when the wait timed out or the server has stopped (see
    /// `stopping`). A job already queued is taken without releasing the GIL. Only the main
    /// thread wakes up while it waits (every 200 ms) to run signal handlers.
    #[pyo3(signature = (timeout=None))]
    fn next_job(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Job>> {
        if self.inner.inherited() {
            return Ok(None);
        }
        if let Ok(j) = self.inner.jobs.try_recv() {
            return Ok(Some(Job::from_msg(j)));
        }
        let deadline = timeout
            .map(|t| seconds("timeout", t))
            .transpose()?
            .map(|d| Instant::now() + d);
        let tick = is_main_thread(py).then_some(JOB_TICK);
        loop {
            let wait = match (deadline, tick) {
                (None, t) => t,
                (Some(d), t) => Some(
                    d.saturating_duration_since(Instant::now())
                        .min(t.unwrap_or(Duration::MAX)),
                ),
            };
            let inner = &self.inner;
            let got = py.detach(|| match wait {
                None => crossbeam_channel::select! {
                    recv(inner.jobs) -> j => Ok(j.ok()),
                    recv(inner.gave_up) -> _ => Ok(None),
                },
                Some(wait) => crossbeam_channel::select! {
                    recv(inner.jobs) -> j => Ok(j.ok()),
                    recv(inner.gave_up) -> _ => Ok(None),
                    default(wait) => Err(()),
                },
            });
            match got {
                Ok(Some(j)) => return Ok(Some(Job::from_msg(j))),
                Ok(None) => return Ok(None),
                Err(()) => {
                    if tick.is_some() {
                        py.check_signals()?;
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Takes the next side job — a `StreamJob` (servers started with `streams`), an
    /// `UploadJob` or a `DownloadJob` (file transfer with Python handlers) — waiting at most
    /// `timeout` seconds (forever when `None`) with the GIL released. `None` when the wait
    /// timed out, the server has stopped, or it has no such work.
    #[pyo3(signature = (timeout=None))]
    fn next_side_job(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let Some(streams) = self.inner.sides.jobs.as_ref() else {
            return Ok(None);
        };
        if self.inner.inherited() {
            return Ok(None);
        }
        let deadline = timeout
            .map(|t| seconds("timeout", t))
            .transpose()?
            .map(|d| Instant::now() + d);
        loop {
            let tick = match deadline {
                None => JOB_TICK,
                Some(d) => d.saturating_duration_since(Instant::now()).min(JOB_TICK),
            };
            let gave_up = &self.inner.gave_up;
            let got = py.detach(|| {
                crossbeam_channel::select! {
                    recv(streams) -> m => Ok(m.ok()),
                    recv(gave_up) -> _ => Ok(None),
                    default(tick) => Err(()),
                }
            });
            match got {
                Ok(None) => return Ok(None),
                Ok(Some(m)) => return crate::transfer::side_job(py, m).map(Some),
                Err(()) => {
                    py.check_signals()?;
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The address file transfer replies give clients (`host:port`); `None` without it.
    #[getter]
    fn file_transfer_address(&self) -> Option<String> {
        self.inner.sides.addresses.0.clone()
    }

    /// The address stream replies give clients (`host:port`); `None` without streams.
    #[getter]
    fn stream_address(&self) -> Option<String> {
        self.inner.sides.addresses.1.clone()
    }

    /// True once the server gave up on pending work (workers should exit).
    #[getter]
    fn stopping(&self) -> bool {
        self.inner.abandon.is_cancelled() || self.inner.inherited()
    }

    /// Graceful stop: stop accepting, let in-flight calls finish for up to `grace` seconds,
    /// then fail whatever is left and close every connection. Blocks (GIL released,
    /// interruptible) until the server is down. A no-op in a forked child.
    #[pyo3(signature = (grace=5.0))]
    fn stop(&self, py: Python<'_>, grace: f64) -> PyResult<()> {
        if self.inner.inherited() {
            return Ok(());
        }
        let grace = seconds("grace", grace)?;
        let inner = self.inner.arc();
        let done = wait(py, async move {
            {
                let shutdown = inner.handle.shutdown(grace);
                tokio::pin!(shutdown);
                tokio::select! {
                    _ = &mut shutdown => {}
                    _ = tokio::time::sleep(grace) => {
                        inner.give_up();
                        shutdown.await;
                    }
                }
            }
            // The shutdown unregistered every service: let the registries delete the keys.
            let registries = inner.take_registries();
            rpcx::registry::finish(&registries, rpcx::registry::FLUSH_LIMIT).await;
        });
        if done.is_err() {
            self.inner.handle.close();
        }
        self.inner.give_up();
        done
    }

    /// Closes at once: unanswered calls are dropped, registries stop (their keys expire).
    /// Does not wait.
    fn close(&self) {
        if !self.inner.inherited() {
            self.inner.handle.close();
            self.inner.give_up();
            for r in self.inner.take_registries() {
                r.close();
            }
        }
    }

    /// Registers `service.method` on the running server; its jobs carry `index`. With
    /// `is_async` (and an `async_queue` given to `start`) its calls go to the event loop's
    /// queue instead of the worker pool.
    #[pyo3(signature = (service, method, index, is_async=false))]
    fn register(
        &self,
        py: Python<'_>,
        service: &str,
        method: &str,
        index: usize,
        is_async: bool,
    ) -> PyResult<()> {
        self.live(py)?;
        self.inner
            .handle
            .register_handler(service, method, self.inner.handler(index, is_async))
            .map_err(|e| to_py(py, e))
    }

    /// Sets `service`'s registry metadata on the running server (registries rewrite its key).
    fn set_service_metadata(&self, py: Python<'_>, service: &str, metadata: &str) -> PyResult<()> {
        self.live(py)?;
        self.inner
            .handle
            .set_service_metadata(service, metadata)
            .map_err(|e| to_py(py, e))
    }

    /// Tells the reflection service what `service.method` takes and answers (type names and
    /// definitions, `""` for none); a `RuntimeError` when started without `reflection=True`.
    #[pyo3(signature = (service, method, args_type, args_definition, reply_type, reply_definition))]
    fn describe(
        &self,
        service: &str,
        method: &str,
        args_type: &str,
        args_definition: &str,
        reply_type: &str,
        reply_definition: &str,
    ) -> PyResult<()> {
        let r = self.inner.reflection.as_ref().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("the server was started without reflection")
        })?;
        r.describe(
            service,
            method,
            rpcx::server::MethodDescription::new(
                rpcx::server::TypeDescription::with_definition(args_type, args_definition),
                rpcx::server::TypeDescription::with_definition(reply_type, reply_definition),
            ),
        );
        Ok(())
    }

    /// Unregisters `service` (calls in flight finish); `False` when it was not registered.
    fn unregister(&self, py: Python<'_>, service: &str) -> PyResult<bool> {
        self.live(py)?;
        Ok(self.inner.handle.unregister(service))
    }

    /// Unregisters every service; their names.
    fn unregister_all(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.live(py)?;
        Ok(self.inner.handle.unregister_all())
    }

    /// Adds a registry (`EtcdRegistry` or `ConsulRegistry`): it publishes every service at
    /// once and follows every change; `stop` deletes its keys and closes it.
    fn add_registry(&self, py: Python<'_>, registry: &Bound<'_, PyAny>) -> PyResult<()> {
        self.live(py)?;
        let r = crate::registry::extract(py, registry)?;
        let joined = self.inner.handle.add_registry(r.plugin());
        match &joined {
            // Refused because the server is stopping: it is not this server's to close.
            Err(_) if self.inner.handle.is_stopping() => {}
            _ => {
                if let Ok(mut list) = self.inner.registries.lock() {
                    list.push(r);
                }
            }
        }
        joined.map_err(|e| to_py(py, e))
    }

    /// Waits until the server has stopped; `False` if `timeout` passed first.
    #[pyo3(signature = (timeout=None))]
    fn wait_stopped(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if self.inner.inherited() {
            return Err(forked(py, "server"));
        }
        let limit = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let handle = self.inner.handle.clone();
        Ok(wait_for(py, async move { handle.stopped().await }, limit)?.is_some())
    }

    /// The bound address (`tcp@127.0.0.1:8972`, with the real port).
    #[getter]
    fn address(&self) -> String {
        self.inner.handle.local_address().to_string()
    }

    /// The bound TCP port (0 for Unix sockets).
    #[getter]
    fn port(&self) -> u16 {
        self.inner.handle.port().unwrap_or(0)
    }

    /// Calls being handled right now.
    #[getter]
    fn inflight(&self) -> usize {
        self.inner.handle.inflight()
    }
}

/// Whether this is the interpreter's main thread (the only one Python runs signal handlers
/// on); remembered per thread.
fn is_main_thread(py: Python<'_>) -> bool {
    thread_local! {
        static MAIN: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    }
    if let Some(known) = MAIN.with(|m| m.get()) {
        return known;
    }
    let main = (|| -> PyResult<bool> {
        let threading = py.import("threading")?;
        let main = threading.call_method0("main_thread")?;
        Ok(main.is(&threading.call_method0("current_thread")?))
    })()
    // Unknown: wake up as the main thread does (the safe side).
    .unwrap_or(true);
    MAIN.with(|m| m.set(Some(main)));
    main
}

impl RawServer {
    /// `Ok` while the server runs in this process; a `RuntimeError` once it is stopping, a
    /// `ClosedError` in a forked child.
    fn live(&self, py: Python<'_>) -> PyResult<()> {
        if self.inner.inherited() {
            return Err(forked(py, "server"));
        }
        if self.inner.handle.is_stopping() {
            return Err(PyRuntimeError::new_err("the server is stopping"));
        }
        Ok(())
    }
}

enum JobKind {
    Call {
        index: usize,
        ctx: rpcx::server::Context,
        payload: Bytes,
        notices: Sender<JobMsg>,
    },
    Auth {
        request: AuthRequest,
        token: String,
        /// The client's stream metadata of an accept check (`None`: an auth check).
        stream: Option<HashMap<String, String>>,
    },
    Cancelled {
        watch: u64,
    },
}

enum Replier {
    Call(oneshot::Sender<HandlerResult>),
    Auth(Sender<Result<(), String>>),
}

struct JobState {
    kind: JobKind,
    /// `None` once answered. A watch's `done` token lives here too, so answering and starting
    /// a watch cannot miss each other.
    reply: Mutex<Option<Replier>>,
    /// Cancelled when the call is answered: ends its cancellation watch, if any.
    done: Mutex<Option<CancellationToken>>,
}

impl Drop for JobState {
    fn drop(&mut self) {
        // A job dropped unanswered ends its watch too.
        if let Some(done) = self.done.get_mut().ok().and_then(Option::take) {
            done.cancel();
        }
    }
}

/// One call (or auth check) for a Python worker.
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct Job {
    inner: Owned<JobState>,
}

impl Job {
    fn from_msg(msg: JobMsg) -> Job {
        let (kind, replier) = match msg {
            JobMsg::Call {
                index,
                ctx,
                payload,
                reply,
                notices,
            } => (
                JobKind::Call {
                    index,
                    ctx,
                    payload,
                    notices,
                },
                Some(Replier::Call(reply)),
            ),
            JobMsg::Auth {
                request,
                token,
                stream,
                reply,
            } => (
                JobKind::Auth {
                    request,
                    token,
                    stream,
                },
                Some(Replier::Auth(reply)),
            ),
            JobMsg::Cancelled { watch } => (JobKind::Cancelled { watch }, None),
        };
        Job {
            inner: Owned::new(JobState {
                kind,
                reply: Mutex::new(replier),
                done: Mutex::new(None),
            }),
        }
    }

    fn answer(&self, result: Result<Bytes, ServiceError>) -> bool {
        let Some(replier) = self.inner.reply.lock().ok().and_then(|mut r| r.take()) else {
            return false;
        };
        if let Some(done) = self.inner.done.lock().ok().and_then(|mut d| d.take()) {
            done.cancel();
        }
        match replier {
            Replier::Call(tx) => tx.send(result).is_ok(),
            Replier::Auth(tx) => tx
                .send(result.map(|_| ()).map_err(|e| e.message().to_owned()))
                .is_ok(),
        }
    }
}

#[pymethods]
impl Job {
    /// The method's position in the list given to `RawServer.start` (-1 for auth checks).
    #[getter]
    fn index(&self) -> isize {
        match &self.inner.kind {
            JobKind::Call { index, .. } => *index as isize,
            JobKind::Auth { .. } | JobKind::Cancelled { .. } => -1,
        }
    }

    /// True for an auth check (answer with `reply(b"")` to accept, `fail(text)` to refuse).
    #[getter]
    fn is_auth(&self) -> bool {
        matches!(self.inner.kind, JobKind::Auth { stream: None, .. })
    }

    /// For a stream accept check (`_streamservice.Stream`): the client's stream metadata
    /// (answer with `reply(b"")` to accept, `fail(text)` to refuse); `None` for other jobs.
    #[getter]
    fn stream_metadata<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        match &self.inner.kind {
            JobKind::Auth {
                stream: Some(meta), ..
            } => {
                let d = PyDict::new(py);
                for (k, v) in meta {
                    d.set_item(k, v)?;
                }
                Ok(Some(d))
            }
            _ => Ok(None),
        }
    }

    /// For a cancellation notice: the id given to `RawContext.watch_cancel` (else `None`).
    #[getter]
    fn cancelled_watch(&self) -> Option<u64> {
        match self.inner.kind {
            JobKind::Cancelled { watch } => Some(watch),
            _ => None,
        }
    }

    /// The `__AUTH` token of an auth check (`""` when absent; `None` for calls).
    #[getter]
    fn token(&self) -> Option<&str> {
        match &self.inner.kind {
            JobKind::Auth { token, .. } => Some(token),
            JobKind::Call { .. } | JobKind::Cancelled { .. } => None,
        }
    }

    /// The request payload.
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        match &self.inner.kind {
            JobKind::Call { payload, .. } => PyBytes::new(py, payload),
            JobKind::Auth { .. } | JobKind::Cancelled { .. } => PyBytes::new(py, b""),
        }
    }

    /// The caller's serialize type (the reply must use it).
    #[getter]
    fn serialize_type(&self) -> u8 {
        match &self.inner.kind {
            JobKind::Call { ctx, .. } => ctx.serialize_type().value(),
            JobKind::Auth { request, .. } => request.serialize,
            JobKind::Cancelled { .. } => 0,
        }
    }

    /// The call's context.
    fn context(&self) -> PyResult<RawContext> {
        let inner = match &self.inner.kind {
            JobKind::Call { ctx, .. } => CtxInner::Call(ctx.clone(), self.inner.arc()),
            JobKind::Auth { request, .. } => CtxInner::Auth(request.clone()),
            JobKind::Cancelled { .. } => {
                return Err(PyRuntimeError::new_err(
                    "a cancellation notice has no context",
                ))
            }
        };
        Ok(RawContext {
            inner: Owned::new(inner),
        })
    }

    /// Answers with an encoded reply. `False` if the caller no longer waits (or already
    /// answered).
    fn reply(&self, payload: &[u8]) -> bool {
        self.answer(Ok(Bytes::copy_from_slice(payload)))
    }

    /// Answers with an error (the text reaches the caller as `__rpcx_error__`), optionally
    /// with an encoded reply payload as Go services send.
    #[pyo3(signature = (message, payload=None))]
    fn fail(&self, message: &str, payload: Option<&[u8]>) -> bool {
        let mut e = ServiceError::new(message);
        if let Some(p) = payload {
            e = e.with_payload(Bytes::copy_from_slice(p));
        }
        self.answer(Err(e))
    }

    /// True while the caller still waits for the answer.
    #[getter]
    fn pending(&self) -> bool {
        self.inner
            .reply
            .lock()
            .map(|r| match r.as_ref() {
                Some(Replier::Call(tx)) => !tx.is_closed(),
                Some(Replier::Auth(_)) => true,
                None => false,
            })
            .unwrap_or(false)
    }
}

enum CtxInner {
    /// A call: its core context and its job (for the cancellation watch).
    Call(rpcx::server::Context, Arc<JobState>),
    Auth(AuthRequest),
}

/// What a handler (or the auth callable) knows about the call it serves (the machinery
/// under `rpcx.Context`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RawContext {
    inner: Owned<CtxInner>,
}

impl RawContext {
    /// The connection to push to, with the names checked.
    fn push_target(&self, service: &str, method: &str) -> PyResult<rpcx::server::ConnHandle> {
        let CtxInner::Call(c, _) = &*self.inner else {
            return Err(PyRuntimeError::new_err("cannot push from an auth check"));
        };
        if service.is_empty() && method.is_empty() {
            return Err(PyValueError::new_err(
                "a push needs a service or method name (empty both means heartbeat)",
            ));
        }
        Ok(c.connection().clone())
    }
}

#[pymethods]
impl RawContext {
    /// The service name (`Arith`).
    #[getter]
    fn service(&self) -> &str {
        match &*self.inner {
            CtxInner::Call(c, _) => c.service(),
            CtxInner::Auth(r) => &r.service,
        }
    }

    /// The method name (`Mul`).
    #[getter]
    fn method(&self) -> &str {
        match &*self.inner {
            CtxInner::Call(c, _) => c.method(),
            CtxInner::Auth(r) => &r.method,
        }
    }

    /// The request metadata (a new dict on each access).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        match &*self.inner {
            CtxInner::Call(c, _) => metadata_dict(py, c.metadata()),
            CtxInner::Auth(r) => metadata_dict(py, &r.metadata),
        }
    }

    /// The caller's address (`tcp@127.0.0.1:50123`).
    #[getter]
    fn peer(&self) -> &str {
        match &*self.inner {
            CtxInner::Call(c, _) => c.peer(),
            CtxInner::Auth(r) => &r.peer,
        }
    }

    /// The caller's serialize type.
    #[getter]
    fn serialize_type(&self) -> u8 {
        match &*self.inner {
            CtxInner::Call(c, _) => c.serialize_type().value(),
            CtxInner::Auth(r) => r.serialize,
        }
    }

    /// Seconds left before the caller's deadline (`None` when it sent none).
    fn remaining(&self) -> Option<f64> {
        match &*self.inner {
            CtxInner::Call(c, _) => c
                .deadline()
                .map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64()),
            CtxInner::Auth(_) => None,
        }
    }

    /// True once nobody waits for the reply: the caller's connection closed, its deadline
    /// passed or the server closed (never for an auth check).
    fn is_cancelled(&self) -> bool {
        match &*self.inner {
            CtxInner::Call(c, _) => c.is_cancelled(),
            CtxInner::Auth(_) => false,
        }
    }

    /// Blocks (GIL released, interruptible) until the call is cancelled or `timeout` seconds
    /// passed (forever when `None`); returns whether it was cancelled.
    #[pyo3(signature = (timeout=None))]
    fn wait_cancelled(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let CtxInner::Call(c, _) = &*self.inner else {
            return Err(PyRuntimeError::new_err("an auth check is never cancelled"));
        };
        let limit = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let ctx = c.clone();
        Ok(wait_for(py, async move { ctx.cancelled().await }, limit)?.is_some())
    }

    /// Watches the call: if it is cancelled before it is answered, a job with
    /// `cancelled_watch == watch` reaches the worker pool (the watch ends when the call is
    /// answered). `False` (nothing watched) when the call is already answered or cancelled;
    /// `True` when a watch runs (a second call keeps the first watch and its id).
    fn watch_cancel(&self, watch: u64) -> PyResult<bool> {
        let CtxInner::Call(ctx, job) = &*self.inner else {
            return Err(PyRuntimeError::new_err(
                "an auth check has no call to watch",
            ));
        };
        let JobKind::Call { notices, .. } = &job.kind else {
            return Ok(false);
        };
        // Under the reply lock: `answer` cannot slip between the check and the token.
        let reply = job
            .reply
            .lock()
            .map_err(|_| PyRuntimeError::new_err("job lock poisoned"))?;
        if reply.is_none() || ctx.is_cancelled() {
            return Ok(false);
        }
        let mut done_slot = job
            .done
            .lock()
            .map_err(|_| PyRuntimeError::new_err("job lock poisoned"))?;
        if done_slot.is_some() {
            return Ok(true);
        }
        let done = CancellationToken::new();
        *done_slot = Some(done.clone());
        drop(done_slot);
        drop(reply);
        let (ctx, notices) = (ctx.clone(), notices.clone());
        crate::runtime::handle()?.spawn(async move {
            tokio::select! {
                _ = ctx.cancelled() => {
                    let _ = notices.send(JobMsg::Cancelled { watch });
                }
                _ = done.cancelled() => {}
            }
        });
        Ok(true)
    }

    /// Adds `key: value` to the reply's metadata.
    fn set_reply_meta(&self, key: &str, value: &str) -> PyResult<()> {
        match &*self.inner {
            CtxInner::Call(c, _) => {
                c.set_reply_meta(key, value);
                Ok(())
            }
            CtxInner::Auth(_) => Err(PyRuntimeError::new_err(
                "an auth check has no reply to add metadata to",
            )),
        }
    }

    /// Pushes an encoded message to the caller's connection (a oneway request); the
    /// client receives it with `recv_push()`. Blocks (GIL released) until it is queued.
    #[pyo3(signature = (service, method, payload, metadata=None))]
    fn push(
        &self,
        py: Python<'_>,
        service: &str,
        method: &str,
        payload: &[u8],
        metadata: Option<MetaArg>,
    ) -> PyResult<()> {
        let conn = self.push_target(service, method)?;
        let (service, method) = (service.to_owned(), method.to_owned());
        let payload = Bytes::copy_from_slice(payload);
        let md = MetaArg::take(metadata);
        wait(py, async move {
            conn.push(&service, &method, md, payload).await
        })?
        .map_err(|e| to_py(py, e))
    }

    /// Starts a push; `None` (queued) or the exception arrives on `cq` under `token`.
    #[pyo3(signature = (cq, token, service, method, payload, metadata=None))]
    fn start_push(
        &self,
        cq: &CompletionQueue,
        token: u64,
        service: &str,
        method: &str,
        payload: &[u8],
        metadata: Option<MetaArg>,
    ) -> PyResult<CallHandle> {
        let conn = self.push_target(service, method)?;
        let (service, method) = (service.to_owned(), method.to_owned());
        let payload = Bytes::copy_from_slice(payload);
        let md = MetaArg::take(metadata);
        spawn_into(cq, token, async move {
            conn.push(&service, &method, md, payload).await
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<rpcx.RawContext {}.{} from {}>",
            self.service(),
            self.method(),
            self.peer()
        )
    }
}
