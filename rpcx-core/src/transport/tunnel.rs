//! The client side of Go's tunnelled networks: `http@` (an HTTP `CONNECT /_rpcx_` before
//! rpcx) and `ws@`/`wss@` (a WebSocket at `/_rpcx_`), opened over a dialed (and, for `wss@`,
//! TLS) connection. Also the bounded reading of an HTTP head that both sides use.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use super::ws::{self, Role};
use super::{Address, Connection, ReadHalf};

/// The path Go serves tunnels on (`share.DefaultRPCPath`).
pub const RPC_PATH: &str = "/_rpcx_";

/// The status text Go's server answers a tunnel's `CONNECT` with, and its client requires.
pub(crate) const CONNECTED: &str = "200 Connected to rpcx";

/// Largest HTTP head a tunnel handshake reads.
const MAX_HEAD: usize = 16 << 10;

/// Turns a connection to `addr` into an rpcx connection: as is for `tcp@`/`unix@`, after the
/// CONNECT or WebSocket handshake (bounded by `timeout`) for `http@`, `ws@` and `wss@`. A
/// WebSocket's bridge task runs on the current runtime until either side closes.
pub async fn open(addr: &Address, conn: Connection, timeout: Duration) -> io::Result<Connection> {
    let work = async {
        match addr {
            Address::Tcp(_) | Address::Unix(_) => Ok(conn),
            Address::Http(_) => connect(conn).await,
            Address::Ws(hp) => websocket(conn, hp, "http").await,
            Address::Wss(hp) => websocket(conn, hp, "https").await,
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{addr}: tunnel handshake timed out after {timeout:?}"),
        )),
    }
}

async fn connect(mut conn: Connection) -> io::Result<Connection> {
    // The exact bytes Go's client sends.
    conn.write
        .write_all(format!("CONNECT {RPC_PATH} HTTP/1.0\n\n").as_bytes())
        .await?;
    let mut buf = BytesMut::with_capacity(1024);
    let head = read_head(&mut conn.read, &mut buf, MAX_HEAD).await?;
    let status = status_line(&buf[..head]);
    let code_ok = status.split_whitespace().nth(1) == Some("200");
    if !code_ok {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("unexpected HTTP response to CONNECT {RPC_PATH}: {status}"),
        ));
    }
    buf.advance(head);
    Ok(with_prefix(conn, buf))
}

async fn websocket(
    mut conn: Connection,
    host_port: &str,
    origin_scheme: &str,
) -> io::Result<Connection> {
    let key = ws::new_key();
    // Go's server (golang.org/x/net/websocket) refuses a handshake without an Origin.
    let request = format!(
        "GET {RPC_PATH} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin_scheme}://{host_port}\r\n\r\n"
    );
    conn.write.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(1024);
    let head = read_head(&mut conn.read, &mut buf, MAX_HEAD).await?;
    let refused = |why: String| io::Error::new(io::ErrorKind::ConnectionRefused, why);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&buf[..head]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(refused("malformed reply to the WebSocket handshake".into())),
    }
    if resp.code != Some(101) {
        return Err(refused(format!(
            "WebSocket handshake refused: {}",
            status_line(&buf[..head])
        )));
    }
    let accept = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|h| String::from_utf8_lossy(h.value).trim().to_owned());
    if accept.as_deref() != Some(ws::accept_key(&key).as_str()) {
        return Err(refused(
            "WebSocket handshake: wrong or missing Sec-WebSocket-Accept".into(),
        ));
    }
    buf.advance(head);
    let Connection {
        read, write, peer, ..
    } = with_prefix(conn, buf);
    let (conn, run) = ws::bridge(read, write, Role::Client, peer);
    tokio::spawn(run);
    Ok(conn)
}

/// The first line of an HTTP head, for error messages.
fn status_line(head: &[u8]) -> String {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim().to_owned()
}

/// Reads into `buf` until it holds a whole HTTP head (ended by an empty line, `\r\n` or bare
/// `\n` line ends as Go writes them) and returns the head's length; bytes after it stay in
/// `buf`. Fails on EOF or once `max` bytes hold no complete head.
pub(crate) async fn read_head(
    read: &mut ReadHalf,
    buf: &mut BytesMut,
    max: usize,
) -> io::Result<usize> {
    let mut scanned = 0;
    loop {
        if let Some(end) = head_end(buf, scanned) {
            return Ok(end);
        }
        scanned = buf.len().saturating_sub(3);
        if buf.len() >= max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("HTTP head longer than {max} bytes"),
            ));
        }
        buf.reserve(1024);
        if read.read_buf(buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the HTTP head",
            ));
        }
    }
}

/// The end of the head in `buf` (just after its empty line), searching from `from`.
pub(crate) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            match buf.get(i + 1) {
                Some(b'\n') => return Some(i + 2),
                Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// `conn` with `prefix` read before anything more from its socket.
pub(crate) fn with_prefix(conn: Connection, prefix: BytesMut) -> Connection {
    if prefix.is_empty() {
        return conn;
    }
    Connection {
        read: Box::new(Prefixed {
            prefix,
            inner: conn.read,
        }),
        write: conn.write,
        peer: conn.peer,
        direct: conn.direct,
    }
}

/// A reader that yields buffered bytes first.
struct Prefixed {
    prefix: BytesMut,
    inner: ReadHalf,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_a_head_with_either_line_end() {
        assert_eq!(head_end(b"CONNECT /_rpcx_ HTTP/1.0\n\nrest", 0), Some(26));
        assert_eq!(head_end(b"HTTP/1.1 101 X\r\nA: b\r\n\r\n\x08", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
    }
}
