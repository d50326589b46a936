//! Plugins shipped with the server: request rate limiting and IP allow/deny lists.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Plugin, Rejection};
use crate::protocol::Message;

/// Error text of a request refused by [`RateLimit`] (Go's `ErrReqReachLimit`).
pub const RATE_LIMIT_TEXT: &str = "request reached rate limit";

/// A server-wide token bucket on requests (heartbeats count too, as in Go): `capacity` tokens,
/// refilled one every `fill_interval`. A request without a token is answered with
/// `request reached rate limit` and the connection is kept.
pub struct RateLimit {
    capacity: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// A bucket of `capacity` tokens, one added every `fill_interval`.
    pub fn new(fill_interval: Duration, capacity: u32) -> RateLimit {
        let capacity = f64::from(capacity.max(1));
        RateLimit {
            capacity,
            per_second: 1.0 / fill_interval.as_secs_f64().max(1e-9),
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    fn take(&self) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return true;
        };
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() * self.per_second;
        s.0 = (s.0 + refill).min(self.capacity);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Plugin for RateLimit {
    fn name(&self) -> &str {
        "rate-limit"
    }

    fn after_read(&self, _peer: &str, _request: &mut Message) -> Result<(), Rejection> {
        if self.take() {
            Ok(())
        } else {
            Err(Rejection::Respond(RATE_LIMIT_TEXT.to_owned()))
        }
    }
}

/// An IP network in CIDR form (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("invalid IP address {a:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("invalid prefix length in {s:?}"))?,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    /// True when `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        }
        let ip = match ip {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, width) = bits(self.addr);
        let (addr, w2) = bits(ip);
        if width != w2 {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        if shift >= 128 {
            return true;
        }
        (net >> shift) == (addr >> shift)
    }
}

/// Accepts or refuses connections by the peer's IP: with an allow list, only listed networks
/// are accepted; any peer in the deny list is refused. Unix-socket peers are accepted.
#[derive(Debug, Default, Clone)]
pub struct IpFilter {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl IpFilter {
    /// A filter with both lists: a peer in `deny` is refused; with a non-empty `allow`, a
    /// peer must also lie in one of its networks.
    pub fn new(
        allow: impl IntoIterator<Item = IpNet>,
        deny: impl IntoIterator<Item = IpNet>,
    ) -> IpFilter {
        IpFilter {
            allow: allow.into_iter().collect(),
            deny: deny.into_iter().collect(),
        }
    }

    /// A filter that refuses the given networks.
    pub fn deny(nets: impl IntoIterator<Item = IpNet>) -> IpFilter {
        IpFilter {
            allow: Vec::new(),
            deny: nets.into_iter().collect(),
        }
    }

    /// A filter that accepts only the given networks.
    pub fn allow(nets: impl IntoIterator<Item = IpNet>) -> IpFilter {
        IpFilter {
            allow: nets.into_iter().collect(),
            deny: Vec::new(),
        }
    }

    /// Whether a peer (`tcp@1.2.3.4:5`) may connect.
    pub fn permits(&self, peer: &str) -> bool {
        let Some(rest) = peer.strip_prefix("tcp@") else {
            return true;
        };
        let Ok(sock) = rest.parse::<std::net::SocketAddr>() else {
            return self.allow.is_empty();
        };
        let ip = sock.ip();
        if self.deny.iter().any(|n| n.contains(ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(ip))
    }
}

impl Plugin for IpFilter {
    fn name(&self) -> &str {
        "ip-filter"
    }

    fn on_conn_accept(&self, peer: &str) -> bool {
        self.permits(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.9.9.9".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<IpNet>().is_err());
        let f = IpFilter::deny(["127.0.0.1".parse().unwrap()]);
        assert!(!f.permits("tcp@127.0.0.1:5000"));
        assert!(f.permits("tcp@127.0.0.2:5000"));
        let f = IpFilter::allow(["192.168.0.0/16".parse().unwrap()]);
        assert!(!f.permits("tcp@127.0.0.1:5000"));
        assert!(f.permits("unix@/tmp/x"));
    }

    #[test]
    fn token_bucket_refuses_when_empty() {
        let r = RateLimit::new(Duration::from_secs(3600), 2);
        let mut m = Message::default();
        assert!(r.after_read("p", &mut m).is_ok());
        assert!(r.after_read("p", &mut m).is_ok());
        assert_eq!(
            r.after_read("p", &mut m),
            Err(Rejection::Respond(RATE_LIMIT_TEXT.into()))
        );
    }
}
