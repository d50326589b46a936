//! File transfer and streams (Go's `_filetransfer` and `_streamservice`): the server side
//! (`rpcx_server_enable_file_transfer`, `rpcx_server_register_stream`), the client side
//! (`rpcx_xclient_send_file` / `_download_file` / `_stream` and the same on `rpcx_client`)
//! and `rpcx_stream`, a blocking byte stream both sides use.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rpcx_core::server::Server;
use rpcx_core::transfer::{
    FileTransfer, FileTransferOptions, SideHandle, SideOptions, StreamService, StreamServiceArgs,
    FILE_TRANSFER_SERVICE, STREAM_SERVICE,
};
use rpcx_core::Error;

use crate::client::rpcx_client;
use crate::error::{rpcx_error, Failure};
use crate::guard::{
    bytes, cstr, invalid_arg, null_arg, opt_cstr, req, req_mut, run, run_or, Finalizer,
};
use crate::metadata::rpcx_metadata;
use crate::rpcx_finalizer;
use crate::server::rpcx_server;
use crate::status::rpcx_status;
use crate::xclient::rpcx_xclient;

/// Options of a server's file transfer or stream service: where its side listener binds, the
/// address replies advertise, token and connection limits, and (file transfer only) the
/// largest file and the io timeout. Copied by the functions that take it. Not synchronised:
/// configure it from one thread, then use it for any number of servers.
#[derive(Debug, Clone, Default)]
pub struct rpcx_transfer_options {
    inner: FileTransferOptions,
}

/// New transfer options with the defaults: side listener on `127.0.0.1:0` (a free port), no
/// advertised address, tokens valid 60 s, at most 1024 tokens waiting and 64 side connections
/// at once, 10 s for a connection to send its token, files up to 1 GiB, 30 s io timeout.
/// Owned by the caller: free with `rpcx_transfer_options_free`. NULL only if rpcx failed
/// internally.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_new() -> *mut rpcx_transfer_options {
    run_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::<rpcx_transfer_options>::default())
    })
}

fn set_opts(
    opts: Option<&mut rpcx_transfer_options>,
    f: impl FnOnce(&mut FileTransferOptions) -> Result<(), Failure>,
) -> rpcx_status {
    run(None, || f(&mut req_mut(opts, "opts")?.inner))
}

fn positive_ms(ms: u64, what: &str) -> Result<Duration, Failure> {
    positive(ms, what).map(Duration::from_millis)
}

fn positive<N: Default + PartialEq>(n: N, what: &str) -> Result<N, Failure> {
    if n == N::default() {
        return Err(invalid_arg(format!("rpcx: {what} must be above zero")));
    }
    Ok(n)
}

/// Sets the address the side listener binds (`host:port`, NUL-terminated UTF-8, copied; port
/// 0 picks a free one). `RPCX_ERR_NULL_ARG` when an argument is NULL, `RPCX_ERR_INVALID_ARG`
/// when `listen` is empty or not UTF-8. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_listen(
    opts: Option<&mut rpcx_transfer_options>,
    listen: *const c_char,
) -> rpcx_status {
    set_opts(opts, |o| {
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let listen = unsafe { cstr(listen, "listen")? };
        if listen.is_empty() {
            return Err(invalid_arg("rpcx: the listen address is empty"));
        }
        o.side.listen = listen.to_owned();
        Ok(())
    })
}

/// Sets the address replies give clients instead of the bound one (Go's `AdvertiseAddr`,
/// `host:port`, copied): set it when the side listener binds a wildcard address or sits
/// behind NAT. NULL or `""` clears it. `RPCX_ERR_NULL_ARG` when `opts` is NULL,
/// `RPCX_ERR_INVALID_ARG` when not UTF-8. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_advertise_addr(
    opts: Option<&mut rpcx_transfer_options>,
    addr: *const c_char,
) -> rpcx_status {
    set_opts(opts, |o| {
        // SAFETY: the caller passes NULL or a NUL-terminated string valid during the call.
        let addr = unsafe { opt_cstr(addr, "addr")? };
        o.side.advertise_addr = addr.filter(|a| !a.is_empty()).map(str::to_owned);
        Ok(())
    })
}

/// Sets how long a token stays valid after the call that issued it (milliseconds, above 0;
/// `RPCX_ERR_INVALID_ARG` for 0). `RPCX_ERR_NULL_ARG` when `opts` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_token_ttl_ms(
    opts: Option<&mut rpcx_transfer_options>,
    ms: u64,
) -> rpcx_status {
    set_opts(opts, |o| {
        o.side.token_ttl = positive_ms(ms, "the token lifetime")?;
        Ok(())
    })
}

/// Sets the time a new side connection has to send its token (milliseconds, above 0;
/// `RPCX_ERR_INVALID_ARG` for 0). `RPCX_ERR_NULL_ARG` when `opts` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_handshake_timeout_ms(
    opts: Option<&mut rpcx_transfer_options>,
    ms: u64,
) -> rpcx_status {
    set_opts(opts, |o| {
        o.side.handshake_timeout = positive_ms(ms, "the handshake timeout")?;
        Ok(())
    })
}

/// Sets the most tokens waiting at once (issuing one more drops the oldest, as Go's LRU
/// does); above 0, else `RPCX_ERR_INVALID_ARG`. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_max_tokens(
    opts: Option<&mut rpcx_transfer_options>,
    n: usize,
) -> rpcx_status {
    set_opts(opts, |o| {
        o.side.max_tokens = positive(n, "max_tokens")?;
        Ok(())
    })
}

/// Sets the most side connections at once, handshakes included (one more is closed at
/// once); above 0, else `RPCX_ERR_INVALID_ARG`. For a stream service this also bounds the
/// stream callbacks running at once. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_max_concurrent(
    opts: Option<&mut rpcx_transfer_options>,
    n: usize,
) -> rpcx_status {
    set_opts(opts, |o| {
        o.side.max_concurrent = positive(n, "max_concurrent")?;
        Ok(())
    })
}

