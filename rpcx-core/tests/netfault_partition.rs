//! A partition the operating system itself sees as silence: a server runs in a network
//! namespace of its own (a "host" at 198.18.N.2 behind a veth pair; the 198.18.0.0/15
//! benchmarking range, used only inside namespaces this test makes), and its side of the link
//! is set down mid-load — packets to it vanish, no reset, no FIN, connects hang. Next to a
//! local server, under RoundRobin + Failover with a 1 s call timeout and the dead-server
//! detector (defaults): at most the calls already sent to it fail, none outlives its timeout
//! by more than a margin, and it is used again soon after the link comes back up. Needs root
//! and `ip` (iproute2); under `make netfault` a namespace that cannot be made fails the test
//! with the reason. The namespace, its link and the server process are removed even when the
//! test fails.

#[path = "netfault_support.rs"]
mod netfault_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netfault_support::{enabled, options_with_timeout};
use rpcx::arith::{Args, Reply};

use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::xclient::{HealthConfig, MultipleServers, XClient};

const TIMEOUT: Duration = Duration::from_secs(1);
/// Added by the local server to its products.
const LOCAL: i64 = 1_000_000;
const MARGIN: Duration = Duration::from_secs(1);

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A namespace joined to this one by a veth pair: this side 198.18.N.1/30, the namespace's
/// 198.18.N.2/30. Deleted (with its link) on drop.
struct Host {
    ns: String,
    inner_if: String,
    address: String,
}

impl Host {
    fn create() -> Result<Host, String> {
        let n = std::process::id() % 250 + 1;
        let ns = format!("rpcxnf{n}");
        let (outer, inner) = (format!("rnfo{n}"), format!("rnfi{n}"));
        // Leftovers of an earlier run killed before its cleanup.
        let _ = ip(&["netns", "del", &ns]);
        let _ = ip(&["link", "del", &outer]);
        ip(&["netns", "add", &ns])?;
        let host = Host {
            ns: ns.clone(),
            inner_if: inner.clone(),
            address: format!("198.18.{n}.2"),
        };
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ])?;
        ip(&["link", "set", &inner, "netns", &ns])?;
        ip(&["addr", "add", &format!("198.18.{n}.1/30"), "dev", &outer])?;
        ip(&["link", "set", &outer, "up"])?;
        host.exec(&[
            "ip",
            "addr",
            "add",
            &format!("198.18.{n}.2/30"),
            "dev",
            &inner,
        ])?;
        host.exec(&["ip", "link", "set", &inner, "up"])?;
        host.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(host)
    }

    /// Runs `args` inside the namespace.
    fn exec(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", &self.ns];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Sets the namespace's side of the link down (silence) or up.
    fn link(&self, up: bool) {
        self.exec(&[
            "ip",
            "link",
            "set",
            &self.inner_if,
            if up { "up" } else { "down" },
        ])
        .unwrap();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the veth pair, and with it the other end.
        let _ = ip(&["netns", "del", &self.ns]);
    }
}

/// The example `arith_server` running in `host`'s namespace; killed on drop.
struct Remote {
    child: Child,
    /// `tcp@198.18.N.2:port`.
    key: String,
}

impl Remote {
    fn start(host: &Host) -> Remote {
        let exe = std::env::var_os("RPCX_ARITH_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/debug/examples/arith_server")
            });
        assert!(
            exe.is_file(),
            "no arith_server at {} (make netfault builds it)",
            exe.display()
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &host.ns])
            .arg(&exe)
            .args(["--addr", &format!("tcp@{}:0", host.address)])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let key = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("arith_server said {line:?}"))
            .to_owned();
        Remote { child, key }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_partition_costs_the_calls_in_flight_only() {
    if !enabled() {
        return;
    }
    let host = Host::create().unwrap_or_else(|e| {
        panic!("cannot make a network namespace (root and iproute2 needed): {e}")
    });
    let remote = Remote::start(&host);
    // The local server answers Mul with LOCAL added, so that a reply tells who answered.
    let mut local = Server::builder().build();
    local
        .register_fn("Arith", "Mul", |_ctx: Context, a: Args| async move {
            Ok::<_, ServiceError>(Reply {
                c: a.a * a.b + LOCAL,
            })
        })
        .unwrap();
    let local = local.serve("tcp@127.0.0.1:0").await.unwrap();
    let servers =
        MultipleServers::from_addresses([remote.key.clone(), local.local_address().to_string()]);
    let options = options_with_timeout(TIMEOUT);
    let xc = XClient::new("Arith", servers, options).unwrap();
    // Both reachable first (the remote one through the veth pair).
    let mut who = std::collections::BTreeSet::new();
    for i in 0..4 {
        let r: Reply = xc.call("Mul", &Args { a: i, b: 2 }).await.unwrap();
        who.insert(r.c >= LOCAL);
        assert_eq!(r.c % LOCAL, i * 2);
    }
    assert_eq!(who.len(), 2, "both servers answered");

    let start = Instant::now();
    let (cut_at, heal_at, end) = (
        Duration::from_secs(1),
        Duration::from_secs(7),
        Duration::from_secs(11),
    );
    let (mut cut, mut healed) = (false, false);
    let (mut calls, mut failed, mut slowest) = (0, Vec::new(), Duration::ZERO);
    let mut remote_back: Option<Duration> = None;
    let mut i = 0i64;
    while start.elapsed() < end {
        if !cut && start.elapsed() >= cut_at {
            host.link(false);
            cut = true;
        }
        if !healed && start.elapsed() >= heal_at {
            host.link(true);
            healed = true;
        }
        let t = Instant::now();
        let r = tokio::time::timeout(
            TIMEOUT + MARGIN * 5,
            xc.call::<_, Reply>("Mul", &Args { a: i, b: 3 }),
        )
        .await
        .unwrap_or_else(|_| panic!("call {i} hung"));
        slowest = slowest.max(t.elapsed());
        match r {
            Ok(r) => {
                assert_eq!(r.c % LOCAL, i * 3);
                if healed && r.c < LOCAL && remote_back.is_none() {
                    remote_back = Some(t - start - heal_at);
                }
            }
            Err(e) => failed.push(format!("call {i} at {:?}: {e}", t - start)),
        }
        calls += 1;
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let limit =
        HealthConfig::default().max_backoff + HealthConfig::default().probe_timeout + MARGIN;
    eprintln!(
        "{calls} calls, {} failed {failed:?}, slowest {slowest:?}; the partitioned server \
         answered again {remote_back:?} after the link came back",
        failed.len()
    );
    assert!(failed.len() <= 1, "{failed:?}");
    assert!(slowest < TIMEOUT + MARGIN, "a call took {slowest:?}");
    assert!(
        remote_back.is_some_and(|d| d < limit),
        "the partitioned server was not used again within {limit:?}: {remote_back:?}"
    );
    xc.close();
    stop(local).await;
    drop(remote);
    drop(host);
}

async fn stop(h: ServerHandle) {
    h.shutdown(Duration::from_secs(1)).await;
}
