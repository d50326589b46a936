//! DNS discovery (Go's `client.NewDNSDiscovery(domain, network, port, interval)`): every A and
//! AAAA record of a name is a server `network@ip:port`, looked up again every interval.
//!
//! As in Go, the servers carry no metadata, the list is sorted by address, and a lookup that
//! fails (no answer, SERVFAIL, the name gone) keeps the last list: a transient resolver
//! failure never empties it. Unlike Go, an IPv6 server is written `tcp@[::1]:8972` (Go writes
//! `tcp@::1:8972`, which its own client cannot dial), `tcp4` / `tcp6` keep only A / AAAA
//! records, and the list is published only when it changes. Lookups go through
//! hickory-resolver: the system's resolver configuration (`/etc/resolv.conf` and
//! `/etc/hosts`, like Go's `net.LookupIP`) or the nameservers given, bypassing the cache so
//! that every refresh asks again.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, TokioResolver};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::discovery::{Discovery, ServerEntry};
use crate::Error;

/// First retry delay after a failed lookup (then doubling, never above the interval).
const RETRY_MIN: Duration = Duration::from_secs(1);
/// Bounds of one query's wait for an answer (the interval, clamped to these).
const QUERY_TIMEOUT_MIN: Duration = Duration::from_millis(500);
const QUERY_TIMEOUT_MAX: Duration = Duration::from_secs(2);
/// Networks whose addresses are `host:port` (what a DNS answer can fill in).
const NETWORKS: [&str; 6] = ["tcp", "tcp4", "tcp6", "http", "ws", "wss"];

fn dns_error(what: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("dns: {what}")))
}

/// The servers of a DNS name: each A / AAAA record `ip` becomes `network@ip:port` (IPv6
/// bracketed) with empty metadata, sorted; the name is looked up again every `interval` and
/// subscribers see the new list when it changes. A failed lookup, or one finding no address,
/// keeps the last list (see [`last_error`](Self::last_error)); a failed one is retried after
/// 1 s, doubling up to `interval`.
/// The refresh task stops when the discovery is closed or dropped.
pub struct DnsDiscovery {
    tx: Arc<watch::Sender<Vec<ServerEntry>>>,
    stop: CancellationToken,
    domain: String,
    last_error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for DnsDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsDiscovery")
            .field("domain", &self.domain)
            .field("servers", &self.tx.borrow().len())
            .finish()
    }
}

/// What one refresh looks up and how it writes the servers.
struct Lookup {
    resolver: TokioResolver,
    domain: String,
    network: String,
    port: u16,
}

impl Lookup {
    /// The servers the name has now, sorted. `Ok(None)`: the name has no address (NXDOMAIN
    /// or no A/AAAA record); `Err`: the lookup failed (no answer, SERVFAIL, REFUSED…).
    async fn servers(&self) -> Result<Option<Vec<ServerEntry>>, Error> {
        // Every refresh asks the nameserver, as Go's resolver does (no TTL caching).
        self.resolver.clear_cache();
        let ips = match self.resolver.lookup_ip(self.domain.as_str()).await {
            Ok(found) => found.iter().collect::<Vec<IpAddr>>(),
            Err(e) if no_address(&e) => return Ok(None),
            Err(e) => return Err(dns_error(format!("lookup of {}: {e}", self.domain))),
        };
        let mut list: Vec<ServerEntry> = ips
            .into_iter()
            .filter(|ip| match self.network.as_str() {
                "tcp4" => ip.is_ipv4(),
                "tcp6" => ip.is_ipv6(),
                _ => true,
            })
            .map(|ip| {
                let addr = SocketAddr::new(ip, self.port);
                ServerEntry::new(format!("{}@{addr}", self.network), "")
            })
            .collect();
        list.sort();
        list.dedup();
        Ok((!list.is_empty()).then_some(list))
    }
}

/// True for an authoritative "no such address" (NXDOMAIN, or the name without A/AAAA).
fn no_address(e: &ResolveError) -> bool {
    matches!(
        e.proto().map(|p| p.kind()),
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. })
            if matches!(response_code, ResponseCode::NoError | ResponseCode::NXDomain)
    )
}

