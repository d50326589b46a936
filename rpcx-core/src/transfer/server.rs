//! Server side: [`FileTransfer`] (`_filetransfer`) and [`StreamService`] (`_streamservice`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::side::{Serve, Side, SideOptions};
use super::types::{
    DownloadFileArgs, FileTransferArgs, FileTransferReply, StreamServiceArgs,
    FILE_TRANSFER_SERVICE, STREAM_SERVICE,
};
use crate::server::{BoxFuture, Context, Server, ServiceError};
use crate::Error;

const CHUNK: usize = 64 * 1024;
/// Bytes per disk read or write of a transfer to or from a directory: tokio runs each file
/// operation on its blocking pool, so fewer, larger ones (a 256 MiB file in 512 hops, not
/// 4096) keep up with the socket. Held once per transfer in progress.
const FILE_IO: usize = 512 * 1024;

/// Limits of a [`FileTransfer`].
#[derive(Debug, Clone)]
pub struct FileTransferOptions {
    /// The side listener, tokens and connection limits.
    pub side: SideOptions,
    /// Largest file accepted for upload or served for download, in bytes. Default 1 GiB.
    pub max_file_size: u64,
    /// Longest wait for one read or write on a side connection once the token is accepted (a
    /// stalled transfer is aborted after it). Default 30 s.
    pub io_timeout: Duration,
}

impl Default for FileTransferOptions {
    fn default() -> Self {
        FileTransferOptions {
            side: SideOptions::default(),
            max_file_size: 1 << 30,
            io_timeout: Duration::from_secs(30),
        }
    }
}

/// An application's upload handler: given the client's arguments and the incoming bytes
/// ([`Upload::chunk`]); an `Err` aborts the transfer (the connection is reset) and is logged.
pub type UploadHandler =
    Arc<dyn Fn(FileTransferArgs, Upload) -> BoxFuture<Result<(), String>> + Send + Sync>;

enum UploadTarget {
    Directory(PathBuf),
    Handler(UploadHandler),
}

/// An application's download handler: given the client's arguments, it writes the file's
/// bytes with [`Download::write`] and ends the file with [`Download::finish`]. A `Download`
/// dropped unfinished (an early return, an `Err`, a panic) resets the connection, so the
/// client sees an error rather than a short file; an `Err` is logged. The handler decides what
/// a name means: the directory rules do not apply to it.
pub type DownloadHandler =
    Arc<dyn Fn(DownloadFileArgs, Download) -> BoxFuture<Result<(), String>> + Send + Sync>;

enum DownloadSource {
    Directory(PathBuf),
    Handler(DownloadHandler),
}

/// File transfer (Go's `server.FileTransfer`): registers `_filetransfer.TransferFile` (upload)
/// and `_filetransfer.DownloadFile` on a [`Server`] and serves the side listener.
///
/// Security rules:
/// * uploads into a directory keep only the final component of the client's file name and
///   refuse empty names, `.`, `..`, names starting with `.`, and control characters; the file is
///   written under a temporary name and renamed into place only once all the declared bytes
///   arrived (a short, long or stalled upload leaves nothing behind);
/// * downloads are confined to the download directory: absolute names, `..` components and
///   symlinks that resolve outside it are refused (the path is canonicalized and checked to
///   stay under the canonical directory), and only regular files are served;
/// * a declared size or a file above [`FileTransferOptions::max_file_size`] is refused in the
///   call's error reply, before any side connection.
///
/// ```no_run
/// use rpcx::server::Server;
/// use rpcx::transfer::{FileTransfer, FileTransferOptions};
///
/// # async fn run() -> Result<(), rpcx::Error> {
/// let mut server = Server::builder().build();
/// let files = FileTransfer::new(FileTransferOptions::default())
///     .upload_dir("/srv/uploads")
///     .download_dir("/srv/files")
///     .register(&mut server)
///     .await?;
/// let handle = server.serve("tcp@127.0.0.1:8972").await?;
/// println!("side listener on {}", files.local_addr());
/// # Ok(()) }
/// ```
pub struct FileTransfer {
    options: FileTransferOptions,
    upload: Option<UploadTarget>,
    download: Option<DownloadSource>,
}

