//! Select modes: which server gets the next call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::discovery::ServerEntry;

/// What a selector knows about the call being placed.
#[derive(Debug, Clone, Copy)]
pub struct SelectRequest<'a> {
    /// Service path.
    pub service: &'a str,
    /// Method.
    pub method: &'a str,
    /// The encoded arguments (the consistent-hash key uses them).
    pub args: &'a [u8],
}

/// Picks a server key (`network@address`) for each call. Implement it for a custom selector.
pub trait Selector: Send + Sync + 'static {
    /// The server for this call, or `None` when there is none.
    fn select(&self, req: &SelectRequest<'_>) -> Option<String>;
    /// Replaces the candidate list (already filtered by state and group).
    fn update(&self, servers: &[ServerEntry]);
    /// How often the XClient should measure each server's heartbeat round trip on its live
    /// connection and report it with [`observe_rtt`](Self::observe_rtt); `None` (the
    /// default): never.
    fn rtt_interval(&self) -> Option<Duration> {
        None
    }
    /// A server's measured heartbeat round trip; `None` when the heartbeat went unanswered
    /// (or the server could not be reached).
    fn observe_rtt(&self, _key: &str, _rtt: Option<Duration>) {}
}

/// The built-in select modes, with Go's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SelectMode {
    /// Uniformly random (0).
    Random,
    /// In turn, over the servers sorted by key (1).
    RoundRobin,
    /// Smooth weighted round robin on the `weight` metadata (2).
    WeightedRoundRobin,
    /// Weighted by measured round-trip time (3); see [`WeightedRtt`].
    WeightedIcmp,
    /// FNV-1a-64 of `/service/method/<args>` with jump hash over the sorted servers (4).
    ConsistentHash,
    /// Nearest by `latitude`/`longitude` to the given point (5).
    Closest {
        /// Client latitude in degrees.
        latitude: f64,
        /// Client longitude in degrees.
        longitude: f64,
    },
    /// Weighted by the round trip of a heartbeat on the live connection to each server (6;
    /// not in Go): see [`HeartbeatRtt`](super::HeartbeatRtt).
    HeartbeatRtt,
}

impl SelectMode {
    /// A selector for this mode.
    pub fn build(self) -> Arc<dyn Selector> {
        match self {
            SelectMode::Random => Arc::new(RandomSelector::default()),
            SelectMode::RoundRobin => Arc::new(RoundRobin::default()),
            SelectMode::WeightedRoundRobin => Arc::new(WeightedRoundRobin::default()),
            SelectMode::WeightedIcmp => Arc::new(WeightedRtt::default()),
            SelectMode::ConsistentHash => Arc::new(ConsistentHash::default()),
            SelectMode::Closest {
                latitude,
                longitude,
            } => Arc::new(Closest::new(latitude, longitude)),
            SelectMode::HeartbeatRtt => Arc::new(super::rtt::HeartbeatRtt::default()),
        }
    }
}

