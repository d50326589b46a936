//! Network namespaces as "hosts" for the network-fault suites (included with `#[path]`; no
//! tests of its own): a namespace joined to this one by a veth pair, addressed from the
//! 198.18.0.0/15 benchmarking range used only inside namespaces the tests make, whose link can
//! be set down (a silent peer: no reset, no FIN), and the example `arith_server` running in
//! it. Needs root and `ip` (iproute2). Everything is removed on drop, also when a test fails.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub fn ip(args: &[&str]) -> Result<(), String> {
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
pub struct Host {
    pub ns: String,
    pub inner_if: String,
    /// `198.18.N.2`.
    pub address: String,
}

impl Host {
    /// A new host; N differs between the hosts of one process and (mostly) between processes.
    pub fn create() -> Result<Host, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = (std::process::id() * 7 + NEXT.fetch_add(1, Ordering::Relaxed)) % 250 + 1;
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
    pub fn exec(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", &self.ns];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Sets the namespace's side of the link down (silence) or up.
    pub fn link(&self, up: bool) {
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
pub struct Remote {
    child: Child,
    /// `tcp@198.18.N.2:port`.
    pub key: String,
}

impl Remote {
    /// Starts it in `host`'s namespace and waits for its `LISTENING` line.
    pub fn start(host: &Host) -> Remote {
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
