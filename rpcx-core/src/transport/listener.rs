//! Listening and dialing.

use std::io;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use super::{Address, Connection, Stream};

/// A bound listener.
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// Unix domain socket; the path is removed when the listener is dropped.
    Unix(UnixListener, std::path::PathBuf),
}

impl Listener {
    /// Binds `addr`. Port 0 binds a free port ([`Listener::local_address`] tells which). A
    /// stale Unix socket file at the path is replaced.
    pub async fn bind(addr: &Address) -> io::Result<Listener> {
        match addr {
            Address::Tcp(a) | Address::Http(a) | Address::Ws(a) | Address::Wss(a) => {
                Ok(Listener::Tcp(TcpListener::bind(a.as_str()).await?))
            }
            Address::Unix(p) => {
                if p.exists() {
                    std::fs::remove_file(p)?;
                }
                Ok(Listener::Unix(UnixListener::bind(p)?, p.clone()))
            }
        }
    }

    /// The bound address (with the real port for TCP).
    pub fn local_address(&self) -> io::Result<Address> {
        match self {
            Listener::Tcp(l) => Ok(Address::Tcp(l.local_addr()?.to_string())),
            Listener::Unix(_, p) => Ok(Address::Unix(p.clone())),
        }
    }

    /// Accepts one connection, split into halves.
    pub async fn accept(&self) -> io::Result<Connection> {
        let (stream, peer) = self.accept_stream().await?;
        Ok(stream.into_connection(peer))
    }

    /// Accepts one connection as a whole stream (for a TLS handshake before splitting), with
    /// the peer's `network@address`.
    pub async fn accept_stream(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Stream::Tcp(s), format!("tcp@{peer}")))
            }
            Listener::Unix(l, p) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), format!("unix@{}", p.display())))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Connects to `addr` within `timeout`, split into halves; for `http@`, `ws@` and `wss@` the
/// tunnel is opened too (within another `timeout`; `wss@` needs TLS: see
/// [`tunnel::open`](super::tunnel::open)).
pub async fn dial(addr: &Address, timeout: Duration) -> io::Result<Connection> {
    if let Address::Wss(_) = addr {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr}: a wss@ address needs TLS options"),
        ));
    }
    let (stream, peer) = dial_stream(addr, timeout).await?;
    super::tunnel::open(addr, stream.into_connection(peer), timeout).await
}

/// Connects to `addr` within `timeout` and returns the whole stream with the peer's
/// `network@address` (the TCP connection only: no tunnel handshake).
pub async fn dial_stream(addr: &Address, timeout: Duration) -> io::Result<(Stream, String)> {
    let fut = async {
        match addr {
            Address::Tcp(a) | Address::Http(a) | Address::Ws(a) | Address::Wss(a) => {
                let s = TcpStream::connect(a.as_str()).await?;
                let _ = s.set_nodelay(true);
                let peer = format!("tcp@{}", s.peer_addr()?);
                Ok((Stream::Tcp(s), peer))
            }
            Address::Unix(p) => {
                let s = UnixStream::connect(p).await?;
                Ok((Stream::Unix(s), format!("unix@{}", p.display())))
            }
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("dial {addr}: timed out after {timeout:?}"),
        )),
    }
}