fn sorted_keys(servers: &[ServerEntry]) -> Vec<String> {
    let mut keys: Vec<String> = servers.iter().map(|s| s.key.clone()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Uniformly random.
#[derive(Default)]
pub struct RandomSelector {
    keys: RwLock<Vec<String>>,
}

impl Selector for RandomSelector {
    fn select(&self, _req: &SelectRequest<'_>) -> Option<String> {
        let keys = self.keys.read().ok()?;
        if keys.is_empty() {
            return None;
        }
        Some(keys[fastrand::usize(..keys.len())].clone())
    }
    fn update(&self, servers: &[ServerEntry]) {
        if let Ok(mut k) = self.keys.write() {
            *k = sorted_keys(servers);
        }
    }
}

/// Round robin over the servers sorted by key.
#[derive(Default)]
pub struct RoundRobin {
    keys: RwLock<Vec<String>>,
    next: AtomicUsize,
}

impl Selector for RoundRobin {
    fn select(&self, _req: &SelectRequest<'_>) -> Option<String> {
        let keys = self.keys.read().ok()?;
        if keys.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        Some(keys[i % keys.len()].clone())
    }
    fn update(&self, servers: &[ServerEntry]) {
        if let Ok(mut k) = self.keys.write() {
            *k = sorted_keys(servers);
        }
    }
}

/// Smooth weighted round robin (nginx): each pick adds every weight to its server's current
/// value, picks the largest, and subtracts the total from it. Servers with weight ≤ 0 are
/// never picked; if no server has a positive weight, all count as weight 1. Weights above
/// [`MAX_WEIGHT`](Self::MAX_WEIGHT) count as `MAX_WEIGHT` (so sums cannot overflow).
#[derive(Default)]
pub struct WeightedRoundRobin {
    state: Mutex<Vec<(String, i64, i64)>>, // key, weight, current
}

impl WeightedRoundRobin {
    /// The largest weight used; larger ones are clamped to it. With at most 2³¹ servers the
    /// running values then stay far inside `i64`.
    pub const MAX_WEIGHT: i64 = i32::MAX as i64;

    fn set_weights(&self, mut weighted: Vec<(String, i64)>) {
        weighted.sort();
        weighted.dedup_by(|a, b| a.0 == b.0);
        for w in &mut weighted {
            w.1 = w.1.min(Self::MAX_WEIGHT);
        }
        if weighted.iter().all(|(_, w)| *w <= 0) {
            for w in &mut weighted {
                w.1 = 1;
            }
        }
        if let Ok(mut s) = self.state.lock() {
            *s = weighted.into_iter().map(|(k, w)| (k, w, 0)).collect();
        }
    }
}

impl Selector for WeightedRoundRobin {
    fn select(&self, _req: &SelectRequest<'_>) -> Option<String> {
        let mut s = self.state.lock().ok()?;
        let total: i64 = s.iter().map(|e| e.1.max(0)).sum();
        if total <= 0 {
            return None;
        }
        let mut best: Option<usize> = None;
        for i in 0..s.len() {
            if s[i].1 <= 0 {
                continue;
            }
            s[i].2 += s[i].1;
            if best.is_none_or(|b| s[i].2 > s[b].2) {
                best = Some(i);
            }
        }
        let b = best?;
        s[b].2 -= total;
        Some(s[b].0.clone())
    }
    fn update(&self, servers: &[ServerEntry]) {
        self.set_weights(
            servers
                .iter()
                .map(|s| (s.key.clone(), s.meta().weight()))
                .collect(),
        );
    }
}

/// Go's RTT → weight mapping: ≤ 10 ms → 191; ≤ 200 ms → 201 − rtt; < 1000 ms → 1;
/// otherwise 0.
pub fn rtt_weight(rtt_ms: i64) -> i64 {
    match rtt_ms {
        0..=10 => 191,
        11..=200 => 201 - rtt_ms,
        201..=999 => 1,
        _ => 0,
    }
}

/// How [`WeightedRtt`] measured a server's round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RttProbe {
    /// ICMP echo on a raw socket (root or `CAP_NET_RAW`).
    IcmpRaw,
    /// ICMP echo on Linux's unprivileged ping socket (`net.ipv4.ping_group_range`).
    IcmpPing,
    /// The time of a TCP connect to the server's port: no ICMP socket could be opened, the
    /// address is not an IP host (a Unix socket), or the selector was made
    /// [`tcp_only`](WeightedRtt::tcp_only).
    TcpConnect,
}

/// One server's measured round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttSample {
    /// Whole milliseconds; 1000 when the server did not answer (weight 0).
    pub rtt_ms: i64,
    /// How it was measured.
    pub probe: RttProbe,
}

/// The RTT given to a server that did not answer (weight 0, as Go's).
const NO_ANSWER_MS: i64 = 1000;
/// Echoes (or connects) per measurement, and the time they may take in all, as Go's pinger.
const PROBES: u32 = 3;
const PROBE_BUDGET: Duration = Duration::from_secs(3);
/// The TCP connect tried when no echo was answered (a host or network that drops ICMP).
const FALLBACK_CONNECT: Duration = Duration::from_secs(1);
/// Servers measured at once by one selector (each measurement is a blocking ICMP socket).
const CONCURRENT_MEASUREMENTS: usize = 16;

