//! TLS (feature `tls`): a TLS server answers TLS clients and refuses plain ones; mutual TLS
//! (client certificates required, or optional); and the handshake failures a client can
//! meet, each with rustls' own words: a CA it does not trust, an expired certificate, a
//! certificate for another name, and a mutual-TLS server refusing a client without (or with
//! a foreign) certificate. Run with `cargo test -p rpcx --features tls --test server_tls`.
#![cfg(feature = "tls")]

#[path = "tls_support.rs"]
mod tls_support;

use std::sync::Arc;
use std::time::Duration;

use rpcx::arith::{self, Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::server::{Server, ServerHandle};
use rpcx::transport::tls::{self, ClientTlsConfig, ServerTlsConfig};
use rpcx::xclient::{MultipleServers, ServerEntry, XClient, XClientOptions};
use rpcx::Error;
use tls_support::{Pem, TestPki};

async fn serve(tls: Arc<tls::rustls::ServerConfig>) -> (ServerHandle, String) {
    let mut server = Server::builder().tls(tls).build();
    arith::register(&mut server).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = handle.local_address().to_string();
    (handle, addr)
}

async fn serve_pem(cert: &Pem) -> (ServerHandle, String) {
    serve(
        ServerTlsConfig::from_pem(cert.cert.clone(), cert.key.clone())
            .build()
            .unwrap(),
    )
    .await
}

fn trusting(ca: &Pem) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_pem(ca.cert.clone())
}

async fn connect(addr: &str, tls: &ClientTlsConfig) -> Result<Client, Error> {
    let options = ClientOptions::default()
        .with_tls(tls.build()?)
        .timeout(Duration::from_secs(10));
    Client::connect(addr, options).await
}

async fn mul(client: &Client, a: i64, b: i64) -> Result<i64, Error> {
    let r: Reply = client.call("Arith", "Mul", &Args { a, b }).await?;
    Ok(r.c)
}

