//! DNS discovery against an in-test DNS responder on a free UDP port of 127.0.0.1 (no
//! /etc/hosts, no internet): A/AAAA answers the test changes at run time, SERVFAIL, NXDOMAIN
//! or silence. Servers of one name share a port on distinct loopback addresses (127.0.0.2,
//! 127.0.0.3, ::1).
#![cfg(feature = "dns")]

#[path = "xclient_support.rs"]
mod support;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::xclient::{
    Discovery, DnsDiscovery, FailMode, SelectMode, ServerEntry, XClient, XClientOptions,
};
use rpcx::Error;
use support::{guard, wait_until, GUARD};
use tokio::net::UdpSocket;

const NAME: &str = "svc.rpcx.test";
const INTERVAL: Duration = Duration::from_millis(200);

/// What the responder does with a query for [`NAME`].
#[derive(Clone, Debug)]
enum Mode {
    /// Answer with these addresses (A for v4, AAAA for v6); none = NOERROR without answer.
    Answer(Vec<IpAddr>),
    ServFail,
    NxDomain,
    /// Do not answer at all.
    Silent,
}

/// A UDP DNS responder for one name (other names: NXDOMAIN), hand-written: a query's
/// question is echoed with answers of TTL 0.
struct Responder {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    queries: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Responder {
    async fn start(mode: Mode) -> Responder {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(mode));
        let queries = Arc::new(AtomicUsize::new(0));
        let (m, q) = (Arc::clone(&mode), Arc::clone(&queries));
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                q.fetch_add(1, Ordering::SeqCst);
                let mode = m.lock().unwrap().clone();
                if let Some(reply) = answer(&buf[..n], &mode) {
                    let _ = sock.send_to(&reply, peer).await;
                }
            }
        });
        Responder {
            addr,
            mode,
            queries,
            task,
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reply to one query, `None` to stay silent or for a packet that is not a query.
fn answer(q: &[u8], mode: &Mode) -> Option<Vec<u8>> {
    if q.len() < 12 || q[2] & 0x80 != 0 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    // The question: labels, then type and class.
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let question = &q[12..i + 4];
    let ours = labels.join(".") == NAME;
    let (rcode, ips): (u8, Vec<IpAddr>) = match (ours, mode) {
        (_, Mode::Silent) if ours => return None,
        (true, Mode::Answer(ips)) => (0, ips.clone()),
        (true, Mode::ServFail) => (2, vec![]),
        _ => (3, vec![]),
    };
    let records: Vec<IpAddr> = ips
        .into_iter()
        .filter(|ip| (qtype == 1 && ip.is_ipv4()) || (qtype == 28 && ip.is_ipv6()))
        .collect();
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&q[0..2]); // id
    out.push(0x84 | (q[2] & 0x01)); // QR, AA, RD copied
    out.push(0x80 | rcode); // RA, rcode
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for ip in records {
        out.extend_from_slice(&[0xC0, 12]); // the question's name
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 0]); // IN, TTL 0
        match ip {
            IpAddr::V4(v4) => {
                out.extend_from_slice(&[0, 4]);
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.extend_from_slice(&[0, 16]);
                out.extend_from_slice(&v6.octets());
            }
        }
    }
    Some(out)
}

/// A server answering `Who.Am` with `name`, listening on `ip:port`.
async fn start_at(name: &str, ip: &str, port: u16) -> Result<ServerHandle, Error> {
    let mut server = Server::builder().build();
    rpcx::arith::register(&mut server).unwrap();
    let me = name.to_owned();
    server
        .register_fn("Who", "Am", move |_ctx: Context, _key: i64| {
            let me = me.clone();
            async move { Ok::<_, ServiceError>(me) }
        })
        .unwrap();
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    server.serve(&format!("tcp@{host}:{port}")).await
}

