//! `rpcx`: call rpcx services from the command line.
//!
//! ```text
//! rpcx call tcp@127.0.0.1:8972 Arith.Mul '{"A":7,"B":8}'
//! rpcx call --codec raw tcp@127.0.0.1:8972 Arith.Echo 'hello'
//! echo '{"A":7,"B":8}' | rpcx call tcp@127.0.0.1:8972 Arith.Mul -      # ARGS from stdin
//! rpcx call --codec raw --output raw tcp@127.0.0.1:8972 Arith.Echo @photo.jpg > copy.jpg
//! rpcx call --output hex tcp@127.0.0.1:8972 Arith.Mul '{"A":7,"B":8}'   # the reply's bytes
//! rpcx call --proto examples/proto/arith.proto tcp@127.0.0.1:8972 ProtoArith.Mul '{"A":7,"B":8}'
//! rpcx call --etcd http://127.0.0.1:2379 --base-path /rpcx_test --select round-robin Arith.Mul '{"A":7,"B":8}'
//! rpcx list --etcd http://127.0.0.1:2379 --base-path /rpcx_test [Arith]
//! rpcx list tcp@127.0.0.1:8972 [Arith]          # Go's reflection service: services, methods
//! rpcx describe tcp@127.0.0.1:8972 [Arith]      # its Go source-like description
//! rpcx call --redis 127.0.0.1:6379 --base-path rpcx_test Arith.Mul '{"A":7,"B":8}'
//! rpcx list --redis 127.0.0.1:6379 --base-path rpcx_test [Arith]
//! rpcx call --zookeeper 127.0.0.1:2181 --base-path /rpcx_test Arith.Mul '{"A":7,"B":8}'
//! rpcx list --zookeeper 127.0.0.1:2181 --base-path /rpcx_test [Arith]
//! rpcx call --dns arith.example.internal:8972 [--dns-server 10.0.0.2:53] Arith.Mul '{"A":7,"B":8}'
//! rpcx call --tls-ca ca.pem [--tls-cert client.pem --tls-key client.key] tcp@127.0.0.1:8972 Arith.Mul '{"A":7,"B":8}'
//! rpcx call ws@127.0.0.1:8972 Arith.Mul '{"A":7,"B":8}'      # rpcx in a WebSocket (http@: CONNECT)
//! rpcx upload tcp@127.0.0.1:8972 ./report.pdf               # Go's SendFile (_filetransfer)
//! rpcx download tcp@127.0.0.1:8972 report.pdf -o copy.pdf  # Go's DownloadFile (-o - : stdout)
//! ```
//! With `--etcd` (or `--consul`, `--redis`, `--zookeeper`, or `--dns NAME:PORT`: every A/AAAA record of NAME is a server
//! on PORT) the servers come from the registry and the call goes through an XClient with the
//! given select and fail modes; no address is given then.
//! Arguments are JSON (sent as JSON or converted to MsgPack) or raw bytes, given on the command
//! line, as `-` (standard input) or as `@FILE` (`@@…` for a literal leading `@`; see
//! [`input`]); the reply is printed as JSON, or as `--output raw|hex|base64` asks (see
//! [`call::render`]). `--proto FILE` (with `--import-path DIR`) compiles .proto files
//! in-process and calls with protobuf, converting the request from JSON and the reply to JSON
//! with the messages of the file's `service` named like the rpcx service (see [`proto`]).
//! On error a line goes to stderr — `error: server error: <the server's text>` when
//! the server answered with an error, `error: <what went wrong here>` otherwise — and the exit
//! status says which (see [`failure::Failure`]): 0 success, 1 anything else (a reply that cannot be
//! decoded, a local file error), 2 usage (unknown flags, missing or extra arguments), 3 the
//! server could not be reached or no server was found, 4 the call timed out, 5 the server
//! answered with an error, 6 bad local input (arguments that are not JSON, metadata,
//! an address, a timeout, flags that do not go together).
//! `--tls-*` connect to the servers over TLS (mutual TLS with `--tls-cert`/`--tls-key`);
//! `--registry-tls-*` do the same for the etcd or Consul connection (an `https://` registry
//! URL alone means TLS trusting the system's CA bundle).

mod call;
mod cli;
mod failure;
mod input;
mod list;
mod proto;
mod reflect;
mod registry;
mod tls;
mod transfer;
mod validate;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

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
        Command::Call(args) => match rt.block_on(call::call(*args)) {
            Ok(out) => {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                match stdout.write_all(&out).and_then(|_| stdout.flush()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => failure::Failure::Other(format!("standard output: {e}")).exit(),
                }
            }
            Err(e) => e.exit(),
        },
        Command::Upload(args) => transfer::report(rt.block_on(transfer::upload(*args))),
        Command::Download(args) => transfer::report(rt.block_on(transfer::download(*args))),
        Command::Describe(args) => match rt.block_on(reflect::describe(*args)) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => e.exit(),
        },
        Command::List(args) => match rt.block_on(list::list(*args)) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => e.exit(),
        },
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write;
            // Into memory first: clap_complete panics when its writer fails (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "rpcx", &mut script);
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&script).and_then(|_| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => failure::Failure::Other(format!("standard output: {e}")).exit(),
            }
        }
    }
}
