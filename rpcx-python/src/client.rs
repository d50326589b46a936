//! The client: one multiplexed rpcx connection. Payloads arrive here already encoded (by the
//! Python layer, with the GIL, on the caller's thread) and leave as bytes.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use tokio::sync::{mpsc, Mutex as AsyncMutex};

use rpcx::client::{ClientOptions, RawRequest};
use rpcx::protocol::{Limits, Message, SerializeType};

use crate::completion::{
    push_tuple, reply_tuple, spawn_into, start_call_into, CallHandle, CompletionQueue, Outcome,
};
use crate::errors::{closed, forked, to_py};
use crate::meta::MetaArg;
use crate::runtime::{wait, wait_for, Owned};

/// Limits as `(max_frame_len, max_decompressed_len, max_metadata_entries, max_metadata_bytes)`.
pub(crate) type LimitsTuple = (u32, usize, usize, usize);

pub(crate) fn limits_from(t: Option<LimitsTuple>) -> Limits {
    match t {
        None => Limits::DEFAULT,
        Some((frame, inflated, entries, bytes)) => Limits::DEFAULT
            .with_max_frame_len(frame)
            .with_max_decompressed_len(inflated)
            .with_max_metadata_entries(entries)
            .with_max_metadata_bytes(bytes),
    }
}

/// Seconds (a Python float) as a duration; `what` names the argument in the error.
pub(crate) fn seconds(what: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a finite number of seconds >= 0, got {s}"
        ))
    })
}

pub(crate) fn serialize_type(n: u8) -> PyResult<SerializeType> {
    SerializeType::new(n)
        .ok_or_else(|| PyValueError::new_err(format!("unknown serialize type {n} (0..=15)")))
}

struct Inner {
    client: rpcx::client::Client,
    pushes: AsyncMutex<Option<mpsc::Receiver<Message>>>,
}

impl Inner {
    /// The next server push; `None` once the connection has ended.
    async fn next_push(&self) -> Option<Message> {
        let mut rx = self.pushes.lock().await;
        if rx.is_none() {
            *rx = self.client.take_pushes();
        }
        rx.as_mut()?.recv().await
    }
}

/// A connection to one rpcx server (the machinery under `rpcx.Client` and
/// `rpcx.AsyncClient`).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RawClient {
    inner: Owned<Inner>,
}

impl RawClient {
    pub(crate) fn from_core(client: rpcx::client::Client) -> RawClient {
        RawClient {
            inner: Owned::new(Inner {
                client,
                pushes: AsyncMutex::new(None),
            }),
        }
    }

    fn live(&self, py: Python<'_>) -> PyResult<&rpcx::client::Client> {
        if self.inner.inherited() {
            return Err(forked(py, "client"));
        }
        Ok(&self.inner.client)
    }

