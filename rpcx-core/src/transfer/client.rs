//! Client side: upload, download and streams over the side listener, as Go's `xClient`
//! `SendFile`, `DownloadFile` and `Stream` do.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::types::{
    DownloadFileArgs, FileTransferArgs, FileTransferReply, StreamServiceArgs, StreamServiceReply,
    TOKEN_LEN,
};
use crate::client::{CallOptions, Client, ClientOptions};
use crate::protocol::SerializeType;
use crate::xclient::XClient;
use crate::Error;

/// Size of the chunks a client reads from a file and writes to the side connection.
pub const FILE_TRANSFER_BUFFER_SIZE: usize = 64 * 1024;

/// The wait for one read or write on a side connection when the client options set no
/// default timeout.
const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(30);

fn io_timeout(options: &ClientOptions) -> Duration {
    options.default_timeout.unwrap_or(DEFAULT_IO_TIMEOUT)
}

/// Dials the side listener named in a reply and writes the token.
/// The call options of the transfer calls: the connection's serialization, except that raw
/// bytes (which cannot carry the typed arguments; the C API's default) become MessagePack,
/// Go's default.
fn typed_call(options: &ClientOptions) -> CallOptions {
    let mut call = CallOptions::default();
    if options.serialize_type == SerializeType::RAW {
        call.serialize_type = Some(SerializeType::MSGPACK);
    }
    call
}

async fn open_side(reply: &FileTransferReply, options: &ClientOptions) -> Result<TcpStream, Error> {
    if reply.token.len() != TOKEN_LEN {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "side listener reply has a {}-byte token, not {TOKEN_LEN}",
                reply.token.len()
            ),
        )));
    }
    let connect = |source| Error::Connect {
        address: reply.addr.clone(),
        source,
    };
    let mut conn = match tokio::time::timeout(
        options.connect_timeout,
        TcpStream::connect(&reply.addr),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(connect(e)),
        Err(_) => {
            return Err(connect(io::Error::new(
                io::ErrorKind::TimedOut,
                "connect timed out",
            )))
        }
    };
    let _ = conn.set_nodelay(true);
    timed(io_timeout(options), conn.write_all(&reply.token)).await?;
    Ok(conn)
}

async fn timed<T>(
    d: Duration,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, Error> {
    match tokio::time::timeout(d, f).await {
        Ok(r) => r.map_err(side_error),
        Err(_) => Err(Error::Timeout(d)),
    }
}

fn side_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => Error::ConnectionLost(
            format!("the server aborted the transfer ({e}); its log says why"),
        ),
        _ => Error::Io(e),
    }
}

/// Uploads over the side connection of `reply`, then waits (bounded) for the server's close.
async fn upload(
    reply: FileTransferReply,
    mut file: tokio::fs::File,
    size: u64,
    rate: u64,
    options: &ClientOptions,
) -> Result<u64, Error> {
    let timeout = io_timeout(options);
    let mut conn = open_side(&reply, options).await?;
    let mut buf = vec![0u8; FILE_TRANSFER_BUFFER_SIZE];
    let chunk = if rate > 0 {
        (rate as usize).clamp(1, FILE_TRANSFER_BUFFER_SIZE)
    } else {
        FILE_TRANSFER_BUFFER_SIZE
    };
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < size {
        let want = ((size - sent) as usize).min(chunk);
        let n = file.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the file shrank to {sent} bytes while being sent"),
            )));
        }
        timed(timeout, conn.write_all(&buf[..n])).await?;
        sent += n as u64;
        if rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    timed(timeout, conn.shutdown()).await?;
    // The server closes once the file is complete; a reset means it refused it.
    let mut probe = [0u8; 1];
    match tokio::time::timeout(timeout, conn.read(&mut probe)).await {
        Ok(Ok(_)) | Err(_) => Ok(sent),
        Ok(Err(e)) => Err(side_error(e)),
    }
}

/// Downloads over the side connection of `reply` into `save_to`.
async fn download<W: AsyncWrite + Unpin + ?Sized>(
    reply: FileTransferReply,
    save_to: &mut W,
    options: &ClientOptions,
) -> Result<u64, Error> {
    let timeout = io_timeout(options);
    let mut conn = open_side(&reply, options).await?;
    let mut buf = vec![0u8; FILE_TRANSFER_BUFFER_SIZE];
    let mut got = 0u64;
    loop {
        let n = timed(timeout, conn.read(&mut buf)).await?;
        if n == 0 {
            break;
        }
        save_to.write_all(&buf[..n]).await?;
        got += n as u64;
    }
    save_to.flush().await?;
    Ok(got)
}