/// Weighted round robin whose weights come from measured round-trip times, as Go's
/// WeightedICMP: each server is measured when the server list changes, with 3 ICMP echoes to
/// its host within 3 s (a raw socket as root, else Linux's unprivileged ping socket; each echo
/// waits at most its 1 s share), their mean RTT turned into a weight by [`rtt_weight`]. A host
/// that answers no echo gets one TCP connect to the server (1 s; hosts and networks that drop
/// ICMP); one that answers neither gets 1000 ms, weight 0, and is chosen only when every
/// server weighs 0. Where no ICMP socket can be opened (or the server is on a Unix socket),
/// the RTT is the time of a TCP connect to the server (mean of 3, 3 s in all). Until the first
/// measurement of a list completes every server weighs 1; a new list stops the measurement of
/// the previous one; at most 16 servers are measured at once.
/// [`samples`](Self::samples) tells what was measured and how.
#[derive(Default)]
pub struct WeightedRtt {
    inner: Arc<WeightedRoundRobin>,
    generation: Arc<AtomicUsize>,
    samples: Arc<Mutex<Vec<(String, RttSample)>>>,
    /// The measurement of the current list (aborted when the next list arrives).
    measuring: Mutex<Option<tokio::task::AbortHandle>>,
    tcp_only: bool,
}

impl WeightedRtt {
    /// A selector that times TCP connects only, never ICMP (for networks that drop ICMP).
    pub fn tcp_only() -> Self {
        let mut selector = WeightedRtt::default();
        selector.tcp_only = true;
        selector
    }

    /// Measures the RTT to a server key, in whole milliseconds (1000 when it did not answer):
    /// ICMP echo where a socket for it opens, else TCP connects. See [`measure_sample`].
    ///
    /// [`measure_sample`]: Self::measure_sample
    pub async fn measure(key: &str) -> i64 {
        Self::measure_sample(key, false).await.rtt_ms
    }

    /// Measures a server key's RTT and says how: ICMP echo to its host unless `tcp_only` or no
    /// ICMP socket opens, else the mean time of TCP connects to it.
    pub async fn measure_sample(key: &str, tcp_only: bool) -> RttSample {
        let tcp = RttSample {
            rtt_ms: NO_ANSWER_MS,
            probe: RttProbe::TcpConnect,
        };
        let Ok(addr) = crate::transport::Address::parse(key) else {
            return tcp;
        };
        let host_port = match &addr {
            crate::transport::Address::Unix(_) => None,
            crate::transport::Address::Tcp(hp)
            | crate::transport::Address::Http(hp)
            | crate::transport::Address::Ws(hp)
            | crate::transport::Address::Wss(hp) => Some(hp.clone()),
        };
        if let (false, Some(hp)) = (tcp_only, host_port) {
            let deadline = Instant::now() + PROBE_BUDGET;
            let ip = tokio::time::timeout(PROBE_BUDGET, tokio::net::lookup_host(hp))
                .await
                .ok()
                .and_then(|r| r.ok())
                .and_then(|mut addrs| addrs.next())
                .map(|a| a.ip());
            let Some(ip) = ip else {
                return tcp;
            };
            let budget = deadline.saturating_duration_since(Instant::now());
            let pinged =
                tokio::task::spawn_blocking(move || super::icmp::ping(ip, PROBES, budget)).await;
            if let Ok(Ok(stats)) = pinged {
                if let Some(average) = stats.average {
                    return RttSample {
                        rtt_ms: (average.as_micros() / 1000) as i64,
                        probe: match stats.socket {
                            super::icmp::EchoSocket::Raw => RttProbe::IcmpRaw,
                            super::icmp::EchoSocket::Ping => RttProbe::IcmpPing,
                        },
                    };
                }
                // No echo answered: the host may drop ICMP; one TCP connect decides.
                let t = Instant::now();
                return match crate::transport::dial(&addr, FALLBACK_CONNECT).await {
                    Ok(_) => RttSample {
                        rtt_ms: (t.elapsed().as_micros() / 1000) as i64,
                        probe: RttProbe::TcpConnect,
                    },
                    Err(_) => tcp,
                };
            }
        }
        let deadline = Instant::now() + PROBE_BUDGET;
        let mut total = Duration::ZERO;
        for _ in 0..PROBES {
            let t = Instant::now();
            let left = deadline.saturating_duration_since(t);
            match crate::transport::dial(&addr, left).await {
                Ok(_) if !left.is_zero() => total += t.elapsed(),
                _ => return tcp,
            }
        }
        RttSample {
            rtt_ms: (total.as_micros() / u128::from(PROBES) / 1000) as i64,
            probe: RttProbe::TcpConnect,
        }
    }

