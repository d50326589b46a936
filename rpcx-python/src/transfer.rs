//! File transfer and streams (`_filetransfer`, `_streamservice`) for Python.
//!
//! Server side: [`register`] adds the core's [`FileTransfer`] (directories only) and a
//! [`StreamService`] whose handler hands each accepted connection to Python as a
//! [`StreamJob`] on a channel (the runtime never takes the GIL); a Python thread of
//! `rpcx.Server` takes them with `RawServer.next_stream` and turns the connection into a
//! `socket.socket` (the descriptor's ownership passes to Python). The side listener's
//! concurrency permit is held until Python calls [`StreamJob::done`] (or drops the job).
//!
//! Client side: a stream's connection is returned to Python as a descriptor too
//! ([`into_fd`]); a download is read through [`RawDownload`], fed by a runtime task over an
//! in-memory pipe, so Python writes the bytes wherever it likes.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use rpcx::server::BoxFuture;
use rpcx::server::Server;
use rpcx::transfer::{
    Download, DownloadFileArgs, FileTransfer, FileTransferArgs, FileTransferOptions, SideHandle,
    SideOptions, StreamService, Upload, FILE_TRANSFER_BUFFER_SIZE,
};

use crate::client::seconds;
use crate::errors::to_py;
use crate::runtime::{handle, wait};

/// A side listener's options from Python: `(listen, advertise_addr, token_lifetime,
/// max_tokens, max_concurrent, handshake_timeout)`.
pub(crate) type SideTuple = (String, Option<String>, f64, usize, usize, f64);

/// File transfer options from Python: `(upload_dir, download_dir, max_file_size, io_timeout,
/// side, upload_handler, download_handler)`, the last two true when Python handles uploads or
/// downloads itself (instead of a directory).
pub(crate) type FileTransferTuple = (
    Option<std::path::PathBuf>,
    Option<std::path::PathBuf>,
    u64,
    f64,
    SideTuple,
    bool,
    bool,
);

fn side_options(t: SideTuple) -> PyResult<SideOptions> {
    let (listen, advertise_addr, ttl, max_tokens, max_concurrent, handshake) = t;
    Ok(SideOptions {
        listen,
        advertise_addr,
        token_ttl: seconds("token_lifetime", ttl)?,
        max_tokens,
        max_concurrent,
        handshake_timeout: seconds("handshake_timeout", handshake)?,
    })
}

/// One accepted stream, waiting for Python.
pub(crate) struct StreamMsg {
    meta: HashMap<String, String>,
    peer: String,
    conn: std::net::TcpStream,
    done: oneshot::Sender<()>,
}

/// What a Python handler answers when it is done with an upload or a download.
type Verdict = oneshot::Sender<Result<(), String>>;

/// One upload for a Python upload handler.
pub(crate) struct UploadMsg {
    args: FileTransferArgs,
    peer: String,
    upload: Arc<tokio::sync::Mutex<Option<Upload>>>,
    done: Verdict,
}

/// One download for a Python download handler.
pub(crate) struct DownloadMsg {
    args: DownloadFileArgs,
    peer: String,
    download: Arc<tokio::sync::Mutex<Option<Download>>>,
    done: Verdict,
}

/// Work of the side listeners for the Python server's side thread.
pub(crate) enum SideMsg {
    Stream(StreamMsg),
    Upload(UploadMsg),
    Download(DownloadMsg),
}

/// The outcome a handler task waits for: what Python said, or a dropped job.
async fn verdict(rx: oneshot::Receiver<Result<(), String>>, what: &str) -> Result<(), String> {
    rx.await
        .unwrap_or_else(|_| Err(format!("the {what} handler ended without an answer")))
}

/// The side listeners of a server and the queue of its accepted streams.
pub(crate) struct Sides {
    pub(crate) handles: Vec<SideHandle>,
    /// Streams, and uploads and downloads for Python handlers (`None`: nothing for Python).
    pub(crate) jobs: Option<Receiver<SideMsg>>,
    /// `(file transfer reply address, stream reply address)`.
    pub(crate) addresses: (Option<String>, Option<String>),
}

impl Sides {
    /// Stops every side listener (tokens issued later cannot be used).
    pub(crate) fn close(&self) {
        for h in &self.handles {
            h.close();
        }
    }
}

/// Checks the options and builds what [`register`] registers (before the runtime work).
pub(crate) struct Plan {
    file_transfer: Option<FileTransfer>,
    streams: Option<SideOptions>,
    jobs: Option<(Sender<SideMsg>, Receiver<SideMsg>)>,
}

