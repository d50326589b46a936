//! The Arith example client: calls a running `arith_server` with every serialization.
//!
//! ```text
//! cargo run -p rpcx --example arith_client -- tcp@127.0.0.1:8972
//! ```

use rpcx::arith::{Args, Reply};
use rpcx::client::{CallOptions, Client, ClientOptions};
use rpcx::protocol::SerializeType;

#[tokio::main]
async fn main() -> Result<(), rpcx::Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp@127.0.0.1:8972".into());
    for st in [
        SerializeType::MSGPACK,
        SerializeType::JSON,
        SerializeType::PROTOBUF,
    ] {
        let client = Client::connect(&addr, ClientOptions::default().serialize_type(st)).await?;
        let r: Reply = client.call("Arith", "Mul", &Args { a: 7, b: 8 }).await?;
        println!("rust client ({st:>8}): Arith.Mul(7, 8) = {}", r.c);
        match client
            .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
            .await
        {
            Err(e) => println!("rust client ({st:>8}): Arith.Div(1, 0) failed: {e}"),
            Ok(r) => println!(
                "rust client ({st:>8}): Arith.Div(1, 0) = {} (unexpected)",
                r.c
            ),
        }
        client.close();
    }
    let client = Client::connect(&addr, ClientOptions::default()).await?;
    let resp = client
        .call_with::<_, Reply>(
            "Arith",
            "Meta",
            &Args::default(),
            CallOptions::default().meta("trace", "demo-1"),
        )
        .await?;
    println!(
        "rust client: metadata round trip: echo-trace = {:?}",
        resp.metadata.get("echo-trace")
    );
    Ok(())
}
