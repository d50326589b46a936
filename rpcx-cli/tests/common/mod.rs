//! Helpers shared by the CLI's integration tests: running the `rpcx` binary, starting a
//! loopback server, a closed port and a temporary directory. Each test file uses only some.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs the CLI with `args`; returns its exit status and its stdout and stderr as text.
pub fn rpcx(args: &[&str]) -> (Option<i32>, String, String) {
    let out = rpcx_output(args);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Runs the CLI with `args` and an empty standard input; returns what it wrote.
pub fn rpcx_output(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rpcx"))
        .args(args)
        .output()
        .expect("run rpcx")
}

/// Runs the CLI with `stdin` as its standard input.
pub fn rpcx_in(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rpcx"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rpcx");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // Written from a thread so a large input cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for rpcx");
    writer.join().unwrap();
    out
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Serves `server` on a free loopback port; returns its handle and address.
pub async fn serve(server: rpcx::server::Server) -> (rpcx::server::ServerHandle, String) {
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = handle.local_address().to_string();
    (handle, addr)
}

/// A server with the Arith service on a free loopback port.
pub fn start_arith_server(rt: &tokio::runtime::Runtime) -> (rpcx::server::ServerHandle, String) {
    rt.block_on(async {
        let mut server = rpcx::server::Server::builder().build();
        rpcx::arith::register(&mut server).unwrap();
        serve(server).await
    })
}

/// A loopback address nothing listens on.
pub fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("tcp@127.0.0.1:{port}")
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after the test file's `tag`.
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("rpcx-cli-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// Writes `bytes` to `name` in the directory; returns `@<path>`.
    pub fn at_file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        format!("@{}", p.display())
    }

    /// Writes `text` to `name` (parent directories made); returns the path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