    /// Makes the call and waits for its reply (GIL released, interruptible on the main
    /// thread); the call's error as its Python exception.
    fn call_blocking(
        &self,
        py: Python<'_>,
        req: RawRequest,
    ) -> PyResult<rpcx::client::RawResponse> {
        let client = self.live(py)?.clone();
        let reply = wait(py, async move { client.call_raw(req).await })?;
        reply.map_err(|e| to_py(py, e))
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn options(
    serialize: u8,
    timeout: Option<f64>,
    connect_timeout: f64,
    auth: Option<String>,
    compress: Option<(u8, usize)>,
    heartbeat: Option<f64>,
    heartbeat_timeout: f64,
    limits: Option<LimitsTuple>,
    max_unsent_bytes: Option<usize>,
    tls: Option<&Bound<'_, PyAny>>,
) -> PyResult<ClientOptions> {
    let mut o = ClientOptions::default()
        .serialize_type(serialize_type(serialize)?)
        .connect_timeout(seconds("connect_timeout", connect_timeout)?);
    if let Some(t) = timeout {
        o = o.timeout(seconds("timeout", t)?);
    }
    if let Some((ct, threshold)) = compress {
        o = o
            .compress(crate::compress::compress_type(ct)?)
            .compress_threshold(threshold);
    }
    if let Some(token) = auth {
        o = o.auth(token);
    }
    if let Some(h) = heartbeat {
        let every = seconds("heartbeat", h)?;
        if every.is_zero() {
            return Err(PyValueError::new_err("heartbeat interval must be > 0"));
        }
        o = o.heartbeat(every);
    }
    o.heartbeat_timeout = seconds("heartbeat_timeout", heartbeat_timeout)?;
    o.limits = limits_from(limits);
    if let Some(n) = max_unsent_bytes {
        if n == 0 {
            return Err(PyValueError::new_err("max_unsent_bytes must be > 0"));
        }
        o.max_unsent_bytes = n;
    }
    o.tls = crate::tls::client(tls)?;
    Ok(o)
}

fn request(
    service: &str,
    method: &str,
    serialize: u8,
    payload: &[u8],
    metadata: Option<MetaArg>,
    timeout: Option<f64>,
) -> PyResult<RawRequest> {
    Ok(RawRequest {
        service: service.to_owned(),
        method: method.to_owned(),
        serialize_type: serialize_type(serialize)?,
        metadata: MetaArg::take(metadata),
        payload: Bytes::copy_from_slice(payload),
        timeout: timeout.map(|t| seconds("timeout", t)).transpose()?,
    })
}

#[pymethods]
impl RawClient {
    /// Connects (blocking, interruptible).
    #[staticmethod]
    #[pyo3(signature = (address, serialize_type=3, timeout=None, connect_timeout=1.0, auth=None, compress=None, heartbeat=None, heartbeat_timeout=30.0, limits=None, tls=None, max_unsent_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn connect(
        py: Python<'_>,
        address: &str,
        serialize_type: u8,
        timeout: Option<f64>,
        connect_timeout: f64,
        auth: Option<String>,
        compress: Option<(u8, usize)>,
        heartbeat: Option<f64>,
        heartbeat_timeout: f64,
        limits: Option<LimitsTuple>,
        tls: Option<Bound<'_, PyAny>>,
        max_unsent_bytes: Option<usize>,
    ) -> PyResult<RawClient> {
        let opts = options(
            serialize_type,
            timeout,
            connect_timeout,
            auth,
            compress,
            heartbeat,
            heartbeat_timeout,
            limits,
            max_unsent_bytes,
            tls.as_ref(),
        )?;
        let address = address.to_owned();
        let client = wait(py, async move {
            rpcx::client::Client::connect(&address, opts).await
        })?
        .map_err(|e| to_py(py, e))?;
        Ok(RawClient::from_core(client))
    }

    /// Connects in the background; the `RawClient` arrives on `cq` under `token`.
    #[staticmethod]
    #[pyo3(signature = (cq, token, address, serialize_type=3, timeout=None, connect_timeout=1.0, auth=None, compress=None, heartbeat=None, heartbeat_timeout=30.0, limits=None, tls=None, max_unsent_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn connect_async(
        cq: &CompletionQueue,
        token: u64,
        address: &str,
        serialize_type: u8,
        timeout: Option<f64>,
        connect_timeout: f64,
        auth: Option<String>,
        compress: Option<(u8, usize)>,
        heartbeat: Option<f64>,
        heartbeat_timeout: f64,
        limits: Option<LimitsTuple>,
        tls: Option<Bound<'_, PyAny>>,
        max_unsent_bytes: Option<usize>,
    ) -> PyResult<CallHandle> {
        let opts = options(
            serialize_type,
            timeout,
            connect_timeout,
            auth,
            compress,
            heartbeat,
            heartbeat_timeout,
            limits,
            max_unsent_bytes,
            tls.as_ref(),
        )?;
        let address = address.to_owned();
        spawn_into(cq, token, async move {
            rpcx::client::Client::connect(&address, opts).await
        })
    }

