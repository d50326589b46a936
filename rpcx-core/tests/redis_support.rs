//! A throwaway `redis-server` (Debian's redis-server) on a free loopback port, for the Redis
//! registry and discovery tests (included with `#[path]`; no tests of its own). Skipped,
//! with a note, when no redis-server is installed, unless `RPCX_REQUIRE_REDIS=1`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A redis-server with no persistence (`--save '' --appendonly no`) in a temp dir; killed
/// (and its dir removed) on drop.
pub struct Redis {
    child: Option<Child>,
    dir: PathBuf,
    bin: PathBuf,
    cli: PathBuf,
    pub port: u16,
    /// Extra redis-server arguments.
    extra: Vec<String>,
    /// `127.0.0.1:<port>`.
    pub address: String,
}

impl Redis {
    /// Starts one, or returns `None` (skip) when redis-server is not installed and
    /// `RPCX_REQUIRE_REDIS` is not `1`.
    pub async fn start() -> Option<Redis> {
        Redis::start_with(&[]).await
    }

    /// Like [`start`](Self::start) with extra redis-server arguments (`--rename-command
    /// CONFIG ""` for a Redis that refuses CONFIG, as managed ones do).
    pub async fn start_with(extra: &[&str]) -> Option<Redis> {
        let (Some(bin), Some(cli)) = (find("redis-server"), find("redis-cli")) else {
            if std::env::var("RPCX_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
                panic!("redis-server not found (run scripts/bootstrap-etcd.sh)");
            }
            eprintln!("SKIP: no redis-server (scripts/bootstrap-etcd.sh installs it)");
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "rpcx-redis-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut last = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut r = Redis {
                child: None,
                dir: dir.clone(),
                bin: bin.clone(),
                cli: cli.clone(),
                port,
                extra: extra.iter().map(|s| (*s).to_owned()).collect(),
                address: format!("127.0.0.1:{port}"),
            };
            match r.launch().await {
                Ok(()) => return Some(r),
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    async fn launch(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("redis.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--appendonly")
            .arg("no")
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        for _ in 0..100 {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!("redis-server exited with {status}: {}", self.log()));
            }
            if self.cli(&["PING"]).is_some_and(|o| o == "PONG") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.kill();
        Err(format!(
            "redis-server not ready within 10 s: {}",
            self.log()
        ))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    /// Kills the server (its data is lost: no persistence).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills it and starts a new, empty one on the same port.
    pub async fn restart_empty(&mut self) {
        self.kill();
        let mut last = String::new();
        for _ in 0..20 {
            match self.launch().await {
                Ok(()) => return,
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("redis-server did not restart on port {}: {last}", self.port);
    }

    /// `redis-cli --raw` with `args`: its output without the final newline, `None` if it
    /// failed.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new(&self.cli)
            .arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("--raw")
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8_lossy(&out.stdout);
        Some(s.strip_suffix('\n').unwrap_or(&s).to_owned())
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let out = self.cli(&["KEYS", "*"]).unwrap_or_default();
        let mut k: Vec<String> = out
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        k.sort();
        k
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<String> {
        self.cli(&["GET", key]).filter(|v| !v.is_empty())
    }

    /// `PTTL key` (-1: no TTL, -2: no key).
    pub fn pttl(&self, key: &str) -> i64 {
        self.cli(&["PTTL", key])
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-2)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