async fn open_local(path: &Path) -> Result<(tokio::fs::File, String, u64), Error> {
    let file = tokio::fs::File::open(path).await?;
    let meta = file.metadata().await?;
    if !meta.is_file() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        )));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no UTF-8 file name", path.display()),
            ))
        })?
        .to_owned();
    Ok((file, name, meta.len()))
}

impl XClient {
    /// Uploads the local file at `path` (Go's `SendFile`): calls `TransferFile` on this
    /// XClient's service (`_filetransfer`) with the file's base name, size and `meta`, then
    /// sends the bytes to the side listener, at most `rate_bytes_per_sec` per second (0: no
    /// limit). Returns the bytes sent once the server closed the side connection (or the io
    /// timeout — the client options' `default_timeout`, else 30 s — passed without a word
    /// from it, as a Go server may keep it open); a reset means the server refused the file.
    ///
    /// The calls of `send_file`, `download_file` and `stream` use the connection's
    /// serialization, or MessagePack (Go's default) when it is raw bytes.
    pub async fn send_file(
        &self,
        path: impl AsRef<Path>,
        rate_bytes_per_sec: u64,
        meta: HashMap<String, String>,
    ) -> Result<u64, Error> {
        let (file, file_name, size) = open_local(path.as_ref()).await?;
        let args = FileTransferArgs {
            file_name,
            file_size: size as i64,
            meta,
        };
        let reply: FileTransferReply = self
            .call_with("TransferFile", &args, typed_call(self.client_options()))
            .await?
            .reply;
        upload(reply, file, size, rate_bytes_per_sec, self.client_options()).await
    }

    /// Downloads `file_name` (relative to the server's download directory) into `save_to`
    /// (Go's `DownloadFile`); returns the bytes written. The end of the file is the server's
    /// close: a reset or a stall (the io timeout) is an error.
    pub async fn download_file<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        file_name: &str,
        save_to: &mut W,
        meta: HashMap<String, String>,
    ) -> Result<u64, Error> {
        let args = DownloadFileArgs {
            file_name: file_name.to_owned(),
            meta,
        };
        let reply: FileTransferReply = self
            .call_with("DownloadFile", &args, typed_call(self.client_options()))
            .await?
            .reply;
        download(reply, save_to, self.client_options()).await
    }

    /// Opens a stream (Go's `Stream`): calls `Stream` on this XClient's service
    /// (`_streamservice`), dials the side listener and sends the token; the returned
    /// connection is the application's, both ways.
    pub async fn stream(&self, meta: HashMap<String, String>) -> Result<TcpStream, Error> {
        let args = StreamServiceArgs { meta };
        let reply: StreamServiceReply = self
            .call_with("Stream", &args, typed_call(self.client_options()))
            .await?
            .reply;
        open_side(&reply, self.client_options()).await
    }
}

impl Client {
    /// [`XClient::send_file`] on this connection, calling `service.TransferFile`
    /// (`service` is usually [`FILE_TRANSFER_SERVICE`](super::FILE_TRANSFER_SERVICE)).
    pub async fn send_file(
        &self,
        service: &str,
        path: impl AsRef<Path>,
        rate_bytes_per_sec: u64,
        meta: HashMap<String, String>,
    ) -> Result<u64, Error> {
        let (file, file_name, size) = open_local(path.as_ref()).await?;
        let args = FileTransferArgs {
            file_name,
            file_size: size as i64,
            meta,
        };
        let reply: FileTransferReply = self
            .call_with(service, "TransferFile", &args, typed_call(self.options()))
            .await?
            .reply;
        upload(reply, file, size, rate_bytes_per_sec, self.options()).await
    }

    /// [`XClient::download_file`] on this connection, calling `service.DownloadFile`.
    pub async fn download_file<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        service: &str,
        file_name: &str,
        save_to: &mut W,
        meta: HashMap<String, String>,
    ) -> Result<u64, Error> {
        let args = DownloadFileArgs {
            file_name: file_name.to_owned(),
            meta,
        };
        let reply: FileTransferReply = self
            .call_with(service, "DownloadFile", &args, typed_call(self.options()))
            .await?
            .reply;
        download(reply, save_to, self.options()).await
    }

    /// [`XClient::stream`] on this connection, calling `service.Stream`
    /// (usually [`STREAM_SERVICE`](super::STREAM_SERVICE)).
    pub async fn stream(
        &self,
        service: &str,
        meta: HashMap<String, String>,
    ) -> Result<TcpStream, Error> {
        let args = StreamServiceArgs { meta };
        let reply: StreamServiceReply = self
            .call_with(service, "Stream", &args, typed_call(self.options()))
            .await?
            .reply;
        open_side(&reply, self.options()).await
    }
}
