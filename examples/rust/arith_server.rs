//! The Arith example server: `Arith.Mul`, `Arith.Add`, `Arith.Div`, `Arith.Echo` (and
//! `Sleep`, `Meta`, `Push`) answering JSON, MsgPack and Protobuf callers, the same object
//! also as `ProtoArith` (the Go examples' protobuf service name), and `Hello.Say` of the
//! benchmark workload.
//!
//! ```text
//! cargo run -p rpcx --example arith_server -- --addr tcp@127.0.0.1:8972 [--auth TOKEN]
//! cargo run -p rpcx --features etcd --example arith_server -- --addr tcp@127.0.0.1:0 \
//!     --etcd http://127.0.0.1:2379 --base-path /rpcx_test [--meta 'weight=2&group=blue']
//! cargo run -p rpcx --features redis --example arith_server -- --addr tcp@127.0.0.1:0 \
//!     --redis 127.0.0.1:6379 --base-path rpcx_test
//! cargo run -p rpcx --features zookeeper --example arith_server -- --addr tcp@127.0.0.1:0 \
//!     --zookeeper 127.0.0.1:2181 --base-path /rpcx_test
//! cargo run -p rpcx --features tls --example arith_server -- --addr tcp@127.0.0.1:8972 \
//!     --tls-cert server.pem --tls-key server.key [--tls-client-ca ca.pem]
//! ```
//! With `--tls-cert` and `--tls-key` (PEM files; needs the `tls` feature) it serves TLS;
//! `--tls-client-ca` adds mutual TLS: clients must present a certificate signed by that CA.
//! Prints `LISTENING <address>` once bound (port 0 picks a free port); SIGINT or SIGTERM
//! shuts it down gracefully. With `--etcd` (comma-separated endpoints; needs the `etcd`
//! feature) every service is registered under the base path as Go's etcd plugin does, with
//! the bound address as the server key and `--meta` as metadata, and `REGISTERED` is printed
//! once written; shutdown deletes the node keys. `--redis HOST:PORT` (needs the `redis`
//! feature) does the same in Redis, in the layout of Go's `RedisRegisterPlugin` (update
//! interval 30 s), and `--zookeeper HOST:PORT[,HOST:PORT]` (needs the `zookeeper` feature)
//! in ZooKeeper, in the layout of Go's rpcx-zookeeper plugin (ephemeral nodes, update
//! interval 30 s); any of them may be given together.
//!
//! Compressed calls: gzip (type 1) always; built with the `snappy` feature
//! (`cargo run -p rpcx --features snappy --example arith_server`) it also answers snappy calls
//! of compress type 2 (a Go client sets `protocol.Compressors[2] = &protocol.SnappyCompressor{}`
//! and `CompressType: 2`), replying to a large one with snappy too.
//!
//! File transfer and streams: `--files DIR` registers `_filetransfer` (uploads saved under
//! DIR, downloads served from it; see `rpcx::transfer` for the limits and path rules) and
//! `--stream-echo` registers `_streamservice` echoing every stream back. Their side listeners
//! bind the host of `--addr` on a free port (printed as `FILES host:port` and
//! `STREAMS host:port`).

use std::sync::Arc;
use std::time::Duration;

use rpcx::arith::Arith;
use rpcx::server::Server;

struct Args {
    addr: String,
    auth: Option<String>,
    etcd: Option<String>,
    redis: Option<String>,
    zookeeper: Option<String>,
    base_path: String,
    meta: String,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    tls_client_ca: Option<String>,
    files: Option<String>,
    stream_echo: bool,
    reflection: bool,
}

/// The rest of `--help`: defaults, then every method with its argument and reply shapes.
const HELP_METHODS: &str = "\
Serves on --addr (default tcp@127.0.0.1:8972; port 0 picks a free port), prints
LISTENING <address>, and stops gracefully on SIGINT (Ctrl-C) or SIGTERM.

