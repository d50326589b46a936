//! The side listener: single-use expiring tokens, the token handshake, and the bounded set of
//! side connections.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::types::TOKEN_LEN;
use crate::server::BoxFuture;
use crate::Error;

/// Options shared by [`FileTransfer`](super::FileTransfer) and
/// [`StreamService`](super::StreamService): where the side listener binds and how long and how
/// many tokens and connections it keeps.
#[derive(Debug, Clone)]
pub struct SideOptions {
    /// Address the side listener binds (`host:port`, port 0 for a free one). Default
    /// `127.0.0.1:0`.
    pub listen: String,
    /// Address put in replies instead of the bound one (Go's `AdvertiseAddr`): set it when the
    /// listener binds a wildcard address or sits behind NAT.
    pub advertise_addr: Option<String>,
    /// How long a token stays valid after the call that issued it. Default 60 s.
    pub token_ttl: Duration,
    /// Most tokens waiting at once; issuing one more drops the oldest (Go's LRU size,
    /// `waitNum`). Default 1024.
    pub max_tokens: usize,
    /// Most side connections at once, handshakes included; one more is closed at once.
    /// Default 64.
    pub max_concurrent: usize,
    /// Time a new side connection has to send its token. Default 10 s.
    pub handshake_timeout: Duration,
}

impl Default for SideOptions {
    fn default() -> Self {
        SideOptions {
            listen: "127.0.0.1:0".into(),
            advertise_addr: None,
            token_ttl: Duration::from_secs(60),
            max_tokens: 1024,
            max_concurrent: 64,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl SideOptions {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.token_ttl.is_zero()
            || self.handshake_timeout.is_zero()
            || self.max_tokens == 0
            || self.max_concurrent == 0
        {
            return Err(Error::Config(
                "side listener: token_ttl, handshake_timeout, max_tokens and max_concurrent must be above zero"
                    .into(),
            ));
        }
        Ok(())
    }
}

type Token = [u8; TOKEN_LEN];

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Never issued, already used, or dropped as the oldest.
    Unknown,
    /// Issued, but its lifetime passed.
    Expired,
}

/// Issued tokens: bounded, each taken at most once, expiring.
pub(crate) struct Tokens<T> {
    map: HashMap<Token, (Instant, T)>,
    /// Issue order (oldest first); may hold tokens already taken.
    order: VecDeque<Token>,
    cap: usize,
    ttl: Duration,
}

impl<T> Tokens<T> {
    pub(crate) fn new(cap: usize, ttl: Duration) -> Self {
        Tokens {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
            ttl,
        }
    }

    /// Issues a fresh random token for `value`.
    pub(crate) fn issue(&mut self, value: T) -> Result<Token, Error> {
        let mut token = [0u8; TOKEN_LEN];
        getrandom::fill(&mut token)
            .map_err(|e| Error::Io(std::io::Error::other(format!("no randomness: {e}"))))?;
        let now = Instant::now();
        // Drop expired and already taken tokens from the old end, then the oldest over the cap.
        while let Some(front) = self.order.front() {
            match self.map.get(front) {
                Some((exp, _)) if *exp > now && self.map.len() < self.cap => break,
                _ => {
                    let t = self.order.pop_front().expect("front exists");
                    if self.map.remove(&t).is_some() {
                        tracing::debug!(target: "rpcx::transfer", "rpcx: side token dropped unused (expired, or the oldest over max_tokens)");
                    }
                }
            }
        }
        if self.order.len() > self.cap.saturating_mul(2) {
            let map = &self.map;
            self.order.retain(|t| map.contains_key(t));
        }
        self.map.insert(token, (now + self.ttl, value));
        self.order.push_back(token);
        Ok(token)
    }