/// Sets the largest file accepted for upload or served for download, in bytes (above 0,
/// else `RPCX_ERR_INVALID_ARG`); a larger one is refused in the call's error reply.
/// Ignored by stream services. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_max_file_size(
    opts: Option<&mut rpcx_transfer_options>,
    bytes: u64,
) -> rpcx_status {
    set_opts(opts, |o| {
        o.max_file_size = positive(bytes, "max_file_size")?;
        Ok(())
    })
}

/// Sets the longest wait for one read or write of a file transfer once the token was
/// accepted (milliseconds, above 0, else `RPCX_ERR_INVALID_ARG`): a stalled transfer is
/// aborted after it. Ignored by stream services. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_set_io_timeout_ms(
    opts: Option<&mut rpcx_transfer_options>,
    ms: u64,
) -> rpcx_status {
    set_opts(opts, |o| {
        o.io_timeout = positive_ms(ms, "the io timeout")?;
        Ok(())
    })
}

/// Frees transfer options. NULL is accepted and ignored.
#[no_mangle]
pub extern "C" fn rpcx_transfer_options_free(opts: Option<Box<rpcx_transfer_options>>) {
    run_or((), || drop(opts))
}

/// A side service waiting for the server's start (registered then, on the core server).
pub(crate) enum SideSpec {
    Files {
        options: FileTransferOptions,
        upload: Option<PathBuf>,
        download: Option<PathBuf>,
        callbacks: Option<FileCallbacks>,
    },
    Stream {
        options: SideOptions,
        callback: StreamCallbackFn,
        userdata: Arc<Finalizer>,
        acceptor: Option<(AcceptorFn, Arc<Finalizer>)>,
    },
}

impl SideSpec {
    /// Registers the service on `core` and starts its side listener.
    pub(crate) async fn register(&self, core: &mut Server) -> Result<SideHandle, Error> {
        match self {
            SideSpec::Files {
                options,
                upload,
                download,
                callbacks,
            } => {
                let mut ft = FileTransfer::new(options.clone());
                if let Some(d) = upload {
                    ft = ft.upload_dir(d);
                }
                if let Some(d) = download {
                    ft = ft.download_dir(d);
                }
                if let Some(cbs) = callbacks {
                    if let Some(cb) = cbs.upload {
                        let ud = Arc::clone(&cbs.userdata);
                        ft = ft.upload_handler(move |args, up| {
                            run_upload_callback(cb, Arc::clone(&ud), args, up)
                        });
                    }
                    if let Some(cb) = cbs.download {
                        let ud = Arc::clone(&cbs.userdata);
                        ft = ft.download_handler(move |args, dl| {
                            run_download_callback(cb, Arc::clone(&ud), args, dl)
                        });
                    }
                }
                ft.register_as(core, FILE_TRANSFER_SERVICE).await
            }
            SideSpec::Stream {
                options,
                callback,
                userdata,
                acceptor,
            } => {
                let (cb, ud) = (*callback, Arc::clone(userdata));
                let mut service = StreamService::new(options.clone(), move |args, conn, peer| {
                    run_stream_callback(cb, Arc::clone(&ud), args, conn, peer)
                });
                if let Some((accept, aud)) = acceptor {
                    let (accept, aud) = (*accept, Arc::clone(aud));
                    service = service.acceptor(move |ctx, args| {
                        let meta = meta_of(&args.meta);
                        let request = rpcx_metadata::from_core(ctx.metadata());
                        let peer = CString::new(ctx.peer()).unwrap_or_default();
                        catch_unwind(AssertUnwindSafe(|| {
                            // SAFETY: `accept` and its userdata were registered together for
                            // calls from runtime threads; the maps and string outlive the call.
                            unsafe { accept(aud.userdata.0, &meta, &request, peer.as_ptr()) }
                        }))
                        .unwrap_or(0)
                            != 0
                    });
                }
                service.register_as(core, STREAM_SERVICE).await
            }
        }
    }

    /// The key under which a later registration replaces this one.
    pub(crate) fn is_files(&self) -> bool {
        matches!(self, SideSpec::Files { .. })
    }
}

fn existing_dir(p: *const c_char, name: &str) -> Result<Option<PathBuf>, Failure> {
    // SAFETY: the caller passes NULL or a NUL-terminated string valid during the call.
    let Some(dir) = (unsafe { opt_cstr(p, name)? }) else {
        return Ok(None);
    };
    if dir.is_empty() {
        return Err(invalid_arg(format!("rpcx: `{name}` is empty")));
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(Some(PathBuf::from(dir))),
        Ok(_) => Err(invalid_arg(format!(
            "rpcx: {name} {dir} is not a directory"
        ))),
        Err(e) => Err(Failure::new(
            rpcx_status::RPCX_ERR_IO,
            format!("rpcx: {name} {dir}: {e}"),
        )),
    }
}