impl DnsDiscovery {
    /// Looks `domain` up with the system's resolver configuration (`/etc/resolv.conf`, and
    /// `/etc/hosts` as Go's `net.LookupIP` does) and starts refreshing it every `interval`.
    /// `network` is `tcp`, `tcp4` (A records only), `tcp6` (AAAA only), `http`, `ws` or
    /// `wss`; `port` the servers' port.
    ///
    /// Fails with [`Error::Config`] for an empty or invalid name, another network, port 0 or
    /// a zero interval, and when the first lookup gets no usable answer (no nameserver
    /// answered, SERVFAIL, REFUSED). A name without address yet is fine: the list starts
    /// empty and fills in at a later refresh.
    pub async fn new(
        domain: &str,
        network: &str,
        port: u16,
        interval: Duration,
    ) -> Result<DnsDiscovery, Error> {
        check(domain, network, port, interval)?;
        let mut builder = TokioResolver::builder_tokio()
            .map_err(|e| dns_error(format!("reading the system's resolver configuration: {e}")))?;
        tune(
            builder.options_mut(),
            network,
            interval,
            ResolveHosts::Always,
        );
        let lookup = Lookup {
            resolver: builder.build(),
            domain: domain.to_owned(),
            network: network.to_owned(),
            port,
        };
        DnsDiscovery::start(lookup, interval).await
    }

    /// Like [`new`](Self::new), asking the nameservers `nameservers` (`ip:port`, UDP and TCP,
    /// in order) instead of the system's, without `/etc/hosts` or search domains.
    pub async fn with_nameservers(
        domain: &str,
        network: &str,
        port: u16,
        interval: Duration,
        nameservers: &[SocketAddr],
    ) -> Result<DnsDiscovery, Error> {
        check(domain, network, port, interval)?;
        if nameservers.is_empty() {
            return Err(Error::Config("dns: no nameserver given".into()));
        }
        let mut group = NameServerConfigGroup::new();
        for ns in nameservers {
            group.merge(NameServerConfigGroup::from_ips_clear(
                &[ns.ip()],
                ns.port(),
                true,
            ));
        }
        let config = ResolverConfig::from_parts(None, vec![], group);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        tune(
            builder.options_mut(),
            network,
            interval,
            ResolveHosts::Never,
        );
        let lookup = Lookup {
            resolver: builder.build(),
            domain: domain.to_owned(),
            network: network.to_owned(),
            port,
        };
        DnsDiscovery::start(lookup, interval).await
    }

    async fn start(lookup: Lookup, interval: Duration) -> Result<DnsDiscovery, Error> {
        let first = lookup.servers().await?.unwrap_or_default();
        let (tx, _) = watch::channel(first);
        let tx = Arc::new(tx);
        let stop = CancellationToken::new();
        let last_error = Arc::new(Mutex::new(None));
        let domain = lookup.domain.clone();
        tokio::spawn(refresh(
            lookup,
            interval,
            Arc::clone(&tx),
            stop.clone(),
            Arc::clone(&last_error),
        ));
        Ok(DnsDiscovery {
            tx,
            stop,
            domain,
            last_error,
        })
    }

    /// Parses nameservers for [`with_nameservers`](Self::with_nameservers): comma-separated
    /// `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port` (port 53 when absent), e.g.
    /// `127.0.0.1:5353,[::1]:53`. [`Error::Config`] for anything else or an empty list.
    pub fn parse_nameservers(list: &str) -> Result<Vec<SocketAddr>, Error> {
        let mut out = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let addr = if let Ok(a) = part.parse::<SocketAddr>() {
                a
            } else {
                let bare = match part.strip_prefix('[') {
                    Some(rest) => rest.strip_suffix(']').unwrap_or(part),
                    None => part,
                };
                let ip: IpAddr = bare.parse().map_err(|_| {
                    Error::Config(format!(
                        "dns: bad nameserver {part:?}: expected ip, ip:port or [ipv6]:port"
                    ))
                })?;
                SocketAddr::new(ip, 53)
            };
            if addr.port() == 0 {
                return Err(Error::Config(format!(
                    "dns: nameserver {part:?} has port 0"
                )));
            }
            out.push(addr);
        }
        if out.is_empty() {
            return Err(Error::Config("dns: no nameserver given".into()));
        }
        Ok(out)
    }

    /// The name looked up.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Why the latest refresh kept the last list (the lookup failed, or the name has no
    /// address any more); `None` once a lookup finds addresses again.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

