//! Plugins: a logging plugin written here, the shipped `Metrics` collector and rate limiter,
//! and interceptors on both sides (the client attaches a trace id, the server checks it and
//! tags replies). Starts a server, makes a few calls, and prints the log lines and the
//! Prometheus text.
//!
//! ```text
//! cargo run -p rpcx --example plugins
//! ```

use std::time::Duration;

use bytes::Bytes;
use rpcx::arith::{self, Args, Reply};
use rpcx::client::{CallOptions, Client, ClientCall, ClientInterceptor, ClientOptions};
use rpcx::server::plugins::RateLimit;
use rpcx::server::{Context, Interceptor, Metrics, Plugin, Server};

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

/// Attaches a trace id to every call.
struct TraceIds;

impl ClientInterceptor for TraceIds {
    fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
        call.set_meta(
            "trace-id",
            format!("{}-{}", call.method(), std::process::id()),
        );
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    if let Some(arg) = std::env::args().nth(1) {
        let help = arg == "-h" || arg == "--help";
        let usage = "usage: plugins   (no arguments)\nStarts an Arith server on a free loopback \
                     port with a logging plugin, metrics, a rate limiter and interceptors, makes a \
                     few calls and prints the log lines and the Prometheus text.";
        if help {
            println!("{usage}");
            return;
        }
        eprintln!("{usage}");
        std::process::exit(2);
    }
    if let Err(e) = run().await {
        eprintln!("plugins: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), rpcx::Error> {
    let metrics = Metrics::new();
    // Refuses calls without a trace id; tags every reply with the trace id it served.
    let tracing = Interceptor::new()
        .before(|ctx| match ctx.meta("trace-id") {
            Some(_) => Ok(()),
            None => Err("no trace-id".to_owned()),
        })
        .after(|ctx, _result| {
            let id = ctx.meta("trace-id").unwrap_or("").to_owned();
            ctx.set_reply_meta("traced", id);
        });
    let mut server = Server::builder()
        .plugin(Logger)
        .plugin_arc(metrics.clone())
        .plugin(RateLimit::new(Duration::from_millis(1), 10_000))
        .plugin(tracing)
        .build();
    arith::register(&mut server)?;
    let handle = server.serve("tcp@127.0.0.1:0").await?;

    let address = handle.local_address().to_string();
    let client = Client::connect(&address, ClientOptions::default().interceptor(TraceIds)).await?;
    for i in 0..5 {
        let _: Reply = client.call("Arith", "Mul", &Args { a: i, b: 3 }).await?;
    }
    let _ = client
        .call::<_, Reply>("Arith", "Div", &Args { a: 1, b: 0 })
        .await;
    let traced = client
        .call_with::<_, Reply>("Arith", "Mul", &Args { a: 2, b: 3 }, CallOptions::default())
        .await?;
    eprintln!("[log] reply traced as {:?}", traced.metadata.get("traced"));
    assert!(traced.metadata.contains_key("traced"));
    client.close();
    // Without the client interceptor the server's interceptor refuses the call.
    let bare = Client::connect(&address, ClientOptions::default()).await?;
    let refused = bare
        .call::<_, Reply>("Arith", "Mul", &Args { a: 1, b: 1 })
        .await
        .unwrap_err();
    assert_eq!(refused.server_message(), Some("no trace-id"));
    bare.close();
    handle.shutdown(Duration::from_secs(1)).await;

    print!("{}", metrics.prometheus_text());
    let mul = metrics
        .snapshot()
        .into_iter()
        .find(|s| s.method == "Mul")
        .map(|s| s.calls);
    assert_eq!(mul, Some(7), "5 calls, the traced one and the refused one");
    Ok(())
}
