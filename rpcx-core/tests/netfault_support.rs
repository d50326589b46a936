//! Helpers of the network-fault suites (included with `#[path]`; no tests of its own):
//! a Toxiproxy server (Shopify's chaos TCP proxy, built by `scripts/bootstrap-netfault.sh`)
//! on a free loopback port, driven over its HTTP API — one proxy per server, toxics
//! (`latency`, `bandwidth`, `timeout`, `reset_peer`, `slicer`…) added and removed during a
//! test — and servers that count what they execute, so that a test can tell a call that
//! really ran once from one that ran twice or not at all.
//!
//! The suites run under `make netfault` with `RPCX_NETFAULT=1`, where a missing Toxiproxy is a
//! failure with its reason; without it (a plain `cargo test`) they print `SKIP` and pass.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rpcx::client::ClientOptions;
use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::xclient::XClientOptions;
use serde_json::{json, Value};

/// Whether to run: only under `make netfault` (`RPCX_NETFAULT=1`), where everything it needs
/// is built first and a missing piece is a failure; a plain `cargo test` prints `SKIP`.
pub fn enabled() -> bool {
    let on = std::env::var("RPCX_NETFAULT").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("SKIP: network-fault suite (make netfault runs it, with RPCX_NETFAULT=1)");
    }
    on
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `toxiproxy-server` process on a free loopback port; killed on drop.
pub struct Toxiproxy {
    child: Child,
    /// `127.0.0.1:<api port>`.
    api: String,
}

impl Toxiproxy {
    /// Starts one (the binary from `RPCX_TOXIPROXY` or target/tools/bin) and waits until its
    /// API answers; `None` when the suite is not [`enabled`].
    pub async fn start() -> Option<Toxiproxy> {
        if !enabled() {
            return None;
        }
        let exe = std::env::var_os("RPCX_TOXIPROXY")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/tools/bin/toxiproxy-server")
            });
        assert!(
            exe.is_file(),
            "no Toxiproxy at {} (scripts/bootstrap-netfault.sh builds it)",
            exe.display()
        );
        let port = free_port();
        let child = Command::new(&exe)
            .args(["-host", "127.0.0.1", "-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", exe.display()));
        let t = Toxiproxy {
            child,
            api: format!("127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if t.request("GET", "/version", None).is_ok() {
                return Some(t);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("toxiproxy-server did not answer on {} within 5 s", t.api);
    }

    /// One HTTP/1.1 request to the API: `(status, body)`.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(&self.api)?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api,
            body.len()
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        let status = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> String {
        let (status, text) = self
            .request(method, path, body.as_ref())
            .unwrap_or_else(|e| panic!("toxiproxy {method} {path}: {e}"));
        assert!(
            (200..300).contains(&status),
            "toxiproxy {method} {path} {body:?}: {status} {text}"
        );
        text
    }

    /// A proxy named `name` listening on a free loopback port, forwarding to `upstream`
    /// (`host:port`).
    pub fn proxy(&self, name: &str, upstream: &str) -> ToxicProxy<'_> {
        let listen = format!("127.0.0.1:{}", free_port());
        self.call(
            "POST",
            "/proxies",
            Some(json!({"name": name, "listen": listen, "upstream": upstream, "enabled": true})),
        );
        ToxicProxy {
            toxiproxy: self,
            name: name.to_owned(),
            listen,
        }
    }
}

impl Drop for Toxiproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One proxy of a [`Toxiproxy`].
pub struct ToxicProxy<'a> {
    toxiproxy: &'a Toxiproxy,
    name: String,
    /// `127.0.0.1:<port>`: what clients dial.
    pub listen: String,
}