impl FileTransfer {
    /// A file transfer with these limits and neither uploads nor downloads enabled yet.
    pub fn new(options: FileTransferOptions) -> FileTransfer {
        FileTransfer {
            options,
            upload: None,
            download: None,
        }
    }

    /// Saves uploads as files in `dir` (which must exist), under their sanitized names.
    pub fn upload_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.upload = Some(UploadTarget::Directory(dir.into()));
        self
    }

    /// Hands uploads to `handler` instead of saving them.
    pub fn upload_handler<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(FileTransferArgs, Upload) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.upload = Some(UploadTarget::Handler(Arc::new(move |a, u| {
            Box::pin(handler(a, u))
        })));
        self
    }

    /// Serves downloads from the files under `dir` (which must exist).
    pub fn download_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.download = Some(DownloadSource::Directory(dir.into()));
        self
    }

    /// Produces downloads with `handler` instead of reading a directory (see
    /// [`DownloadHandler`]); [`FileTransferOptions::max_file_size`] still bounds what it writes.
    pub fn download_handler<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(DownloadFileArgs, Download) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.download = Some(DownloadSource::Handler(Arc::new(move |a, d| {
            Box::pin(handler(a, d))
        })));
        self
    }

    /// Binds the side listener and registers the service as `_filetransfer`. Keep the returned
    /// handle: dropping it stops the side listener.
    pub async fn register(self, server: &mut Server) -> Result<SideHandle, Error> {
        self.register_as(server, FILE_TRANSFER_SERVICE).await
    }

    /// [`register`](Self::register) under another service name.
    pub async fn register_as(
        self,
        server: &mut Server,
        service: &str,
    ) -> Result<SideHandle, Error> {
        if self.options.io_timeout.is_zero() {
            return Err(Error::Config(
                "file transfer: io_timeout must be above zero".into(),
            ));
        }
        let upload = match self.upload {
            Some(UploadTarget::Directory(d)) => Some(UploadTarget::Directory(canonical_dir(&d)?)),
            other => other,
        };
        let download = match self.download {
            Some(DownloadSource::Directory(d)) => {
                Some(DownloadSource::Directory(canonical_dir(&d)?))
            }
            other => other,
        };
        let shared = Arc::new(Shared {
            max_file_size: self.options.max_file_size,
            io_timeout: self.options.io_timeout,
            upload,
            download,
        });
        let s = shared.clone();
        let serve: Serve<Job> = Arc::new(move |job, conn, peer, permit| {
            let s = s.clone();
            Box::pin(async move {
                s.serve(job, conn, peer).await;
                drop(permit);
            })
        });
        let side = Arc::new(Side::start(&self.options.side, "filetransfer", serve).await?);

        let (sh, sd) = (shared.clone(), side.clone());
        server.register_fn(
            service,
            "TransferFile",
            move |ctx: Context, args: FileTransferArgs| {
                let (shared, side) = (sh.clone(), sd.clone());
                async move {
                    let job = shared.check_upload(&ctx, args)?;
                    let token = side.issue(job).map_err(ServiceError::from_display)?;
                    Ok::<_, ServiceError>(FileTransferReply {
                        token: token.to_vec(),
                        addr: side.reply_addr.clone(),
                    })
                }
            },
        )?;
        let (sh, sd) = (shared, side.clone());
        server.register_fn(
            service,
            "DownloadFile",
            move |ctx: Context, args: DownloadFileArgs| {
                let (shared, side) = (sh.clone(), sd.clone());
                async move {
                    let job = shared.check_download(&ctx, args)?;
                    let token = side.issue(job).map_err(ServiceError::from_display)?;
                    Ok::<_, ServiceError>(FileTransferReply {
                        token: token.to_vec(),
                        addr: side.reply_addr.clone(),
                    })
                }
            },
        )?;
        Ok(SideHandle {
            local: side.local,
            reply_addr: side.reply_addr.clone(),
            stop: side.stop.clone(),
        })
    }
}