/// Validates the Python options into a [`Plan`].
pub(crate) fn plan(
    file_transfer: Option<FileTransferTuple>,
    streams: Option<SideTuple>,
) -> PyResult<Plan> {
    let wants_jobs = streams.is_some() || file_transfer.as_ref().is_some_and(|t| t.5 || t.6);
    let jobs = wants_jobs.then(crossbeam_channel::unbounded::<SideMsg>);
    let file_transfer = match file_transfer {
        None => None,
        Some((upload, download, max_file_size, io_timeout, side, up_h, down_h)) => {
            if upload.is_none() && download.is_none() && !up_h && !down_h {
                return Err(PyValueError::new_err(
                    "file transfer needs an upload_dir or upload_handler, a download_dir or download_handler",
                ));
            }
            if (upload.is_some() && up_h) || (download.is_some() && down_h) {
                return Err(PyValueError::new_err(
                    "file transfer: a directory and a handler for the same direction",
                ));
            }
            let mut ft = FileTransfer::new(FileTransferOptions {
                side: side_options(side)?,
                max_file_size,
                io_timeout: seconds("io_timeout", io_timeout)?,
            });
            if let Some(d) = upload {
                ft = ft.upload_dir(d);
            }
            if let Some(d) = download {
                ft = ft.download_dir(d);
            }
            if let (true, Some((tx, _))) = (up_h, &jobs) {
                ft = ft.upload_handler(upload_handler(tx.clone()));
            }
            if let (true, Some((tx, _))) = (down_h, &jobs) {
                ft = ft.download_handler(download_handler(tx.clone()));
            }
            Some(ft)
        }
    };
    let streams = streams.map(side_options).transpose()?;
    Ok(Plan {
        file_transfer,
        streams,
        jobs,
    })
}

/// The core's upload handler for a Python one: the upload goes to Python as a job, and the
/// transfer ends with Python's answer.
fn upload_handler(
    tx: Sender<SideMsg>,
) -> impl Fn(FileTransferArgs, Upload) -> BoxFuture<Result<(), String>> + Send + Sync + 'static {
    move |args, upload| {
        let tx = tx.clone();
        Box::pin(async move {
            let peer = upload.peer().to_string();
            let slot = Arc::new(tokio::sync::Mutex::new(Some(upload)));
            let (done, rx) = oneshot::channel();
            let msg = UploadMsg {
                args,
                peer,
                upload: Arc::clone(&slot),
                done,
            };
            if tx.send(SideMsg::Upload(msg)).is_err() {
                return Err("the server is stopping".into());
            }
            let r = verdict(rx, "upload").await;
            // The connection closes here, not whenever Python drops the job.
            slot.lock().await.take();
            r
        })
    }
}

/// The core's download handler for a Python one: Python writes through the job, and a clean
/// answer finishes the file (anything else resets the connection).
fn download_handler(
    tx: Sender<SideMsg>,
) -> impl Fn(DownloadFileArgs, Download) -> BoxFuture<Result<(), String>> + Send + Sync + 'static {
    move |args, download| {
        let tx = tx.clone();
        Box::pin(async move {
            let peer = download.peer().to_string();
            let slot = Arc::new(tokio::sync::Mutex::new(Some(download)));
            let (done, rx) = oneshot::channel();
            let msg = DownloadMsg {
                args,
                peer,
                download: Arc::clone(&slot),
                done,
            };
            if tx.send(SideMsg::Download(msg)).is_err() {
                return Err("the server is stopping".into());
            }
            let r = verdict(rx, "download").await;
            let d = slot.lock().await.take();
            match (r, d) {
                (Ok(()), Some(d)) => d.finish().await.map_err(|e| e.to_string()),
                (Ok(()), None) => Err("the download was already closed".into()),
                (Err(e), _) => Err(e),
            }
        })
    }
}

/// A stream acceptor (the core's `StreamAcceptor`): whether a `Stream` call gets a token.
pub(crate) type Acceptor = rpcx::transfer::StreamAcceptor;

