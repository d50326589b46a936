//! Plugins: a logging plugin written here, the shipped `Metrics` collector and rate limiter.
//! Starts a server, makes a few calls, and prints the log lines and the Prometheus text.
//!
//! ```text
//! cargo run -p rpcx --example plugins
//! ```

use std::time::Duration;

use bytes::Bytes;
use rpcx::arith::{self, Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::server::plugins::RateLimit;
use rpcx::server::{Context, Metrics, Plugin, Server};

/// Logs connections and calls to stderr.
struct Logger;

impl Plugin for Logger {
    fn on_conn_accept(&self, peer: &str) -> bool {
        eprintln!("[log] accepted {peer}");
        true
    }
    fn on_conn_close(&self, peer: &str) {
        eprintln!("[log] closed {peer}");
    }
    fn after_call(&self, ctx: &Context, result: Result<&Bytes, &str>) {
        let took = ctx.received_at().elapsed();
        match result {
            Ok(reply) => eprintln!(
                "[log] {}.{} ok, {} bytes, {took:?}",
                ctx.service(),
                ctx.method(),
                reply.len()
            ),
            Err(e) => eprintln!(
                "[log] {}.{} error {e:?}, {took:?}",
                ctx.service(),
                ctx.method()
            ),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), rpcx::Error> {
    let metrics = Metrics::new();
    let mut server = Server::builder()
        .plugin(Logger)
        .plugin_arc(metrics.clone())
        .plugin(RateLimit::new(Duration::from_millis(1), 10_000))
        .build();
    arith::register(&mut server)?;
    let handle = server.serve("tcp@127.0.0.1:0").await?;

    let client = Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .await?;
    for i in 0..5 {
        let _: Reply = client.call("Arith", "Mul", &Args { a: i, b: 3 }).await?;
    }
    let _ = client
        .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
        .await;
    client.close();
    handle.shutdown(Duration::from_secs(1)).await;

    print!("{}", metrics.prometheus_text());
    let mul = metrics
        .snapshot()
        .into_iter()
        .find(|s| s.method == "Mul")
        .map(|s| s.calls);
    assert_eq!(mul, Some(5));
    Ok(())
}
