//! Helpers of the registry-backed XClient tests (included with `#[path]` by
//! `xclient_etcd.rs` and `xclient_consul.rs`; no tests of its own): a real `etcd` process on
//! free loopback ports, servers that say who they are, bounded waiting.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use rpcx::server::{Context, Server, ServerHandle, ServiceError};

/// Hang guard for one step: generous, only there so a bug fails instead of hanging.
pub const GUARD: Duration = Duration::from_secs(60);

/// Awaits `fut`, failing the test if it does not finish within `limit`.
pub async fn guard<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("hang guard: {what} did not finish within {limit:?}"),
    }
}

/// Polls `cond` every 20 ms until it holds; panics after `limit`.
pub async fn wait_until<F: FnMut() -> bool>(limit: Duration, what: &str, mut cond: F) {
    let polls = limit.as_millis() / 20 + 1;
    for _ in 0..polls {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not reached within {limit:?}");
}

/// A server on `ip` (port 0) registering `Arith` and `Who.Am` (returns `name`), with
/// `metadata` on both services and the given plugins.
pub async fn start_named(
    name: &str,
    ip: &str,
    metadata: &str,
    plugins: Vec<std::sync::Arc<dyn rpcx::server::Plugin>>,
) -> ServerHandle {
    let mut b = Server::builder();
    for p in plugins {
        b = b.plugin_arc(p);
    }
    let mut server = b.build();
    server.set_service_metadata("Arith", metadata);
    server.set_service_metadata("Who", metadata);
    rpcx::arith::register(&mut server).unwrap();
    let me = name.to_owned();
    server
        .register_fn("Who", "Am", move |_ctx: Context, _key: i64| {
            let me = me.clone();
            async move { Ok::<_, ServiceError>(me) }
        })
        .unwrap();
    server.serve(&format!("tcp@{ip}:0")).await.unwrap()
}

/// A loopback address nobody listens on (bound, then released).
pub fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp@{}", l.local_addr().unwrap())
}

#[cfg(feature = "etcd")]
#[allow(unused_imports)]
pub use etcd_process::Etcd;
#[cfg(all(feature = "etcd", feature = "tls"))]
#[allow(unused_imports)]
pub use etcd_process::EtcdTls;
#[cfg(feature = "etcd")]
#[allow(unused_imports)]
pub use etcd_process::{DataDir, EtcdCluster};

#[cfg(feature = "etcd")]
mod etcd_process {
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// The `etcd` binary: `$RPCX_ETCD_BIN`, else `etcd` on PATH (Debian's etcd-server).
    fn etcd_binary() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("RPCX_ETCD_BIN") {
            return Some(PathBuf::from(p));
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
            .map(|d| d.join("etcd"))
            .find(|p| p.is_file())
    }

    /// A throwaway single-member etcd cluster on free loopback ports; killed (and its data dir
    /// removed) on drop.
    pub struct Etcd {
        child: Child,
        dir: PathBuf,
        /// `http://127.0.0.1:<client port>` (`https://` when started with TLS).
        pub endpoint: String,
        /// How the tests' own client reaches a TLS etcd.
        #[cfg(feature = "tls")]
        tls: Option<rpcx::transport::tls::ClientTlsConfig>,
    }

    /// The files of an etcd serving TLS that requires client certificates
    /// (`--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`), and a client
    /// configuration it accepts.
    #[cfg(feature = "tls")]
    pub struct EtcdTls {
        pub cert: PathBuf,
        pub key: PathBuf,
        pub client_ca: PathBuf,
        pub client: rpcx::transport::tls::ClientTlsConfig,
    }

    static SEQ: AtomicUsize = AtomicUsize::new(0);

    #[cfg(feature = "tls")]
    type TlsArg = EtcdTls;
    #[cfg(not(feature = "tls"))]
    type TlsArg = ();

    impl Etcd {
        /// Starts etcd and waits until a client can connect and read. Returns `None` (the test
        /// is skipped, with a note on stderr) when no etcd binary is installed, unless
        /// `RPCX_REQUIRE_ETCD=1` (set by `make xclient-test`), then it panics.
        pub async fn start() -> Option<Etcd> {
            Etcd::start_with(None).await
        }

        /// Like [`start`](Self::start), serving clients over TLS with client certificates
        /// required.
        #[cfg(feature = "tls")]
        pub async fn start_tls(tls: EtcdTls) -> Option<Etcd> {
            Etcd::start_with(Some(tls)).await
        }