fn canonical_dir(dir: &Path) -> Result<PathBuf, Error> {
    let c = std::fs::canonicalize(dir)
        .map_err(|e| Error::Config(format!("file transfer directory {}: {e}", dir.display())))?;
    if !c.is_dir() {
        return Err(Error::Config(format!(
            "file transfer directory {} is not a directory",
            dir.display()
        )));
    }
    Ok(c)
}

/// The last path component of an upload's name, or why it is refused.
fn sanitize_upload_name(name: &str) -> Result<String, String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    if base.is_empty() || base == "." || base == ".." {
        return Err(format!("invalid upload file name {name:?}"));
    }
    if base.starts_with('.') {
        return Err(format!(
            "invalid upload file name {name:?}: hidden names are refused"
        ));
    }
    if base.chars().any(|c| c.is_control()) || base.len() > 255 {
        return Err(format!("invalid upload file name {name:?}"));
    }
    Ok(base.to_owned())
}

/// The canonical path of `name` under the canonical directory `dir`, or why it is refused.
fn resolve_download(dir: &Path, name: &str) -> Result<PathBuf, String> {
    if name.is_empty() || name.contains('\0') {
        return Err(format!("invalid download file name {name:?}"));
    }
    let rel = Path::new(name);
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("download refused: {name:?} contains '..'"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("download refused: {name:?} is an absolute path"));
            }
        }
    }
    let full = std::fs::canonicalize(dir.join(rel))
        .map_err(|e| format!("download refused: {name:?}: {e}"))?;
    if !full.starts_with(dir) {
        return Err(format!(
            "download refused: {name:?} resolves outside the download directory"
        ));
    }
    Ok(full)
}

enum Job {
    Upload(FileTransferArgs, Option<PathBuf>),
    Download(DownloadFileArgs),
}

struct Shared {
    max_file_size: u64,
    io_timeout: Duration,
    upload: Option<UploadTarget>,
    download: Option<DownloadSource>,
}

impl Shared {
    fn check_upload(&self, ctx: &Context, args: FileTransferArgs) -> Result<Job, ServiceError> {
        let refuse = |msg: String| {
            tracing::warn!(target: "rpcx::transfer", peer = %ctx.peer(), file = %args.file_name, "rpcx: upload refused: {msg}");
            ServiceError::new(msg)
        };
        let Some(target) = &self.upload else {
            return Err(refuse("file upload is not enabled on this server".into()));
        };
        if args.file_size < 0 {
            return Err(refuse(format!("invalid file size {}", args.file_size)));
        }
        if args.file_size as u64 > self.max_file_size {
            return Err(refuse(format!(
                "file too large: {} bytes, the limit is {}",
                args.file_size, self.max_file_size
            )));
        }
        let dest = match target {
            UploadTarget::Directory(dir) => {
                Some(dir.join(sanitize_upload_name(&args.file_name).map_err(refuse)?))
            }
            UploadTarget::Handler(_) => None,
        };
        Ok(Job::Upload(args, dest))
    }

    fn check_download(&self, ctx: &Context, args: DownloadFileArgs) -> Result<Job, ServiceError> {
        let refuse = |msg: String| {
            tracing::warn!(target: "rpcx::transfer", peer = %ctx.peer(), file = %args.file_name, "rpcx: download refused: {msg}");
            ServiceError::new(msg)
        };
        match &self.download {
            None => Err(refuse("file download is not enabled on this server".into())),
            Some(DownloadSource::Directory(dir)) => {
                self.open_check(dir, &args.file_name).map_err(refuse)?;
                Ok(Job::Download(args))
            }
            Some(DownloadSource::Handler(_)) => Ok(Job::Download(args)),
        }
    }

    /// The path of a servable file: confined, regular, within the size limit.
    fn open_check(&self, dir: &Path, name: &str) -> Result<(PathBuf, u64), String> {
        let path = resolve_download(dir, name)?;
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("download refused: {name:?}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("download refused: {name:?} is not a regular file"));
        }
        if meta.len() > self.max_file_size {
            return Err(format!(
                "download refused: {name:?} is {} bytes, the limit is {}",
                meta.len(),
                self.max_file_size
            ));
        }
        Ok((path, meta.len()))
    }

