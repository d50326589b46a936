//! `rpcx-bench`: benchmark programs.
//!
//! - `rpcx-bench server [--addr tcp@127.0.0.1:0]`: serves `Hello.Say` (and Arith); prints
//!   `LISTENING <addr>`; stops on SIGINT/SIGTERM.
//! - `rpcx-bench client --addr A [-c 100] [--pool 10] [-n N | -d SECONDS] [--warmup 5] [--raw]
//!   [--direct]`: the community workload (581-byte protobuf `Hello.Say`); prints one JSON line
//!   with the same fields as the Go benchclient. Like the Go client, the pool holds XClients
//!   over the one server with Failtry + RoundRobin (`--direct`: plain clients), and every call
//!   encodes the request message,
//!   decodes the reply and checks `field1 == "OK"`, `field2 == 100`; `--raw` sends the
//!   pre-encoded bytes and does not decode the reply.
//! - `--otel off|unsampled|sampled` (server and client): OpenTelemetry propagation
//!   (`rpcx::otel`) with spans not sampled or sampled into a discarding exporter; `hooks` and
//!   `header` take its cost apart (see `otel`).
//! - `rpcx-bench limit-server [--addr tcp@127.0.0.1:0]`: a minimal tokio loop answering every
//!   frame with a prebuilt `Hello.Say` reply frame (no rpcx dispatch): the machine's floor.
//! - `rpcx-bench echo-matrix [-d SECONDS]`: in-process server and client, 581-byte raw echo at
//!   concurrency 1, 100, 1000 over 1 and 10 connections; prints a table.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod limit;
mod load;
mod otel;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use load::{Budget, Work};
use rpcx::client::RawRequest;
use rpcx::protocol::{Metadata, SerializeType};
use rpcx::server::Server;

struct Opts {
    addr: String,
    concurrency: usize,
    pool: usize,
    budget: Budget,
    warmup: usize,
    raw: bool,
    direct: bool,
    otel: otel::Mode,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        addr: "tcp@127.0.0.1:0".into(),
        concurrency: 100,
        pool: 10,
        budget: Budget::Duration(Duration::from_secs(10)),
        warmup: 5,
        raw: false,
        direct: false,
        otel: otel::Mode::Off,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--addr" => o.addr = val()?,
            "-c" => o.concurrency = val()?.parse().map_err(|e| format!("-c: {e}"))?,
            "--pool" => o.pool = val()?.parse().map_err(|e| format!("--pool: {e}"))?,
            "-n" => o.budget = Budget::Requests(val()?.parse().map_err(|e| format!("-n: {e}"))?),
            "-d" => {
                let s: f64 = val()?.parse().map_err(|e| format!("-d: {e}"))?;
                if !(s > 0.0 && s <= 3600.0) {
                    return Err("-d must be in (0, 3600] seconds".into());
                }
                o.budget = Budget::Duration(Duration::from_secs_f64(s));
            }
            "--warmup" => o.warmup = val()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--raw" => o.raw = true,
            "--direct" => o.direct = true,
            "--otel" => o.otel = val()?.parse()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

fn server(tracing: otel::Mode) -> Result<Server, rpcx::Error> {
    let mut builder = Server::builder();
    if let Some(plugin) = otel::server_plugin(tracing) {
        builder = builder.plugin_arc(plugin);
    }
    let mut s = builder.build();
    rpcx::benchmark::register(&mut s)?;
    rpcx::arith::register(&mut s)?;
    Ok(s)
}

fn say_request() -> RawRequest {
    RawRequest {
        service: "Hello".into(),
        method: "Say".into(),
        serialize_type: SerializeType::PROTOBUF,
        metadata: Metadata::new(),
        payload: rpcx::benchmark::BenchmarkMessage::filled_bytes(),
        timeout: None,
    }
}

async fn run_server(o: Opts) -> Result<(), String> {
    let handle = server(o.otel)
        .map_err(|e| e.to_string())?
        .serve(&o.addr)
        .await
        .map_err(|e| e.to_string())?;
    println!("LISTENING {}", handle.local_address());
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    handle.shutdown(Duration::from_secs(2)).await;
    Ok(())
}

async fn run_client(o: Opts) -> Result<(), String> {
    let clients = if o.direct {
        load::connect_pool(&o.addr, o.pool, otel::client_interceptor(o.otel)).await
    } else {
        load::xclient_pool(&o.addr, o.pool, otel::client_interceptor(o.otel))
    }
    .map_err(|e| e.to_string())?;
    let work = if o.raw {
        Work::Raw(say_request())
    } else {
        Work::Say(std::sync::Arc::new(
            rpcx::benchmark::BenchmarkMessage::filled(),
        ))
    };
    let stats = load::run(&clients, work, o.concurrency, o.budget, o.warmup).await?;
    println!("{}", stats.to_json(o.concurrency, o.pool));
    if stats.errors > 0 {
        return Err(format!("{} calls failed", stats.errors));
    }
    Ok(())
}

async fn echo_matrix(o: Opts) -> Result<(), String> {
    let handle = server(o.otel)
        .map_err(|e| e.to_string())?
        .serve("tcp@127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = handle.local_address().to_string();
    let echo = RawRequest {
        service: "Arith".into(),
        method: "Echo".into(),
        serialize_type: SerializeType::RAW,
        metadata: Metadata::new(),
        payload: Bytes::from(vec![0x5au8; 581]),
        timeout: None,
    };
    println!(
        "581-byte echo, in-process server and client on one runtime, {:?} per cell",
        o.budget
    );
    println!(
        "{:>6} {:>11} {:>12} {:>9} {:>9} {:>7}",
        "conns", "concurrency", "calls/s", "p50 ms", "p99 ms", "errors"
    );
    for conns in [1usize, 10] {
        let clients = load::connect_pool(&addr, conns, otel::client_interceptor(o.otel))
            .await
            .map_err(|e| e.to_string())?;
        for c in [1usize, 100, 1000] {
            let s = load::run(&clients, Work::Raw(echo.clone()), c, o.budget, 5).await?;
            println!(
                "{:>6} {:>11} {:>12.0} {:>9.3} {:>9.3} {:>7}",
                conns,
                c,
                s.rps(),
                s.percentile_ms(50.0),
                s.percentile_ms(99.0),
                s.errors
            );
        }
        for cl in clients {
            cl.close();
        }
    }
    handle.shutdown(Duration::from_secs(2)).await;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("usage: rpcx-bench server|limit-server|client|echo-matrix [options]");
        return ExitCode::from(2);
    };
    let opts = match parse(&args[1..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("rpcx-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rpcx-bench: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async {
        match cmd.as_str() {
            "server" => run_server(opts).await,
            "limit-server" => limit::run(&opts.addr).await,
            "client" => run_client(opts).await,
            "echo-matrix" => echo_matrix(opts).await,
            other => Err(format!("unknown command {other:?}")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rpcx-bench: {e}");
            ExitCode::from(1)
        }
    }
}