    /// Takes the value of `token`: a token works once.
    pub(crate) fn take(&mut self, token: &Token) -> Result<T, Refusal> {
        match self.map.remove(token) {
            None => Err(Refusal::Unknown),
            Some((exp, _)) if exp <= Instant::now() => Err(Refusal::Expired),
            Some((_, v)) => Ok(v),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// What the side listener does with a connection whose token was good.
pub(crate) type Serve<T> =
    Arc<dyn Fn(T, TcpStream, SocketAddr, OwnedSemaphorePermit) -> BoxFuture<()> + Send + Sync>;

/// A bound side listener with its token table.
pub(crate) struct Side<T> {
    pub(crate) tokens: Arc<Mutex<Tokens<T>>>,
    pub(crate) local: SocketAddr,
    pub(crate) reply_addr: String,
    pub(crate) stop: CancellationToken,
}

impl<T: Send + 'static> Side<T> {
    /// Binds the listener and starts accepting on the current runtime.
    pub(crate) async fn start(
        options: &SideOptions,
        kind: &'static str,
        serve: Serve<T>,
    ) -> Result<Side<T>, Error> {
        options.validate()?;
        let listener = TcpListener::bind(&options.listen).await?;
        let local = listener.local_addr()?;
        if options.advertise_addr.is_none() && local.ip().is_unspecified() {
            tracing::warn!(target: "rpcx::transfer", kind, address = %local, "rpcx: side listener bound to a wildcard address replies with it; remote clients need SideOptions::advertise_addr");
        }
        let reply_addr = options
            .advertise_addr
            .clone()
            .unwrap_or_else(|| local.to_string());
        let tokens = Arc::new(Mutex::new(Tokens::new(
            options.max_tokens,
            options.token_ttl,
        )));
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(
            listener,
            tokens.clone(),
            Arc::new(Semaphore::new(options.max_concurrent)),
            options.handshake_timeout,
            stop.clone(),
            kind,
            serve,
        ));
        Ok(Side {
            tokens,
            local,
            reply_addr,
            stop,
        })
    }

    pub(crate) fn issue(&self, value: T) -> Result<Token, Error> {
        match self.tokens.lock() {
            Ok(mut t) => t.issue(value),
            Err(p) => p.into_inner().issue(value),
        }
    }
}

async fn accept_loop<T: Send + 'static>(
    listener: TcpListener,
    tokens: Arc<Mutex<Tokens<T>>>,
    permits: Arc<Semaphore>,
    handshake_timeout: Duration,
    stop: CancellationToken,
    kind: &'static str,
    serve: Serve<T>,
) {
    loop {
        let (conn, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(target: "rpcx::transfer", kind, error = %e, "rpcx: side listener accept failed");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                    }
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(target: "rpcx::transfer", kind, peer = %peer, "rpcx: side connection refused: too many side connections");
            drop(conn);
            continue;
        };
        let tokens = tokens.clone();
        let serve = serve.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let work = handshake(conn, peer, tokens, handshake_timeout, kind, serve, permit);
            tokio::select! {
                _ = stop.cancelled() => {
                    tracing::debug!(target: "rpcx::transfer", kind, peer = %peer, "rpcx: side connection closed: service stopped");
                }
                _ = work => {}
            }
        });
    }
    tracing::debug!(target: "rpcx::transfer", kind, "rpcx: side listener stopped");
}

async fn handshake<T: Send + 'static>(
    mut conn: TcpStream,
    peer: SocketAddr,
    tokens: Arc<Mutex<Tokens<T>>>,
    timeout: Duration,
    kind: &'static str,
    serve: Serve<T>,
    permit: OwnedSemaphorePermit,
) {
    let mut token = [0u8; TOKEN_LEN];
    match tokio::time::timeout(timeout, conn.read_exact(&mut token)).await {
        Err(_) => {
            tracing::warn!(target: "rpcx::transfer", kind, peer = %peer, "rpcx: side connection refused: no token within the handshake timeout");
            return;
        }
        Ok(Err(e)) => {
            tracing::warn!(target: "rpcx::transfer", kind, peer = %peer, error = %e, "rpcx: side connection refused: token not read");
            return;
        }
        Ok(Ok(_)) => {}
    }
    let taken = match tokens.lock() {
        Ok(mut t) => t.take(&token),
        Err(p) => p.into_inner().take(&token),
    };
    match taken {
        Ok(value) => {
            let _ = conn.set_nodelay(true);
            serve(value, conn, peer, permit).await
        }
        Err(Refusal::Unknown) => {
            tracing::warn!(target: "rpcx::transfer", kind, peer = %peer, "rpcx: side connection refused: unknown or already used token");
        }
        Err(Refusal::Expired) => {
            tracing::warn!(target: "rpcx::transfer", kind, peer = %peer, "rpcx: side connection refused: expired token");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_single_use_bounded_and_expire() {
        let mut t = Tokens::new(2, Duration::from_secs(60));
        let a = t.issue(1).unwrap();
        let b = t.issue(2).unwrap();
        assert_ne!(a, b);
        assert_eq!(t.take(&a), Ok(1));
        assert_eq!(t.take(&a), Err(Refusal::Unknown));
        let c = t.issue(3).unwrap();
        let d = t.issue(4).unwrap();
        // Capacity 2: b (the oldest) was dropped.
        assert_eq!(t.take(&b), Err(Refusal::Unknown));
        assert_eq!(t.len(), 2);
        assert_eq!(t.take(&c), Ok(3));
        assert_eq!(t.take(&d), Ok(4));
        let mut short = Tokens::new(4, Duration::ZERO);
        let e = short.issue(5).unwrap();
        assert_eq!(short.take(&e), Err(Refusal::Expired));
        for i in 0..100 {
            let tok = short.issue(i).unwrap();
            let _ = short.take(&tok);
        }
        assert!(short.order.len() <= 9);
    }
}