        async fn start_with(tls: Option<TlsArg>) -> Option<Etcd> {
            let bin = Etcd::binary()?;
            let mut last = String::new();
            for _ in 0..3 {
                match Etcd::try_start(&bin, tls.as_ref()).await {
                    Ok(e) => return Some(e),
                    Err(e) => last = e,
                }
            }
            panic!("etcd did not start: {last}");
        }

        fn binary() -> Option<PathBuf> {
            let Some(bin) = etcd_binary() else {
                if std::env::var("RPCX_REQUIRE_ETCD").is_ok_and(|v| v == "1") {
                    panic!("etcd not found (run scripts/bootstrap-etcd.sh)");
                }
                eprintln!("SKIP: no etcd binary (scripts/bootstrap-etcd.sh installs it)");
                return None;
            };
            Some(bin)
        }

        async fn try_start(bin: &PathBuf, tls: Option<&TlsArg>) -> Result<Etcd, String> {
            let dir = std::env::temp_dir().join(format!(
                "rpcx-etcd-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let (client, peer) = (free_port(), free_port());
            let scheme = if tls.is_some() { "https" } else { "http" };
            let client_url = format!("{scheme}://127.0.0.1:{client}");
            let peer_url = format!("http://127.0.0.1:{peer}");
            let log = std::fs::File::create(dir.join("etcd.log")).map_err(|e| e.to_string())?;
            let mut command = Command::new(bin);
            #[cfg(feature = "tls")]
            if let Some(t) = tls {
                command
                    .arg("--cert-file")
                    .arg(&t.cert)
                    .arg("--key-file")
                    .arg(&t.key)
                    .arg("--trusted-ca-file")
                    .arg(&t.client_ca)
                    .arg("--client-cert-auth");
            }
            let child = command
                .arg("--name")
                .arg("rpcx-test")
                .arg("--data-dir")
                .arg(dir.join("data"))
                .arg("--listen-client-urls")
                .arg(&client_url)
                .arg("--advertise-client-urls")
                .arg(&client_url)
                .arg("--listen-peer-urls")
                .arg(&peer_url)
                .arg("--initial-advertise-peer-urls")
                .arg(&peer_url)
                .arg("--initial-cluster")
                .arg(format!("rpcx-test={peer_url}"))
                .arg("--log-level")
                .arg("warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
            let mut etcd = Etcd {
                child,
                dir,
                endpoint: client_url,
                #[cfg(feature = "tls")]
                tls: tls.map(|t| t.client.clone()),
            };
            for _ in 0..150 {
                if let Ok(Some(status)) = etcd.child.try_wait() {
                    return Err(format!("etcd exited with {status}: {}", etcd.log()));
                }
                if etcd.ready().await {
                    return Ok(etcd);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(format!("etcd not ready within 15 s: {}", etcd.log()))
        }

        async fn ready(&self) -> bool {
            let probe = async {
                let mut c = self.connect().await.ok()?;
                c.get("rpcx-probe", None).await.ok()
            };
            matches!(
                tokio::time::timeout(Duration::from_secs(2), probe).await,
                Ok(Some(_))
            )
        }

        fn log(&self) -> String {
            std::fs::read_to_string(self.dir.join("etcd.log")).unwrap_or_default()
        }

        async fn connect(&self) -> Result<rpcx::xclient::EtcdClient, rpcx::Error> {
            #[cfg(feature = "tls")]
            if let Some(tls) = &self.tls {
                return rpcx::xclient::etcd_connect_tls(&[self.endpoint.as_str()], tls).await;
            }
            rpcx::xclient::etcd_connect(&[self.endpoint.as_str()]).await
        }

        /// A client of this etcd.
        pub async fn client(&self) -> rpcx::xclient::EtcdClient {
            self.connect().await.unwrap()
        }

        /// The value of `key`, if present.
        pub async fn get(&self, key: &str) -> Option<String> {
            let mut c = self.client().await;
            let r = c.get(key, None).await.unwrap();
            r.kvs()
                .first()
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
        }
    }

    impl Drop for Etcd {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// What a restarted member starts from.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum DataDir {
        /// The data directory it was killed with (its keys, leases and revision).
        Keep,
        /// A fresh, empty data directory (a registry that lost everything).
        Fresh,
    }

    /// One member of an [`EtcdCluster`].
    struct Member {
        name: String,
        client_url: String,
        peer_url: String,
        data: PathBuf,
        log: PathBuf,
        child: Option<Child>,
    }

    /// A throwaway etcd cluster of N members on free loopback client and peer ports, each
    /// with its own temporary data directory. Members can be SIGKILLed and restarted on the
    /// same ports; everything is killed and removed on drop.
    pub struct EtcdCluster {
        bin: PathBuf,
        root: PathBuf,
        token: String,
        members: Vec<Member>,
    }

    /// Bound of one probe request made by the cluster helpers.
    const PROBE: Duration = Duration::from_secs(2);

    impl EtcdCluster {
        /// Starts `n` members and waits until every one of them answers a (linearizable)
        /// read. `None` when no etcd binary is installed (see [`Etcd::start`]).
        pub async fn start(n: usize) -> Option<EtcdCluster> {
            assert!(n > 0, "an etcd cluster needs at least one member");
            let bin = Etcd::binary()?;
            let mut last = String::new();
            for _ in 0..3 {
                match EtcdCluster::try_start(&bin, n).await {
                    Ok(c) => return Some(c),
                    Err(e) => last = e,
                }
            }
            panic!("etcd cluster of {n} did not start: {last}");
        }

        async fn try_start(bin: &std::path::Path, n: usize) -> Result<EtcdCluster, String> {
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            let root = std::env::temp_dir()
                .join(format!("rpcx-etcd-cluster-{}-{seq}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
            let members = (0..n)
                .map(|i| Member {
                    name: format!("m{i}"),
                    client_url: format!("http://127.0.0.1:{}", free_port()),
                    peer_url: format!("http://127.0.0.1:{}", free_port()),
                    data: root.join(format!("m{i}.data")),
                    log: root.join(format!("m{i}.log")),
                    child: None,
                })
                .collect();
            let mut cluster = EtcdCluster {
                bin: bin.to_path_buf(),
                root,
                token: format!("rpcx-test-{}-{seq}", std::process::id()),
                members,
            };
            for i in 0..n {
                cluster.spawn(i)?;
            }
            for i in 0..n {
                cluster.wait_ready(i, Duration::from_secs(30)).await?;
            }
            Ok(cluster)
        }

        /// Starts member `i` (its ports, data directory and cluster configuration).
        fn spawn(&mut self, i: usize) -> Result<(), String> {
            let initial: Vec<String> = self
                .members
                .iter()
                .map(|m| format!("{}={}", m.name, m.peer_url))
                .collect();
            let m = &mut self.members[i];
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&m.log)
                .map_err(|e| e.to_string())?;
            let child = Command::new(&self.bin)
                .arg("--name")
                .arg(&m.name)
                .arg("--data-dir")
                .arg(&m.data)
                .arg("--listen-client-urls")
                .arg(&m.client_url)
                .arg("--advertise-client-urls")
                .arg(&m.client_url)
                .arg("--listen-peer-urls")
                .arg(&m.peer_url)
                .arg("--initial-advertise-peer-urls")
                .arg(&m.peer_url)
                .arg("--initial-cluster")
                .arg(initial.join(","))
                .arg("--initial-cluster-token")
                .arg(&self.token)
                .arg("--initial-cluster-state")
                .arg("new")
                .arg("--log-level")
                .arg("warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
            m.child = Some(child);
            Ok(())
        }

        /// Waits until member `i` answers a read (or exits, or `limit` passes).
        async fn wait_ready(&mut self, i: usize, limit: Duration) -> Result<(), String> {
            let polls = limit.as_millis() / 100 + 1;
            for _ in 0..polls {
                if let Some(child) = self.members[i].child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        self.members[i].child = None;
                        return Err(format!(
                            "etcd {} exited with {status}: {}",
                            self.members[i].name,
                            self.log(i)
                        ));
                    }
                }
                if self.try_get(i, "rpcx-probe").await.is_ok() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(format!(
                "etcd {} not ready within {limit:?}: {}",
                self.members[i].name,
                self.log(i)
            ))
        }

        /// The members' stderr (warnings and errors).
        pub fn log(&self, i: usize) -> String {
            std::fs::read_to_string(&self.members[i].log).unwrap_or_default()
        }

        /// How many members the cluster was configured with.
        pub fn member_count(&self) -> usize {
            self.members.len()
        }

        /// `http://127.0.0.1:<client port>` of member `i` (the same across restarts).
        pub fn endpoint(&self, i: usize) -> &str {
            &self.members[i].client_url
        }

        /// The client endpoints of every member, running or not.
        pub fn endpoints(&self) -> Vec<String> {
            self.members.iter().map(|m| m.client_url.clone()).collect()
        }

        /// True while member `i` has not been killed.
        pub fn is_running(&self, i: usize) -> bool {
            self.members[i].child.is_some()
        }

        /// A client of member `i` alone.
        pub async fn client(&self, i: usize) -> rpcx::xclient::EtcdClient {
            rpcx::xclient::etcd_connect(&[self.endpoint(i)])
                .await
                .unwrap()
        }

        /// Reads `key` from member `i` alone (a linearizable read: it needs a quorum),
        /// bounded by 2 s; `Err` when the member cannot answer.
        pub async fn try_get(&self, i: usize, key: &str) -> Result<Option<String>, String> {
            let read = async {
                let mut c = rpcx::xclient::etcd_connect(&[self.endpoint(i)])
                    .await
                    .map_err(|e| e.to_string())?;
                let r = c.get(key, None).await.map_err(|e| e.to_string())?;
                Ok(r.kvs()
                    .first()
                    .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
            };
            match tokio::time::timeout(PROBE, read).await {
                Ok(r) => r,
                Err(_) => Err(format!("{}: no answer within {PROBE:?}", self.endpoint(i))),
            }
        }

        /// The lease `key` hangs on, read from member `i` (0: no lease; `None`: no key).
        pub async fn lease_of(&self, i: usize, key: &str) -> Option<i64> {
            let mut c = self.client(i).await;
            let r = tokio::time::timeout(PROBE, c.get(key, None))
                .await
                .expect("etcd read within 2 s")
                .unwrap();
            r.kvs().first().map(|kv| kv.lease())
        }

        /// `(member id, leader id as this member sees it)` of member `i`, bounded by 2 s.
        async fn status(&self, i: usize) -> Option<(u64, u64)> {
            let ask = async {
                let mut c = rpcx::xclient::etcd_connect(&[self.endpoint(i)])
                    .await
                    .ok()?;
                let s = c.status().await.ok()?;
                Some((s.header()?.member_id(), s.leader()))
            };
            tokio::time::timeout(PROBE, ask).await.ok().flatten()
        }

        /// The index of the running member that the running members agree is the leader,
        /// if they all do.
        pub async fn leader(&self) -> Option<usize> {
            let mut ids = Vec::new();
            for i in (0..self.member_count()).filter(|&i| self.is_running(i)) {
                ids.push((i, self.status(i).await?));
            }
            let leader = ids.first()?.1 .1;
            if leader == 0 || ids.iter().any(|(_, (_, l))| *l != leader) {
                return None;
            }
            ids.iter()
                .find(|(_, (id, _))| *id == leader)
                .map(|(i, _)| *i)
        }

        /// Waits (at most `limit`) until the running members agree on a leader among them.
        pub async fn wait_leader(&self, limit: Duration) -> usize {
            let deadline = tokio::time::Instant::now() + limit;
            loop {
                if let Some(i) = self.leader().await {
                    return i;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no etcd leader agreed on within {limit:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        /// SIGKILLs member `i` and reaps it.
        pub fn kill(&mut self, i: usize) {
            let mut child = self.members[i]
                .child
                .take()
                .unwrap_or_else(|| panic!("etcd member {i} is not running"));
            child.kill().unwrap();
            let _ = child.wait();
        }

        /// Starts the killed member `i` again on the same client and peer ports, with its
        /// old data directory or a fresh, empty one (only for a single-member cluster: a
        /// member of a larger one cannot rejoin empty), and waits until it answers a read.
        pub async fn restart(&mut self, i: usize, data: DataDir) {
            assert!(!self.is_running(i), "etcd member {i} is still running");
            if data == DataDir::Fresh {
                assert_eq!(
                    self.member_count(),
                    1,
                    "only a single-member cluster restarts empty"
                );
                std::fs::remove_dir_all(&self.members[i].data).unwrap();
            }
            self.spawn(i).unwrap();
            if let Err(e) = self.wait_ready(i, Duration::from_secs(30)).await {
                panic!("restarted etcd: {e}");
            }
        }
    }

    impl Drop for EtcdCluster {
        fn drop(&mut self) {
            for m in &mut self.members {
                if let Some(mut child) = m.child.take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