/// Binds the side listeners of `plan` and registers their services on `server`; `acceptor`
/// (when given) decides which stream calls get a token.
pub(crate) async fn register(
    plan: Plan,
    acceptor: Option<Acceptor>,
    server: &mut Server,
) -> Result<Sides, rpcx::Error> {
    let mut sides = Sides {
        handles: Vec::new(),
        jobs: None,
        addresses: (None, None),
    };
    let tx = plan.jobs.as_ref().map(|(tx, _)| tx.clone());
    if let Some(ft) = plan.file_transfer {
        let h = ft.register(server).await?;
        sides.addresses.0 = Some(h.reply_addr().to_owned());
        sides.handles.push(h);
    }
    if let (Some(options), Some(tx)) = (plan.streams, tx) {
        let mut service = StreamService::new(options, move |args, conn, peer| {
            let tx = tx.clone();
            async move {
                let conn = match conn.into_std().and_then(|c| {
                    c.set_nonblocking(false)?;
                    Ok(c)
                }) {
                    Ok(c) => c,
                    // Only fails when the socket is already broken: the connection is dropped.
                    Err(_) => return,
                };
                let (done, finished) = oneshot::channel();
                let msg = StreamMsg {
                    meta: args.meta,
                    peer: peer.to_string(),
                    conn,
                    done,
                };
                if tx.send(SideMsg::Stream(msg)).is_ok() {
                    // Holds the side listener's permit until Python is done with it.
                    let _ = finished.await;
                }
            }
        });
        if let Some(accept) = acceptor {
            service = service.acceptor(move |ctx, args| accept(ctx, args));
        }
        let h = service.register(server).await?;
        sides.addresses.1 = Some(h.reply_addr().to_owned());
        sides.handles.push(h);
    }
    sides.jobs = plan.jobs.map(|(_, rx)| rx);
    Ok(sides)
}

/// An accepted stream for a Python handler: the connection (taken once, as a descriptor
/// that Python then owns), the client's metadata and address.
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct StreamJob {
    meta: HashMap<String, String>,
    peer: String,
    conn: Mutex<Option<std::net::TcpStream>>,
    done: Mutex<Option<oneshot::Sender<()>>>,
}

impl StreamJob {
    pub(crate) fn from_msg(m: StreamMsg) -> StreamJob {
        StreamJob {
            meta: m.meta,
            peer: m.peer,
            conn: Mutex::new(Some(m.conn)),
            done: Mutex::new(Some(m.done)),
        }
    }
}

#[pymethods]
impl StreamJob {
    /// The client's metadata (`Stream`'s `meta`).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        meta_dict(py, &self.meta)
    }

    /// The client's side-connection address (`host:port`).
    #[getter]
    fn peer(&self) -> &str {
        &self.peer
    }

    /// The connection's descriptor, in blocking mode; the caller owns it from now on (wrap it
    /// with `socket.socket(fileno=...)`). Only once: a `RuntimeError` afterwards.
    fn take_fd(&self) -> PyResult<RawSock> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| PyRuntimeError::new_err("stream lock poisoned"))?
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the stream's connection was already taken"))?;
        Ok(raw_sock(conn))
    }

    /// Tells the side listener this stream is over (frees its slot among `max_concurrent`).
    /// Idempotent; dropping the job does the same.
    fn done(&self) {
        if let Ok(mut d) = self.done.lock() {
            if let Some(tx) = d.take() {
                let _ = tx.send(());
            }
        }
    }

    fn __repr__(&self) -> String {
        format!("<StreamJob from {}>", self.peer)
    }
}

/// A side job as the Python object the server's side thread handles.
pub(crate) fn side_job(py: Python<'_>, msg: SideMsg) -> PyResult<Py<PyAny>> {
    Ok(match msg {
        SideMsg::Stream(m) => Py::new(py, StreamJob::from_msg(m))?.into_any(),
        SideMsg::Upload(m) => Py::new(
            py,
            UploadJob {
                args: m.args,
                peer: m.peer,
                upload: m.upload,
                done: Mutex::new(Some(m.done)),
            },
        )?
        .into_any(),
        SideMsg::Download(m) => Py::new(
            py,
            DownloadJob {
                args: m.args,
                peer: m.peer,
                download: m.download,
                done: Mutex::new(Some(m.done)),
            },
        )?
        .into_any(),
    })
}

fn meta_dict<'py>(py: Python<'py>, meta: &HashMap<String, String>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in meta {
        d.set_item(k, v)?;
    }
    Ok(d)
}

fn answer(done: &Mutex<Option<Verdict>>, error: Option<String>) {
    if let Ok(mut d) = done.lock() {
        if let Some(tx) = d.take() {
            let _ = tx.send(error.map_or(Ok(()), Err));
        }
    }
}

/// One upload for a Python upload handler: the client's arguments and its bytes, read with
/// `read`; `finish` answers (a `None` error: the upload is complete).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct UploadJob {
    args: FileTransferArgs,
    peer: String,
    upload: Arc<tokio::sync::Mutex<Option<Upload>>>,
    done: Mutex<Option<Verdict>>,
}

