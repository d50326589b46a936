//! Consul discovery and registration against a small in-test HTTP server that implements
//! exactly the Consul endpoints used (KV get/recurse with blocking queries, put with
//! `?acquire=`, delete, session create/renew, and session expiry deleting held keys). Not a
//! real Consul: no Consul server can be installed here. With the `tls` feature the fake also
//! serves HTTPS requiring client certificates, for Consul over (mutual) TLS.
#![cfg(feature = "consul")]

#[path = "xclient_support.rs"]
mod support;
#[cfg(feature = "tls")]
#[path = "tls_support.rs"]
mod tls_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::registry::ConsulRegistry;
use rpcx::server::Plugin;
use rpcx::xclient::{ConsulDiscovery, Discovery, FailMode, ServerEntry, XClient, XClientOptions};
use support::{guard, start_named, wait_until, GUARD};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Default)]
struct State {
    /// key → (value, session holding it, modify index)
    kv: BTreeMap<String, (Vec<u8>, Option<String>, u64)>,
    /// session id → (TTL text, Behavior)
    sessions: HashMap<String, (String, String)>,
    index: u64,
    next_session: u64,
    renewals: usize,
}

/// The fake Consul agent.
#[derive(Clone)]
struct FakeConsul {
    state: Arc<Mutex<State>>,
    changed: Arc<watch::Sender<u64>>,
    addr: String,
}

/// The server side of TLS for the fake (feature `tls`); `()` without it.
#[cfg(feature = "tls")]
type ServerTls = Option<Arc<rpcx::transport::tls::rustls::ServerConfig>>;
#[cfg(not(feature = "tls"))]
type ServerTls = Option<()>;

impl FakeConsul {
    async fn start() -> FakeConsul {
        FakeConsul::start_with(None).await
    }

