//! WeightedICMP (Go's select mode 3) with real ICMP echo: three servers — one local, two in
//! network namespaces of their own ("hosts" at 198.18.N.2 behind veth pairs), one of which has
//! its link set down (its packets vanish: no reply, no reset). The selector pings each host
//! (a raw socket, as this runs as root), ranks the silent host last (RTT 1000 ms, weight 0)
//! and the XClient built on it sends it no call; with ICMP off (TCP-connect timing, the
//! fallback where no ICMP socket opens) it is ranked last as well. Needs root and `ip`
//! (iproute2); under `make netfault` a namespace that cannot be made fails the test with the
//! reason. The namespaces, their links and the server processes are removed even when the
//! test fails.

#[path = "netfault_support.rs"]
mod netfault_support;

#[path = "netns_support.rs"]
mod netns_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netfault_support::{enabled, options_with_timeout};
use netns_support::{Host, Remote};
use rpcx::arith::{Args, Reply};

use rpcx::server::{Context, Server, ServiceError};
use rpcx::xclient::{
    rtt_weight, FailMode, MultipleServers, RttProbe, RttSample, Selector, ServerEntry, WeightedRtt,
    XClient,
};

/// Added by the local server to its products, so that a reply tells who answered.
const LOCAL: i64 = 1_000_000;

/// Whether this process runs as root (effective uid 0, from /proc/self/status).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Waits (at most 15 s) for `selector`'s measurement of the current list.
async fn measured(selector: &WeightedRtt) -> Vec<(String, RttSample)> {
    let start = Instant::now();
    loop {
        let s = selector.samples();
        if !s.is_empty() {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no measurement after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sample_of<'a>(samples: &'a [(String, RttSample)], key: &str) -> &'a RttSample {
    &samples
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} not measured: {samples:?}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_icmp_ranks_a_host_whose_link_is_down_last() {
    if !enabled() {
        return;
    }
    let near = Host::create().unwrap_or_else(|e| {
        panic!("cannot make a network namespace (root and iproute2 needed): {e}")
    });
    let silent = Host::create().unwrap_or_else(|e| {
        panic!("cannot make a second network namespace (root and iproute2 needed): {e}")
    });
    let (near_server, silent_server) = (Remote::start(&near), Remote::start(&silent));
    let mut local = Server::builder().build();
    local
        .register_fn("Arith", "Mul", |_ctx: Context, a: Args| async move {
            Ok::<_, ServiceError>(Reply {
                c: a.a * a.b + LOCAL,
            })
        })
        .unwrap();
    let local = local.serve("tcp@127.0.0.1:0").await.unwrap();
    let local_key = local.local_address().to_string();
    let keys = [
        local_key.clone(),
        near_server.key.clone(),
        silent_server.key.clone(),
    ];
    let entries: Vec<ServerEntry> = keys.iter().map(|k| ServerEntry::new(k, "")).collect();

    silent.link(false);

    // ICMP echo: as root a raw socket, else the unprivileged ping socket where allowed.
    let icmp = Arc::new(WeightedRtt::default());
    icmp.update(&entries);
    let samples = measured(&icmp).await;
    eprintln!("ICMP: {samples:?}");
    let expected_probe = if is_root() {
        vec![RttProbe::IcmpRaw]
    } else {
        vec![RttProbe::IcmpPing, RttProbe::TcpConnect]
    };
    for (key, s) in &samples {
        // The silent host answered no echo: its one fallback TCP connect failed too.
        assert!(
            expected_probe.contains(&s.probe)
                || (key == &silent_server.key && s.probe == RttProbe::TcpConnect),
            "{key} measured by {:?}, expected one of {expected_probe:?}",
            s.probe
        );
    }
    let silent_sample = sample_of(&samples, &silent_server.key);
    assert_eq!(silent_sample.rtt_ms, 1000, "the silent host answered");
    for key in [&local_key, &near_server.key] {
        let s = sample_of(&samples, key);
        assert!(
            rtt_weight(s.rtt_ms) > rtt_weight(silent_sample.rtt_ms),
            "{key} ({s:?}) is not ranked above the silent host ({silent_sample:?})"
        );
    }

    // The XClient on that selector sends the silent host nothing: with Failfast a call that
    // went there would fail (time out) instead of being retried elsewhere.
    let mut options = options_with_timeout(Duration::from_secs(1));
    options.fail_mode = FailMode::Failfast;
    let xc = XClient::with_selector(
        "Arith",
        Arc::new(MultipleServers::from_addresses(keys.clone())),
        Arc::clone(&icmp) as Arc<dyn Selector>,
        options,
    )
    .unwrap();
    let samples = measured(&icmp).await;
    assert_eq!(sample_of(&samples, &silent_server.key).rtt_ms, 1000);
    let (mut by_local, mut by_near) = (0, 0);
    for i in 0..40 {
        let r: Reply = xc
            .call("Mul", &Args { a: i, b: 3 })
            .await
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert_eq!(r.c % LOCAL, i * 3);
        if r.c >= LOCAL {
            by_local += 1;
        } else {
            by_near += 1;
        }
    }
    eprintln!("40 calls: {by_local} to the local server, {by_near} to the near host, 0 failed");
    assert!(
        by_local > 0 && by_near > 0,
        "both answering servers get calls"
    );
    xc.close();

    // TCP-connect timing, the fallback: the silent host's connects hang, so it is last too.
    let tcp = WeightedRtt::tcp_only();
    tcp.update(&entries);
    let samples = measured(&tcp).await;
    eprintln!("TCP connect: {samples:?}");
    assert!(samples.iter().all(|(_, s)| s.probe == RttProbe::TcpConnect));
    assert_eq!(sample_of(&samples, &silent_server.key).rtt_ms, 1000);
    assert!(sample_of(&samples, &near_server.key).rtt_ms < 1000);

    // A lost echo costs its own 1 s share only: with the link back up 300 ms into the
    // measurement, the later echoes are answered and the host is measured by ICMP.
    let flapping = WeightedRtt::default();
    flapping.update(&[ServerEntry::new(&silent_server.key, "")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    silent.link(true);
    let samples = measured(&flapping).await;
    eprintln!("first echo lost, link back after 300 ms: {samples:?}");
    let s = sample_of(&samples, &silent_server.key);
    assert!(
        s.rtt_ms < 1000,
        "the host was not measured after one lost echo: {s:?}"
    );
    assert!(expected_probe.contains(&s.probe), "{s:?}");

    local.shutdown(Duration::from_secs(1)).await;
    drop((near_server, silent_server));
    drop((near, silent));
}
