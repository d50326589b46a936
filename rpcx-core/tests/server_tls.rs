//! TLS (feature `tls`): a TLS server answers TLS clients and refuses plain ones; a client
//! checks the server's name. Run with `cargo test -p rpcx --features tls --test server_tls`.
#![cfg(feature = "tls")]

use std::time::Duration;

use rpcx::arith::{self, Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::server::Server;
use rpcx::transport::tls;

fn certificate() -> (Vec<u8>, Vec<u8>) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (
        c.cert.pem().into_bytes(),
        c.key_pair.serialize_pem().into_bytes(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip_and_refusals() {
    let (cert, key) = certificate();
    let mut server = Server::builder()
        .tls(tls::server_config_from_pem(&cert, &key).unwrap())
        .build();
    arith::register(&mut server).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = handle.local_address().to_string();
    let ca = tls::client_config_from_pem(&cert).unwrap();

    let client = Client::connect(&addr, ClientOptions::default().tls(ca.clone(), "localhost"))
        .await
        .unwrap();
    for i in 0..20 {
        let r: Reply = client
            .call("Arith", "Mul", &Args { a: i, b: 3 })
            .await
            .unwrap();
        assert_eq!(r.c, i * 3);
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

#[test]
fn bad_pem_is_a_clear_error() {
    assert!(tls::server_config_from_pem(b"not a cert", b"nope").is_err());
    assert!(tls::client_config_from_pem(b"").is_err());
}

/// A TLS peer that sends requests and never reads the replies leaves the server's writer
/// stuck with TLS records unsent; shutting the server down must not wait on it forever (the
/// TLS close_notify can never be flushed to that peer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_when_a_tls_peer_never_reads() {
    use rpcx::protocol::{Message, SerializeType};
    use rpcx::transport::{dial_stream, Address};
    use tokio::io::AsyncWriteExt;

    let (cert, key) = certificate();
    let mut server = Server::builder()
        .tls(tls::server_config_from_pem(&cert, &key).unwrap())
        .build();
    arith::register(&mut server).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = Address::parse(&handle.local_address().to_string()).unwrap();

    let (stream, peer) = dial_stream(&addr, Duration::from_secs(5)).await.unwrap();
    let client_tls = tls::ClientTls {
        config: tls::client_config_from_pem(&cert).unwrap(),
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