    /// Serves HTTP, or HTTPS with `tls`.
    async fn start_with(tls: ServerTls) -> FakeConsul {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, _) = watch::channel(1);
        let fake = FakeConsul {
            state: Arc::new(Mutex::new(State {
                index: 1,
                ..Default::default()
            })),
            changed: Arc::new(tx),
            addr,
        };
        let f = fake.clone();
        tokio::spawn(async move {
            while let Ok((conn, peer)) = listener.accept().await {
                let f = f.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    #[cfg(feature = "tls")]
                    if let Some(config) = tls {
                        let stream = rpcx::transport::Stream::Tcp(conn);
                        let accepted = rpcx::transport::tls::accept(
                            &config,
                            stream,
                            peer.to_string(),
                            Duration::from_secs(10),
                        )
                        .await;
                        if let Ok(c) = accepted {
                            f.serve(tokio::io::join(c.read, c.write)).await;
                        }
                        return;
                    }
                    let _ = (tls, peer);
                    f.serve(conn).await;
                });
            }
        });
        fake
    }

    fn bump(&self, st: &mut State) {
        st.index += 1;
        self.changed.send_replace(st.index);
    }

    /// What Consul does when a session's TTL runs out (Behavior = delete).
    fn expire_session(&self, id: &str) {
        let mut st = self.state.lock().unwrap();
        st.sessions.remove(id);
        st.kv.retain(|_, v| v.1.as_deref() != Some(id));
        self.bump(&mut st);
    }

    fn get(&self, key: &str) -> Option<(String, Option<String>)> {
        let st = self.state.lock().unwrap();
        st.kv
            .get(key)
            .map(|v| (String::from_utf8_lossy(&v.0).into_owned(), v.1.clone()))
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(self, conn: S) {
        let mut r = BufReader::new(conn);
        for _ in 0..10_000 {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
                return;
            };
            let (method, target) = (method.to_owned(), target.to_owned());
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                    return;
                }
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).await.is_err() {
                return;
            }
            let (status, index, out) = self.handle(&method, &target, &body).await;
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Consul-Index: {index}\r\nContent-Length: {}\r\n\r\n",
                out.len()
            );
            let conn = r.get_mut();
            if conn.write_all(head.as_bytes()).await.is_err() || conn.write_all(&out).await.is_err()
            {
                return;
            }
        }
    }

    async fn handle(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> (&'static str, u64, Vec<u8>) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let q: HashMap<&str, &str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        let path = unescape(path);
        if let Some(key) = path.strip_prefix("/v1/kv/") {
            match method {
                "GET" => return self.kv_get(key, &q).await,
                "PUT" => {
                    let mut st = self.state.lock().unwrap();
                    let holder = st.kv.get(key).and_then(|v| v.1.clone());
                    let session = match q.get("acquire") {
                        Some(s) => {
                            let s = unescape(s);
                            if !st.sessions.contains_key(&s)
                                || holder.as_ref().is_some_and(|h| h != &s)
                            {
                                return ("200 OK", st.index, b"false".to_vec());
                            }
                            Some(s)
                        }
                        None => holder,
                    };
                    let idx = st.index + 1;
                    st.kv.insert(key.to_owned(), (body.to_vec(), session, idx));
                    self.bump(&mut st);
                    return ("200 OK", st.index, b"true".to_vec());
                }
                "DELETE" => {
                    let mut st = self.state.lock().unwrap();
                    st.kv.remove(key);
                    self.bump(&mut st);
                    return ("200 OK", st.index, b"true".to_vec());
                }
                _ => {}
            }
        }
        if method == "PUT" && path == "/v1/session/create" {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            let mut st = self.state.lock().unwrap();
            st.next_session += 1;
            let id = format!("sess-{}", st.next_session);
            let ttl = v["TTL"].as_str().unwrap_or("").to_owned();
            let behavior = v["Behavior"].as_str().unwrap_or("").to_owned();
            st.sessions.insert(id.clone(), (ttl, behavior));
            return (
                "200 OK",
                st.index,
                serde_json::json!({ "ID": id }).to_string().into_bytes(),
            );
        }
        if let Some(id) = path.strip_prefix("/v1/session/renew/") {
            let mut st = self.state.lock().unwrap();
            st.renewals += 1;
            return match st.sessions.get(id) {
                Some(_) => (
                    "200 OK",
                    st.index,
                    format!("[{{\"ID\":\"{id}\"}}]").into_bytes(),
                ),
                None => ("404 Not Found", st.index, b"session not found".to_vec()),
            };
        }
        ("400 Bad Request", 0, b"unsupported".to_vec())
    }

    async fn kv_get(&self, prefix: &str, q: &HashMap<&str, &str>) -> (&'static str, u64, Vec<u8>) {
        assert!(q.contains_key("recurse"), "only recursive gets are used");
        if let Some(i) = q.get("index").and_then(|i| i.parse::<u64>().ok()) {
            let wait = q
                .get("wait")
                .and_then(|w| w.strip_suffix('s'))
                .and_then(|w| w.parse::<u64>().ok())
                .unwrap_or(300);
            assert_eq!(wait, 15, "Go's blocking query wait");
            let mut rx = self.changed.subscribe();
            let _ =
                tokio::time::timeout(Duration::from_secs(wait), rx.wait_for(|&cur| cur > i)).await;
        }
        let st = self.state.lock().unwrap();
        let items: Vec<serde_json::Value> = st
            .kv
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, (v, s, idx))| {
                serde_json::json!({
                    "Key": k,
                    "Value": if v.is_empty() { serde_json::Value::Null } else { base64(v).into() },
                    "Session": s,
                    "ModifyIndex": idx,
                    "CreateIndex": idx,
                    "LockIndex": 0,
                    "Flags": 0,
                })
            })
            .collect();
        if items.is_empty() {
            return ("404 Not Found", st.index, Vec::new());
        }
        ("200 OK", st.index, serde_json::to_vec(&items).unwrap())
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const BASE: &str = "/rpcx_test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_consul_register_discover_stop_and_session_expiry() {
    let consul = FakeConsul::start().await;
    let reg_a = ConsulRegistry::connect(&consul.addr, BASE, "", Duration::from_secs(30))
        .await
        .unwrap();
    let a = start_named(
        "a",
        "127.0.0.1",
        "weight=5",
        vec![Arc::new(reg_a.clone()) as Arc<dyn Plugin>],
    )
    .await;
    guard(GUARD, "flush", reg_a.flush()).await.unwrap();
    let key_a = a.local_address().to_string();

    // libkv layout: no leading slash; node key held by a delete-on-expiry session.
    assert_eq!(consul.get("rpcx_test").unwrap().0, "rpcx_path");
    assert_eq!(consul.get("rpcx_test/Arith").unwrap().0, "Arith");
    let (meta, session) = consul.get(&format!("rpcx_test/Arith/{key_a}")).unwrap();
    assert_eq!(meta, "weight=5");
    assert_eq!(session.as_deref(), Some(reg_a.session_id().as_str()));
    {
        let st = consul.state.lock().unwrap();
        let (ttl, behavior) = &st.sessions[&reg_a.session_id()];
        assert_eq!((ttl.as_str(), behavior.as_str()), ("15s", "delete"));
    }

    let d = ConsulDiscovery::connect(&consul.addr, BASE, "Arith")
        .await
        .unwrap();
    assert_eq!(d.servers(), vec![ServerEntry::new(&key_a, "weight=5")]);
    let xc = XClient::new(
        "Arith",
        d,
        XClientOptions {
            fail_mode: FailMode::Failfast,
            ..Default::default()
        },
    )
    .unwrap();
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 6, b: 7 }))
        .await
        .unwrap();
    assert_eq!(r.c, 42);

    // A second server shows up through the blocking query.
    let reg_b = ConsulRegistry::connect(&consul.addr, BASE, "", Duration::from_secs(30))
        .await
        .unwrap();
    let b = start_named(
        "b",
        "127.0.0.1",
        "",
        vec![Arc::new(reg_b.clone()) as Arc<dyn Plugin>],
    )
    .await;
    reg_b.flush().await.unwrap();
    let key_b = b.local_address().to_string();
    wait_until(GUARD, "b discovered", || xc.servers().len() == 2).await;
    let all = ConsulDiscovery::list_all(&consul.addr, BASE).await.unwrap();
    assert_eq!(all["Who"].len(), 2);

    // Graceful stop of a: its node key is deleted at once.
    a.shutdown(Duration::from_secs(2)).await;
    reg_a.flush().await.unwrap();
    assert!(consul.get(&format!("rpcx_test/Arith/{key_a}")).is_none());
    wait_until(GUARD, "a dropped", || {
        xc.servers() == vec![ServerEntry::new(&key_b, "")]
    })
    .await;
    for i in 0..10 {
        let r: Reply = xc.call("Add", &Args { a: i, b: 1 }).await.unwrap();
        assert_eq!(r.c, i + 1);
    }

    // b's session expires (as when its process was frozen past the TTL): Consul deletes
    // the node keys, clients drop b; the registry notices at its next renewal, opens a new
    // session and registers again.
    let old = reg_b.session_id();
    consul.expire_session(&old);
    wait_until(GUARD, "b expired", || xc.servers().is_empty()).await;
    wait_until(Duration::from_secs(20), "b back", || {
        xc.servers().len() == 1
    })
    .await;
    assert_ne!(reg_b.session_id(), old);
    let r: Reply = xc.call("Mul", &Args { a: 2, b: 2 }).await.unwrap();
    assert_eq!(r.c, 4);
    assert!(consul.state.lock().unwrap().renewals > 0);

    xc.close();
    b.shutdown(Duration::from_secs(2)).await;
    reg_b.flush().await.unwrap();
    assert!(consul.get(&format!("rpcx_test/Who/{key_b}")).is_none());
}