#[pymethods]
impl UploadJob {
    /// The client's file name (as sent: the handler decides what it means).
    #[getter]
    fn name(&self) -> &str {
        &self.args.file_name
    }

    /// The declared size in bytes.
    #[getter]
    fn size(&self) -> i64 {
        self.args.file_size
    }

    /// The client's metadata.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        meta_dict(py, &self.args.meta)
    }

    /// The client's side-connection address.
    #[getter]
    fn peer(&self) -> &str {
        &self.peer
    }

    /// The next bytes (at most 64 KiB; GIL released, interruptible), or `None` once all the
    /// declared bytes arrived. Raises `OSError` when the client sends more than declared,
    /// closes early or stalls past the io timeout, and after `finish`.
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let slot = Arc::clone(&self.upload);
        let got = wait(py, async move {
            let mut g = slot.lock().await;
            let Some(u) = g.as_mut() else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the upload is over",
                ));
            };
            u.chunk().await.map(|c| c.map(<[u8]>::to_vec))
        })?;
        match got {
            Ok(c) => Ok(c.map(|b| PyBytes::new(py, &b))),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the upload: `None` when the handler took it, else the error text (logged; the
    /// connection is dropped). Idempotent; dropping the job is an error answer.
    #[pyo3(signature = (error=None))]
    fn finish(&self, error: Option<String>) {
        answer(&self.done, error);
    }
}

/// One download for a Python download handler: the client's arguments; the handler writes
/// the file's bytes with `write`; `finish` answers (a `None` error ends the file cleanly,
/// anything else resets the connection so the client sees an error).
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct DownloadJob {
    args: DownloadFileArgs,
    peer: String,
    download: Arc<tokio::sync::Mutex<Option<Download>>>,
    done: Mutex<Option<Verdict>>,
}

#[pymethods]
impl DownloadJob {
    /// The requested name (as sent: the handler decides what it means).
    #[getter]
    fn name(&self) -> &str {
        &self.args.file_name
    }

    /// The client's metadata.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        meta_dict(py, &self.args.meta)
    }

    /// The client's side-connection address.
    #[getter]
    fn peer(&self) -> &str {
        &self.peer
    }

    /// Sends `data` (GIL released, interruptible). Raises `OSError` past `max_file_size`
    /// (nothing of `data` is sent), when the client went away, when a write makes no
    /// progress for the io timeout, and after `finish`.
    fn write(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let slot = Arc::clone(&self.download);
        let data = data.to_vec();
        wait(py, async move {
            let mut g = slot.lock().await;
            match g.as_mut() {
                Some(d) => d.write(&data).await,
                None => Err(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "the download is over",
                )),
            }
        })?
        .map_err(PyErr::from)
    }

    /// Ends the download: `None` finishes the file, an error text resets the connection
    /// (and is logged). Idempotent; dropping the job is an error answer.
    #[pyo3(signature = (error=None))]
    fn finish(&self, error: Option<String>) {
        answer(&self.done, error);
    }
}

/// A socket descriptor as Python's `socket.socket(fileno=...)` takes it.
#[cfg(unix)]
pub(crate) type RawSock = i32;
/// A socket handle as Python's `socket.socket(fileno=...)` takes it.
#[cfg(windows)]
pub(crate) type RawSock = u64;

#[cfg(unix)]
fn raw_sock(conn: std::net::TcpStream) -> RawSock {
    use std::os::fd::IntoRawFd;
    conn.into_raw_fd()
}

#[cfg(windows)]
fn raw_sock(conn: std::net::TcpStream) -> RawSock {
    use std::os::windows::io::IntoRawSocket;
    conn.into_raw_socket() as u64
}

/// A client stream's connection as a blocking descriptor the caller owns.
pub(crate) fn into_fd(conn: tokio::net::TcpStream) -> Result<RawSock, rpcx::Error> {
    let std = conn.into_std()?;
    std.set_nonblocking(false)?;
    Ok(raw_sock(std))
}

/// The bytes of one download, read by Python with [`RawDownload::read`] while a runtime task
/// receives them. Dropping it (or `close`) aborts the transfer.
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RawDownload {
    state: Arc<tokio::sync::Mutex<DownloadState>>,
    task: tokio::task::AbortHandle,
}

struct DownloadState {
    pipe: tokio::io::DuplexStream,
    result: Option<Outcome>,
    buf: Vec<u8>,
}