/// Enables file transfer on `server` (Go's `EnableFileTransfer`): `_filetransfer.TransferFile`
/// saves uploads into `upload_dir` and `_filetransfer.DownloadFile` serves the files under
/// `download_dir` (NUL-terminated UTF-8 paths of existing directories, copied; NULL leaves
/// that direction off, whose calls then fail; at least one must be given). `opts` (copied;
/// NULL for the defaults of `rpcx_transfer_options_new`) sets the side listener and limits.
/// The side listener is bound by `rpcx_server_start` (which fails with `RPCX_ERR_IO` when it
/// cannot bind) and closed by `rpcx_server_shutdown`, `rpcx_server_close` and
/// `rpcx_server_free`. Calling this again replaces the previous settings.
///
/// Rules (those of the core): an upload keeps only the final component of the client's name
/// and refuses empty names, `.`, `..`, names starting with `.` and control characters; it is
/// written under a temporary name and renamed into place only once complete. A download
/// name is relative to `download_dir`: absolute names, `..` and symlinks leading outside are
/// refused, and only regular files are served. Files above the max file size are refused in
/// the call's error reply.
///
/// Only before `rpcx_server_start` (`RPCX_ERR_INVALID_STATE` after). Errors:
/// `RPCX_ERR_NULL_ARG` (`server` NULL), `RPCX_ERR_INVALID_ARG` (both directories NULL, an
/// empty path, a path that is not a directory, not UTF-8), `RPCX_ERR_IO` (a directory that
/// cannot be read). `err_out` may be NULL; otherwise on failure it receives an `rpcx_error`
/// to free with `rpcx_error_free`. Does not block.
#[no_mangle]
pub extern "C" fn rpcx_server_enable_file_transfer(
    server: Option<&rpcx_server>,
    opts: Option<&rpcx_transfer_options>,
    upload_dir: *const c_char,
    download_dir: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let server = req(server, "server")?;
        let upload = existing_dir(upload_dir, "upload_dir")?;
        let download = existing_dir(download_dir, "download_dir")?;
        if upload.is_none() && download.is_none() {
            return Err(invalid_arg(
                "rpcx: file transfer needs an upload_dir, a download_dir or both",
            ));
        }
        let options = opts.map(|o| o.inner.clone()).unwrap_or_default();
        server.add_side(SideSpec::Files {
            options,
            upload,
            download,
            callbacks: None,
        })
    })
}

/// The application's upload and download callbacks of a file transfer.
pub(crate) struct FileCallbacks {
    upload: Option<UploadCallbackFn>,
    download: Option<DownloadCallbackFn>,
    userdata: Arc<Finalizer>,
}

/// Receives one upload (`_filetransfer.TransferFile`) after its token was accepted: read the
/// bytes with `rpcx_upload_read` until it reports the end (0 bytes: all `file_size` declared
/// bytes arrived). `upload` is valid only during the callback (rpcx frees it after).
/// `file_name` is the name the client sent, **unsanitized** (NUL-terminated UTF-8; the
/// callback decides what it means), `file_size` the declared size (already checked against
/// the max file size), `meta` the client's metadata (borrowed, read-only) and `peer` the
/// client's side-connection address; all valid only during the callback.
///
/// Return non-zero when the upload was handled; return 0 to abort it (the connection is
/// reset, the client gets an error, and the event is logged). Runs on a thread of its own per
/// upload (not an rpcx runtime worker: it may block); uploads run concurrently.
pub type rpcx_upload_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        upload: *mut rpcx_upload,
        file_name: *const c_char,
        file_size: u64,
        meta: *const rpcx_metadata,
        peer: *const c_char,
    ) -> c_int,
>;

type UploadCallbackFn = unsafe extern "C" fn(
    *mut c_void,
    *mut rpcx_upload,
    *const c_char,
    u64,
    *const rpcx_metadata,
    *const c_char,
) -> c_int;

/// Produces one download (`_filetransfer.DownloadFile`) after its token was accepted: write
/// the file's bytes with `rpcx_download_write`, then return non-zero to end the file (the
/// client receives exactly the bytes written). Return 0 to abort: the connection is reset and
/// the client gets an error rather than a short file. `download` is valid only during the
/// callback. `file_name` is the name the client asked for, **unchecked** (the directory rules
/// do not apply: the callback decides what it means), `meta` and `peer` as for
/// `rpcx_upload_callback`; all valid only during the callback. The max file size bounds the
/// bytes written. Runs on a thread of its own per download (it may block).
pub type rpcx_download_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        download: *mut rpcx_download,
        file_name: *const c_char,
        meta: *const rpcx_metadata,
        peer: *const c_char,
    ) -> c_int,
>;

type DownloadCallbackFn = unsafe extern "C" fn(
    *mut c_void,
    *mut rpcx_download,
    *const c_char,
    *const rpcx_metadata,
    *const c_char,
) -> c_int;

/// Enables file transfer on `server` with application callbacks instead of directories:
/// `upload` receives uploads (see `rpcx_upload_callback`), `download` produces downloads (see
/// `rpcx_download_callback`); either may be NULL (that direction is off: its calls fail), not
/// both. `opts` as for `rpcx_server_enable_file_transfer`, which this replaces (and which
/// replaces this): one file transfer per server.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of either callback — when replaced,
/// when the server is freed and the last callback returned, or before this function returns
/// if it fails. It may run on any thread: after `rpcx_server_free` it runs once the
/// side listener's tasks have ended, possibly on an rpcx runtime thread shortly after
/// `rpcx_server_free` returned.
///
/// Only before `rpcx_server_start` (`RPCX_ERR_INVALID_STATE` after); `RPCX_ERR_NULL_ARG` when
/// `server` is NULL, `RPCX_ERR_INVALID_ARG` when both callbacks are NULL. `err_out` may be
/// NULL; otherwise on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_server_enable_file_callbacks(
    server: Option<&rpcx_server>,
    opts: Option<&rpcx_transfer_options>,
    upload: rpcx_upload_callback,
    download: rpcx_download_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(err_out, move || {
        let server = req(server, "server")?;
        if upload.is_none() && download.is_none() {
            return Err(invalid_arg(
                "rpcx: file transfer callbacks: an upload callback, a download callback or both",
            ));
        }
        let options = opts.map(|o| o.inner.clone()).unwrap_or_default();
        server.add_side(SideSpec::Files {
            options,
            upload: None,
            download: None,
            callbacks: Some(FileCallbacks {
                upload,
                download,
                userdata: Arc::new(fin),
            }),
        })
    })
}