    /// The latest measurement of each listed server, sorted by key; empty until the first
    /// measurement of the current list completes.
    pub fn samples(&self) -> Vec<(String, RttSample)> {
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for WeightedRtt {
    fn drop(&mut self) {
        if let Some(task) = self.measuring.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

impl Selector for WeightedRtt {
    fn select(&self, req: &SelectRequest<'_>) -> Option<String> {
        self.inner.select(req)
    }
    fn update(&self, servers: &[ServerEntry]) {
        self.inner
            .set_weights(servers.iter().map(|s| (s.key.clone(), 1)).collect());
        if let Ok(mut s) = self.samples.lock() {
            s.clear();
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let gen = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let generation = Arc::clone(&self.generation);
        let inner = Arc::clone(&self.inner);
        let samples = Arc::clone(&self.samples);
        let tcp_only = self.tcp_only;
        let keys = sorted_keys(servers);
        let task = rt.spawn(async move {
            // Many servers at once (a silent host costs its own budget, not everyone's), at
            // most CONCURRENT_MEASUREMENTS; dropping the set (this task aborted by the next
            // list) aborts them.
            let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_MEASUREMENTS));
            let mut set = tokio::task::JoinSet::new();
            for k in keys.iter().cloned() {
                let permits = Arc::clone(&permits);
                set.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let sample = WeightedRtt::measure_sample(&k, tcp_only).await;
                    (k, sample)
                });
            }
            let mut measured = Vec::with_capacity(keys.len());
            while let Some(done) = set.join_next().await {
                if let Ok(done) = done {
                    measured.push(done);
                }
            }
            measured.sort_by(|a, b| a.0.cmp(&b.0));
            if generation.load(Ordering::Acquire) == gen {
                // A server whose measurement did not finish keeps weight 1.
                let mut weights: Vec<(String, i64)> = measured
                    .iter()
                    .map(|(k, s)| (k.clone(), rtt_weight(s.rtt_ms)))
                    .collect();
                for k in &keys {
                    if !measured.iter().any(|(m, _)| m == k) {
                        weights.push((k.clone(), 1));
                    }
                }
                inner.set_weights(weights);
                if let Ok(mut s) = samples.lock() {
                    *s = measured;
                }
            }
        });
        if let Ok(mut m) = self.measuring.lock() {
            if let Some(previous) = m.replace(task.abort_handle()) {
                previous.abort();
            }
        }
    }
}

/// 64-bit FNV-1a.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Lamping–Veach jump consistent hash: a bucket in `0..buckets` (`buckets` ≥ 1).
pub fn jump_hash(mut key: u64, buckets: usize) -> usize {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = (((b + 1) as f64) * ((1u64 << 31) as f64 / (((key >> 33) + 1) as f64))) as i64;
    }
    b.max(0) as usize
}

/// Consistent hashing: FNV-1a-64 of `"/" + service + "/" + method + "/" + args` (the encoded
/// arguments) and jump hash over the servers **sorted by key**, so every process — in any
/// language using this recipe — maps a key to the same server (Go's order depends on map
/// iteration). Adding or removing the last server in sorted order moves about 1/n of the keys.
#[derive(Default)]
pub struct ConsistentHash {
    keys: RwLock<Vec<String>>,
}

impl ConsistentHash {
    /// The hash of a call's key.
    pub fn key_hash(req: &SelectRequest<'_>) -> u64 {
        let mut k = Vec::with_capacity(req.service.len() + req.method.len() + req.args.len() + 3);
        k.push(b'/');
        k.extend_from_slice(req.service.as_bytes());
        k.push(b'/');
        k.extend_from_slice(req.method.as_bytes());
        k.push(b'/');
        k.extend_from_slice(req.args);
        fnv1a64(&k)
    }
}

impl Selector for ConsistentHash {
    fn select(&self, req: &SelectRequest<'_>) -> Option<String> {
        let keys = self.keys.read().ok()?;
        if keys.is_empty() {
            return None;
        }
        Some(keys[jump_hash(Self::key_hash(req), keys.len())].clone())
    }
    fn update(&self, servers: &[ServerEntry]) {
        if let Ok(mut k) = self.keys.write() {
            *k = sorted_keys(servers);
        }
    }
}

/// Earth radius used by Go's geo selector, in metres.
pub const EARTH_RADIUS_M: f64 = 6_378_100.0;

