//! The Arith example client: calls a running `arith_server` with every serialization.
//!
//! ```text
//! cargo run -p rpcx --example arith_client -- tcp@127.0.0.1:8972
//! ```
//!
//! Errors are printed for people (`arith_client: cannot connect to …`) with exit status 1;
//! bad arguments print the usage with exit status 2.

use rpcx::arith::{Args, Reply};
use rpcx::client::{CallOptions, Client, ClientOptions};
use rpcx::protocol::SerializeType;

const USAGE: &str = "usage: arith_client [ADDRESS]   (default tcp@127.0.0.1:8972)
Calls Arith.Mul and Arith.Div on a running arith_server (examples/rust/arith_server.rs, Go's
or Python's) with MsgPack, JSON and Protobuf, then Arith.Meta with request metadata.
ADDRESS is tcp@host:port, unix@/path (or tls@, ws@, … when the server speaks them).";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.as_slice() {
        [] => "tcp@127.0.0.1:8972".to_owned(),
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return;
        }
        [addr] if !addr.starts_with('-') => addr.clone(),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&addr).await {
        // Display, not Debug: the text is for people.
        eprintln!("arith_client: {addr}: {e}");
        std::process::exit(1);
    }
}

async fn run(addr: &str) -> Result<(), rpcx::Error> {
    for st in [
        SerializeType::MSGPACK,
        SerializeType::JSON,
        SerializeType::PROTOBUF,
    ] {
        let client = Client::connect(addr, ClientOptions::default().serialize_type(st)).await?;
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
    let client = Client::connect(addr, ClientOptions::default()).await?;
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
