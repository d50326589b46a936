//! The heartbeat round-trip select mode ([`SelectMode::HeartbeatRtt`](super::SelectMode)):
//! servers weighted by the round trip of an rpcx heartbeat on the XClient's own live
//! connection to each, measured every [`HEARTBEAT_RTT_INTERVAL`]. Unlike an ICMP echo or a
//! TCP connect, this round trip goes through everything a call goes through — proxies,
//! TLS, a loaded server's event loop — so it sees what a caller will wait.
//!
//! Each server's figure is a moving average (half the old, half the new sample); a server
//! weighs `1 / (rtt in ms + 0.5)`, so one ten times nearer gets ten times the calls. An
//! unanswered heartbeat counts as [`UNANSWERED`]. Servers not measured yet weigh as the
//! average of those measured (all alike before the first round).

use std::sync::RwLock;
use std::time::Duration;

use super::discovery::ServerEntry;
use super::selector::{SelectRequest, Selector};

/// How often the XClient measures every server's heartbeat round trip.
pub const HEARTBEAT_RTT_INTERVAL: Duration = Duration::from_millis(500);
/// The round trip an unanswered heartbeat counts as.
pub const UNANSWERED: Duration = Duration::from_secs(1);

/// The selector of [`SelectMode::HeartbeatRtt`](super::SelectMode::HeartbeatRtt).
#[derive(Debug, Default)]
pub struct HeartbeatRtt {
    /// `(server, moving average of its round trip in ms)`.
    servers: RwLock<Vec<(String, Option<f64>)>>,
}

impl HeartbeatRtt {
    /// The current round-trip estimates, in milliseconds (`None`: not measured yet).
    pub fn estimates(&self) -> Vec<(String, Option<f64>)> {
        self.servers.read().map(|s| s.clone()).unwrap_or_default()
    }
}

fn weight(rtt_ms: f64) -> f64 {
    1.0 / (rtt_ms.max(0.0) + 0.5)
}

impl Selector for HeartbeatRtt {
    fn select(&self, _req: &SelectRequest<'_>) -> Option<String> {
        let servers = self.servers.read().ok()?;
        if servers.is_empty() {
            return None;
        }
        let measured: Vec<f64> = servers.iter().filter_map(|(_, r)| r.map(weight)).collect();
        let unknown = if measured.is_empty() {
            1.0
        } else {
            measured.iter().sum::<f64>() / measured.len() as f64
        };
        let weights: Vec<f64> = servers
            .iter()
            .map(|(_, r)| r.map_or(unknown, weight))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut pick = fastrand::f64() * total;
        for ((key, _), w) in servers.iter().zip(&weights) {
            if pick < *w {
                return Some(key.clone());
            }
            pick -= w;
        }
        servers.last().map(|(k, _)| k.clone())
    }

    fn update(&self, servers: &[ServerEntry]) {
        let Ok(mut cur) = self.servers.write() else {
            return;
        };
        let mut keys: Vec<&str> = servers.iter().map(|s| s.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        let next = keys
            .into_iter()
            .map(|k| {
                let known = cur.iter().find(|(c, _)| c == k).and_then(|(_, r)| *r);
                (k.to_owned(), known)
            })
            .collect();
        *cur = next;
    }

    fn rtt_interval(&self) -> Option<Duration> {
        Some(HEARTBEAT_RTT_INTERVAL)
    }

    fn observe_rtt(&self, key: &str, rtt: Option<Duration>) {
        let sample = rtt.unwrap_or(UNANSWERED).as_secs_f64() * 1000.0;
        if let Ok(mut cur) = self.servers.write() {
            if let Some((_, r)) = cur.iter_mut().find(|(k, _)| k == key) {
                *r = Some(r.map_or(sample, |old| (old + sample) / 2.0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: SelectRequest<'static> = SelectRequest {
        service: "S",
        method: "M",
        args: b"",
    };

    #[test]
    fn nearer_servers_get_more_calls_and_follow_changes() {
        let s = HeartbeatRtt::default();
        s.update(&[
            ServerEntry::new("near", ""),
            ServerEntry::new("mid", ""),
            ServerEntry::new("far", ""),
        ]);
        assert!(
            s.select(&REQ).is_some(),
            "unmeasured servers are chosen too"
        );
        for (k, ms) in [("near", 1), ("mid", 20), ("far", 60)] {
            s.observe_rtt(k, Some(Duration::from_millis(ms)));
        }
        let share = |s: &HeartbeatRtt, k: &str| {
            (0..10_000)
                .filter(|_| s.select(&REQ).as_deref() == Some(k))
                .count() as f64
                / 1e4
        };
        assert!(share(&s, "near") > 0.8, "{}", share(&s, "near"));
        for _ in 0..4 {
            s.observe_rtt("near", Some(Duration::from_millis(101)));
        }
        assert!(share(&s, "mid") > 0.6, "{}", share(&s, "mid"));
        s.observe_rtt("mid", None);
        assert!(s
            .estimates()
            .iter()
            .any(|(k, r)| k == "mid" && r.unwrap() > 400.0));
        s.update(&[ServerEntry::new("mid", ""), ServerEntry::new("new", "")]);
        let est = s.estimates();
        assert_eq!(est[0].0, "mid");
        assert!(est[0].1.is_some() && est[1].1.is_none());
        s.update(&[]);
        assert_eq!(s.select(&REQ), None);
    }
}