/// Consul over TLS: the registry and the discovery talk HTTPS to an agent that requires
/// client certificates; a client trusting another CA, one without a certificate, and TLS
/// settings for an `http://` address are refused with clear errors.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_consul_over_mutual_tls() {
    use rpcx::transport::tls::{ClientTlsConfig, ServerTlsConfig};

    let pki = tls_support::TestPki::generate();
    let server_tls = ServerTlsConfig::from_pem(pki.server.cert.clone(), pki.server.key.clone())
        .client_ca_pem(pki.ca.cert.clone(), true)
        .build()
        .unwrap();
    let consul = FakeConsul::start_with(Some(server_tls)).await;
    let https = format!("https://{}", consul.addr);
    let tls = ClientTlsConfig::new()
        .ca_pem(pki.ca.cert.clone())
        .client_cert_pem(pki.client.cert.clone(), pki.client.key.clone());

    let reg = ConsulRegistry::connect_tls(&https, BASE, "", Duration::from_secs(30), &tls)
        .await
        .unwrap();
    let a = start_named(
        "a",
        "127.0.0.1",
        "",
        vec![Arc::new(reg.clone()) as Arc<dyn Plugin>],
    )
    .await;
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    let key_a = a.local_address().to_string();
    assert!(consul.get(&format!("rpcx_test/Arith/{key_a}")).is_some());

    // `host:port` means https when TLS settings are given.
    let d = ConsulDiscovery::connect_tls(&consul.addr, BASE, "Arith", &tls)
        .await
        .unwrap();
    assert_eq!(d.servers(), vec![ServerEntry::new(&key_a, "")]);
    let xc = XClient::new("Arith", d, XClientOptions::default()).unwrap();
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 6, b: 7 }))
        .await
        .unwrap();
    assert_eq!(r.c, 42);
    let all = ConsulDiscovery::list_all_tls(&https, BASE, &tls)
        .await
        .unwrap();
    assert_eq!(all["Arith"].len(), 1);

    let refused = |r: Result<ConsulDiscovery, rpcx::Error>| match r {
        Ok(_) => panic!("consul accepted the connection"),
        Err(e) => e.to_string(),
    };
    let wrong_ca = ClientTlsConfig::new().ca_pem(pki.other_ca.cert.clone());
    let e = refused(ConsulDiscovery::connect_tls(&https, BASE, "Arith", &wrong_ca).await);
    assert!(e.contains("invalid peer certificate: UnknownIssuer"), "{e}");
    let anonymous = ClientTlsConfig::new().ca_pem(pki.ca.cert.clone());
    let e = refused(ConsulDiscovery::connect_tls(&https, BASE, "Arith", &anonymous).await);
    assert!(
        e.contains("received fatal alert: CertificateRequired"),
        "{e}"
    );
    let plain = format!("http://{}", consul.addr);
    let e = refused(ConsulDiscovery::connect_tls(&plain, BASE, "Arith", &tls).await);
    assert!(
        e.contains("TLS settings given for a plain http:// address"),
        "{e}"
    );

    xc.close();
    a.shutdown(Duration::from_secs(2)).await;
    reg.flush().await.unwrap();
    assert!(consul.get(&format!("rpcx_test/Arith/{key_a}")).is_none());
}

