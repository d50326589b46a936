//! Smoke test: a server and a client agree on every serialization.

use rpcx::arith::{self, Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::SerializeType;
use rpcx::server::Server;

#[tokio::test]
async fn arith_over_every_serialization() {
    let mut server = Server::builder().build();
    arith::register(&mut server).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = handle.local_address().to_string();
    for st in [
        SerializeType::JSON,
        SerializeType::MSGPACK,
        SerializeType::PROTOBUF,
    ] {
        let client = Client::connect(&addr, ClientOptions::default().serialize_type(st))
            .await
            .unwrap();
        let r: Reply = client
            .call("Arith", "Mul", &Args { a: 7, b: 8 })
            .await
            .unwrap();
        assert_eq!(r.c, 56, "{st}");
        let e = client
            .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
            .await
            .unwrap_err();
        assert_eq!(e.server_message(), Some("divide by zero"));
        client.close();
    }
    handle.shutdown(std::time::Duration::from_secs(1)).await;
}