/// Great-circle distance in metres between two points in degrees (haversine).
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The server nearest to a point; servers without `latitude`/`longitude` are ignored; ties
/// are broken at random.
pub struct Closest {
    at: (f64, f64),
    servers: RwLock<Vec<(String, f64)>>,
}

impl Closest {
    /// A selector for clients at (`latitude`, `longitude`).
    pub fn new(latitude: f64, longitude: f64) -> Closest {
        Closest {
            at: (latitude, longitude),
            servers: RwLock::new(Vec::new()),
        }
    }
}

impl Selector for Closest {
    fn select(&self, _req: &SelectRequest<'_>) -> Option<String> {
        let s = self.servers.read().ok()?;
        let min = s.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
        let best: Vec<&String> = s.iter().filter(|e| e.1 == min).map(|e| &e.0).collect();
        if best.is_empty() {
            return None;
        }
        Some(best[fastrand::usize(..best.len())].clone())
    }
    fn update(&self, servers: &[ServerEntry]) {
        let list = servers
            .iter()
            .filter_map(|s| {
                let (lat, lon) = s.meta().geo()?;
                Some((s.key.clone(), haversine_m(self.at.0, self.at.1, lat, lon)))
            })
            .collect();
        if let Ok(mut w) = self.servers.write() {
            *w = list;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(&str, &str)]) -> Vec<ServerEntry> {
        list.iter().map(|(k, m)| ServerEntry::new(*k, *m)).collect()
    }

    const REQ: SelectRequest<'static> = SelectRequest {
        service: "Arith",
        method: "Mul",
        args: b"",
    };

    #[test]
    fn go_hash_vectors() {
        assert_eq!(fnv1a64(b"/Arith/Mul/&{10 20}"), 0x20fe73eb7bd50f79);
        assert_eq!(jump_hash(0x20fe73eb7bd50f79, 3), 1);
        assert_eq!(jump_hash(0x20fe73eb7bd50f79, 5), 1);
        assert_eq!(jump_hash(12345, 1), 0);
    }

    #[test]
    fn haversine_matches_go() {
        let d = haversine_m(39.30, 116.40, 39.9289, 116.3883);
        assert!((d - 70015.61).abs() < 0.01, "{d}");
    }

    #[test]
    fn smooth_wrr_sequence() {
        let s = WeightedRoundRobin::default();
        s.update(&entries(&[
            ("a", "weight=5"),
            ("b", "weight=1"),
            ("c", "weight=1"),
        ]));
        let seq: Vec<String> = (0..7).map(|_| s.select(&REQ).unwrap()).collect();
        assert_eq!(seq, ["a", "a", "b", "a", "c", "a", "a"]);
    }

    #[test]
    fn zero_and_negative_weights_never_panic() {
        let s = WeightedRoundRobin::default();
        s.update(&entries(&[("a", "weight=0"), ("b", "weight=-5")]));
        assert!(s.select(&REQ).is_some());
        s.update(&entries(&[("a", "weight=0"), ("b", "weight=2")]));
        for _ in 0..10 {
            assert_eq!(s.select(&REQ).unwrap(), "b");
        }
        s.update(&[]);
        assert_eq!(s.select(&REQ), None);
    }

    #[test]
    fn huge_weights_are_clamped_instead_of_overflowing() {
        let s = WeightedRoundRobin::default();
        let max = i64::MAX.to_string();
        s.update(&entries(&[
            ("a", &format!("weight={max}")),
            ("b", &format!("weight={max}")),
            ("c", "weight=1"),
        ]));
        let seq: Vec<String> = (0..1000).map(|_| s.select(&REQ).unwrap()).collect();
        let count = |k: &str| seq.iter().filter(|x| *x == k).count();
        assert!(
            count("a") >= 499 && count("b") >= 499,
            "{} {}",
            count("a"),
            count("b")
        );
    }

    #[test]
    fn rtt_weights() {
        assert_eq!(rtt_weight(0), 191);
        assert_eq!(rtt_weight(10), 191);
        assert_eq!(rtt_weight(11), 190);
        assert_eq!(rtt_weight(200), 1);
        assert_eq!(rtt_weight(500), 1);
        assert_eq!(rtt_weight(1000), 0);
        assert_eq!(rtt_weight(-1), 0);
    }
}