/// A registry added to a running server publishes its services at once; services
/// registered and unregistered while it runs are published and deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xclient_consul_live_registration_and_late_registry() {
    let consul = FakeConsul::start().await;
    let a = start_named("a", "127.0.0.1", "weight=5", Vec::new()).await;
    let key_a = a.local_address().to_string();
    let reg = ConsulRegistry::connect(&consul.addr, BASE, "", Duration::from_secs(30))
        .await
        .unwrap();
    a.add_registry(Arc::new(reg.clone())).unwrap();
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    let (meta, session) = consul.get(&format!("rpcx_test/Arith/{key_a}")).unwrap();
    assert_eq!(meta, "weight=5");
    assert_eq!(session.as_deref(), Some(reg.session_id().as_str()));

    a.register_raw("Live", "Echo", |_ctx, b: bytes::Bytes| async move {
        Ok::<_, rpcx::server::ServiceError>(b)
    })
    .unwrap();
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    let live = format!("rpcx_test/Live/{key_a}");
    assert_eq!(consul.get(&live).unwrap().0, "");
    let d = ConsulDiscovery::connect(&consul.addr, BASE, "Live")
        .await
        .unwrap();
    assert_eq!(d.servers(), vec![ServerEntry::new(&key_a, "")]);

    assert_eq!(a.unregister_all(), ["Arith", "Live", "Who"]);
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    assert!(consul.get(&live).is_none());
    assert!(consul.get(&format!("rpcx_test/Arith/{key_a}")).is_none());
    wait_until(GUARD, "Live gone", || d.servers().is_empty()).await;

    a.shutdown(Duration::from_secs(2)).await;
    reg.close();
}
