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
}
