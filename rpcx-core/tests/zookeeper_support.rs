//! A throwaway ZooKeeper server (Debian's `zookeeper` package, run as its `zkServer.sh`
//! does: `java -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar
//! org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`) on a free loopback port with a
//! temp dataDir and a generated `zoo.cfg` (tickTime 200 ms, so sessions may be as short as
//! 400 ms and at most 4 s), for the ZooKeeper registry and discovery tests (included with
//! `#[path]`; no tests of its own). Also a TCP proxy that can cut a client off the server.
//! Skipped, with a note, when ZooKeeper is not installed, unless `RPCX_REQUIRE_ZOOKEEPER=1`.
#![cfg(feature = "zookeeper")]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zookeeper_client as zk;

static SEQ: AtomicUsize = AtomicUsize::new(0);

const JAR: &str = "/usr/share/java/zookeeper.jar";
const CONF: &str = "/etc/zookeeper/conf";

fn java() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("java"))
        .find(|p| p.is_file())
}

/// A ZooKeeper server in a temp dir; killed (and its dir removed) on drop.
pub struct ZooKeeper {
    child: Option<Child>,
    dir: PathBuf,
    java: PathBuf,
    pub port: u16,
    /// `127.0.0.1:<port>`.
    pub address: String,
}

impl ZooKeeper {
    /// Starts one, or returns `None` (skip) when ZooKeeper or java is not installed and
    /// `RPCX_REQUIRE_ZOOKEEPER` is not `1`.
    pub async fn start() -> Option<ZooKeeper> {
        let java = match java() {
            Some(j) if Path::new(JAR).is_file() => j,
            _ => {
                if std::env::var("RPCX_REQUIRE_ZOOKEEPER").is_ok_and(|v| v == "1") {
                    panic!("ZooKeeper not found (run scripts/bootstrap-etcd.sh)");
                }
                eprintln!("SKIP: no ZooKeeper (scripts/bootstrap-etcd.sh installs it)");
                return None;
            }
        };
        let dir = std::env::temp_dir().join(format!(
            "rpcx-zk-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut last = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let cfg = dir.join("zoo.cfg");
            std::fs::write(
                &cfg,
                format!(
                    "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                     admin.enableServer=false\n4lw.commands.whitelist=srvr\n",
                    dir.join("data").display()
                ),
            )
            .unwrap();
            let mut z = ZooKeeper {
                child: Some(spawn(&java, &dir)),
                dir: dir.clone(),
                java: java.clone(),
                port,
                address: format!("127.0.0.1:{port}"),
            };
            match z.ready().await {
                Ok(()) => return Some(z),
                Err(e) => {
                    z.kill();
                    last = e;
                }
            }
        }
        panic!("ZooKeeper did not start: {last}");
    }

    /// Waits (at most 30 s) until the server serves requests (`srvr` reports its `Mode`;
    /// `ruok` says `imok` earlier, before sessions are accepted).
    async fn ready(&mut self) -> Result<(), String> {
        for _ in 0..300 {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!("exited with {status}: {}", self.log()));
            }
            if serving(self.port).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("not ready within 30 s: {}", self.log()))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("zookeeper.log")).unwrap_or_default()
    }

    /// Kills the server.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills it (if running) and starts it again on the same port, with its data (its
    /// nodes and sessions, which expire if they timed out meanwhile) or, `fresh`, empty.
    pub async fn restart(&mut self, fresh: bool) {
        self.kill();
        if fresh {
            let data = self.dir.join("data");
            let _ = std::fs::remove_dir_all(&data);
            std::fs::create_dir_all(&data).unwrap();
        }
        let mut last = String::new();
        for _ in 0..5 {
            self.child = Some(spawn(&self.java, &self.dir));
            match self.ready().await {
                Ok(()) => return,
                Err(e) => {
                    self.kill();
                    last = e;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("ZooKeeper did not restart on port {}: {last}", self.port);
    }

    /// A client of its own (session timeout 4 s).
    pub async fn client(&self) -> zk::Client {
        let fut = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(4))
            .connect(&self.address);
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .expect("zookeeper connect timed out")
            .expect("zookeeper connect")
    }
}

async fn serving(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(b"srvr").await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        Some(String::from_utf8_lossy(&buf).contains("Mode:"))
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The data and ephemeral owner (0: persistent) of `path`, `None` if missing.
pub async fn node(c: &zk::Client, path: &str) -> Option<(String, i64)> {
    match c.get_data(path).await {
        Ok((data, stat)) => Some((String::from_utf8(data).unwrap(), stat.ephemeral_owner)),
        Err(zk::Error::NoNode) => None,
        Err(e) => panic!("get {path}: {e}"),
    }
}

/// The children of `path`, sorted (empty if missing).
pub async fn children(c: &zk::Client, path: &str) -> Vec<String> {
    match c.list_children(path).await {
        Ok(mut v) => {
            v.sort();
            v
        }
        Err(zk::Error::NoNode) => Vec::new(),
        Err(e) => panic!("children {path}: {e}"),
    }
}

/// Runs the server of `dir/zoo.cfg`, its output appended to `dir/zookeeper.log`.
fn spawn(java: &Path, dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("zookeeper.log"))
        .unwrap();
    Command::new(java)
        .arg("-cp")
        .arg(format!("{CONF}:{JAR}"))
        .arg("-Dzookeeper.jmx.log4j.disable=true")
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(dir.join("zoo.cfg"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", java.display()))
}

/// A loopback TCP proxy to `target` that can cut every client off (open connections are
/// closed and new ones dropped at once) and let them through again.
pub struct Proxy {
    pub address: String,
    cut: Arc<AtomicBool>,
    cut_tx: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let (cut_tx, _) = tokio::sync::watch::channel(0u64);
        let target = target.to_owned();
        let (c2, tx2) = (Arc::clone(&cut), cut_tx.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if c2.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let mut cuts = tx2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Proxy {
            address,
            cut,
            cut_tx,
            task,
        }
    }

    /// Closes every open connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.cut_tx.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