    async fn serve(&self, job: Job, conn: TcpStream, peer: SocketAddr) {
        match job {
            Job::Upload(args, dest) => {
                let name = args.file_name.clone();
                let upload = Upload {
                    conn,
                    expected: args.file_size as u64,
                    received: 0,
                    io_timeout: self.io_timeout,
                    peer,
                    buf: vec![0; CHUNK],
                };
                let r = match (&self.upload, dest) {
                    (_, Some(dest)) => save_upload(upload, &dest).await,
                    (Some(UploadTarget::Handler(h)), None) => {
                        let r = h(args, upload).await;
                        r.map(|_| 0).map_err(|e| (e, None))
                    }
                    _ => Err(("no upload target".into(), None)),
                };
                match r {
                    Ok(n) => {
                        tracing::debug!(target: "rpcx::transfer", peer = %peer, file = %name, bytes = n, "rpcx: upload done")
                    }
                    Err((e, conn)) => {
                        tracing::warn!(target: "rpcx::transfer", peer = %peer, file = %name, error = %e, "rpcx: upload failed");
                        if let Some(c) = conn {
                            reset(c);
                        }
                    }
                }
            }
            Job::Download(args) => {
                let name = args.file_name.clone();
                let r = match &self.download {
                    Some(DownloadSource::Handler(h)) => {
                        let d = Download {
                            conn: Some(conn),
                            sent: 0,
                            max: self.max_file_size,
                            io_timeout: self.io_timeout,
                            peer,
                        };
                        h(args, d).await.map(|_| 0)
                    }
                    _ => self.send_file(conn, &name).await,
                };
                match r {
                    Ok(n) => {
                        tracing::debug!(target: "rpcx::transfer", peer = %peer, file = %name, bytes = n, "rpcx: download done")
                    }
                    Err(e) => {
                        tracing::warn!(target: "rpcx::transfer", peer = %peer, file = %name, error = %e, "rpcx: download failed")
                    }
                }
            }
        }
    }

    async fn send_file(&self, mut conn: TcpStream, name: &str) -> Result<u64, String> {
        let Some(DownloadSource::Directory(dir)) = &self.download else {
            return Err("downloads from a directory are off".into());
        };
        let checked = self.open_check(dir, name);
        let (path, len) = match checked {
            Ok(x) => x,
            Err(e) => {
                reset(conn);
                return Err(e);
            }
        };
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) => {
                reset(conn);
                return Err(e.to_string());
            }
        };
        let mut buf = vec![0u8; FILE_IO];
        let mut sent = 0u64;
        while sent < len {
            let want = ((len - sent) as usize).min(FILE_IO);
            let n = file
                .read(&mut buf[..want])
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                reset(conn);
                return Err(format!("file shrank to {sent} bytes while being sent"));
            }
            match tokio::time::timeout(self.io_timeout, conn.write_all(&buf[..n])).await {
                Ok(Ok(())) => sent += n as u64,
                Ok(Err(e)) => return Err(format!("after {sent} bytes: {e}")),
                Err(_) => {
                    reset(conn);
                    return Err(format!("stalled after {sent} bytes (io timeout)"));
                }
            }
        }
        let _ = tokio::time::timeout(self.io_timeout, conn.shutdown()).await;
        Ok(sent)
    }
}

/// Closes with a reset, so the peer sees an error rather than a clean end.
fn reset(conn: TcpStream) {
    let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
    drop(conn);
}

type UploadFailure = (String, Option<TcpStream>);

async fn save_upload(mut upload: Upload, dest: &Path) -> Result<u64, UploadFailure> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let base = dest
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("upload");
    let mut suffix = [0u8; 6];
    let _ = getrandom::fill(&mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{base}.{hex}.part"));
    let file = match tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            return Err((
                format!("cannot create {}: {e}", tmp.display()),
                Some(upload.conn),
            ))
        }
    };
    let mut file = tokio::io::BufWriter::with_capacity(FILE_IO, file);
    let result: Result<(), String> = async {
        while let Some(chunk) = upload.chunk().await.map_err(|e| e.to_string())? {
            file.write_all(chunk).await.map_err(|e| e.to_string())?;
        }
        file.flush().await.map_err(|e| e.to_string())?;
        Ok(())
    }
    .await;
    drop(file);
    match result {
        Ok(()) => {
            if let Err(e) = tokio::fs::rename(&tmp, dest).await {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err((
                    format!("cannot rename into {}: {e}", dest.display()),
                    Some(upload.conn),
                ));
            }
            let n = upload.received;
            let _ = tokio::time::timeout(upload.io_timeout, upload.conn.shutdown()).await;
            Ok(n)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err((e, Some(upload.conn)))
        }
    }
}

