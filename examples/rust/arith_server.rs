//! The Arith example server: `Arith.Mul`, `Arith.Add`, `Arith.Div`, `Arith.Echo` (and
//! `Sleep`, `Meta`, `Push`) answering JSON, MsgPack and Protobuf callers, the same object
//! also as `ProtoArith` (the Go examples' protobuf service name), and `Hello.Say` of the
//! benchmark workload.
//!
//! ```text
//! cargo run -p rpcx --example arith_server -- --addr tcp@127.0.0.1:8972 [--auth TOKEN]
//! ```
//! Prints `LISTENING <address>` once bound (port 0 picks a free port); SIGINT or SIGTERM
//! shuts it down gracefully.

use std::sync::Arc;
use std::time::Duration;

use rpcx::arith::Arith;
use rpcx::server::Server;

struct Args {
    addr: String,
    auth: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "tcp@127.0.0.1:8972".into(),
        auth: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => args.addr = it.next().ok_or("--addr needs a value")?,
            "--auth" => args.auth = Some(it.next().ok_or("--auth needs a value")?),
            "-h" | "--help" => {
                println!("usage: arith_server [--addr tcp@host:port|unix@/path] [--auth TOKEN]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("arith_server: {e}");
            std::process::exit(2);
        }
    };
    let mut builder = Server::builder();
    if let Some(token) = args.auth.clone() {
        builder = builder.auth(move |_req, got, _peer| {
            if got == token {
                Ok(())
            } else {
                Err("invalid token".to_owned())
            }
        });
    }
    let mut server = builder.build();
    let arith = Arc::new(Arith);
    let registered = server
        .register_object("Arith", Arc::clone(&arith))
        .and_then(|_| server.register_object("ProtoArith", arith))
        .and_then(|_| rpcx::benchmark::register(&mut server));
    if let Err(e) = registered {
        eprintln!("arith_server: {e}");
        std::process::exit(1);
    }
    let handle = match server.serve(&args.addr).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("arith_server: cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    println!("LISTENING {}", handle.local_address());
    wait_for_signal().await;
    eprintln!("arith_server: shutting down");
    handle.shutdown(Duration::from_secs(5)).await;
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
