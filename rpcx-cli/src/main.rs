//! `rpcx`: call rpcx services from the command line.
//!
//! ```text
//! rpcx call tcp@127.0.0.1:8972 Arith.Mul '{"A":7,"B":8}'
//! rpcx call --codec raw tcp@127.0.0.1:8972 Arith.Echo 'hello'
//! ```
//! Arguments are JSON (sent as JSON or converted to MsgPack) or raw text; the reply is printed
//! as JSON. On error the server's message goes to stderr and the exit status is 1.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use rpcx::client::{Client, ClientOptions, RawRequest};
use rpcx::codec::Codable;
use rpcx::protocol::{Metadata, SerializeType};

#[derive(Parser)]
#[command(
    name = "rpcx",
    version,
    about = "Call rpcx services (Go rpcx compatible)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call Service.Method on a server and print the reply as JSON.
    Call(CallArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Codec {
    Json,
    Msgpack,
    Raw,
}

#[derive(clap::Args)]
struct CallArgs {
    /// Server address: tcp@host:port, host:port or unix@/path.
    address: String,
    /// Service.Method (split at the last dot).
    target: String,
    /// Arguments: JSON for json/msgpack, text for raw. Default `{}` (empty for raw).
    args: Option<String>,
    /// Serialization on the wire.
    #[arg(long, value_enum, default_value = "json")]
    codec: Codec,
    /// Request metadata pair (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Call timeout in seconds (also sent as __ServerTimeout).
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Auth token, sent as __AUTH.
    #[arg(long)]
    auth: Option<String>,
    /// gzip the request when it is larger than 1 KiB.
    #[arg(long)]
    gzip: bool,
    /// Also print the response metadata (to stderr).
    #[arg(long, short)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rpcx: cannot start runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Call(args) => match rt.block_on(call(args)) {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
    }
}

async fn call(a: CallArgs) -> Result<String, String> {
    let (service, method) = a
        .target
        .rsplit_once('.')
        .filter(|(s, m)| !s.is_empty() && !m.is_empty())
        .ok_or_else(|| format!("target {:?} must be Service.Method", a.target))?;
    let mut metadata = Metadata::new();
    for kv in &a.meta {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--meta {kv:?} must be KEY=VALUE"))?;
        metadata.insert(k.to_owned(), v.to_owned());
    }
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        return Err("--timeout must be a positive number of seconds".into());
    }
    let timeout = Duration::from_secs_f64(a.timeout);
    let st = match a.codec {
        Codec::Json => SerializeType::JSON,
        Codec::Msgpack => SerializeType::MSGPACK,
        Codec::Raw => SerializeType::RAW,
    };
    let payload = encode_args(a.codec, a.args.as_deref())?;
    let mut options = ClientOptions::default()
        .serialize_type(st)
        .gzip(a.gzip)
        .connect_timeout(timeout.min(Duration::from_secs(5)));
    if let Some(t) = a.auth {
        options = options.auth(t);
    }
    let client = Client::connect(&a.address, options)
        .await
        .map_err(|e| e.to_string())?;
    let resp = client
        .call_raw(RawRequest {
            service: service.to_owned(),
            method: method.to_owned(),
            serialize_type: st,
            metadata,
            payload,
            timeout: Some(timeout),
        })
        .await
        .map_err(|e| e.to_string())?;
    client.close();
    if a.verbose {
        for (k, v) in &resp.metadata {
            eprintln!("meta {k}={v}");
        }
    }
    decode_reply(a.codec, &resp.payload)
}

fn encode_args(codec: Codec, args: Option<&str>) -> Result<Bytes, String> {
    if let Codec::Raw = codec {
        return Ok(Bytes::from(args.unwrap_or("").as_bytes().to_vec()));
    }
    let value: serde_json::Value = serde_json::from_str(args.unwrap_or("{}"))
        .map_err(|e| format!("arguments are not valid JSON: {e}"))?;
    let st = if let Codec::Json = codec {
        SerializeType::JSON
    } else {
        SerializeType::MSGPACK
    };
    let mut out = Vec::new();
    value.encode_as(st, &mut out).map_err(|e| e.to_string())?;
    Ok(out.into())
}

fn decode_reply(codec: Codec, payload: &[u8]) -> Result<String, String> {
    let st = match codec {
        Codec::Raw => {
            return Ok(match std::str::from_utf8(payload) {
                Ok(s) => s.to_owned(),
                Err(_) => payload.iter().map(|b| format!("{b:02x}")).collect(),
            })
        }
        Codec::Json => SerializeType::JSON,
        Codec::Msgpack => SerializeType::MSGPACK,
    };
    if payload.is_empty() {
        return Ok("null".into());
    }
    let v = serde_json::Value::decode_as(st, payload).map_err(|e| format!("reply: {e}"))?;
    Ok(v.to_string())
}