/// The bytes of one upload, as the client sends them: exactly the declared size, each read
/// bounded by the transfer's io timeout.
pub struct Upload {
    conn: TcpStream,
    expected: u64,
    received: u64,
    io_timeout: Duration,
    peer: SocketAddr,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("peer", &self.peer)
            .field("expected", &self.expected)
            .field("received", &self.received)
            .finish()
    }
}

impl Upload {
    /// The next bytes (at most 64 KiB), or `None` once all the declared bytes arrived and the
    /// client closed. Fails when the client sends more than it declared, closes early, or
    /// sends nothing for the io timeout.
    pub async fn chunk(&mut self) -> io::Result<Option<&[u8]>> {
        let n = match tokio::time::timeout(self.io_timeout, self.conn.read(&mut self.buf)).await {
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "upload stalled after {} of {} bytes",
                        self.received, self.expected
                    ),
                ))
            }
            Ok(r) => r?,
        };
        if n == 0 {
            if self.received != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "upload ended after {} of {} bytes",
                        self.received, self.expected
                    ),
                ));
            }
            return Ok(None);
        }
        self.received += n as u64;
        if self.received > self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("upload longer than the declared {} bytes", self.expected),
            ));
        }
        Ok(Some(&self.buf[..n]))
    }

    /// The declared size in bytes.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The client's side-connection address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

/// The connection of one download, for a [`DownloadHandler`]: each write bounded by the
/// transfer's io timeout, the total by [`FileTransferOptions::max_file_size`].
/// [`finish`](Self::finish) closes it cleanly (the client's end of file); dropped unfinished it
/// is reset.
pub struct Download {
    conn: Option<TcpStream>,
    sent: u64,
    max: u64,
    io_timeout: Duration,
    peer: SocketAddr,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("peer", &self.peer)
            .field("sent", &self.sent)
            .finish()
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            reset(conn);
        }
    }
}

impl Download {
    /// Sends `bytes`. Fails past the size limit (nothing of `bytes` is sent then), when the
    /// client went away, or when a write makes no progress for the io timeout.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.sent + bytes.len() as u64 > self.max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("download over the {}-byte limit", self.max),
            ));
        }
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "download finished"))?;
        match tokio::time::timeout(self.io_timeout, conn.write_all(bytes)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("download stalled after {} bytes", self.sent),
                ))
            }
        }
        self.sent += bytes.len() as u64;
        Ok(())
    }

    /// Ends the file: the connection is closed cleanly (within the io timeout).
    pub async fn finish(mut self) -> io::Result<()> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        match tokio::time::timeout(self.io_timeout, conn.shutdown()).await {
            Ok(r) => r,
            Err(_) => {
                reset(conn);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "download close stalled",
                ))
            }
        }
    }

    /// Bytes sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The client's side-connection address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

/// A running side listener. Dropping it (or [`close`](Self::close)) stops the listener and
/// closes its connections; the registered methods then issue tokens nobody can use.
#[derive(Debug)]
pub struct SideHandle {
    local: SocketAddr,
    reply_addr: String,
    stop: CancellationToken,
}

impl SideHandle {
    /// The address the side listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The address replies give clients (the advertised one if set).
    pub fn reply_addr(&self) -> &str {
        &self.reply_addr
    }

    /// Stops the side listener and closes its connections.
    pub fn close(&self) {
        self.stop.cancel();
    }
}

impl Drop for SideHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A stream handler: the client's arguments, the raw connection (after the token, both ways,
/// owned by the handler: drop it to close) and the client's side-connection address.
pub type StreamHandler =
    Arc<dyn Fn(StreamServiceArgs, TcpStream, SocketAddr) -> BoxFuture<()> + Send + Sync>;

