//! Client configuration.

use std::time::Duration;

use crate::protocol::{CompressType, Limits, Metadata, SerializeType};

/// Options of a [`Client`](super::Client), with Go's defaults where Go has one.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Serialization of arguments and replies. Default MsgPack, like Go's `DefaultOption`.
    pub serialize_type: SerializeType,
    /// Compression of request payloads larger than [`gzip_threshold`](Self::gzip_threshold).
    /// Default none.
    pub compress_type: CompressType,
    /// Payloads larger than this are compressed when compression is on. Default 1024 (Go's).
    pub gzip_threshold: usize,
    /// Dial timeout. Default 1 s.
    pub connect_timeout: Duration,
    /// Send a heartbeat this often (`None`: no heartbeats, the default).
    pub heartbeat_interval: Option<Duration>,
    /// Drop the connection when a heartbeat is not answered within this. Default 30 s.
    pub heartbeat_timeout: Duration,
    /// Token sent as `__AUTH` with every call.
    pub auth_token: Option<String>,
    /// Timeout of calls that set none themselves (`None`: wait forever, the default).
    pub default_timeout: Option<Duration>,
    /// Limits on frames read from the server.
    pub limits: Limits,
    /// TLS settings (feature `tls`); `None` for plain TCP.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::transport::tls::ClientTls>,
    /// Server pushes buffered for [`Client::take_pushes`](super::Client::take_pushes); further
    /// pushes are dropped while the buffer is full. Default 1024.
    pub push_buffer: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            serialize_type: SerializeType::MSGPACK,
            compress_type: CompressType::NONE,
            gzip_threshold: crate::protocol::COMPRESS_THRESHOLD,
            connect_timeout: Duration::from_secs(1),
            heartbeat_interval: None,
            heartbeat_timeout: Duration::from_secs(30),
            auth_token: None,
            default_timeout: None,
            limits: Limits::DEFAULT,
            push_buffer: 1024,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ClientOptions {
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

    /// Connects with TLS, checking the server's certificate against `server_name`.
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
    /// Timeout of this call (overrides the client's default); also sent to the server as
    /// `__ServerTimeout`.
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
