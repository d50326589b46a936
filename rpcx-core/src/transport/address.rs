//! `network@address` strings (§1.1, §5.6).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A server address: `tcp@host:port` (also `tcp4@`, `tcp6@`) or `unix@/path`. A string without
/// `@` is a TCP address, as in Go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// TCP to `host:port` (IPv6 hosts bracketed: `[::1]:8972`).
    Tcp(String),
    /// A Unix domain stream socket.
    Unix(PathBuf),
}

/// An address string that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A network other than tcp, tcp4, tcp6 or unix.
    #[error(
        "unsupported network {network:?} in address {address:?} (supported: tcp, tcp4, tcp6, unix)"
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
        match network {
            "tcp" | "tcp4" | "tcp6" => {
                let port_ok = rest
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
                if !port_ok {
                    return Err(AddressError::Invalid(s.to_owned()));
                }
                Ok(Address::Tcp(rest.to_owned()))
            }
            "unix" => Ok(Address::Unix(PathBuf::from(rest))),
            other => Err(AddressError::UnsupportedNetwork {
                network: other.to_owned(),
                address: s.to_owned(),
            }),
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
        assert!(Address::parse("tcp@").is_err());
        assert!(Address::parse("tcp@host").is_err());
        assert_eq!(Address::parse("tcp@h:1").unwrap().to_string(), "tcp@h:1");
    }
}