    /// Calls and waits (GIL released, interruptible): `(payload, metadata)`.
    #[pyo3(signature = (service, method, serialize_type, payload, metadata=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn call<'py>(
        &self,
        py: Python<'py>,
        service: &str,
        method: &str,
        serialize_type: u8,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let req = request(service, method, serialize_type, payload, metadata, timeout)?;
        reply_tuple(py, &self.call_blocking(py, req)?)
    }

    /// [`call`](Self::call) for callers that want the reply payload only: no metadata dict
    /// is built.
    #[pyo3(signature = (service, method, serialize_type, payload, metadata=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn call_payload<'py>(
        &self,
        py: Python<'py>,
        service: &str,
        method: &str,
        serialize_type: u8,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let req = request(service, method, serialize_type, payload, metadata, timeout)?;
        Ok(PyBytes::new(py, &self.call_blocking(py, req)?.payload))
    }

    /// Starts a call; `(payload, metadata)` or the exception arrives on `cq` under `token`;
    /// with `payload_only`, the reply payload alone (`bytes`): no metadata dict is built.
    #[pyo3(signature = (cq, token, service, method, serialize_type, payload, metadata=None, timeout=None, payload_only=false))]
    #[allow(clippy::too_many_arguments)]
    fn start_call(
        &self,
        py: Python<'_>,
        cq: &CompletionQueue,
        token: u64,
        service: &str,
        method: &str,
        serialize_type: u8,
        payload: &[u8],
        metadata: Option<MetaArg>,
        timeout: Option<f64>,
        payload_only: bool,
    ) -> PyResult<CallHandle> {
        let client = self.live(py)?;
        let req = request(service, method, serialize_type, payload, metadata, timeout)?;
        start_call_into(cq, token, client, req, payload_only)
    }

    /// Sends a oneway request (returns once it is queued for writing).
    #[pyo3(signature = (service, method, serialize_type, payload, metadata=None))]
    fn send(
        &self,
        py: Python<'_>,
        service: &str,
        method: &str,
        serialize_type: u8,
        payload: &[u8],
        metadata: Option<MetaArg>,
    ) -> PyResult<()> {
        let client = self.live(py)?.clone();
        let req = request(service, method, serialize_type, payload, metadata, None)?;
        wait(py, async move { client.send_raw(req).await })?.map_err(|e| to_py(py, e))
    }

    /// Uploads the file at `path` through `service.TransferFile` (usually `_filetransfer`) at
    /// most `rate` bytes per second (`None`: no limit), on the runtime: `RawUpload.wait` gives
    /// the bytes sent.
    #[pyo3(signature = (service, path, rate=None, metadata=None))]
    fn send_file(
        &self,
        py: Python<'_>,
        service: String,
        path: std::path::PathBuf,
        rate: Option<u64>,
        metadata: Option<HashMap<String, String>>,
    ) -> PyResult<crate::transfer::RawUpload> {
        let client = self.live(py)?.clone();
        let (rate, meta) = (
            crate::transfer::rate(rate)?,
            crate::transfer::meta(metadata),
        );
        crate::transfer::RawUpload::start(async move {
            client.send_file(&service, path, rate, meta).await
        })
    }

    /// Starts downloading `name` through `service.DownloadFile`; read the bytes from the
    /// returned `RawDownload`.
    #[pyo3(signature = (service, name, metadata=None))]
    fn download_file(
        &self,
        py: Python<'_>,
        service: String,
        name: String,
        metadata: Option<HashMap<String, String>>,
    ) -> PyResult<crate::transfer::RawDownload> {
        let client = self.live(py)?.clone();
        let meta = crate::transfer::meta(metadata);
        crate::transfer::RawDownload::start(move |mut pipe| async move {
            client.download_file(&service, &name, &mut pipe, meta).await
        })
    }

    /// Opens a stream through `service.Stream` (usually `_streamservice`); waits (GIL
    /// released, interruptible) and returns the connection's blocking descriptor, which the
    /// caller owns.
    #[pyo3(signature = (service, metadata=None))]
    fn stream(
        &self,
        py: Python<'_>,
        service: String,
        metadata: Option<HashMap<String, String>>,
    ) -> PyResult<crate::transfer::RawSock> {
        let client = self.live(py)?.clone();
        let meta = crate::transfer::meta(metadata);
        wait(py, async move {
            crate::transfer::into_fd(client.stream(&service, meta).await?)
        })?
        .map_err(|e| to_py(py, e))
    }

    /// Starts a oneway send; `None` or the exception arrives on `cq` under `token`.
    #[pyo3(signature = (cq, token, service, method, serialize_type, payload, metadata=None))]
    #[allow(clippy::too_many_arguments)]
    fn start_send(
        &self,
        py: Python<'_>,
        cq: &CompletionQueue,
        token: u64,
        service: &str,
        method: &str,
        serialize_type: u8,
        payload: &[u8],
        metadata: Option<MetaArg>,
    ) -> PyResult<CallHandle> {
        let client = self.live(py)?.clone();
        let req = request(service, method, serialize_type, payload, metadata, None)?;
        spawn_into(cq, token, async move { client.send_raw(req).await })
    }

    /// Waits for the next server push: `(service, method, metadata, payload)`, or `None` when
    /// `timeout` passed first. Raises `ClosedError` once the connection has ended.
    #[pyo3(signature = (timeout=None))]
    fn recv_push<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.live(py)?;
        let limit = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let inner = self.inner.arc();
        match wait_for(py, async move { inner.next_push().await }, limit)? {
            None => Ok(None),
            Some(Some(m)) => push_tuple(py, &m).map(Some),
            Some(None) => Err(closed(py, "connection closed; no more pushes")),
        }
    }

    /// Starts waiting for the next push; the tuple, `None` (timeout) or `ClosedError` arrives
    /// on `cq` under `token`.
    #[pyo3(signature = (cq, token, timeout=None))]
    fn start_recv_push(
        &self,
        py: Python<'_>,
        cq: &CompletionQueue,
        token: u64,
        timeout: Option<f64>,
    ) -> PyResult<CallHandle> {
        self.live(py)?;
        let limit = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let inner = self.inner.arc();
        spawn_into(cq, token, async move {
            let next = inner.next_push();
            let got = match limit {
                None => Some(next.await),
                Some(d) => tokio::time::timeout(d, next).await.ok(),
            };
            match got {
                None => Outcome::Push(None),
                Some(Some(m)) => Outcome::Push(Some(m)),
                Some(None) => Outcome::Closed("connection closed; no more pushes".into()),
            }
        })
    }

    /// Closes the connection; pending calls fail with `ClosedError`. Idempotent.
    fn close(&self) {
        if !self.inner.inherited() {
            self.inner.client.close();
        }
    }

    /// True once the connection is closed or broken (always true in a forked child).
    #[getter]
    fn closed(&self) -> bool {
        self.inner.inherited() || self.inner.client.is_closed()
    }

    /// The server address as given (`tcp@127.0.0.1:8972`).
    #[getter]
    fn address(&self) -> String {
        self.inner.client.address().to_string()
    }

    /// The peer address of the connection.
    #[getter]
    fn peer(&self) -> String {
        self.inner.client.peer().to_owned()
    }
}