/// The error of connecting and making one call: a refused handshake fails the connect, or
/// (TLS 1.3, where the client finishes first) the first call.
async fn failure(addr: &str, tls: &ClientTlsConfig) -> String {
    match connect(addr, tls).await {
        Err(e) => e.to_string(),
        Ok(client) => {
            let e = mul(&client, 2, 3).await.expect_err("the call succeeded");
            client.close();
            e.to_string()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip_and_refusals() {
    let pki = TestPki::generate();
    let (handle, addr) = serve_pem(&pki.server).await;
    let ca = tls::client_config_from_pem(&pki.ca.cert).unwrap();

    let client = Client::connect(&addr, ClientOptions::default().tls(ca.clone(), "localhost"))
        .await
        .unwrap();
    for i in 0..20 {
        assert_eq!(mul(&client, i, 3).await.unwrap(), i * 3);
    }
    let e = client
        .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("divide by zero"));

    // A certificate for another name is refused by the client.
    let wrong = Client::connect(&addr, ClientOptions::default().tls(ca, "example.com")).await;
    assert!(
        matches!(wrong, Err(rpcx::Error::Connect { .. })),
        "{wrong:?}"
    );

    // A plain client cannot talk to a TLS server: its call fails instead of hanging.
    let plain = Client::connect(
        &addr,
        ClientOptions::default().timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert!(plain
        .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
        .await
        .is_err());

    // The TLS client still works after those failures.
    let r: Reply = client
        .call("Arith", "Add", &Args { a: 2, b: 2 })
        .await
        .unwrap();
    assert_eq!(r.c, 4);
    client.close();
    handle.shutdown(Duration::from_secs(2)).await;
}

/// Without an explicit server name the client checks the host it dials: the IP of
/// `tcp@127.0.0.1:port` and the DNS name of `localhost:port` are both in the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_name_defaults_to_the_host_dialed() {
    let pki = TestPki::generate();
    let (handle, addr) = serve_pem(&pki.server).await;
    let port = handle.port().unwrap();
    for target in [addr.clone(), format!("localhost:{port}")] {
        let client = connect(&target, &trusting(&pki.ca)).await.unwrap();
        assert_eq!(mul(&client, 6, 7).await.unwrap(), 42, "{target}");
        client.close();
    }
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_signed_by_an_untrusted_ca_is_refused_as_unknown_issuer() {
    let pki = TestPki::generate();
    let (handle, addr) = serve_pem(&pki.server).await;
    let e = connect(&addr, &trusting(&pki.other_ca)).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("TLS handshake: invalid peer certificate: UnknownIssuer"),
        "{text}"
    );
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_server_certificate_is_refused_as_expired() {
    let pki = TestPki::generate();
    let (handle, addr) = serve_pem(&pki.expired).await;
    let e = connect(&addr, &trusting(&pki.ca)).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("invalid peer certificate: certificate expired"),
        "{text}"
    );
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_refused_naming_both() {
    let pki = TestPki::generate();
    let (handle, addr) = serve_pem(&pki.server).await;
    let e = connect(&addr, &trusting(&pki.ca).server_name("rpcx.example.com"))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("certificate not valid for name \"rpcx.example.com\""),
        "{text}"
    );
    assert!(text.contains("localhost"), "{text}");
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_requires_a_client_certificate_from_the_trusted_ca() {
    let pki = TestPki::generate();
    let server_tls = ServerTlsConfig::from_pem(pki.server.cert.clone(), pki.server.key.clone())
        .client_ca_pem(pki.ca.cert.clone(), true);
    assert!(server_tls.verifies_clients());
    let (handle, addr) = serve(server_tls.build().unwrap()).await;

    // With a certificate of the trusted CA: served.
    let with_cert =
        trusting(&pki.ca).client_cert_pem(pki.client.cert.clone(), pki.client.key.clone());
    let client = connect(&addr, &with_cert).await.unwrap();
    assert_eq!(mul(&client, 9, 9).await.unwrap(), 81);

    // Refusals are seen by every attempt, intact (not a bare "connection reset").
    for _ in 0..5 {
        let without = failure(&addr, &trusting(&pki.ca)).await;
        assert!(
            without.contains("received fatal alert: CertificateRequired"),
            "{without}"
        );
        let foreign = trusting(&pki.ca)
            .client_cert_pem(pki.other_client.cert.clone(), pki.other_client.key.clone());
        let foreign = failure(&addr, &foreign).await;
        assert!(
            foreign.contains("received fatal alert: UnknownCA")
                || foreign.contains("received fatal alert: BadCertificate"),
            "{foreign}"
        );
    }

    // The authenticated client was not disturbed.
    assert_eq!(mul(&client, 2, 21).await.unwrap(), 42);
    client.close();
    handle.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificates_admit_anonymous_clients_but_verify_presented_ones() {
    let pki = TestPki::generate();
    let server_tls = ServerTlsConfig::from_pem(pki.server.cert.clone(), pki.server.key.clone())
        .client_ca_pem(pki.ca.cert.clone(), false);
    let (handle, addr) = serve(server_tls.build().unwrap()).await;

    let anonymous = connect(&addr, &trusting(&pki.ca)).await.unwrap();
    assert_eq!(mul(&anonymous, 3, 3).await.unwrap(), 9);
    let known = trusting(&pki.ca).client_cert_pem(pki.client.cert.clone(), pki.client.key.clone());
    let known = connect(&addr, &known).await.unwrap();
    assert_eq!(mul(&known, 4, 4).await.unwrap(), 16);
    let foreign = trusting(&pki.ca)
        .client_cert_pem(pki.other_client.cert.clone(), pki.other_client.key.clone());
    let refused = failure(&addr, &foreign).await;
    assert!(refused.contains("received fatal alert"), "{refused}");
    anonymous.close();
    known.close();
    handle.shutdown(Duration::from_secs(2)).await;
}

/// DANGER mode accepts the expired certificate (and any name); the default refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_invalid_certificates_is_explicit() {
    let pki = TestPki::generate();
    let (handle, addr) = serve_pem(&pki.expired).await;
    let insecure = ClientTlsConfig::new()
        .danger_accept_invalid_certs(true)
        .server_name("anything.example");
    assert!(insecure.accepts_invalid_certs());
    let client = connect(&addr, &insecure).await.unwrap();
    assert_eq!(mul(&client, 5, 5).await.unwrap(), 25);
    client.close();
    assert!(connect(&addr, &trusting(&pki.ca)).await.is_err());
    handle.shutdown(Duration::from_secs(2)).await;
}

/// An XClient dials each server over TLS with the client options' TLS settings, checking
/// each server's own host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xclient_calls_tls_servers() {
    let pki = TestPki::generate();
    let (a, addr_a) = serve_pem(&pki.server).await;
    let (b, addr_b) = serve_pem(&pki.server).await;
    let servers = MultipleServers::new(vec![
        ServerEntry::new(addr_a, ""),
        ServerEntry::new(addr_b, ""),
    ]);
    let options = XClientOptions {
        client: ClientOptions::default().with_tls(trusting(&pki.ca).build().unwrap()),
        ..Default::default()
    };
    let xc = XClient::new("Arith", servers, options).unwrap();
    for i in 0..10 {
        let r: Reply = xc.call("Mul", &Args { a: i, b: 2 }).await.unwrap();
        assert_eq!(r.c, i * 2);
    }
    xc.close();
    a.shutdown(Duration::from_secs(2)).await;
    b.shutdown(Duration::from_secs(2)).await;
}

#[test]
fn bad_pem_is_a_clear_error() {
    let pki = TestPki::generate();
    let text = |e: Error| e.to_string();
    assert!(tls::server_config_from_pem(b"not a cert", b"nope").is_err());
    assert!(tls::client_config_from_pem(b"").is_err());
    let e = text(
        ServerTlsConfig::from_pem(b"junk".to_vec(), pki.server.key.clone())
            .build()
            .unwrap_err(),
    );
    assert!(
        e.contains("TLS certificate: no CERTIFICATE block found"),
        "{e}"
    );
    let e = text(
        ServerTlsConfig::from_pem(pki.server.cert.clone(), b"junk".to_vec())
            .build()
            .unwrap_err(),
    );
    assert!(
        e.contains("TLS private key: no PRIVATE KEY block found"),
        "{e}"
    );
    // A key that is not the certificate's.
    let e = text(
        ServerTlsConfig::from_pem(pki.server.cert.clone(), pki.client.key.clone())
            .build()
            .unwrap_err(),
    );
    assert!(e.contains("TLS certificate and key"), "{e}");
    let e = text(
        ClientTlsConfig::new()
            .ca_pem(b"junk".to_vec())
            .rustls_config()
            .unwrap_err(),
    );
    assert!(e.contains("TLS CA: no CERTIFICATE block found"), "{e}");
    let e = text(
        ClientTlsConfig::new()
            .ca_file("/nonexistent/ca.pem")
            .unwrap_err(),
    );
    assert!(e.contains("TLS CA file: /nonexistent/ca.pem"), "{e}");
    let e =
        text(ServerTlsConfig::from_files("/nonexistent/s.pem", "/nonexistent/s.key").unwrap_err());
    assert!(
        e.contains("TLS certificate file: /nonexistent/s.pem"),
        "{e}"
    );
    let e = text(
        trusting(&pki.ca)
            .server_name("not a name!")
            .rustls_config()
            .unwrap_err(),
    );
    assert!(e.contains("TLS server name \"not a name!\""), "{e}");
}

/// Files written by the test PKI load through the file variants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_files_load() {
    let pki = TestPki::generate();
    let dir = std::env::temp_dir().join(format!("rpcx-tls-files-{}", std::process::id()));
    pki.write_to(&dir).unwrap();
    let server_tls = ServerTlsConfig::from_files(dir.join("server.pem"), dir.join("server.key"))
        .unwrap()
        .client_ca_file(dir.join("ca.pem"), true)
        .unwrap();
    let (handle, addr) = serve(server_tls.build().unwrap()).await;
    let client_tls = ClientTlsConfig::new()
        .ca_file(dir.join("ca.pem"))
        .unwrap()
        .client_cert_files(dir.join("client.pem"), dir.join("client.key"))
        .unwrap();
    let client = connect(&addr, &client_tls).await.unwrap();
    assert_eq!(mul(&client, 11, 11).await.unwrap(), 121);
    client.close();
    handle.shutdown(Duration::from_secs(2)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TLS peer that sends requests and never reads the replies leaves the server's writer
/// stuck with TLS records unsent; shutting the server down must not wait on it forever (the
/// TLS close_notify can never be flushed to that peer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_when_a_tls_peer_never_reads() {
    use rpcx::protocol::{Message, SerializeType};
    use rpcx::transport::{dial_stream, Address};
    use tokio::io::AsyncWriteExt;

    let pki = TestPki::generate();
    let (handle, addr) = serve_pem(&pki.server).await;
    let addr = Address::parse(&addr).unwrap();

    let (stream, peer) = dial_stream(&addr, Duration::from_secs(5)).await.unwrap();
    let client_tls = tls::ClientTls {
        config: tls::client_config_from_pem(&pki.ca.cert).unwrap(),
        server_name: "localhost".into(),
    };
    let conn = tls::connect(&client_tls, stream, peer, Duration::from_secs(5))
        .await
        .unwrap();
    let (read, mut write) = (conn.read, conn.write);
    // Echo requests of 64 KiB until the server stops taking them (bounded count).
    let payload = vec![0x5au8; 64 << 10];
    for seq in 0..2_000u64 {
        let mut m = Message::request("Arith", "Echo", SerializeType::RAW, payload.clone());
        m.header.set_seq(seq);
        let frame = m.encode().unwrap();
        match tokio::time::timeout(Duration::from_secs(2), write.write_all(&frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("write failed: {e}"),
            Err(_) => break,
        }
    }
    let stopped = tokio::time::timeout(
        Duration::from_secs(20),
        handle.shutdown(Duration::from_millis(200)),
    )
    .await;
    assert!(
        stopped.is_ok(),
        "shutdown hung on a TLS peer that never reads"
    );
    drop((read, write));
}

/// Go's `wss` network: a WebSocket inside TLS. Our TLS server answers `wss@` (and `http@`, a
/// CONNECT inside TLS) on its port; a `wss@` client without TLS options is refused locally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_and_connect_tunnels_inside_tls() {
    let pki = TestPki::generate();
    let (handle, _) = serve_pem(&pki.server).await;
    let port = handle.port().unwrap();
    for target in [
        format!("wss@127.0.0.1:{port}"),
        format!("http@localhost:{port}"),
    ] {
        let client = connect(&target, &trusting(&pki.ca)).await.unwrap();
        assert_eq!(mul(&client, 6, 7).await.unwrap(), 42, "{target}");
        client.close();
    }
    let plain = Client::connect(&format!("wss@127.0.0.1:{port}"), ClientOptions::default()).await;
    let Err(e) = plain else {
        panic!("wss@ without TLS options connected")
    };
    let e = e.to_string();
    assert!(e.contains("needs TLS"), "{e}");
    handle.shutdown(Duration::from_secs(2)).await;
}