/// Decides whether a `Stream` call gets a token (Go's `StreamAcceptor`); refused calls get
/// Go's error text `server refused the connection`.
pub type StreamAcceptor = Arc<dyn Fn(&Context, &StreamServiceArgs) -> bool + Send + Sync>;

/// Streams (Go's `server.StreamService`): registers `_streamservice.Stream` on a [`Server`];
/// each accepted side connection goes to the handler as a [`TcpStream`]
/// (`AsyncRead + AsyncWrite`). The handler runs until it returns or the handle is dropped;
/// idle timeouts inside the stream are the handler's business.
///
/// ```no_run
/// use rpcx::server::Server;
/// use rpcx::transfer::{SideOptions, StreamService};
/// use tokio::io::AsyncWriteExt;
///
/// # async fn run() -> Result<(), rpcx::Error> {
/// let mut server = Server::builder().build();
/// let _streams = StreamService::new(SideOptions::default(), |_args, conn, _peer| async move {
///     let (mut r, mut w) = conn.into_split();
///     let _ = tokio::io::copy(&mut r, &mut w).await; // echo
///     let _ = w.shutdown().await;
/// })
/// .register(&mut server)
/// .await?;
/// # Ok(()) }
/// ```
pub struct StreamService {
    options: SideOptions,
    handler: StreamHandler,
    acceptor: Option<StreamAcceptor>,
}

impl StreamService {
    /// A stream service running `handler` for each accepted stream.
    pub fn new<F, Fut>(options: SideOptions, handler: F) -> StreamService
    where
        F: Fn(StreamServiceArgs, TcpStream, SocketAddr) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        StreamService {
            options,
            handler: Arc::new(move |a, c, p| Box::pin(handler(a, c, p))),
            acceptor: None,
        }
    }

    /// Sets the acceptor that may refuse a `Stream` call.
    pub fn acceptor<F>(mut self, f: F) -> Self
    where
        F: Fn(&Context, &StreamServiceArgs) -> bool + Send + Sync + 'static,
    {
        self.acceptor = Some(Arc::new(f));
        self
    }

    /// Binds the side listener and registers `_streamservice.Stream`. Keep the handle.
    pub async fn register(self, server: &mut Server) -> Result<SideHandle, Error> {
        self.register_as(server, STREAM_SERVICE).await
    }

    /// [`register`](Self::register) under another service name.
    pub async fn register_as(
        self,
        server: &mut Server,
        service: &str,
    ) -> Result<SideHandle, Error> {
        let handler = self.handler;
        let serve: Serve<StreamServiceArgs> = Arc::new(move |args, conn, peer, permit| {
            let fut = handler(args, conn, peer);
            Box::pin(async move {
                fut.await;
                drop(permit);
            })
        });
        let side = Arc::new(Side::start(&self.options, "stream", serve).await?);
        let acceptor = self.acceptor;
        let sd = side.clone();
        server.register_fn(service, "Stream", move |ctx: Context, args: StreamServiceArgs| {
            let side = sd.clone();
            let accepted = acceptor.as_ref().is_none_or(|a| a(&ctx, &args));
            async move {
                if !accepted {
                    tracing::warn!(target: "rpcx::transfer", peer = %ctx.peer(), "rpcx: stream refused by the acceptor");
                    return Err(ServiceError::new("server refused the connection"));
                }
                let token = side.issue(args).map_err(ServiceError::from_display)?;
                Ok(FileTransferReply {
                    token: token.to_vec(),
                    addr: side.reply_addr.clone(),
                })
            }
        })?;
        Ok(SideHandle {
            local: side.local,
            reply_addr: side.reply_addr.clone(),
            stop: side.stop.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_are_sanitized() {
        assert_eq!(sanitize_upload_name("a.txt").unwrap(), "a.txt");
        assert_eq!(sanitize_upload_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(sanitize_upload_name("C:\\x\\y.bin").unwrap(), "y.bin");
        for bad in ["", ".", "..", "dir/", "/", ".hidden", "a\nb", "x/.."] {
            assert!(sanitize_upload_name(bad).is_err(), "{bad:?}");
        }
    }
}
