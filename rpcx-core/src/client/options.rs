//! Client configuration.

use std::time::Duration;

use crate::protocol::{CompressType, Limits, Metadata, SerializeType};
use crate::Error;

/// Options of a [`Client`](super::Client), with Go's defaults where Go has one.
///
/// [`Client::connect`](super::Client::connect) (and `XClient::new`) check them with
/// [`validate`](Self::validate) first: a zero connect timeout, heartbeat interval or heartbeat
/// timeout is refused with [`Error::Config`]. Durations may be as large as
/// [`Duration::MAX`] (meaning "no limit in practice"); nothing overflows.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Serialization of arguments and replies. Default MsgPack, like Go's `DefaultOption`.
    pub serialize_type: SerializeType,
    /// Compression of request payloads larger than
    /// [`compress_threshold`](Self::compress_threshold): none (the default), gzip, or a type
    /// registered with [`register_compressor`](crate::protocol::register_compressor) (snappy
    /// with the `snappy` feature). The server answers with the same compress type (as Go's
    /// does), so a large reply comes back compressed the same way.
    pub compress_type: CompressType,
    /// Payloads larger than this many bytes are compressed when compression is on; smaller
    /// ones go uncompressed. Default 1024 (Go's fixed threshold).
    pub compress_threshold: usize,
    /// Dial timeout. Default 1 s; must not be zero.
    pub connect_timeout: Duration,
    /// Send a heartbeat this often (`None`: no heartbeats, the default); must not be zero.
    pub heartbeat_interval: Option<Duration>,
    /// Drop the connection when a heartbeat is not sent and answered within this. Default
    /// 30 s; must not be zero when heartbeats are on.
    pub heartbeat_timeout: Duration,
    /// Token sent as `__AUTH` with every call.
    pub auth_token: Option<String>,
    /// Timeout of calls that set none themselves (`None`: wait forever, the default). It
    /// covers queueing the request as well as waiting for the reply; zero makes every such
    /// call time out at once.
    pub default_timeout: Option<Duration>,
    /// Limits on frames read from the server.
    pub limits: Limits,
    /// Bytes of requests queued for the connection's writer and not yet written (a server
    /// that stops reading holds them here). A call that would go over waits for room, within
    /// its timeout; a single request larger than this waits until the queue is empty. Default
    /// [`DEFAULT_MAX_UNSENT_BYTES`](Self::DEFAULT_MAX_UNSENT_BYTES) (16 MiB); must not be zero.
    pub max_unsent_bytes: usize,
    /// TLS settings (feature `tls`); `None` for plain TCP. An XClient uses them for every
    /// server it dials.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::transport::tls::ClientTls>,
    /// Server pushes buffered for [`Client::take_pushes`](super::Client::take_pushes); further
    /// pushes are dropped while the buffer is full. Default 1024. Clamped to
    /// `1..=`[`MAX_PUSH_BUFFER`](Self::MAX_PUSH_BUFFER) (0 counts as 1).
    pub push_buffer: usize,
    /// Hooks around every call (see [`ClientInterceptor`](super::ClientInterceptor)), in the
    /// order added. Default none.
    pub interceptors: super::Interceptors,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            serialize_type: SerializeType::MSGPACK,
            compress_type: CompressType::NONE,
            compress_threshold: crate::protocol::COMPRESS_THRESHOLD,
            connect_timeout: Duration::from_secs(1),
            heartbeat_interval: None,
            heartbeat_timeout: Duration::from_secs(30),
            auth_token: None,
            default_timeout: None,
            limits: Limits::DEFAULT,
            max_unsent_bytes: Self::DEFAULT_MAX_UNSENT_BYTES,
            push_buffer: 1024,
            interceptors: super::Interceptors::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientOptions {
    /// The largest usable [`push_buffer`](Self::push_buffer) (tokio's channel limit); larger
    /// values are clamped to it. The buffer is a bound, not an allocation.
    pub const MAX_PUSH_BUFFER: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// The default of [`max_unsent_bytes`](Self::max_unsent_bytes): 16 MiB.
    pub const DEFAULT_MAX_UNSENT_BYTES: usize = 16 << 20;

    /// Checks the values that would otherwise make a client spin or never connect: a zero
    /// [`connect_timeout`](Self::connect_timeout), a zero
    /// [`heartbeat_interval`](Self::heartbeat_interval), or a zero
    /// [`heartbeat_timeout`](Self::heartbeat_timeout) with heartbeats on, or a zero
    /// [`max_unsent_bytes`](Self::max_unsent_bytes), or a
    /// [`compress_type`](Self::compress_type) with no compressor registered.
    pub fn validate(&self) -> Result<(), Error> {
        if self.connect_timeout.is_zero() {
            return Err(Error::Config(
                "connect_timeout must be greater than zero".into(),
            ));
        }
        if self.heartbeat_interval.is_some_and(|d| d.is_zero()) {
            return Err(Error::Config(
                "heartbeat_interval must be greater than zero (None turns heartbeats off)".into(),
            ));
        }
        if self.heartbeat_interval.is_some() && self.heartbeat_timeout.is_zero() {
            return Err(Error::Config(
                "heartbeat_timeout must be greater than zero".into(),
            ));
        }
        if !crate::protocol::is_compress_type_supported(self.compress_type) {
            return Err(Error::Config(format!(
                "compress_type {} has no compressor registered (types 2-7 need \
                 register_compressor; snappy needs the `snappy` feature)",
                self.compress_type.value()
            )));
        }
        if self.max_unsent_bytes == 0 {
            return Err(Error::Config(
                "max_unsent_bytes must be greater than zero".into(),
            ));
        }
        Ok(())
    }

    /// The push buffer size actually used (see [`push_buffer`](Self::push_buffer)).
    pub(crate) fn push_capacity(&self) -> usize {
        self.push_buffer.clamp(1, Self::MAX_PUSH_BUFFER)
    }

    /// Sets the serialization.
    pub fn serialize_type(mut self, st: SerializeType) -> Self {
        self.serialize_type = st;
        self
    }

    /// Turns gzip compression of large requests on or off.
    pub fn gzip(mut self, on: bool) -> Self {
        self.compress_type = if on {
            CompressType::GZIP
        } else {
            CompressType::NONE
        };
        self
    }

    /// Compresses requests larger than [`compress_threshold`](Self::compress_threshold) with
    /// `ct` ([`CompressType::NONE`] turns compression off).
    pub fn compress(mut self, ct: CompressType) -> Self {
        self.compress_type = ct;
        self
    }

    /// Sets [`compress_threshold`](Self::compress_threshold).
    pub fn compress_threshold(mut self, bytes: usize) -> Self {
        self.compress_threshold = bytes;
        self
    }

    /// Sets the auth token.
    pub fn auth(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Enables heartbeats every `interval`.
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = Some(interval);
        self
    }

    /// Sets the default call timeout.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.default_timeout = Some(d);
        self
    }

    /// Connects with TLS, checking the server's certificate against `server_name` (empty:
    /// the host of the address dialed).
    #[cfg(feature = "tls")]
    pub fn tls(
        mut self,
        config: std::sync::Arc<crate::transport::tls::rustls::ClientConfig>,
        server_name: impl Into<String>,
    ) -> Self {
        self.tls = Some(crate::transport::tls::ClientTls {
            config,
            server_name: server_name.into(),
        });
        self
    }

    /// Connects with these TLS settings (from
    /// [`ClientTlsConfig::build`](crate::transport::tls::ClientTlsConfig::build)).
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, tls: crate::transport::tls::ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Adds an interceptor after those added before (see
    /// [`ClientInterceptor`](super::ClientInterceptor)).
    pub fn interceptor(self, interceptor: impl super::ClientInterceptor) -> Self {
        self.interceptor_arc(std::sync::Arc::new(interceptor))
    }

    /// Adds a shared interceptor.
    pub fn interceptor_arc(
        mut self,
        interceptor: std::sync::Arc<dyn super::ClientInterceptor>,
    ) -> Self {
        self.interceptors.push(interceptor);
        self
    }

    /// Sets the dial timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
}

/// Per-call options.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Request metadata.
    pub metadata: Metadata,
    /// Timeout of this call (overrides the client's default): one deadline for queueing the
    /// request and waiting for the reply; also sent to the server as `__ServerTimeout`
    /// (capped at what a Go server can represent, about 292 years).
    pub timeout: Option<Duration>,
    /// Serialization for this call (overrides the client's).
    pub serialize_type: Option<SerializeType>,
}

impl CallOptions {
    /// Adds a metadata pair.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Sets the serialization.
    pub fn serialize_type(mut self, st: SerializeType) -> Self {
        self.serialize_type = Some(st);
        self
    }
}
