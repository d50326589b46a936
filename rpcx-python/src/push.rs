//! The server pushes an XClient receives (the machinery under `rpcx.XClient.recv_push`): the
//! core XClient's push stream, every connection's pushes with the server they came from.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::{mpsc, Mutex as AsyncMutex};

use rpcx::xclient::ServerPush;

use crate::client::seconds;
use crate::completion::{push_tuple, spawn_into, CallHandle, CompletionQueue, Outcome};
use crate::errors::{closed, forked};
use crate::runtime::{wait_for, Owned};

/// Text of the `ClosedError` once the stream has ended.
const ENDED: &str = "XClient closed; no more pushes";

/// An XClient's push stream, taken once from the core XClient.
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RawPushes {
    inner: Owned<AsyncMutex<mpsc::Receiver<ServerPush>>>,
}

impl RawPushes {
    pub(crate) fn new(rx: mpsc::Receiver<ServerPush>) -> RawPushes {
        RawPushes {
            inner: Owned::new(AsyncMutex::new(rx)),
        }
    }
}

/// `(service, method, metadata, payload, server)` of an XClient push.
pub(crate) fn server_push_tuple<'py>(
    py: Python<'py>,
    p: &ServerPush,
) -> PyResult<Bound<'py, PyTuple>> {
    let four = push_tuple(py, &p.message)?;
    let mut items: Vec<Bound<'py, PyAny>> = four.iter().collect();
    items.push(p.server.as_str().into_pyobject(py)?.into_any());
    PyTuple::new(py, items)
}

#[pymethods]
impl RawPushes {
    /// Waits for the next push: `(service, method, metadata, payload, server)`, or `None`
    /// when `timeout` passed first. Raises `ClosedError` once the XClient is closed and its
    /// pushes are drained.
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        if self.inner.inherited() {
            return Err(forked(py, "XClient"));
        }
        let limit = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let rx = self.inner.arc();
        match wait_for(py, async move { rx.lock().await.recv().await }, limit)? {
            None => Ok(None),
            Some(Some(p)) => server_push_tuple(py, &p).map(Some),
            Some(None) => Err(closed(py, ENDED)),
        }
    }

    /// Starts waiting for the next push; the tuple, `None` (timeout) or `ClosedError` arrives
    /// on `cq` under `token`.
    #[pyo3(signature = (cq, token, timeout=None))]
    fn start_recv(
        &self,
        py: Python<'_>,
        cq: &CompletionQueue,
        token: u64,
        timeout: Option<f64>,
    ) -> PyResult<CallHandle> {
        if self.inner.inherited() {
            return Err(forked(py, "XClient"));
        }
        let limit = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let rx = self.inner.arc();
        spawn_into(cq, token, async move {
            let next = async { rx.lock().await.recv().await };
            let got = match limit {
                None => Some(next.await),
                Some(d) => tokio::time::timeout(d, next).await.ok(),
            };
            match got {
                None => Outcome::ServerPush(None),
                Some(Some(p)) => Outcome::ServerPush(Some(p)),
                Some(None) => Outcome::Closed(ENDED.into()),
            }
        })
    }
}