/// Servers named after their addresses, all on one free port.
async fn servers_on_one_port(ips: &[&str]) -> (u16, Vec<ServerHandle>) {
    'attempt: for _ in 0..20 {
        let first = start_at(ips[0], ips[0], 0).await.unwrap();
        let port = first.local_address().to_string();
        let port: u16 = port.rsplit_once(':').unwrap().1.parse().unwrap();
        let mut all = vec![first];
        for ip in &ips[1..] {
            match start_at(ip, ip, port).await {
                Ok(h) => all.push(h),
                Err(_) => continue 'attempt, // the port is taken on that address: again
            }
        }
        return (port, all);
    }
    panic!("no port free on all of {ips:?}");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

async fn who(xc: &XClient) -> String {
    guard(GUARD, "call", xc.call::<i64, String>("Am", &0))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_discovery_spreads_follows_changes_and_survives_failures() {
    let (port, _servers) = servers_on_one_port(&["127.0.0.2", "127.0.0.3"]).await;
    let dns = Responder::start(Mode::Answer(vec![ip("127.0.0.3"), ip("127.0.0.2")])).await;
    let d = Arc::new(
        DnsDiscovery::with_nameservers(NAME, "tcp", port, INTERVAL, &[dns.addr])
            .await
            .unwrap(),
    );
    let both = vec![
        ServerEntry::new(format!("tcp@127.0.0.2:{port}"), ""),
        ServerEntry::new(format!("tcp@127.0.0.3:{port}"), ""),
    ];
    assert_eq!(d.servers(), both, "sorted, no metadata");
    assert_eq!(d.domain(), NAME);
    assert_eq!(d.last_error(), None);

    let xc = XClient::with_selector(
        "Who",
        Arc::clone(&d) as Arc<dyn Discovery>,
        SelectMode::RoundRobin.build(),
        XClientOptions {
            fail_mode: FailMode::Failfast,
            ..Default::default()
        },
    )
    .unwrap();
    let mut seen = HashSet::new();
    for _ in 0..6 {
        seen.insert(who(&xc).await);
    }
    assert_eq!(
        seen,
        HashSet::from(["127.0.0.2".into(), "127.0.0.3".into()])
    );

    // The record set changes: the XClient follows.
    dns.set(Mode::Answer(vec![ip("127.0.0.3")]));
    wait_until(GUARD, "one server left", || xc.servers().len() == 1).await;
    assert_eq!(xc.servers()[0].key, format!("tcp@127.0.0.3:{port}"));
    for _ in 0..3 {
        assert_eq!(who(&xc).await, "127.0.0.3");
    }
    dns.set(Mode::Answer(vec![ip("127.0.0.2"), ip("127.0.0.3")]));
    wait_until(GUARD, "two servers again", || xc.servers().len() == 2).await;

    // Failures keep the last list: silence, SERVFAIL, then the name gone.
    for (mode, why) in [
        (Mode::Silent, "dns: lookup"),
        (Mode::ServFail, "dns: lookup"),
        (Mode::NxDomain, "no A/AAAA record"),
        (Mode::Answer(vec![]), "no A/AAAA record"),
    ] {
        dns.set(mode.clone());
        wait_until(GUARD, &format!("{mode:?} noticed"), || {
            d.last_error().is_some_and(|e| e.contains(why))
        })
        .await;
        assert_eq!(d.servers(), both, "{mode:?}");
        assert_eq!(xc.servers(), both, "{mode:?}");
        let mut seen = HashSet::new();
        for _ in 0..4 {
            seen.insert(who(&xc).await);
        }
        assert_eq!(seen.len(), 2, "{mode:?}: calls still spread");
        // Back to answering: the error clears.
        dns.set(Mode::Answer(vec![ip("127.0.0.2"), ip("127.0.0.3")]));
        wait_until(GUARD, "recovered", || d.last_error().is_none()).await;
    }

    // Dropping the XClient and the discovery ends the refresh task: no more queries.
    drop(xc);
    drop(d);
    tokio::time::sleep(INTERVAL * 2).await;
    let asked = dns.queries();
    tokio::time::sleep(INTERVAL * 4).await;
    assert_eq!(
        dns.queries(),
        asked,
        "the refresh task outlived its discovery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_discovery_ipv6_and_address_families() {
    let v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let ips: &[&str] = if v6 {
        &["127.0.0.1", "::1"]
    } else {
        &["127.0.0.1"]
    };
    let (port, _servers) = servers_on_one_port(ips).await;
    let records: Vec<IpAddr> = ips.iter().map(|s| ip(s)).collect();
    let dns = Responder::start(Mode::Answer(records)).await;
    let v4_key = format!("tcp@127.0.0.1:{port}");
    let v6_key = format!("tcp@[::1]:{port}"); // Go would write tcp@::1:PORT (not dialable)

    let d = DnsDiscovery::with_nameservers(NAME, "tcp", port, INTERVAL, &[dns.addr])
        .await
        .unwrap();
    let keys: Vec<String> = d.servers().into_iter().map(|s| s.key).collect();
    if v6 {
        assert_eq!(keys, [v4_key, v6_key]);
    } else {
        assert_eq!(keys, [v4_key]);
    }
    let d4 = DnsDiscovery::with_nameservers(NAME, "tcp4", port, INTERVAL, &[dns.addr])
        .await
        .unwrap();
    let v4_only = format!("tcp4@127.0.0.1:{port}");
    assert_eq!(d4.servers(), [ServerEntry::new(&v4_only, "")]);
    if !v6 {
        eprintln!("no IPv6 loopback here: the AAAA part is skipped");
        return;
    }
    let d6 = DnsDiscovery::with_nameservers(NAME, "tcp6", port, INTERVAL, &[dns.addr])
        .await
        .unwrap();
    assert_eq!(
        d6.servers(),
        [ServerEntry::new(format!("tcp6@[::1]:{port}"), "")]
    );
    // The bracketed form dials.
    let xc = XClient::new("Who", d6, XClientOptions::default()).unwrap();
    assert_eq!(who(&xc).await, "::1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_discovery_bad_input_and_late_names() {
    let dns = Responder::start(Mode::NxDomain).await;
    let ns = [dns.addr];
    let config = |r: Result<DnsDiscovery, Error>| match r {
        Err(Error::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    };
    let bad = |d: &'static str, n: &'static str, p: u16, i: Duration| async move {
        config(DnsDiscovery::with_nameservers(d, n, p, i, &ns).await)
    };
    assert!(bad("", "tcp", 1, INTERVAL).await.contains("empty"));
    assert!(bad("a..b", "tcp", 1, INTERVAL).await.contains("invalid"));
    assert!(bad(NAME, "unix", 1, INTERVAL).await.contains("network"));
    assert!(bad(NAME, "tcp", 0, INTERVAL).await.contains("port"));
    assert!(bad(NAME, "tcp", 1, Duration::ZERO)
        .await
        .contains("interval"));
    let none = DnsDiscovery::with_nameservers(NAME, "tcp", 1, INTERVAL, &[]).await;
    assert!(config(none).contains("nameserver"));

    // A first lookup without a usable answer fails; a name without address is fine.
    dns.set(Mode::ServFail);
    let e = DnsDiscovery::with_nameservers(NAME, "tcp", 1, INTERVAL, &ns)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("dns: lookup of"), "{e}");
    dns.set(Mode::NxDomain);
    let d = DnsDiscovery::with_nameservers(NAME, "tcp", 9, INTERVAL, &ns)
        .await
        .unwrap();
    assert!(d.servers().is_empty());
    let mut rx = d.subscribe();
    dns.set(Mode::Answer(vec![ip("127.0.0.5")]));
    guard(GUARD, "late records", rx.changed()).await.unwrap();
    assert_eq!(
        rx.borrow().clone(),
        [ServerEntry::new("tcp@127.0.0.5:9", "")]
    );
    // close() stops the refresh: the list stays as it was.
    d.close();
    dns.set(Mode::Answer(vec![ip("127.0.0.6")]));
    tokio::time::sleep(INTERVAL * 3).await;
    assert_eq!(d.servers(), [ServerEntry::new("tcp@127.0.0.5:9", "")]);
}