impl ToxicProxy<'_> {
    /// Adds toxic `toxic` of `kind` on `stream` (`"upstream"`: client → server,
    /// `"downstream"`: server → client) with `attributes` (Toxiproxy's names: `latency`,
    /// `jitter` in ms; `rate` in KB/s; `timeout` in ms, 0 = hold the data for good;
    /// `average_size`, `size_variation`, `delay` for `slicer`).
    pub fn add(&self, toxic: &str, kind: &str, stream: &str, attributes: Value) {
        self.toxiproxy.call(
            "POST",
            &format!("/proxies/{}/toxics", self.name),
            Some(
                json!({"name": toxic, "type": kind, "stream": stream, "toxicity": 1.0,
                        "attributes": attributes}),
            ),
        );
    }

    /// Removes toxic `toxic`.
    pub fn remove(&self, toxic: &str) {
        self.toxiproxy.call(
            "DELETE",
            &format!("/proxies/{}/toxics/{toxic}", self.name),
            None,
        );
    }

    /// Holds every byte both ways, without closing anything: a black hole (a partitioned
    /// host as the client sees it). [`heal`](Self::heal) ends it.
    pub fn black_hole(&self) {
        self.add("hole_up", "timeout", "upstream", json!({"timeout": 0}));
        self.add("hole_down", "timeout", "downstream", json!({"timeout": 0}));
    }

    /// Ends a [`black_hole`](Self::black_hole).
    pub fn heal(&self) {
        self.remove("hole_up");
        self.remove("hole_down");
    }

    /// Enables or disables the proxy (disabled: open connections are closed and new ones
    /// refused, as for a server that is down).
    pub fn set_enabled(&self, enabled: bool) {
        self.toxiproxy.call(
            "POST",
            &format!("/proxies/{}", self.name),
            Some(json!({"enabled": enabled})),
        );
    }
}

/// How often each call id ran, and on which server.
#[derive(Default)]
pub struct Executions(Mutex<HashMap<i64, Vec<String>>>);

impl Executions {
    /// Records that `server` ran call `id`.
    pub fn record(&self, id: i64, server: &str) {
        self.0
            .lock()
            .unwrap()
            .entry(id)
            .or_default()
            .push(server.to_owned());
    }

    /// The servers that ran call `id` (empty: none did).
    pub fn of(&self, id: i64) -> Vec<String> {
        self.0.lock().unwrap().get(&id).cloned().unwrap_or_default()
    }

    /// Calls that ran more than once.
    pub fn duplicates(&self) -> Vec<(i64, Vec<String>)> {
        let mut d: Vec<_> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        d.sort();
        d
    }

    /// Executions by `server`.
    pub fn count(&self, server: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .values()
            .flatten()
            .filter(|s| *s == server)
            .count()
    }
}

/// A server on loopback whose `Who.Am(id)` records that `name` ran call `id` in `log` and
/// answers `name`.
pub async fn counting_server(name: &str, log: Arc<Executions>) -> ServerHandle {
    counting_server_on(name, "tcp@127.0.0.1:0", log).await
}

/// [`counting_server`] on `address` (`tcp@host:port`).
pub async fn counting_server_on(name: &str, address: &str, log: Arc<Executions>) -> ServerHandle {
    let mut server = Server::builder().build();
    let me = name.to_owned();
    server
        .register_fn("Who", "Am", move |_ctx: Context, id: i64| {
            let (me, log) = (me.clone(), Arc::clone(&log));
            async move {
                log.0
                    .lock()
                    .unwrap()
                    .entry(id)
                    .or_default()
                    .push(me.clone());
                Ok::<_, ServiceError>(me)
            }
        })
        .unwrap();
    server.serve(address).await.unwrap()
}

/// `host:port` of a server handle's `tcp@host:port`.
pub fn host_port(h: &ServerHandle) -> String {
    h.local_address()
        .to_string()
        .trim_start_matches("tcp@")
        .to_owned()
}

/// XClient defaults (RoundRobin, Failover, the dead-server detector) with a call timeout.
pub fn options_with_timeout(timeout: Duration) -> XClientOptions {
    XClientOptions {
        client: ClientOptions {
            default_timeout: Some(timeout),
            ..ClientOptions::default()
        },
        ..XClientOptions::default()
    }
}