fn meta_of(m: &HashMap<String, String>) -> rpcx_metadata {
    let mut md = rpcx_metadata::default();
    for (k, v) in m {
        md.insert(k, v);
    }
    md
}

/// Starts `body` on a thread of its own now; the future resolves to its result (`None` when
/// it panicked or no thread could be started).
fn on_own_thread<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Option<T>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Ok(v) = catch_unwind(AssertUnwindSafe(body)) {
                let _ = tx.send(v);
            }
        });
    if let Err(e) = &spawned {
        tracing::warn!(target: "rpcx::transfer", "{name}: no thread: {e}");
    }
    async move { rx.await.ok() }
}

/// One upload as the C callback reads it: chunks pumped from the core's `Upload`.
pub struct rpcx_upload {
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, String>>,
    chunk: Vec<u8>,
    pos: usize,
    ended: bool,
}

/// The checks of a read into (`buf`, `cap`) reporting its count in `n_out`: `None` (0
/// stored) when `cap` is 0, else the count's place, `buf` being then not NULL.
fn read_into(
    buf: *mut u8,
    cap: usize,
    n_out: Option<&mut usize>,
) -> Result<Option<&mut usize>, Failure> {
    let out = req_mut(n_out, "n_out")?;
    if cap == 0 {
        *out = 0;
        return Ok(None);
    }
    if buf.is_null() {
        return Err(null_arg("buf"));
    }
    if cap > isize::MAX as usize {
        return Err(invalid_arg("rpcx: `cap` is too large"));
    }
    Ok(Some(out))
}

async fn run_upload_callback(
    cb: UploadCallbackFn,
    ud: Arc<Finalizer>,
    args: rpcx_core::transfer::FileTransferArgs,
    mut up: rpcx_core::transfer::Upload,
) -> Result<(), String> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let peer = up.peer();
    let size = up.expected();
    let callback = on_own_thread("rpcx-upload", move || {
        let meta = meta_of(&args.meta);
        let name = CString::new(args.file_name).unwrap_or_default();
        let peer = CString::new(peer.to_string()).unwrap_or_default();
        let mut handle = rpcx_upload {
            rx,
            chunk: Vec::new(),
            pos: 0,
            ended: false,
        };
        // SAFETY: `cb` and the userdata were registered together for calls from any thread;
        // the handle, strings and map outlive the call.
        let ok = unsafe {
            cb(
                ud.userdata.0,
                &mut handle,
                name.as_ptr(),
                size,
                &meta,
                peer.as_ptr(),
            )
        };
        drop(ud);
        ok != 0
    });
    let pump = async move {
        loop {
            let item = match up.chunk().await {
                Ok(Some(b)) => Ok(b.to_vec()),
                Ok(None) => return,
                Err(e) => Err(e.to_string()),
            };
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    };
    tokio::pin!(callback, pump);
    let accepted = tokio::select! {
        r = &mut callback => r,
        () = &mut pump => callback.await,
    };
    match accepted {
        Some(true) => Ok(()),
        Some(false) => Err("the upload callback aborted it".into()),
        None => Err("the upload callback panicked or could not start".into()),
    }
}

/// Reads the next bytes of an upload into `buf` (up to `cap`), blocking until some arrived.
/// `*n_out` receives how many; 0 means the end: every declared byte was read. Errors:
/// `RPCX_ERR_IO` (the client stalled past the io timeout, sent more or fewer bytes than
/// declared, or reset; the upload is lost: return 0 from the callback),
/// `RPCX_ERR_NULL_ARG` (`upload`, `n_out`, or `buf` with `cap > 0`, NULL). Only on the
/// callback's thread, during the callback. `err_out` may be NULL; otherwise on failure it
/// receives an `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_upload_read(
    upload: Option<&mut rpcx_upload>,
    buf: *mut u8,
    cap: usize,
    n_out: Option<&mut usize>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let up = req_mut(upload, "upload")?;
        let Some(out) = read_into(buf, cap, n_out)? else {
            return Ok(());
        };
        if crate::guard::on_runtime_thread() {
            return Err(rpcx_core::Error::BlockingInRuntime.into());
        }
        while up.pos == up.chunk.len() && !up.ended {
            match up.rx.blocking_recv() {
                Some(Ok(c)) => {
                    up.chunk = c;
                    up.pos = 0;
                }
                Some(Err(e)) => {
                    up.ended = true;
                    return Err(Failure::new(
                        rpcx_status::RPCX_ERR_IO,
                        format!("rpcx: upload: {e}"),
                    ));
                }
                None => up.ended = true,
            }
        }
        let n = (up.chunk.len() - up.pos).min(cap);
        // SAFETY: `buf` is not NULL and, by this function's contract, points to `cap` writable
        // bytes; `n <= cap` and the source range is inside `up.chunk`.
        unsafe { std::ptr::copy_nonoverlapping(up.chunk.as_ptr().add(up.pos), buf, n) };
        up.pos += n;
        *out = n;
        Ok(())
    })
}

/// One download as the C callback writes it: chunks handed to the core's `Download`.
pub struct rpcx_download {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    failure: Arc<std::sync::Mutex<Option<String>>>,
}

