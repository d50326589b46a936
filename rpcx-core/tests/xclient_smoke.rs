//! XClient smoke tests: failover past a dead server, broadcast and fork over live ones; a
//! peer-to-peer discovery.

use rpcx::arith::{self, Args, Reply};
use rpcx::server::Server;
use rpcx::xclient::{FailMode, MultipleServers, Peer, SelectMode, XClient, XClientOptions};

async fn start() -> rpcx::server::ServerHandle {
    let mut s = Server::builder().build();
    arith::register(&mut s).unwrap();
    s.serve("tcp@127.0.0.1:0").await.unwrap()
}

#[tokio::test]
async fn failover_skips_a_dead_server_and_broadcast_reaches_all() {
    let a = start().await;
    let b = start().await;
    // a port nobody listens on
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp@{}", l.local_addr().unwrap())
    };
    let servers = MultipleServers::from_addresses([
        a.local_address().to_string(),
        b.local_address().to_string(),
        dead.clone(),
    ]);
    let xc = XClient::new(
        "Arith",
        servers.clone(),
        XClientOptions {
            fail_mode: FailMode::Failover,
            select_mode: SelectMode::RoundRobin,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..30 {
        let r: Reply = xc.call("Mul", &Args { a: i, b: 2 }).await.unwrap();
        assert_eq!(r.c, i * 2);
    }
    let e = xc
        .call::<_, Reply>("Div", &Args { a: 1, b: 0 })
        .await
        .unwrap_err();
    assert_eq!(e.server_message(), Some("divide by zero"));

    servers.update(vec![
        rpcx::xclient::ServerEntry::new(a.local_address().to_string(), ""),
        rpcx::xclient::ServerEntry::new(b.local_address().to_string(), ""),
    ]);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(xc.servers().len(), 2);
    let r: Reply = xc.broadcast("Add", &Args { a: 1, b: 2 }).await.unwrap();
    assert_eq!(r.c, 3);
    let receipts = xc
        .inform::<_, Reply>("Add", &Args { a: 2, b: 2 })
        .await
        .unwrap();
    assert_eq!(receipts.len(), 2);
    assert!(receipts.iter().all(|r| r.result.as_ref().unwrap().c == 4));
    let r: Reply = xc.fork("Mul", &Args { a: 3, b: 3 }).await.unwrap();
    assert_eq!(r.c, 9);

    let ff = XClient::new(
        "Arith",
        MultipleServers::from_addresses([dead]),
        XClientOptions {
            fail_mode: FailMode::Failfast,
            ..Default::default()
        },
    )
    .unwrap();
    let e = ff
        .call::<_, Reply>("Mul", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    xc.close();
    a.shutdown(std::time::Duration::from_secs(1)).await;
    b.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn peer_discovery_calls_its_one_server() {
    let a = start().await;
    let peer = Peer::new(a.local_address().to_string(), "weight=3");
    let xc = XClient::new("Arith", peer, XClientOptions::default()).unwrap();
    assert_eq!(
        xc.servers(),
        [rpcx::xclient::ServerEntry::new(
            a.local_address().to_string(),
            "weight=3"
        )]
    );
    let r: Reply = xc.call("Mul", &Args { a: 6, b: 7 }).await.unwrap();
    assert_eq!(r.c, 42);
    let r: Reply = xc.broadcast("Add", &Args { a: 1, b: 1 }).await.unwrap();
    assert_eq!(r.c, 2);
    xc.close();
    a.shutdown(std::time::Duration::from_secs(1)).await;
}
