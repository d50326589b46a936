//! etcd over TLS: a real etcd serving clients over TLS and requiring client certificates
//! (`--cert-file --key-file --trusted-ca-file --client-cert-auth`, certificates of the test
//! PKI). The registry registers, the discovery lists and watches, an XClient calls; a client
//! without a certificate, one trusting another CA, a plain-HTTP client and a DANGER
//! (unverifying) configuration are each refused with a clear error. Skipped without an etcd
//! binary unless `RPCX_REQUIRE_ETCD=1`.
#![cfg(all(feature = "etcd", feature = "tls"))]

#[path = "xclient_support.rs"]
mod support;
#[path = "tls_support.rs"]
mod tls_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rpcx::arith::{Args, Reply};
use rpcx::registry::EtcdRegistry;
use rpcx::server::Plugin;
use rpcx::transport::tls::ClientTlsConfig;
use rpcx::xclient::{Discovery, EtcdDiscovery, XClient, XClientOptions};
use support::{guard, start_named, wait_until, Etcd, EtcdTls, GUARD};
use tls_support::TestPki;

const BASE: &str = "/rpcx_tls";

/// The test PKI written to a fresh directory (removed on drop).
struct Files(PathBuf);

impl Files {
    fn new(pki: &TestPki) -> Files {
        let dir = std::env::temp_dir().join(format!(
            "rpcx-etcd-tls-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        pki.write_to(&dir).unwrap();
        Files(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn client_tls(files: &Files) -> ClientTlsConfig {
    ClientTlsConfig::new()
        .ca_file(files.path("ca.pem"))
        .unwrap()
        .client_cert_files(files.path("client.pem"), files.path("client.key"))
        .unwrap()
}

async fn tls_etcd(files: &Files) -> Option<Etcd> {
    Etcd::start_tls(EtcdTls {
        cert: files.path("server.pem"),
        key: files.path("server.key"),
        client_ca: files.path("ca.pem"),
        client: client_tls(files),
    })
    .await
}

async fn discovery_error(endpoint: &str, tls: &ClientTlsConfig) -> String {
    let endpoints = [endpoint];
    let attempt = EtcdDiscovery::connect_tls(&endpoints, BASE, "Arith", tls);
    match guard(GUARD, "refused discovery", attempt).await {
        Ok(_) => panic!("etcd accepted {tls:?}"),
        Err(e) => e.to_string(),
    }
}

fn contains_any(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| text.contains(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_registry_and_discovery_over_mutual_tls() {
    let pki = TestPki::generate();
    let files = Files::new(&pki);
    let Some(etcd) = tls_etcd(&files).await else {
        return;
    };
    assert!(etcd.endpoint.starts_with("https://"), "{}", etcd.endpoint);
    let endpoints = [etcd.endpoint.as_str()];
    let tls = client_tls(&files);

    let registry = EtcdRegistry::connect_tls(&endpoints, BASE, "", Duration::from_secs(30), &tls)
        .await
        .unwrap();
    let plugin: Arc<dyn Plugin> = Arc::new(registry.clone());
    let server = start_named("tls", "127.0.0.1", "", vec![plugin]).await;
    guard(GUARD, "registry flush", registry.flush())
        .await
        .unwrap();
    let key = server.local_address().to_string();
    assert_eq!(
        etcd.get(&format!("{BASE}/Arith/{key}")).await.as_deref(),
        Some("")
    );

    let d = EtcdDiscovery::connect_tls(&endpoints, BASE, "Arith", &tls)
        .await
        .unwrap();
    assert_eq!(d.servers().len(), 1);
    let xc = XClient::new("Arith", d, XClientOptions::default()).unwrap();
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 6, b: 7 }))
        .await
        .unwrap();
    assert_eq!(r.c, 42);
    let all = EtcdDiscovery::list_all_tls(&endpoints, BASE, &tls)
        .await
        .unwrap();
    assert_eq!(all["Arith"].len(), 1);

    // The watch works over TLS too: a graceful stop deletes the key, the list empties.
    server.shutdown(Duration::from_secs(5)).await;
    wait_until(GUARD, "server gone from the list", || {
        xc.servers().is_empty()
    })
    .await;
    xc.close();
    registry.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_over_tls_refuses_bad_clients_with_clear_errors() {
    let pki = TestPki::generate();
    let files = Files::new(&pki);
    let Some(etcd) = tls_etcd(&files).await else {
        return;
    };
    let endpoint = etcd.endpoint.as_str();
    let ca = |name: &str| ClientTlsConfig::new().ca_file(files.path(name)).unwrap();

    // No client certificate: etcd (Go's TLS) refuses it.
    let e = discovery_error(endpoint, &ca("ca.pem")).await;
    assert!(
        contains_any(
            &e,
            &[
                "CertificateRequired",
                "certificate required",
                "BadCertificate"
            ]
        ),
        "{e}"
    );
    // etcd's certificate is not signed by a CA we trust.
    let wrong_ca = ca("other-ca.pem")
        .client_cert_files(files.path("client.pem"), files.path("client.key"))
        .unwrap();
    let e = discovery_error(endpoint, &wrong_ca).await;
    assert!(e.contains("invalid peer certificate: UnknownIssuer"), "{e}");
    // A name the certificate does not carry.
    let e = discovery_error(
        endpoint,
        &client_tls(&files).server_name("etcd.example.com"),
    )
    .await;
    assert!(e.contains("certificate not valid for name"), "{e}");
    // DANGER mode is refused for etcd rather than silently verifying.
    let e = discovery_error(
        endpoint,
        &client_tls(&files).danger_accept_invalid_certs(true),
    )
    .await;
    assert!(e.contains("cannot skip certificate verification"), "{e}");
    // Plain HTTP to the TLS port.
    let plain = endpoint.replace("https://", "http://");
    let e = guard(
        GUARD,
        "plain",
        EtcdDiscovery::connect(&[plain.as_str()], BASE, "Arith"),
    )
    .await
    .unwrap_err();
    assert!(!e.to_string().is_empty());
}