async fn run_download_callback(
    cb: DownloadCallbackFn,
    ud: Arc<Finalizer>,
    args: rpcx_core::transfer::DownloadFileArgs,
    mut dl: rpcx_core::transfer::Download,
) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let peer = dl.peer();
    let slot = Arc::clone(&failure);
    let callback = on_own_thread("rpcx-download", move || {
        let meta = meta_of(&args.meta);
        let name = CString::new(args.file_name).unwrap_or_default();
        let peer = CString::new(peer.to_string()).unwrap_or_default();
        let mut handle = rpcx_download { tx, failure: slot };
        // SAFETY: as for the upload callback.
        let ok = unsafe {
            cb(
                ud.userdata.0,
                &mut handle,
                name.as_ptr(),
                &meta,
                peer.as_ptr(),
            )
        };
        drop(handle);
        drop(ud);
        ok != 0
    });
    let mut write_failed = false;
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = dl.write(&chunk).await {
            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            write_failed = true;
            break;
        }
    }
    drop(rx);
    let accepted = callback.await;
    if write_failed {
        let text = failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
        return Err(text.unwrap_or_default());
    }
    match accepted {
        Some(true) => dl.finish().await.map_err(|e| e.to_string()),
        Some(false) => Err("the download callback aborted it".into()),
        None => Err("the download callback panicked or could not start".into()),
    }
}

/// Writes all of `buf[0..len)` to the download (NULL allowed when `len` is 0), blocking while
/// the client is slow (each write bounded by the io timeout). `RPCX_ERR_IO` once the download
/// failed (the client went away or stalled, or the bytes passed the max file size): stop and
/// return 0 from the callback. `RPCX_ERR_NULL_ARG` when `download` is NULL. Only on the
/// callback's thread, during the callback. `err_out` as for `rpcx_upload_read`.
#[no_mangle]
pub extern "C" fn rpcx_download_write(
    download: Option<&rpcx_download>,
    buf: *const u8,
    len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let d = req(download, "download")?;
        // SAFETY: by this function's contract `buf` points to `len` readable bytes.
        let src = unsafe { bytes(buf, len, "buf")? };
        if src.is_empty() {
            return Ok(());
        }
        if crate::guard::on_runtime_thread() {
            return Err(rpcx_core::Error::BlockingInRuntime.into());
        }
        d.tx.blocking_send(src.to_vec()).map_err(|_| {
            let why = d.failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
            Failure::new(
                rpcx_status::RPCX_ERR_IO,
                format!(
                    "rpcx: download: {}",
                    why.unwrap_or_else(|| "the download was aborted".into())
                ),
            )
        })
    })
}

/// Called for each stream a client opened (`_streamservice.Stream`), after its token was
/// accepted. `stream` is the connection, **owned by the callback**: it must be closed with
/// `rpcx_stream_close`, during the callback or later from any thread (it may be handed to
/// another thread). `meta` is the metadata the client sent (borrowed, read-only, valid only
/// during the callback: `rpcx_metadata_clone` it to keep it) and `peer` the client's address
/// on the side connection (`host:port`, NUL-terminated, valid only during the callback).
///
/// Each stream's callback runs on a thread of its own (not an rpcx runtime worker), so it may
/// block on `rpcx_stream_read` and make blocking rpcx calls; callbacks of different streams
/// run concurrently (at most the options' max_concurrent at once). The stream's slot is freed
/// when the callback returns.
pub type rpcx_stream_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        stream: *mut rpcx_stream,
        meta: *const rpcx_metadata,
        peer: *const c_char,
    ),
>;

pub(crate) type StreamCallbackFn =
    unsafe extern "C" fn(*mut c_void, *mut rpcx_stream, *const rpcx_metadata, *const c_char);

/// Registers a stream service (Go's `StreamService`) on `server`: each
/// `_streamservice.Stream` call gets a token and the side listener's address, and each side
/// connection with a valid token goes to `callback` (see `rpcx_stream_callback`). `opts`
/// (copied; NULL for the defaults) sets the side listener and its limits (the file size and
/// io timeout do not apply). Registering again replaces the previous stream service. The
/// side listener is bound by `rpcx_server_start` and closed by `rpcx_server_shutdown`,
/// `rpcx_server_close` and `rpcx_server_free`; streams already handed to callbacks stay open
/// until closed by them.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of `callback` — when it is replaced,
/// when the server is freed and the last callback returned, or before this function returns
/// if it fails. It may run on any thread: after `rpcx_server_free` it runs once the
/// side listener's tasks have ended, possibly on an rpcx runtime thread shortly after
/// `rpcx_server_free` returned.
///
/// Only before `rpcx_server_start` (`RPCX_ERR_INVALID_STATE` after); `RPCX_ERR_NULL_ARG` when
/// `server` or `callback` is NULL. Does not block.
#[no_mangle]
pub extern "C" fn rpcx_server_register_stream(
    server: Option<&rpcx_server>,
    opts: Option<&rpcx_transfer_options>,
    callback: rpcx_stream_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let server = req(server, "server")?;
        let callback = callback.ok_or_else(|| null_arg("callback"))?;
        let options = opts.map(|o| o.inner.side.clone()).unwrap_or_default();
        server.add_side(SideSpec::Stream {
            options,
            callback,
            userdata: Arc::new(fin),
            acceptor: None,
        })
    })
}

/// Decides whether a `_streamservice.Stream` call gets a token (Go's `StreamAcceptor`):
/// `meta` is the metadata the client passed to its stream call, `request_meta` the request's
/// metadata (auth token and the like), `peer` the caller's address; all borrowed, valid only
/// during the call. Return non-zero to accept; 0 refuses with Go's error text `server refused
/// the connection` (the client gets `RPCX_ERR_SERVER`). Runs on rpcx runtime worker threads,
/// possibly several at once: thread-safe, quick, no blocking rpcx calls.
pub type rpcx_stream_acceptor = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        meta: *const rpcx_metadata,
        request_meta: *const rpcx_metadata,
        peer: *const c_char,
    ) -> c_int,
>;

pub(crate) type AcceptorFn = unsafe extern "C" fn(
    *mut c_void,
    *const rpcx_metadata,
    *const rpcx_metadata,
    *const c_char,
) -> c_int;

