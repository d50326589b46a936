//! XClient example: service discovery, a custom selector, failover and broadcast.
//!
//! ```text
//! cargo run -p rpcx --example xclient
//! cargo run -p rpcx --features etcd --example xclient -- --etcd http://127.0.0.1:2379 [--base-path /rpcx_test]
//! ```
//! Without `--etcd` it starts three Arith servers in this process (metadata `zone=a`,
//! `zone=a`, `zone=b`) and finds them through a `MultipleServers` discovery. With `--etcd`
//! it discovers the `Arith` servers registered under the base path (start some with
//! `arith_server --etcd …`, or Go servers with the rpcx-etcd plugin).
//!
//! The custom selector prefers servers of zone `a` and takes them in turn, falling back to
//! any server when no zone-`a` server is left. One zone-`a` server is shut down half way:
//! Failover retries the calls it would have answered, so none fails.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::server::{Server, ServerHandle};
use rpcx::xclient::{
    Discovery, FailMode, MultipleServers, SelectRequest, Selector, ServerEntry, XClient,
    XClientOptions,
};

/// Zone-aware round robin: servers whose metadata has `zone=<preferred>` first.
struct PreferZone {
    preferred: String,
    servers: RwLock<(Vec<String>, Vec<String>)>, // (preferred zone, others)
    next: AtomicUsize,
}

impl PreferZone {
    fn new(zone: &str) -> PreferZone {
        PreferZone {
            preferred: zone.to_owned(),
            servers: RwLock::new((Vec::new(), Vec::new())),
            next: AtomicUsize::new(0),
        }
    }
}

impl Selector for PreferZone {
    fn select(&self, _req: &SelectRequest<'_>) -> Option<String> {
        let servers = self.servers.read().ok()?;
        let pool = if servers.0.is_empty() {
            &servers.1
        } else {
            &servers.0
        };
        if pool.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        println!("  selector -> {}", pool[i]);
        Some(pool[i].clone())
    }

    fn update(&self, servers: &[ServerEntry]) {
        let (mut mine, mut others) = (Vec::new(), Vec::new());
        for s in servers {
            if s.meta().get("zone") == Some(self.preferred.as_str()) {
                mine.push(s.key.clone());
            } else {
                others.push(s.key.clone());
            }
        }
        mine.sort();
        others.sort();
        println!(
            "selector: zone {} = {mine:?}, others = {others:?}",
            self.preferred
        );
        if let Ok(mut s) = self.servers.write() {
            *s = (mine, others);
        }
    }
}

async fn start_server(zone: &str) -> Result<(ServerHandle, ServerEntry), rpcx::Error> {
    let mut server = Server::builder().build();
    rpcx::arith::register(&mut server)?;
    let handle = server.serve("tcp@127.0.0.1:0").await?;
    let entry = ServerEntry::new(handle.local_address().to_string(), format!("zone={zone}"));
    Ok((handle, entry))
}

const USAGE: &str = "usage: xclient [--etcd URL[,URL] [--base-path P]]
Without --etcd: starts three Arith servers in this process and calls them through an XClient
(custom selector, failover, broadcast). With --etcd (build with --features etcd): discovers the
Arith servers registered under the base path (default /rpcx_test) instead.";

#[tokio::main]
async fn main() {
    let mut etcd = None;
    let mut base_path = "/rpcx_test".to_owned();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--etcd" | "--base-path" => it.next(),
            _ => None,
        };
        match (arg.as_str(), value) {
            ("--etcd", Some(v)) => etcd = Some(v),
            ("--base-path", Some(v)) => base_path = v,
            _ => {
                eprintln!("xclient: bad argument {arg:?}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = run(etcd, &base_path).await {
        eprintln!("xclient: {e}");
        std::process::exit(1);
    }
}

async fn run(etcd: Option<String>, base_path: &str) -> Result<(), rpcx::Error> {
    let mut handles = Vec::new();
    let mut statics: Option<(Arc<MultipleServers>, Vec<ServerEntry>)> = None;
    let discovery: Arc<dyn Discovery> = match etcd {
        Some(endpoints) => etcd_discovery(&endpoints, base_path).await?,
        None => {
            let mut entries = Vec::new();
            for zone in ["a", "a", "b"] {
                let (handle, entry) = start_server(zone).await?;
                println!("server {} (zone={zone})", entry.key);
                handles.push(handle);
                entries.push(entry);
            }
            let list = Arc::new(MultipleServers::new(entries.clone()));
            statics = Some((Arc::clone(&list), entries));
            list
        }
    };

    let options = XClientOptions {
        fail_mode: FailMode::Failover,
        retries: 3,
        ..XClientOptions::default()
    };
    let xclient =
        XClient::with_selector("Arith", discovery, Arc::new(PreferZone::new("a")), options)?;

    let mut failed = 0;
    for i in 1..=10 {
        if i == 6 {
            if let Some(h) = handles.first() {
                println!("-- shutting down {}", h.local_address());
                h.close();
            }
        }
        match xclient.call::<_, Reply>("Mul", &Args { a: i, b: i }).await {
            Ok(r) => println!("Arith.Mul({i}, {i}) = {}", r.c),
            Err(e) => {
                failed += 1;
                println!("Arith.Mul({i}, {i}) failed: {e}");
            }
        }
    }

    // Broadcast needs every listed server to answer: drop the closed one from the static
    // list, as a registry would when its lease expires (etcd lists are updated by etcd).
    if let Some((list, entries)) = &statics {
        list.update(entries[1..].to_vec());
        tokio::time::sleep(Duration::from_millis(50)).await; // the XClient applies it
    }
    let replies: Reply = xclient.broadcast("Add", &Args { a: 2, b: 3 }).await?;
    println!(
        "broadcast Arith.Add(2, 3) = {} (every server agreed)",
        replies.c
    );

    xclient.close();
    for h in handles {
        h.shutdown(Duration::from_secs(1)).await;
    }
    if failed > 0 {
        eprintln!("{failed} calls failed");
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(feature = "etcd")]
async fn etcd_discovery(
    endpoints: &str,
    base_path: &str,
) -> Result<Arc<dyn Discovery>, rpcx::Error> {
    let endpoints: Vec<&str> = endpoints.split(',').map(str::trim).collect();
    let d = rpcx::xclient::EtcdDiscovery::connect(&endpoints, base_path, "Arith").await?;
    println!(
        "etcd: {} Arith servers under {base_path}",
        d.servers().len()
    );
    Ok(Arc::new(d))
}

#[cfg(not(feature = "etcd"))]
async fn etcd_discovery(_: &str, _: &str) -> Result<Arc<dyn Discovery>, rpcx::Error> {
    Err(rpcx::Error::Config(
        "this build has no etcd support: run with `--features etcd`".into(),
    ))
}
