//! The Arith example written with `#[derive(rpcx::Codable)]` and `#[rpcx::service]`: the
//! service is an `impl` block of plain functions, the client a generated `ArithClient`.
//!
//! ```text
//! cargo run -p rpcx --example arith_macros -- serve [--addr tcp@127.0.0.1:8972]
//! cargo run -p rpcx --example arith_macros -- call ADDR [--codec json|msgpack|protobuf|raw] [--service NAME]
//! ```
//!
//! `serve` answers `Arith.Mul`, `Arith.Add`, `Arith.Div` (`{"A":int,"B":int}` → `{"C":int}`,
//! B = 0: error "divide by zero") and `Arith.Echo` (bytes), the same methods also as
//! `ProtoArith` (the Go examples' protobuf service name), to JSON, MsgPack, Protobuf and raw
//! callers; it prints `LISTENING <address>` and stops on SIGINT or SIGTERM.
//!
//! `call` calls a server (this one, Go's, the C example's) with the typed client and checks
//! the replies: `Mul`, `Add`, `Div` and the divide-by-zero error text (`Echo` with
//! `--codec raw`). It prints one `PASS`/`FAIL` line per call and exits non-zero on a failure.
//! `--service` names the service (default `Arith`; Go's protobuf examples use `ProtoArith`).

use std::process::ExitCode;

use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::SerializeType;
use rpcx::server::Server;

/// Arguments of `Mul`, `Add` and `Div`: JSON/MsgPack `{"A":..,"B":..}` as Go's `Args`,
/// Protobuf fields 1 and 2 as Go's `ProtoArgs`.
#[derive(
    Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize, rpcx::Codable,
)]
#[serde(default, rename_all = "PascalCase")]
pub struct Args {
    #[prost(int64, tag = "1")]
    pub a: i64,
    #[prost(int64, tag = "2")]
    pub b: i64,
}

/// The reply: `{"C":..}`, Protobuf field 1.
#[derive(
    Clone, Copy, PartialEq, prost::Message, serde::Serialize, serde::Deserialize, rpcx::Codable,
)]
#[serde(default, rename_all = "PascalCase")]
pub struct Reply {
    #[prost(int64, tag = "1")]
    pub c: i64,
}

/// The service object; it holds no state.
pub struct Arith;

#[rpcx::service]
impl Arith {
    /// `Arith.Mul`: A * B (wrapping, as Go's int).
    pub fn mul(&self, args: Args) -> Reply {
        Reply {
            c: args.a.wrapping_mul(args.b),
        }
    }

    /// `Arith.Add`: A + B.
    pub fn add(&self, args: Args) -> Reply {
        Reply {
            c: args.a.wrapping_add(args.b),
        }
    }

    /// `Arith.Div`: A / B; B = 0 is the error "divide by zero".
    pub fn div(&self, args: Args) -> Result<Reply, &'static str> {
        match args.a.checked_div(args.b) {
            Some(c) => Ok(Reply { c }),
            None if args.b == 0 => Err("divide by zero"),
            None => Ok(Reply {
                c: args.a.wrapping_div(args.b),
            }),
        }
    }

    /// `Arith.Echo`: the bytes back (raw payloads; base64 in JSON as Go's `[]byte`).
    pub async fn echo(&self, data: Vec<u8>) -> Vec<u8> {
        data
    }
}

const USAGE: &str = "usage: arith_macros serve [--addr ADDR] | arith_macros call ADDR [--codec json|msgpack|protobuf|raw] [--service NAME]";

fn flag(args: &[String], name: &str) -> Result<Option<String>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .cloned()
            .map(Some)
            .ok_or_else(|| format!("{name} needs a value")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]).await,
        Some("call") => call(&args[1..]).await,
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("arith_macros: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(args: &[String]) -> Result<ExitCode, String> {
    let addr = flag(args, "--addr")?.unwrap_or_else(|| "tcp@127.0.0.1:8972".into());
    let mut server = Server::builder().build();
    server.register_service(Arith).map_err(|e| e.to_string())?;
    // The same object under the Go protobuf examples' name.
    server
        .register_object("ProtoArith", std::sync::Arc::new(Arith))
        .map_err(|e| e.to_string())?;
    let handle = server.serve(&addr).await.map_err(|e| e.to_string())?;
    println!("LISTENING {}", handle.local_address());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    handle.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(ExitCode::SUCCESS)
}

async fn call(args: &[String]) -> Result<ExitCode, String> {
    let addr = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or_else(|| USAGE.to_owned())?;
    let codec = flag(args, "--codec")?.unwrap_or_else(|| "json".into());
    let serialize_type = match codec.as_str() {
        "json" => SerializeType::JSON,
        "msgpack" => SerializeType::MSGPACK,
        "protobuf" => SerializeType::PROTOBUF,
        "raw" => SerializeType::RAW,
        other => return Err(format!("unknown codec {other:?}")),
    };
    let service = flag(args, "--service")?.unwrap_or_else(|| "Arith".into());
    let options = ClientOptions {
        serialize_type,
        default_timeout: Some(std::time::Duration::from_secs(10)),
        ..Default::default()
    };
    let client = Client::connect(addr, options)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let arith = ArithClient::with_service(client, service.clone());

    let mut failed = 0;
    let mut check = |what: String, ok: Result<(), String>| match ok {
        Ok(()) => println!("PASS {codec} {what}"),
        Err(e) => {
            failed += 1;
            println!("FAIL {codec} {what}: {e}");
        }
    };
    if serialize_type == SerializeType::RAW {
        let data: Vec<u8> = (0..=255).collect();
        let got = arith.echo(&data).await;
        check(
            format!("{service}.Echo(256 bytes)"),
            match got {
                Ok(back) if back == data => Ok(()),
                Ok(back) => Err(format!("{} different bytes back", back.len())),
                Err(e) => Err(e.to_string()),
            },
        );
    } else {
        let ab = Args { a: 7, b: 8 };
        let quotient = Args { a: 56, b: 8 };
        for (name, args, got, want) in [
            ("Mul", ab, arith.mul(&ab).await, 56),
            ("Add", ab, arith.add(&ab).await, 15),
            ("Div", quotient, arith.div(&quotient).await, 7),
        ] {
            check(
                format!("{service}.{name}({}, {}) = {want}", args.a, args.b),
                match got {
                    Ok(r) if r.c == want => Ok(()),
                    Ok(r) => Err(format!("got {}", r.c)),
                    Err(e) => Err(e.to_string()),
                },
            );
        }
        let err = arith.div(&Args { a: 1, b: 0 }).await;
        check(
            format!("{service}.Div(1, 0) fails with \"divide by zero\""),
            match err {
                Err(e) if e.server_message() == Some("divide by zero") => Ok(()),
                Err(e) => Err(format!("error {e}")),
                Ok(r) => Err(format!("succeeded with {}", r.c)),
            },
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