Methods (JSON and MsgPack keys as shown; Protobuf fields A=1, B=2, C=1):
  Arith.Mul   {\"A\":int,\"B\":int} -> {\"C\":A*B}
  Arith.Add   {\"A\":int,\"B\":int} -> {\"C\":A+B}
  Arith.Div   {\"A\":int,\"B\":int} -> {\"C\":A/B}      B = 0: error \"divide by zero\"
  Arith.Echo  any bytes -> the same bytes            raw (SerializeType 0); JSON: a base64 string
  Arith.Sleep {\"Ms\":int} -> {\"C\":Ms}             after sleeping Ms milliseconds (cut at the caller's timeout)
  Arith.Meta  {\"A\":int,\"B\":int} -> {\"C\":number of request metadata pairs},
              each pair k=v echoed as reply metadata echo-k=v
  Arith.Push  {\"Count\":int,\"Data\":string} -> {\"C\":Count}, after pushing Push.Data
              with payload Data to the caller Count times
  ProtoArith.*  the same methods under the Go protobuf examples' service name
  Hello.Say   BenchmarkMessage (Protobuf, the rpcx benchmark workload) -> the message with
              field1 = \"OK\", field2 = 100
With --files DIR: _filetransfer (upload and download, side listener printed as FILES host:port);
with --stream-echo: _streamservice echoing every stream (printed as STREAMS host:port);
with --reflection: Go's reflection service (rpcx list ADDRESS, rpcx describe ADDRESS).

Try it: rpcx call tcp@127.0.0.1:8972 Arith.Mul '{\"A\":7,\"B\":8}'";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "tcp@127.0.0.1:8972".into(),
        auth: None,
        etcd: None,
        redis: None,
        zookeeper: None,
        base_path: "/rpcx_test".into(),
        meta: String::new(),
        tls_cert: None,
        tls_key: None,
        tls_client_ca: None,
        files: None,
        stream_echo: false,
        reflection: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => args.addr = it.next().ok_or("--addr needs a value")?,
            "--auth" => args.auth = Some(it.next().ok_or("--auth needs a value")?),
            "--etcd" => args.etcd = Some(it.next().ok_or("--etcd needs a value")?),
            "--redis" => args.redis = Some(it.next().ok_or("--redis needs a value")?),
            "--zookeeper" => args.zookeeper = Some(it.next().ok_or("--zookeeper needs a value")?),
            "--base-path" => args.base_path = it.next().ok_or("--base-path needs a value")?,
            "--meta" => args.meta = it.next().ok_or("--meta needs a value")?,
            "--tls-cert" => args.tls_cert = Some(it.next().ok_or("--tls-cert needs a file")?),
            "--tls-key" => args.tls_key = Some(it.next().ok_or("--tls-key needs a file")?),
            "--tls-client-ca" => {
                args.tls_client_ca = Some(it.next().ok_or("--tls-client-ca needs a file")?)
            }
            "--files" => args.files = Some(it.next().ok_or("--files needs a directory")?),
            "--stream-echo" => args.stream_echo = true,
            "--reflection" => args.reflection = true,
            "-h" | "--help" => {
                println!(
                    "usage: arith_server [--addr tcp@host:port|unix@/path] [--auth TOKEN] \
                     [--etcd URL[,URL]] [--redis HOST:PORT] [--zookeeper HOST:PORT] [--base-path P] [--meta QUERY] \
                     [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]] [--files DIR] [--stream-echo] [--reflection]"
                );
                println!("{HELP_METHODS}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if args.tls_client_ca.is_some() && args.tls_cert.is_none() {
        return Err("--tls-client-ca needs --tls-cert and --tls-key".into());
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
    let mut registries: Vec<Registry> = Vec::new();
    if let Some(endpoints) = &args.etcd {
        registries.push(etcd_registry(endpoints, &args.base_path).await);
    }
    if let Some(address) = &args.redis {
        registries.push(redis_registry(address, &args.base_path).await);
    }
    if let Some(servers) = &args.zookeeper {
        registries.push(zookeeper_registry(servers, &args.base_path).await);
    }
    #[cfg(any(feature = "etcd", feature = "redis", feature = "zookeeper"))]
    for r in &registries {
        builder = builder.plugin_arc(r.plugin());
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = with_tls(builder, cert, key, args.tls_client_ca.as_deref());
    }
    let mut server = builder.build();
    for service in ["Arith", "ProtoArith", "Hello"] {
        server.set_service_metadata(service, args.meta.clone());
    }
    if args.reflection {
        match server.enable_reflection() {
            Ok(r) => {
                for service in ["Arith", "ProtoArith"] {
                    for method in ["Mul", "Add", "Div", "Meta"] {
                        r.describe_typed::<rpcx::arith::Args, rpcx::arith::Reply>(service, method);
                    }
                    r.describe_typed::<rpcx::arith::SleepArgs, rpcx::arith::Reply>(
                        service, "Sleep",
                    );
                    r.describe_typed::<rpcx::arith::PushArgs, rpcx::arith::Reply>(service, "Push");
                }
            }
            Err(e) => {
                eprintln!("arith_server: {e}");
                std::process::exit(1);
            }
        }
    }
    let arith = Arc::new(Arith);
    let registered = server
        .register_object("Arith", Arc::clone(&arith))
        .and_then(|_| server.register_object("ProtoArith", arith))
        .and_then(|_| rpcx::benchmark::register(&mut server));
    if let Err(e) = registered {
        eprintln!("arith_server: {e}");
        std::process::exit(1);
    }
    let _sides = match side_services(&mut server, &args).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("arith_server: {e}");
            std::process::exit(1);
        }
    };
    let handle = match server.serve(&args.addr).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("arith_server: cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    println!("LISTENING {}", handle.local_address());
    if !registries.is_empty() {
        let mut ok = true;
        for r in &registries {
            if let Err(e) = flush(r).await {
                eprintln!("arith_server: registration pending: {e}");
                ok = false;
            }
        }
        if ok {
            println!("REGISTERED {}", args.base_path);
        }
    }
    wait_for_signal().await;
    eprintln!("arith_server: shutting down");
    handle.shutdown(Duration::from_secs(5)).await;
    for r in &registries {
        // The node keys are deleted by the shutdown; wait for the deletes to reach the
        // registry.
        if let Err(e) = flush(r).await {
            eprintln!("arith_server: unregistration: {e}");
        }
    }
}

/// `--files` and `--stream-echo`: side listeners on the host of `--addr`.
async fn side_services(
    server: &mut Server,
    args: &Args,
) -> Result<Vec<rpcx::transfer::SideHandle>, rpcx::Error> {
    use rpcx::transfer::{FileTransfer, FileTransferOptions, SideOptions, StreamService};
    let host = if args.addr.starts_with("unix@") {
        "127.0.0.1"
    } else {
        hp_host(&args.addr).unwrap_or("127.0.0.1")
    };
    let side = SideOptions {
        listen: format!("{host}:0"),
        ..Default::default()
    };
    let mut sides = Vec::new();
    if let Some(dir) = &args.files {
        let options = FileTransferOptions {
            side: side.clone(),
            ..Default::default()
        };
        let h = FileTransfer::new(options)
            .upload_dir(dir)
            .download_dir(dir)
            .register(server)
            .await?;
        println!("FILES {}", h.local_addr());
        sides.push(h);
    }
    if args.stream_echo {
        let h = StreamService::new(side, |_args, conn, _peer| async move {
            use tokio::io::AsyncWriteExt;
            let (mut r, mut w) = conn.into_split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = w.shutdown().await;
        })
        .register(server)
        .await?;
        println!("STREAMS {}", h.local_addr());
        sides.push(h);
    }
    Ok(sides)
}

/// The host of `tcp@host:port` / `host:port` (brackets kept for IPv6).
fn hp_host(addr: &str) -> Option<&str> {
    let hp = addr.split_once('@').map_or(addr, |(_, hp)| hp);
    hp.rsplit_once(':')
        .map(|(h, _)| h)
        .filter(|h| !h.is_empty())
}

/// Serves TLS from PEM files, with mutual TLS when a client CA is given.
#[cfg(feature = "tls")]
fn with_tls(
    builder: rpcx::server::ServerBuilder,
    cert: &str,
    key: &str,
    client_ca: Option<&str>,
) -> rpcx::server::ServerBuilder {
    use rpcx::transport::tls::ServerTlsConfig;
    let config = ServerTlsConfig::from_files(cert, key).and_then(|c| match client_ca {
        Some(ca) => c.client_ca_file(ca, true),
        None => Ok(c),
    });
    match config.and_then(|c| c.build()) {
        Ok(c) => builder.tls(c),
        Err(e) => {
            eprintln!("arith_server: {e}");
            std::process::exit(2);
        }
    }
}

#[cfg(not(feature = "tls"))]
fn with_tls(
    _: rpcx::server::ServerBuilder,
    _: &str,
    _: &str,
    _: Option<&str>,
) -> rpcx::server::ServerBuilder {
    eprintln!("arith_server: --tls-cert needs the example built with `--features tls`");
    std::process::exit(2);
}

#[cfg(any(feature = "etcd", feature = "redis", feature = "zookeeper"))]
type Registry = rpcx::registry::AnyRegistry;
#[cfg(not(any(feature = "etcd", feature = "redis", feature = "zookeeper")))]
type Registry = std::convert::Infallible;

#[cfg(feature = "etcd")]
async fn etcd_registry(endpoints: &str, base_path: &str) -> Registry {
    let endpoints: Vec<&str> = endpoints.split(',').map(str::trim).collect();
    // Empty service address: the address the server is bound to (with its real port).
    let r =
        rpcx::registry::EtcdRegistry::connect(&endpoints, base_path, "", Duration::from_secs(30));
    match r.await {
        Ok(r) => r.into(),
        Err(e) => {
            eprintln!("arith_server: etcd: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(feature = "etcd"))]
async fn etcd_registry(_endpoints: &str, _base_path: &str) -> Registry {
    eprintln!("arith_server: --etcd needs the example built with `--features etcd`");
    std::process::exit(2);
}

#[cfg(feature = "redis")]
async fn redis_registry(address: &str, base_path: &str) -> Registry {
    let r = rpcx::registry::RedisRegistry::connect(address, base_path, "", Duration::from_secs(30));
    match r.await {
        Ok(r) => r.into(),
        Err(e) => {
            eprintln!("arith_server: redis: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(feature = "redis"))]
async fn redis_registry(_address: &str, _base_path: &str) -> Registry {
    eprintln!("arith_server: --redis needs the example built with `--features redis`");
    std::process::exit(2);
}

#[cfg(feature = "zookeeper")]
async fn zookeeper_registry(servers: &str, base_path: &str) -> Registry {
    let r =
        rpcx::registry::ZookeeperRegistry::connect(servers, base_path, "", Duration::from_secs(30));
    match r.await {
        Ok(r) => r.into(),
        Err(e) => {
            eprintln!("arith_server: zookeeper: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(feature = "zookeeper"))]
async fn zookeeper_registry(_servers: &str, _base_path: &str) -> Registry {
    eprintln!("arith_server: --zookeeper needs the example built with `--features zookeeper`");
    std::process::exit(2);
}

#[cfg(any(feature = "etcd", feature = "redis", feature = "zookeeper"))]
async fn flush(r: &Registry) -> Result<(), rpcx::Error> {
    match tokio::time::timeout(Duration::from_secs(10), r.flush()).await {
        Ok(r) => r,
        Err(_) => Err(rpcx::Error::Timeout(Duration::from_secs(10))),
    }
}

#[cfg(not(any(feature = "etcd", feature = "redis", feature = "zookeeper")))]
async fn flush(r: &Registry) -> Result<(), rpcx::Error> {
    match *r {}
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