/// Validates the arguments shared by both constructors.
fn check(domain: &str, network: &str, port: u16, interval: Duration) -> Result<(), Error> {
    let domain = domain.trim();
    if domain.is_empty() {
        return Err(Error::Config("dns: the domain name is empty".into()));
    }
    if let Err(e) = hickory_resolver::Name::from_utf8(domain) {
        return Err(Error::Config(format!(
            "dns: invalid domain name {domain:?}: {e}"
        )));
    }
    if !NETWORKS.contains(&network) {
        return Err(Error::Config(format!(
            "dns: unsupported network {network:?} (supported: {})",
            NETWORKS.join(", ")
        )));
    }
    if port == 0 {
        return Err(Error::Config("dns: the port is 0".into()));
    }
    if interval.is_zero() {
        return Err(Error::Config("dns: the refresh interval is zero".into()));
    }
    Ok(())
}

/// Resolver options: both address families (or one for tcp4 / tcp6), bounded waits, no
/// cache (every refresh asks the nameserver, as Go's resolver does).
fn tune(options: &mut ResolverOpts, network: &str, interval: Duration, hosts: ResolveHosts) {
    options.ip_strategy = match network {
        "tcp4" => LookupIpStrategy::Ipv4Only,
        "tcp6" => LookupIpStrategy::Ipv6Only,
        _ => LookupIpStrategy::Ipv4AndIpv6,
    };
    options.timeout = interval.clamp(QUERY_TIMEOUT_MIN, QUERY_TIMEOUT_MAX);
    options.attempts = 2;
    options.cache_size = 0;
    options.use_hosts_file = hosts;
}

impl Discovery for DnsDiscovery {
    fn subscribe(&self) -> watch::Receiver<Vec<ServerEntry>> {
        self.tx.subscribe()
    }

    fn close(&self) {
        self.stop.cancel();
    }
}

impl Drop for DnsDiscovery {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn refresh(
    lookup: Lookup,
    interval: Duration,
    tx: Arc<watch::Sender<Vec<ServerEntry>>>,
    stop: CancellationToken,
    last_error: Arc<Mutex<Option<String>>>,
) {
    let mut delay = interval;
    let mut retry = RETRY_MIN;
    let mut failing_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        let r = tokio::select! {
            _ = stop.cancelled() => return,
            r = lookup.servers() => r,
        };
        let error = match r {
            Ok(found) => {
                delay = interval;
                retry = RETRY_MIN;
                match found {
                    Some(list) => {
                        tx.send_if_modified(|cur| {
                            if *cur == list {
                                false
                            } else {
                                *cur = list;
                                true
                            }
                        });
                        None
                    }
                    // The name lost its addresses: keep the last list, as Go does.
                    None if tx.borrow().is_empty() => None,
                    None => Some(format!(
                        "dns: {} has no A/AAAA record now; keeping the last server list",
                        lookup.domain
                    )),
                }
            }
            Err(e) => {
                delay = retry.min(interval);
                retry = (retry * 2).min(interval.max(RETRY_MIN));
                Some(e.to_string())
            }
        };
        // One warning when lookups start failing, one line when they work again.
        let was_failing = failing_since.is_some();
        match (&error, was_failing) {
            (Some(e), false) => {
                failing_since = Some(tokio::time::Instant::now());
                // Counted first: no borrow of the list is held while subscribers log.
                let kept = tx.borrow().len();
                tracing::warn!(
                    domain = %lookup.domain,
                    servers_kept = kept,
                    error = %e,
                    "rpcx: DNS discovery lookup failed; keeping the last server list while it retries"
                );
            }
            (None, true) => {
                let down_for = failing_since.take().map(|t| t.elapsed());
                let servers = tx.borrow().len();
                tracing::info!(
                    domain = %lookup.domain,
                    servers,
                    down_for = ?down_for.unwrap_or_default(),
                    "rpcx: DNS discovery lookups work again"
                );
            }
            _ => {}
        }
        if let Ok(mut last) = last_error.lock() {
            *last = error;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_lists() {
        let p = DnsDiscovery::parse_nameservers;
        assert_eq!(
            p("127.0.0.1:5353, [::1]:54,10.0.0.1,::2,[::3]").unwrap(),
            [
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "[::1]:54".parse().unwrap(),
                "10.0.0.1:53".parse().unwrap(),
                "[::2]:53".parse().unwrap(),
                "[::3]:53".parse().unwrap(),
            ]
        );
        for bad in ["", " , ", "host:53", "1.2.3.4:0", "1.2.3.4:x", "[::1"] {
            assert!(matches!(p(bad), Err(Error::Config(_))), "{bad:?}");
        }
    }
}
