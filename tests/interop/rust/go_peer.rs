//! What the interop binaries that run a Go peer share (`#[path]`-included by each): a Go
//! server started and its `LISTENING <address>` line read, and the `[go-client|go-server]
//! BIN` command line with its `PASS`/`FAIL` report.

use std::future::Future;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A Go server started with `-mode server -addr tcp@127.0.0.1:0`; killed when dropped.
pub struct GoServer {
    child: Child,
    /// The address from its `LISTENING` line.
    pub address: String,
    /// Its stdout, kept open: a Go program writing to a closed pipe dies of SIGPIPE.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl GoServer {
    /// Runs `bin -mode server -addr tcp@127.0.0.1:0` and waits up to `limit` for it to print
    /// `LISTENING <address>`.
    pub async fn start(bin: &str, limit: Duration) -> Result<GoServer, String> {
        let mut child = Command::new(bin)
            .args(["-mode", "server", "-addr", "tcp@127.0.0.1:0"])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("running {bin}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout of the Go server")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(limit, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(a) = line.strip_prefix("LISTENING ") {
                    return Some(a.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or("the Go server did not report LISTENING")?;
        Ok(GoServer {
            child,
            address,
            _stdout: lines,
        })
    }

    /// Kills it and waits up to `limit` for it to exit.
    pub async fn stop(mut self, limit: Duration) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(limit, self.child.wait()).await;
    }
}

/// Reads the command line `[go-client|go-server] BIN` (both cases without a mode), runs each
/// case with `run(case, BIN)`, prints `PASS <label><case>` or `FAIL <label><case>: <reason>`
/// and then `<suite>: N passed, N failed`; exits 1 if a case failed, 2 on a bad command line.
pub async fn run_cases<F, Fut>(suite: &str, label: &str, usage: &str, run: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cases, bin): (Vec<&'static str>, &str) = match args.as_slice() {
        [mode, bin] if mode == "go-client" => (vec!["go-client"], bin),
        [mode, bin] if mode == "go-server" => (vec!["go-server"], bin),
        [bin] => (vec!["go-client", "go-server"], bin),
        _ => {
            eprintln!("usage: {usage}");
            std::process::exit(2);
        }
    };
    let (mut passed, mut failed) = (0, 0);
    for case in cases {
        match run(case, bin.to_owned()).await {
            Ok(()) => {
                passed += 1;
                println!("PASS {label}{case}");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {label}{case}: {e}");
            }
        }
    }
    println!("{suite}: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