/// Sets the acceptor of the stream service registered on `server` (see
/// `rpcx_stream_acceptor`), replacing any previous one. Only after
/// `rpcx_server_register_stream` (`RPCX_ERR_NOT_FOUND` before it; registering the stream
/// service again drops the acceptor) and before `rpcx_server_start`
/// (`RPCX_ERR_INVALID_STATE` after). `RPCX_ERR_NULL_ARG` when `server` or `acceptor` is NULL.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of `acceptor` — when replaced, when the
/// server is freed (once its side listener's tasks ended, possibly on a runtime thread shortly
/// after `rpcx_server_free` returned), or before this function returns if it fails.
#[no_mangle]
pub extern "C" fn rpcx_server_set_stream_acceptor(
    server: Option<&rpcx_server>,
    acceptor: rpcx_stream_acceptor,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let server = req(server, "server")?;
        let accept = acceptor.ok_or_else(|| null_arg("acceptor"))?;
        let mut fin = Some(fin);
        let old = server.edit_sides(|sides| {
            for spec in sides.iter_mut() {
                if let SideSpec::Stream { acceptor, .. } = spec {
                    let new = (accept, Arc::new(fin.take().expect("taken once")));
                    return Ok(acceptor.replace(new));
                }
            }
            Err(Failure::new(
                rpcx_status::RPCX_ERR_NOT_FOUND,
                "rpcx: no stream service is registered (rpcx_server_register_stream first)",
            ))
        })?;
        // The replaced acceptor's finalizer runs here, outside the locks.
        drop(old);
        Ok(())
    })
}

/// Hands one accepted side connection to the C callback on a thread of its own; resolves when
/// the callback returned.
async fn run_stream_callback(
    cb: StreamCallbackFn,
    ud: Arc<Finalizer>,
    args: StreamServiceArgs,
    conn: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let conn = match blocking_std(conn) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(target: "rpcx::transfer", "stream from {peer}: {e}");
            return;
        }
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("rpcx-stream".into())
        .spawn(move || {
            let meta = meta_of(&args.meta);
            let peer = CString::new(peer.to_string()).unwrap_or_default();
            let stream = Box::into_raw(Box::new(rpcx_stream { conn }));
            // A panic cannot cross the C frame; catch_unwind keeps the thread's end orderly.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: `cb` and the userdata were registered together for calls from any
                // thread; `stream` is a fresh handle whose ownership passes to the callback;
                // `meta` and `peer` outlive the call.
                unsafe { cb(ud.userdata.0, stream, &meta, peer.as_ptr()) }
            }));
            // The userdata reference goes before the runtime learns the callback ended, so
            // the finalizer (at the last reference) follows the last call.
            drop(ud);
            let _ = done_tx.send(());
        });
    match spawned {
        Ok(_) => {
            let _ = done_rx.await;
        }
        Err(e) => tracing::warn!(target: "rpcx::transfer", "stream from {peer}: no thread: {e}"),
    }
}

/// A bidirectional byte stream: a client's side of `rpcx_xclient_stream` /
/// `rpcx_client_stream`, or a server's side handed to an `rpcx_stream_callback`. Plain TCP
/// after the token: no rpcx framing, the bytes are the application's.
///
/// Thread-safe except for `rpcx_stream_close`: one thread may read while another writes.
/// `rpcx_stream_close` must be the last call on the stream and must not race with any other.
pub struct rpcx_stream {
    conn: std::net::TcpStream,
}

fn io_failure(what: &str, e: std::io::Error) -> Failure {
    use std::io::ErrorKind::{TimedOut, WouldBlock};
    let status = match e.kind() {
        WouldBlock | TimedOut => rpcx_status::RPCX_ERR_TIMEOUT,
        _ => rpcx_status::RPCX_ERR_IO,
    };
    Failure::new(status, format!("rpcx: stream {what}: {e}"))
}

/// Reads up to `cap` bytes into `buf`, blocking until at least one byte arrived, the peer
/// closed its writing side (then `*n_out` is 0: the end of the stream), the read timeout
/// passed (`RPCX_ERR_TIMEOUT`), or the connection failed (`RPCX_ERR_IO`, e.g. a reset).
/// `*n_out` receives the bytes read, only on success. `RPCX_ERR_NULL_ARG` when `stream`,
/// `n_out`, or `buf` with `cap > 0`, is NULL. Any thread; it blocks, so not on an rpcx runtime
/// worker (there is no such check: a blocked worker delays other work). `err_out` may be
/// NULL; otherwise on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_stream_read(
    stream: Option<&rpcx_stream>,
    buf: *mut u8,
    cap: usize,
    n_out: Option<&mut usize>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let s = req(stream, "stream")?;
        let Some(out) = read_into(buf, cap, n_out)? else {
            return Ok(());
        };
        // SAFETY: `buf` is not NULL and, by this function's contract, points to `cap`
        // writable bytes, not used elsewhere during the call.
        let dst = unsafe { std::slice::from_raw_parts_mut(buf, cap) };
        let n = loop {
            match (&s.conn).read(dst) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.map_err(|e| io_failure("read", e))?,
            }
        };
        *out = n;
        Ok(())
    })
}

/// Writes all of `buf[0..len)` (NULL allowed when `len` is 0), blocking until it is handed
/// to the network, the write timeout passed (`RPCX_ERR_TIMEOUT`; part of it may have been
/// sent) or the connection failed (`RPCX_ERR_IO`). `RPCX_ERR_NULL_ARG` when `stream` is NULL.
/// Any thread; blocks. `err_out` as for `rpcx_stream_read`.
#[no_mangle]
pub extern "C" fn rpcx_stream_write(
    stream: Option<&rpcx_stream>,
    buf: *const u8,
    len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let s = req(stream, "stream")?;
        // SAFETY: by this function's contract `buf` points to `len` readable bytes.
        let src = unsafe { bytes(buf, len, "buf")? };
        (&s.conn).write_all(src).map_err(|e| io_failure("write", e))
    })
}