/// How much of a download may wait in memory for Python.
const PIPE_BYTES: usize = 4 * FILE_TRANSFER_BUFFER_SIZE;

impl RawDownload {
    /// Starts `transfer` (which writes the file into the pipe it is given) on the runtime.
    pub(crate) fn start<F, Fut>(transfer: F) -> PyResult<RawDownload>
    where
        F: FnOnce(tokio::io::DuplexStream) -> Fut,
        Fut: Future<Output = Result<u64, rpcx::Error>> + Send + 'static,
    {
        let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
        let (tx, rx) = oneshot::channel();
        let fut = transfer(writer);
        let task = handle()?.spawn(async move {
            let _ = tx.send(fut.await);
        });
        Ok(RawDownload {
            state: Arc::new(tokio::sync::Mutex::new(DownloadState {
                pipe: reader,
                result: Some(rx),
                buf: vec![0; FILE_TRANSFER_BUFFER_SIZE],
            })),
            task: task.abort_handle(),
        })
    }
}

impl Drop for RawDownload {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[pymethods]
impl RawDownload {
    /// The next bytes of the file (GIL released, interruptible); `None` at its end, with the
    /// byte count available from `total`. Raises the transfer's error (the server refused the
    /// name, reset the connection, stalled past the timeout).
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let state = Arc::clone(&self.state);
        let got = wait(py, async move {
            let mut s = state.lock().await;
            let s = &mut *s;
            let n = s.pipe.read(&mut s.buf).await.unwrap_or(0);
            if n > 0 {
                return Ok(Some(s.buf[..n].to_vec()));
            }
            match s.result.take() {
                None => Ok(None),
                Some(rx) => match rx.await {
                    Ok(Ok(_)) => Ok(None),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(rpcx::Error::Closed),
                },
            }
        })?;
        match got {
            Ok(Some(bytes)) => Ok(Some(PyBytes::new(py, &bytes))),
            Ok(None) => Ok(None),
            Err(e) => Err(to_py(py, e)),
        }
    }

    /// Aborts the transfer (the connection is dropped). Idempotent.
    fn close(&self) {
        self.task.abort();
    }
}

/// Where a transfer task's result arrives.
type Outcome = oneshot::Receiver<Result<u64, rpcx::Error>>;

/// One upload running on the runtime: [`RawUpload::wait`] for its byte count. Dropping it (or
/// `close`) aborts the transfer.
#[pyclass(frozen, module = "rpcx._rpcx")]
pub struct RawUpload {
    result: Arc<tokio::sync::Mutex<Option<Outcome>>>,
    task: tokio::task::AbortHandle,
}

impl RawUpload {
    /// Starts `transfer` on the runtime.
    pub(crate) fn start<Fut>(transfer: Fut) -> PyResult<RawUpload>
    where
        Fut: Future<Output = Result<u64, rpcx::Error>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let task = handle()?.spawn(async move {
            let _ = tx.send(transfer.await);
        });
        Ok(RawUpload {
            result: Arc::new(tokio::sync::Mutex::new(Some(rx))),
            task: task.abort_handle(),
        })
    }
}

impl Drop for RawUpload {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[pymethods]
impl RawUpload {
    /// Waits (GIL released, interruptible) for the end of the upload: the bytes sent, or the
    /// transfer's error. Only once: a `RuntimeError` afterwards.
    fn wait(&self, py: Python<'_>) -> PyResult<u64> {
        let result = Arc::clone(&self.result);
        let got = wait(py, async move {
            let mut slot = result.lock().await;
            let rx = slot.as_mut()?;
            let r = rx.await.unwrap_or(Err(rpcx::Error::Closed));
            *slot = None;
            Some(r)
        })?;
        match got {
            None => Err(PyRuntimeError::new_err("the upload was already waited for")),
            Some(r) => r.map_err(|e| to_py(py, e)),
        }
    }

    /// Aborts the upload (the connection is dropped). Idempotent.
    fn close(&self) {
        self.task.abort();
    }
}

/// A rate from Python: `None` or a positive byte count per second.
pub(crate) fn rate(rate: Option<u64>) -> PyResult<u64> {
    match rate {
        None => Ok(0),
        Some(0) => Err(PyValueError::new_err(
            "rate must be a positive number of bytes per second, or None for no limit",
        )),
        Some(r) => Ok(r),
    }
}

/// Metadata from Python as the core's map.
pub(crate) fn meta(m: Option<HashMap<String, String>>) -> HashMap<String, String> {
    m.unwrap_or_default()
}
