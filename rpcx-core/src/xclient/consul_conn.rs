//! The connector of the Consul HTTP client: plain TCP, or TLS (feature `tls`) for an
//! `https://` agent, with rustls checking the agent's certificate against the host of the
//! URL (or an explicit server name).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The last read or write error of any connection of one client. hyper reports a
/// connection that failed before it carried a request as "connection was not ready" and
/// drops the cause (with TLS 1.3 a refused client certificate arrives that way, as an alert
/// after the handshake); the client's request error adds this text.
#[derive(Clone, Default)]
pub(crate) struct LastIoError(Arc<Mutex<Option<String>>>);

impl LastIoError {
    fn set(&self, e: &io::Error) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(e.to_string());
        }
    }

    /// Takes the error recorded since the last call, if any.
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Dials the Consul agent.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    /// Shared by every connection this connector makes.
    pub(crate) last_error: LastIoError,
    #[cfg(feature = "tls")]
    tls: Option<crate::transport::tls::ClientTls>,
}

impl Connector {
    /// Plain TCP (5 s connect timeout, no Nagle).
    pub(crate) fn plain() -> Connector {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.set_nodelay(true);
        Connector {
            http,
            last_error: LastIoError::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// TLS over TCP: `https://` URLs (the server name defaults to the URL's host).
    #[cfg(feature = "tls")]
    pub(crate) fn tls(tls: crate::transport::tls::ClientTls) -> Connector {
        let mut c = Connector::plain();
        c.http.enforce_http(false);
        c.tls = Some(tls);
        c
    }
}

/// A connection to the agent, recording its I/O errors in the connector's [`LastIoError`].
pub(crate) struct ConsulStream {
    inner: Inner,
    errors: LastIoError,
}

enum Inner {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<ConsulStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let errors = self.last_error.clone();
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        Box::pin(async move {
            #[cfg(feature = "tls")]
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let tcp = http.call(uri).await?.into_inner();
            #[cfg(feature = "tls")]
            if let Some(tls) = tls {
                let name = if tls.server_name.is_empty() {
                    host
                } else {
                    tls.server_name.clone()
                };
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(name)
                    .map_err(|e| format!("TLS server name: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(tls.config)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {e}"))?;
                return Ok(TokioIo::new(ConsulStream {
                    inner: Inner::Tls(Box::new(stream)),
                    errors,
                }));
            }
            Ok(TokioIo::new(ConsulStream {
                inner: Inner::Plain(tcp),
                errors,
            }))
        })
    }
}

impl Connection for ConsulStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl ConsulStream {
    /// Records an error result before passing it on.
    fn note<T>(&self, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &r {
            self.errors.set(e);
        }
        r
    }
}

impl AsyncRead for ConsulStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        this.note(r)
    }
}

impl AsyncWrite for ConsulStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        this.note(r)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        };
        this.note(r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