/// Closes the writing side (TCP half-close): the peer reads the end of the stream once it
/// has read everything written before; this side can still read. `RPCX_ERR_NULL_ARG` when
/// `stream` is NULL, `RPCX_ERR_IO` when the connection is already gone. Any thread.
#[no_mangle]
pub extern "C" fn rpcx_stream_close_write(stream: Option<&rpcx_stream>) -> rpcx_status {
    run(None, || {
        let s = req(stream, "stream")?;
        s.conn
            .shutdown(Shutdown::Write)
            .map_err(|e| io_failure("close_write", e))
    })
}

/// Sets the longest a single `rpcx_stream_read` or `rpcx_stream_write` waits (milliseconds;
/// 0: no limit, the default), after which it returns `RPCX_ERR_TIMEOUT` and the stream stays
/// usable. `RPCX_ERR_NULL_ARG` when `stream` is NULL. Any thread.
#[no_mangle]
pub extern "C" fn rpcx_stream_set_timeout_ms(stream: Option<&rpcx_stream>, ms: u64) -> rpcx_status {
    run(None, || {
        let s = req(stream, "stream")?;
        let t = (ms > 0).then(|| Duration::from_millis(ms));
        s.conn
            .set_read_timeout(t)
            .and_then(|()| s.conn.set_write_timeout(t))
            .map_err(|e| io_failure("set_timeout", e))
    })
}

/// Closes the connection (both ways) and frees the stream. NULL is accepted and ignored.
/// Must be the last call on `stream`. Any thread; does not block.
#[no_mangle]
pub extern "C" fn rpcx_stream_close(stream: Option<Box<rpcx_stream>>) {
    run_or((), || {
        if let Some(s) = stream {
            let _ = s.conn.shutdown(Shutdown::Both);
        }
    })
}

fn meta_map(md: Option<&rpcx_metadata>) -> HashMap<String, String> {
    md.map(|m| m.to_core().into_iter().collect())
        .unwrap_or_default()
}

/// Where a download goes: `dest.rpcx-part` first, renamed to `dest` once complete.
async fn download_to<F, Fut>(dest: &Path, fetch: F) -> Result<u64, Failure>
where
    F: FnOnce(tokio::fs::File) -> Fut,
    Fut: std::future::Future<Output = Result<(u64, tokio::fs::File), Error>>,
{
    let mut part = dest.as_os_str().to_owned();
    part.push(".rpcx-part");
    let part = PathBuf::from(part);
    let file = tokio::fs::File::create(&part).await.map_err(|e| {
        Failure::new(
            rpcx_status::RPCX_ERR_IO,
            format!("rpcx: {}: {e}", part.display()),
        )
    })?;
    let result = async {
        let (n, mut file) = fetch(file).await?;
        use tokio::io::AsyncWriteExt;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&part, dest).await?;
        Ok::<u64, Error>(n)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    result.map_err(Failure::from)
}

/// The connection as a blocking std socket, for an `rpcx_stream`.
fn blocking_std(conn: tokio::net::TcpStream) -> std::io::Result<std::net::TcpStream> {
    let conn = conn.into_std()?;
    conn.set_nonblocking(false)?;
    Ok(conn)
}

fn into_stream(conn: tokio::net::TcpStream) -> Result<*mut rpcx_stream, Failure> {
    let conn = blocking_std(conn).map_err(|e| io_failure("open", e))?;
    Ok(Box::into_raw(Box::new(rpcx_stream { conn })))
}

/// Uploads the local file at `path` (NUL-terminated UTF-8) through the XClient (Go's
/// `SendFile`): calls `TransferFile` of the XClient's service (create it with service
/// `"_filetransfer"`) with the file's base name, size and `meta` (copied; NULL for none),
/// then sends the bytes to the server's side listener, at most `rate_bytes_per_sec` per
/// second (0: no limit). On success `*sent_out` (may be NULL) receives the bytes sent, once
/// the server closed the side connection.
///
/// Errors: `RPCX_ERR_SERVER` (the server refused: traversal, too large, uploads off — its text
/// intact), `RPCX_ERR_IO` (the local file, or the side connection reset: the server refused
/// the bytes), `RPCX_ERR_TIMEOUT`, `RPCX_ERR_CONNECTION`, `RPCX_ERR_NO_SERVER`,
/// `RPCX_ERR_CLOSED` (the XClient was closed, also while this waited), `RPCX_ERR_NULL_ARG` /
/// `RPCX_ERR_INVALID_ARG` for a NULL `xclient` or `path` or non-UTF-8 text. Blocks; on an rpcx
/// runtime thread it returns `RPCX_ERR_BLOCKING_IN_RUNTIME`. `err_out` may be NULL; otherwise
/// on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_send_file(
    xclient: Option<&rpcx_xclient>,
    path: *const c_char,
    rate_bytes_per_sec: u64,
    meta: Option<&rpcx_metadata>,
    sent_out: Option<&mut u64>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let shared = &req(xclient, "xclient")?.shared;
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let path = unsafe { cstr(path, "path")? };
        let meta = meta_map(meta);
        let n = crate::runtime::block_on(shared.unless_closed(shared.xc.send_file(
            path,
            rate_bytes_per_sec,
            meta,
        )))??;
        if let Some(out) = sent_out {
            *out = n;
        }
        Ok(())
    })
}

