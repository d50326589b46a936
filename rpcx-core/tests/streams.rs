//! Streams (`_streamservice.Stream`): a handler gets the raw side connection after the token;
//! an echo of 10,000 messages, metadata reaching the handler, the acceptor refusing, and
//! unknown, reused and missing tokens refused.

use std::collections::HashMap;
use std::time::Duration;

use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::SerializeType;
use rpcx::server::{Server, ServerHandle};
use rpcx::transfer::{
    SideHandle, SideOptions, StreamService, StreamServiceArgs, StreamServiceReply, STREAM_SERVICE,
};
use rpcx::xclient::{MultipleServers, XClient, XClientOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(60);

/// An echo service; a stream whose metadata has `greet` first gets that value and a newline.
async fn start(options: SideOptions) -> (ServerHandle, SideHandle) {
    let mut s = Server::builder().build();
    let side = StreamService::new(options, |args: StreamServiceArgs, conn, _peer| async move {
        let (mut r, mut w) = conn.into_split();
        if let Some(g) = args.meta.get("greet") {
            let _ = w.write_all(format!("{g}\n").as_bytes()).await;
        }
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = w.shutdown().await;
    })
    .acceptor(|_ctx, args| !args.meta.contains_key("deny"))
    .register(&mut s)
    .await
    .unwrap();
    (s.serve("tcp@127.0.0.1:0").await.unwrap(), side)
}

fn xclient(server: &ServerHandle, st: SerializeType) -> XClient {
    XClient::new(
        STREAM_SERVICE,
        MultipleServers::from_addresses([server.local_address().to_string()]),
        XClientOptions {
            client: ClientOptions::default().serialize_type(st),
            ..Default::default()
        },
    )
    .unwrap()
}

async fn closed_without_data(conn: &mut TcpStream) -> bool {
    let mut b = [0u8; 16];
    match tokio::time::timeout(BOUND, conn.read(&mut b)).await {
        Err(_) => panic!("side connection left open"),
        Ok(Ok(n)) => n == 0,
        Ok(Err(_)) => true,
    }
}

#[tokio::test]
async fn echoes_ten_thousand_messages() {
    let (server, _side) = start(SideOptions::default()).await;
    for st in [SerializeType::MSGPACK, SerializeType::JSON] {
        let xc = xclient(&server, st);
        let conn = xc.stream(HashMap::new()).await.unwrap();
        let (mut r, mut w) = conn.into_split();
        let writer = tokio::spawn(async move {
            for i in 0u32..10_000 {
                let msg = format!("message {i:05}");
                w.write_all(&(msg.len() as u32).to_be_bytes())
                    .await
                    .unwrap();
                w.write_all(msg.as_bytes()).await.unwrap();
            }
            w.shutdown().await.unwrap();
        });
        let reader = async {
            for i in 0u32..10_000 {
                let mut len = [0u8; 4];
                r.read_exact(&mut len).await.unwrap();
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                r.read_exact(&mut body).await.unwrap();
                assert_eq!(body, format!("message {i:05}").as_bytes());
            }
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
        };
        tokio::time::timeout(BOUND, reader).await.unwrap();
        tokio::time::timeout(BOUND, writer).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn metadata_reaches_the_handler_and_the_acceptor_refuses() {
    let (server, _side) = start(SideOptions::default()).await;
    let client = Client::connect(
        &server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let mut meta = HashMap::new();
    meta.insert("greet".to_string(), "hello".to_string());
    let mut conn = client.stream(STREAM_SERVICE, meta).await.unwrap();
    let mut line = [0u8; 6];
    tokio::time::timeout(BOUND, conn.read_exact(&mut line))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&line, b"hello\n");

    let mut meta = HashMap::new();
    meta.insert("deny".to_string(), "1".to_string());
    let e = client.stream(STREAM_SERVICE, meta).await.unwrap_err();
    assert_eq!(e.server_message(), Some("server refused the connection"));
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let (server, side) = start(SideOptions {
        handshake_timeout: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    // Unknown.
    let mut c = TcpStream::connect(side.local_addr()).await.unwrap();
    c.write_all(&[9u8; 32]).await.unwrap();
    c.write_all(b"ping").await.unwrap();
    assert!(closed_without_data(&mut c).await);
    // None (stalled).
    let mut c = TcpStream::connect(side.local_addr()).await.unwrap();
    assert!(closed_without_data(&mut c).await);
    // Reused: the first connection echoes, the second is refused.
    let client = Client::connect(
        &server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let reply: StreamServiceReply = client
        .call(STREAM_SERVICE, "Stream", &StreamServiceArgs::default())
        .await
        .unwrap();
    assert_eq!(reply.addr, side.reply_addr());
    let mut first = TcpStream::connect(&reply.addr).await.unwrap();
    first.write_all(&reply.token).await.unwrap();
    first.write_all(b"ping").await.unwrap();
    let mut pong = [0u8; 4];
    tokio::time::timeout(BOUND, first.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"ping");
    let mut second = TcpStream::connect(&reply.addr).await.unwrap();
    second.write_all(&reply.token).await.unwrap();
    second.write_all(b"ping").await.unwrap();
    assert!(closed_without_data(&mut second).await);
}

#[tokio::test]
async fn concurrency_limit_and_advertised_address() {
    let (server, side) = start(SideOptions {
        max_concurrent: 1,
        advertise_addr: Some("stream.example:1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(side.reply_addr(), "stream.example:1");
    let client = Client::connect(
        &server.local_address().to_string(),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let reply: StreamServiceReply = client
        .call(STREAM_SERVICE, "Stream", &StreamServiceArgs::default())
        .await
        .unwrap();
    assert_eq!(reply.addr, "stream.example:1");
    // Hold the only slot with a live stream, then a second connection is closed at once.
    let mut first = TcpStream::connect(side.local_addr()).await.unwrap();
    first.write_all(&reply.token).await.unwrap();
    first.write_all(b"x").await.unwrap();
    let mut one = [0u8; 1];
    tokio::time::timeout(BOUND, first.read_exact(&mut one))
        .await
        .unwrap()
        .unwrap();
    let mut second = TcpStream::connect(side.local_addr()).await.unwrap();
    assert!(closed_without_data(&mut second).await);
    // Closing the side listener ends the live stream too.
    side.close();
    assert!(closed_without_data(&mut first).await);
}
