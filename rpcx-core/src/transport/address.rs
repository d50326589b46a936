//! `network@address` strings.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A server address: `tcp@host:port` (also `tcp4@`, `tcp6@`), `unix@/path`, or one of Go's
/// tunnelled forms `http@host:port` (rpcx inside an HTTP `CONNECT /_rpcx_` tunnel),
/// `ws@host:port` and `wss@host:port` (rpcx inside a WebSocket at `/_rpcx_`, plain or over
/// TLS). A string without `@` is a TCP address, as in Go.
///
/// A server serves every form on any TCP listener (it tells them apart by their first bytes);
/// the network named in its address is what registries publish, so that clients dial it the
/// same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// TCP to `host:port` (IPv6 hosts bracketed: `[::1]:8972`).
    Tcp(String),
    /// A Unix domain stream socket.
    Unix(PathBuf),
    /// TCP to `host:port`, then `CONNECT /_rpcx_ HTTP/1.0` before speaking rpcx (Go's `http`
    /// network).
    Http(String),
    /// TCP to `host:port`, then a WebSocket upgrade at `/_rpcx_`; rpcx frames travel in
    /// WebSocket messages (Go's `ws` network).
    Ws(String),
    /// As [`Ws`](Address::Ws) over TLS (Go's `wss` network); the client needs TLS options.
    Wss(String),
}

/// An address string that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A network other than tcp, tcp4, tcp6, unix, http, ws or wss.
    #[error(
        "unsupported network {network:?} in address {address:?} (supported: tcp, tcp4, tcp6, unix, http, ws, wss)"
    )]
    UnsupportedNetwork {
        /// The network part.
        network: String,
        /// The whole address.
        address: String,
    },
    /// Nothing after the `@`, or a TCP address without a port.
    #[error("invalid address {0:?}: expected network@host:port or unix@/path")]
    Invalid(String),
}

impl Address {
    /// Parses `network@address`; the split is at the first `@`.
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        let (network, rest) = match s.split_once('@') {
            Some((n, r)) => (n, r),
            None => ("tcp", s),
        };
        if rest.is_empty() {
            return Err(AddressError::Invalid(s.to_owned()));
        }
        let host_port = || {
            let port_ok = rest
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
            if port_ok {
                Ok(rest.to_owned())
            } else {
                Err(AddressError::Invalid(s.to_owned()))
            }
        };
        match network {
            "tcp" | "tcp4" | "tcp6" => host_port().map(Address::Tcp),
            "http" => host_port().map(Address::Http),
            "ws" => host_port().map(Address::Ws),
            "wss" => host_port().map(Address::Wss),
            "unix" => Ok(Address::Unix(PathBuf::from(rest))),
            other => Err(AddressError::UnsupportedNetwork {
                network: other.to_owned(),
                address: s.to_owned(),
            }),
        }
    }
}

impl Address {
    /// `host:port` of the TCP connection under every form but a Unix socket.
    pub fn host_port(&self) -> Option<&str> {
        match self {
            Address::Tcp(a) | Address::Http(a) | Address::Ws(a) | Address::Wss(a) => Some(a),
            Address::Unix(_) => None,
        }
    }

    /// The same network with another `host:port` (a listener's bound address).
    pub(crate) fn with_host_port(&self, host_port: String) -> Address {
        match self {
            Address::Tcp(_) | Address::Unix(_) => Address::Tcp(host_port),
            Address::Http(_) => Address::Http(host_port),
            Address::Ws(_) => Address::Ws(host_port),
            Address::Wss(_) => Address::Wss(host_port),
        }
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(a) => write!(f, "tcp@{a}"),
            Address::Unix(p) => write!(f, "unix@{}", p.display()),
            Address::Http(a) => write!(f, "http@{a}"),
            Address::Ws(a) => write!(f, "ws@{a}"),
            Address::Wss(a) => write!(f, "wss@{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_address_forms() {
        assert_eq!(
            Address::parse("tcp@127.0.0.1:8972").unwrap(),
            Address::Tcp("127.0.0.1:8972".into())
        );
        assert_eq!(
            Address::parse("127.0.0.1:8972").unwrap(),
            Address::Tcp("127.0.0.1:8972".into())
        );
        assert_eq!(
            Address::parse("tcp6@[::1]:1").unwrap(),
            Address::Tcp("[::1]:1".into())
        );
        assert_eq!(
            Address::parse("unix@/tmp/a.sock").unwrap(),
            Address::Unix("/tmp/a.sock".into())
        );
        assert!(matches!(
            Address::parse("quic@h:1"),
            Err(AddressError::UnsupportedNetwork { .. })
        ));
        assert_eq!(Address::parse("ws@h:1").unwrap().to_string(), "ws@h:1");
        assert_eq!(
            Address::parse("http@h:1").unwrap(),
            Address::Http("h:1".into())
        );
        assert_eq!(Address::parse("wss@h:1").unwrap().host_port(), Some("h:1"));
        assert!(Address::parse("ws@h").is_err());
        assert!(Address::parse("tcp@").is_err());
        assert!(Address::parse("tcp@host").is_err());
        assert_eq!(Address::parse("tcp@h:1").unwrap().to_string(), "tcp@h:1");
    }
}