/// Downloads `name` (NUL-terminated UTF-8, relative to the server's download directory)
/// through the XClient (Go's `DownloadFile`; the XClient's service is `"_filetransfer"`) into
/// the local file `dest_path` (NUL-terminated UTF-8). The bytes go to `dest_path.rpcx-part`,
/// renamed to `dest_path` (replacing it) only once the whole file arrived; on failure the
/// partial file is removed and `dest_path` is untouched. `meta` (copied; NULL for none) is
/// sent in the arguments. On success `*received_out` (may be NULL) receives the file's size.
///
/// Errors: `RPCX_ERR_SERVER` (refused: missing file, traversal, too large), `RPCX_ERR_IO`
/// (the local file, or the side connection reset), `RPCX_ERR_TIMEOUT` (stalled),
/// `RPCX_ERR_CLOSED`, `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for NULL or non-UTF-8
/// arguments, others as for `rpcx_xclient_call`. Blocks (not on an rpcx runtime thread:
/// `RPCX_ERR_BLOCKING_IN_RUNTIME`). `err_out` as for `rpcx_xclient_send_file`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_download_file(
    xclient: Option<&rpcx_xclient>,
    name: *const c_char,
    dest_path: *const c_char,
    meta: Option<&rpcx_metadata>,
    received_out: Option<&mut u64>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let shared = &req(xclient, "xclient")?.shared;
        // SAFETY: the caller passes NUL-terminated strings valid during the call.
        let (name, dest) = unsafe { (cstr(name, "name")?, cstr(dest_path, "dest_path")?) };
        let meta = meta_map(meta);
        let n = crate::runtime::block_on(download_to(Path::new(dest), |mut f| async move {
            let n = shared
                .unless_closed(shared.xc.download_file(name, &mut f, meta))
                .await?;
            Ok((n, f))
        }))??;
        if let Some(out) = received_out {
            *out = n;
        }
        Ok(())
    })
}

/// Opens a stream through the XClient (Go's `Stream`; the XClient's service is
/// `"_streamservice"`): calls `Stream` with `meta` (copied; NULL for none), connects to the
/// side listener and sends the token. On success `*stream_out` receives the stream, owned by
/// the caller: close it with `rpcx_stream_close`. Errors as for `rpcx_xclient_call`
/// (`RPCX_ERR_SERVER` when the server refused the stream), `RPCX_ERR_IO` when the side
/// connection failed, `RPCX_ERR_NULL_ARG` when `xclient` or `stream_out` is NULL. Blocks
/// (not on an rpcx runtime thread). `err_out` as for `rpcx_xclient_send_file`.
#[no_mangle]
pub extern "C" fn rpcx_xclient_stream(
    xclient: Option<&rpcx_xclient>,
    meta: Option<&rpcx_metadata>,
    stream_out: Option<&mut *mut rpcx_stream>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let shared = &req(xclient, "xclient")?.shared;
        let out = req_mut(stream_out, "stream_out")?;
        let meta = meta_map(meta);
        let stream = crate::runtime::block_on(async {
            let conn = shared.unless_closed(shared.xc.stream(meta)).await?;
            into_stream(conn)
        })??;
        *out = stream;
        Ok(())
    })
}

/// `rpcx_xclient_send_file` on one connection, calling `service.TransferFile` (`service`
/// NUL-terminated UTF-8, usually `"_filetransfer"`). Same arguments, results and errors,
/// with `RPCX_ERR_NULL_ARG` also for a NULL `client` or `service`.
#[no_mangle]
pub extern "C" fn rpcx_client_send_file(
    client: Option<&rpcx_client>,
    service: *const c_char,
    path: *const c_char,
    rate_bytes_per_sec: u64,
    meta: Option<&rpcx_metadata>,
    sent_out: Option<&mut u64>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let c = req(client, "client")?.core();
        // SAFETY: the caller passes NUL-terminated strings valid during the call.
        let (service, path) = unsafe { (cstr(service, "service")?, cstr(path, "path")?) };
        let meta = meta_map(meta);
        let n = crate::runtime::block_on(c.send_file(service, path, rate_bytes_per_sec, meta))??;
        if let Some(out) = sent_out {
            *out = n;
        }
        Ok(())
    })
}

/// `rpcx_xclient_download_file` on one connection, calling `service.DownloadFile` (`service`
/// NUL-terminated UTF-8, usually `"_filetransfer"`). Same arguments, results and errors, with
/// `RPCX_ERR_NULL_ARG` also for a NULL `client` or `service`.
#[no_mangle]
pub extern "C" fn rpcx_client_download_file(
    client: Option<&rpcx_client>,
    service: *const c_char,
    name: *const c_char,
    dest_path: *const c_char,
    meta: Option<&rpcx_metadata>,
    received_out: Option<&mut u64>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let c = req(client, "client")?.core();
        // SAFETY: the caller passes NUL-terminated strings valid during the call.
        let (service, name, dest) = unsafe {
            (
                cstr(service, "service")?,
                cstr(name, "name")?,
                cstr(dest_path, "dest_path")?,
            )
        };
        let meta = meta_map(meta);
        let n = crate::runtime::block_on(download_to(Path::new(dest), |mut f| async move {
            let n = c.download_file(service, name, &mut f, meta).await?;
            Ok((n, f))
        }))??;
        if let Some(out) = received_out {
            *out = n;
        }
        Ok(())
    })
}

/// `rpcx_xclient_stream` on one connection, calling `service.Stream` (`service`
/// NUL-terminated UTF-8, usually `"_streamservice"`). Same results and errors, with
/// `RPCX_ERR_NULL_ARG` also for a NULL `client` or `service`.
#[no_mangle]
pub extern "C" fn rpcx_client_stream(
    client: Option<&rpcx_client>,
    service: *const c_char,
    meta: Option<&rpcx_metadata>,
    stream_out: Option<&mut *mut rpcx_stream>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let c = req(client, "client")?.core();
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let service = unsafe { cstr(service, "service")? };
        let out = req_mut(stream_out, "stream_out")?;
        let meta = meta_map(meta);
        let stream = crate::runtime::block_on(async {
            let conn = c.stream(service, meta).await?;
            into_stream(conn)
        })??;
        *out = stream;
        Ok(())
    })
}
