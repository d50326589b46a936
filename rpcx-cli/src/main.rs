//! `rpcx`: call rpcx services from the command line.
//!
//! ```text
//! rpcx call tcp@127.0.0.1:8972 Arith.Mul '{"A":7,"B":8}'
//! rpcx call --codec raw tcp@127.0.0.1:8972 Arith.Echo 'hello'
//! rpcx call --etcd http://127.0.0.1:2379 --base-path /rpcx_test --select round-robin Arith.Mul '{"A":7,"B":8}'
//! rpcx list --etcd http://127.0.0.1:2379 --base-path /rpcx_test [Arith]
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
//! Arguments are JSON (sent as JSON or converted to MsgPack) or raw text; the reply is printed
//! as JSON. On error a line goes to stderr — `error: server error: <the server's text>` when
//! the server answered with an error, `error: <what went wrong here>` otherwise — and the exit
//! status says which (see [`Failure`]): 0 success, 1 anything else (a reply that cannot be
//! decoded, a local file error), 2 usage (unknown flags, missing or extra arguments), 3 the
//! server could not be reached or no server was found, 4 the call timed out, 5 the server
//! answered with an error, 6 bad local input (arguments that are not JSON, metadata,
//! an address, a timeout, flags that do not go together).
//! `--tls-*` connect to the servers over TLS (mutual TLS with `--tls-cert`/`--tls-key`);
//! `--registry-tls-*` do the same for the etcd or Consul connection (an `https://` registry
//! URL alone means TLS trusting the system's CA bundle).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use rpcx::client::{Client, ClientOptions, RawRequest};
use rpcx::codec::Codable;
use rpcx::protocol::{CompressType, Metadata, SerializeType};
use rpcx::transport::tls::ClientTlsConfig;
use rpcx::xclient::{
    ConsulDiscovery, Discovery, DnsDiscovery, EtcdDiscovery, FailMode, RedisDiscovery, SelectMode,
    ServerEntry, ServerMeta, XClient, XClientOptions, ZookeeperDiscovery,
};

/// Why the CLI failed; [`Failure::code`] is its exit status.
#[derive(Debug)]
enum Failure {
    /// 1: anything else (a reply that cannot be decoded, a local file error).
    Other(String),
    /// 2: the command line itself (missing or extra arguments).
    Usage(String),
    /// 3: the server could not be reached, or no server was found.
    Unreachable(String),
    /// 4: the call timed out.
    Timeout(String),
    /// 5: the server answered with an error (the text is the server's).
    Server(String),
    /// 6: bad local input: arguments, metadata, an address, a timeout, flags that clash.
    Input(String),
}

impl Failure {
    fn code(&self) -> u8 {
        match self {
            Failure::Other(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
            Failure::Timeout(_) => 4,
            Failure::Server(_) => 5,
            Failure::Input(_) => 6,
        }
    }

    /// Prints `error: …` to stderr and returns the exit status.
    fn exit(self) -> ExitCode {
        let code = self.code();
        match self {
            Failure::Server(m) => eprintln!("error: server error: {m}"),
            Failure::Usage(m) => eprintln!(
                "error: {m}

For more information, try '--help'."
            ),
            Failure::Other(m)
            | Failure::Unreachable(m)
            | Failure::Timeout(m)
            | Failure::Input(m) => eprintln!("error: {m}"),
        }
        ExitCode::from(code)
    }

    /// An error of the rpcx library, by kind.
    fn rpc(e: rpcx::Error) -> Failure {
        use rpcx::Error as E;
        match e {
            E::Server(s) => Failure::Server(s.message),
            E::Timeout(_) => Failure::Timeout(e.to_string()),
            E::Connect { .. }
            | E::ConnectionLost(_)
            | E::Closed
            | E::Io(_)
            | E::NoServer
            | E::BreakerOpen(_) => Failure::Unreachable(e.to_string()),
            E::Address(_) | E::Config(_) => Failure::Input(e.to_string()),
            _ => Failure::Other(e.to_string()),
        }
    }
}

/// Local validation messages are bad input (6).
impl From<String> for Failure {
    fn from(m: String) -> Failure {
        Failure::Input(m)
    }
}

impl From<&str> for Failure {
    fn from(m: &str) -> Failure {
        Failure::Input(m.to_owned())
    }
}

/// A timeout in seconds: positive, finite and representable (`--timeout 1e20` is refused,
/// not a panic).
fn timeout_secs(secs: f64) -> Result<Duration, Failure> {
    if secs.is_nan() || secs <= 0.0 {
        return Err(Failure::Input(format!(
            "--timeout {secs} must be a positive number of seconds"
        )));
    }
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= Duration::from_secs(100 * 365 * 24 * 3600))
        .ok_or_else(|| Failure::Input(format!("--timeout {secs} is too large")))
}

/// One `--meta KEY=VALUE`: a non-empty key.
fn meta_pair(kv: &str) -> Result<(String, String), Failure> {
    kv.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| {
            Failure::Input(format!(
                "--meta {kv:?} must be KEY=VALUE with a non-empty KEY"
            ))
        })
}

/// An address the client can dial: `network@address` (tcp, unix, http, ws, wss) or host:port;
/// a URL (`http://…`) gets "unsupported scheme".
fn check_address(address: &str) -> Result<(), Failure> {
    if let Some((scheme, _)) = address.split_once("://") {
        return Err(Failure::Input(format!(
            "unsupported scheme {scheme:?} in {address:?}: give network@host:port (tcp@, unix@, \
             http@ for HTTP CONNECT, ws@ or wss@ for a WebSocket) or host:port"
        )));
    }
    rpcx::transport::Address::parse(address)
        .map(|_| ())
        .map_err(|e| Failure::Input(e.to_string()))
}

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
    Call(Box<CallArgs>),
    /// List the servers registered in etcd, Consul, Redis or ZooKeeper (or behind a DNS name), one line each:
    /// `<service> <server> <metadata as JSON>` (with --dns the name stands for the service).
    List(Box<ListArgs>),
    /// Upload a file to a server with file transfer on (Go's SendFile: `_filetransfer.TransferFile`,
    /// then the bytes to its side listener); prints the bytes sent.
    Upload(Box<TransferArgs>),
    /// Download a file from a server with file transfer on (Go's DownloadFile:
    /// `_filetransfer.DownloadFile`); prints the bytes received (to stderr with `-o -`).
    Download(Box<TransferArgs>),
}

/// Arguments of `upload` and `download`.
#[derive(clap::Args)]
struct TransferArgs {
    /// tcp@host:port (or host:port, unix@/path, http@/ws@/wss@host:port) of the server.
    address: String,
    /// upload: the local file (its base name is the name sent); download: the name on the
    /// server (relative to its download directory).
    file: String,
    /// download: where to write it (default: the name's last part in the current
    /// directory; `-`: standard output). An existing file is replaced.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// upload: at most this many bytes per second (0: no limit).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    rate: u64,
    /// Metadata pair sent with the request (repeatable; Go's `meta` map).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Timeout in seconds of the call and of each read or write of the transfer.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Auth token, sent as __AUTH.
    #[arg(long)]
    auth: Option<String>,
    /// The service name (Go's default `_filetransfer`).
    #[arg(long, default_value = rpcx::transfer::FILE_TRANSFER_SERVICE)]
    service: String,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Where servers are registered.
#[derive(clap::Args, Clone)]
struct RegistryArgs {
    /// etcd v3 endpoints (comma-separated `http://host:port`): discover servers there.
    #[arg(long, value_name = "URL", conflicts_with = "consul")]
    etcd: Option<String>,
    /// Consul agent (`host:port`): discover servers in its KV store.
    #[arg(long, value_name = "URL")]
    consul: Option<String>,
    /// Redis server (`host:port` or `redis://[:password@]host:port[/db]`): discover servers
    /// registered there in the layout of Go's RedisRegisterPlugin. No registry TLS.
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["etcd", "consul", "registry_tls_ca", "registry_tls_cert"])]
    redis: Option<String>,
    /// ZooKeeper ensemble (`host:port[,host:port…]`): discover servers registered there in
    /// the layout of Go's rpcx-zookeeper plugin. No registry TLS.
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["etcd", "consul", "redis", "registry_tls_ca", "registry_tls_cert"])]
    zookeeper: Option<String>,
    /// DNS discovery (Go's DNSDiscovery): every A/AAAA record of NAME is a server on PORT.
    #[arg(long, value_name = "NAME:PORT", conflicts_with_all = ["etcd", "consul", "redis", "zookeeper"])]
    dns: Option<String>,
    /// With --dns: ask these nameservers (comma-separated `ip[:port]`, port 53 by default)
    /// instead of the system's resolver.
    #[arg(long, value_name = "IP:PORT", requires = "dns")]
    dns_server: Option<String>,
    /// With --dns: the network of the servers (tcp, tcp4 = A records only, tcp6 = AAAA only,
    /// http, ws, wss; default tcp).
    #[arg(long, value_name = "NET", requires = "dns")]
    dns_network: Option<String>,
    /// Registry base path.
    #[arg(long, value_name = "P", default_value = "/rpcx_test")]
    base_path: String,
    /// Reach the registry over TLS trusting these PEM CA certificates.
    #[arg(long, value_name = "FILE")]
    registry_tls_ca: Option<PathBuf>,
    /// Present this PEM client certificate to the registry (mutual TLS; with
    /// --registry-tls-key).
    #[arg(long, value_name = "FILE", requires = "registry_tls_key")]
    registry_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --registry-tls-cert.
    #[arg(long, value_name = "FILE", requires = "registry_tls_cert")]
    registry_tls_key: Option<PathBuf>,
}

/// TLS to the rpcx servers.
#[derive(clap::Args, Clone)]
struct TlsArgs {
    /// Connect with TLS, trusting the system's CA bundle unless --tls-ca is given (implied
    /// by the other --tls-* flags).
    #[arg(long)]
    tls: bool,
    /// Connect with TLS, trusting these PEM CA certificates.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Present this PEM client certificate (mutual TLS; with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the host of the address).
    #[arg(long, value_name = "NAME")]
    tls_server_name: Option<String>,
    /// DANGER, for tests only: do NOT verify the server's certificate (expired, self-signed
    /// or for another name, it is accepted: anyone on the path can impersonate the server).
    #[arg(long)]
    tls_insecure: bool,
}

impl TlsArgs {
    /// The TLS settings, or `None` for plain TCP.
    fn config(&self) -> Result<Option<ClientTlsConfig>, String> {
        let on = self.tls
            || self.tls_ca.is_some()
            || self.tls_cert.is_some()
            || self.tls_server_name.is_some()
            || self.tls_insecure;
        if !on {
            return Ok(None);
        }
        if self.tls_insecure {
            eprintln!("warning: --tls-insecure: the server's certificate is NOT verified");
        }
        let mut c = client_tls(
            self.tls_ca.as_ref(),
            self.tls_cert.as_ref(),
            self.tls_key.as_ref(),
        )?
        .danger_accept_invalid_certs(self.tls_insecure);
        if let Some(name) = &self.tls_server_name {
            c = c.server_name(name);
        }
        Ok(Some(c))
    }
}

/// Client TLS settings from a CA file and a client certificate and key.
fn client_tls(
    ca: Option<&PathBuf>,
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
) -> Result<ClientTlsConfig, String> {
    let mut c = ClientTlsConfig::new();
    if let Some(ca) = ca {
        c = c.ca_file(ca).map_err(|e| e.to_string())?;
    }
    if let (Some(cert), Some(key)) = (cert, key) {
        c = c.client_cert_files(cert, key).map_err(|e| e.to_string())?;
    }
    Ok(c)
}

impl RegistryArgs {
    /// Where the servers of `service` are looked up, for messages: the registry (kind and
    /// address), base path, service and group.
    fn describe(&self, service: &str, group: Option<&str>) -> String {
        let at = self.at();
        let group = group.map(|g| format!(", group {g:?}")).unwrap_or_default();
        if self.dns.is_some() {
            format!("{at} (service {service:?}{group})")
        } else {
            format!(
                "{at}, base path {:?}, service {service:?}{group}",
                self.base_path
            )
        }
    }

    /// The registry's kind and address.
    fn at(&self) -> String {
        if let Some(d) = &self.dns {
            format!("DNS {d}")
        } else if let Some(e) = &self.etcd {
            format!("etcd {e}")
        } else if let Some(c) = &self.consul {
            format!("Consul {c}")
        } else if let Some(r) = &self.redis {
            format!("Redis {r}")
        } else if let Some(z) = &self.zookeeper {
            format!("ZooKeeper {z}")
        } else {
            "no registry".to_owned()
        }
    }

    fn enabled(&self) -> bool {
        self.etcd.is_some()
            || self.consul.is_some()
            || self.redis.is_some()
            || self.zookeeper.is_some()
            || self.dns.is_some()
    }

    /// The servers behind --dns NAME:PORT, looked up once now (then every 30 s).
    async fn dns_discovery(&self) -> Result<Option<DnsDiscovery>, String> {
        let Some(target) = &self.dns else {
            return Ok(None);
        };
        let (name, port) = target
            .rsplit_once(':')
            .and_then(|(n, p)| Some((n, p.parse::<u16>().ok().filter(|p| *p != 0)?)))
            .filter(|(n, _)| !n.is_empty())
            .ok_or_else(|| format!("--dns {target:?}: expected NAME:PORT"))?;
        let network = self.dns_network.as_deref().unwrap_or("tcp");
        let interval = Duration::from_secs(30);
        let d = match &self.dns_server {
            Some(list) => {
                let ns = DnsDiscovery::parse_nameservers(list).map_err(|e| e.to_string())?;
                DnsDiscovery::with_nameservers(name, network, port, interval, &ns).await
            }
            None => DnsDiscovery::new(name, network, port, interval).await,
        };
        d.map(Some).map_err(|e| e.to_string())
    }

    fn etcd_endpoints(&self) -> Option<Vec<String>> {
        self.etcd.as_ref().map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    /// The registry's TLS settings, when any --registry-tls-* flag is given.
    fn tls(&self) -> Result<Option<ClientTlsConfig>, String> {
        if self.registry_tls_ca.is_none() && self.registry_tls_cert.is_none() {
            return Ok(None);
        }
        let (ca, cert, key) = (
            self.registry_tls_ca.as_ref(),
            self.registry_tls_cert.as_ref(),
            self.registry_tls_key.as_ref(),
        );
        client_tls(ca, cert, key).map(Some)
    }

    async fn discovery(&self, service: &str) -> Result<Box<dyn Discovery>, String> {
        if let Some(d) = self.dns_discovery().await? {
            return Ok(Box::new(d));
        }
        let base = &self.base_path;
        if let Some(addr) = &self.redis {
            let d = RedisDiscovery::connect(addr, base, service).await;
            return Ok(Box::new(d.map_err(|e| e.to_string())?));
        }
        if let Some(servers) = &self.zookeeper {
            let d = ZookeeperDiscovery::connect(servers, base, service).await;
            return Ok(Box::new(d.map_err(|e| e.to_string())?));
        }
        let tls = self.tls()?;
        if let Some(eps) = self.etcd_endpoints() {
            let d = match &tls {
                Some(tls) => EtcdDiscovery::connect_tls(&eps, base, service, tls).await,
                None => EtcdDiscovery::connect(&eps, base, service).await,
            };
            return Ok(Box::new(d.map_err(|e| e.to_string())?));
        }
        let addr = self.consul.as_deref().ok_or("no registry given")?;
        let d = match &tls {
            Some(tls) => ConsulDiscovery::connect_tls(addr, base, service, tls).await,
            None => ConsulDiscovery::connect(addr, base, service).await,
        };
        Ok(Box::new(d.map_err(|e| e.to_string())?))
    }
}

/// `--compress`: a name or a compress type number.
fn parse_compress(s: &str) -> Result<CompressType, String> {
    let ct = match s.to_ascii_lowercase().as_str() {
        "none" => CompressType::NONE,
        "gzip" => CompressType::GZIP,
        "snappy" => CompressType::SNAPPY,
        n => n
            .parse::<u8>()
            .ok()
            .and_then(CompressType::new)
            .ok_or_else(|| format!("{s:?} is not none, gzip, snappy or a number 0-7"))?,
    };
    if !rpcx::protocol::is_compress_type_supported(ct) {
        return Err(format!(
            "compress type {} has no compressor in this build",
            ct.value()
        ));
    }
    Ok(ct)
}

/// Lower case without `-` and `_`: `round-robin`, `round_robin` and `RoundRobin` alike.
fn mode_key(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn parse_select(s: &str) -> Result<Select, String> {
    Ok(match mode_key(s).as_str() {
        "random" => Select::Random,
        "roundrobin" => Select::RoundRobin,
        "weightedroundrobin" => Select::WeightedRoundRobin,
        "weightedicmp" => Select::WeightedIcmp,
        "consistenthash" => Select::ConsistentHash,
        "heartbeatrtt" => Select::HeartbeatRtt,
        _ => return Err(format!(
            "{s:?} is not a select mode (random, round-robin, weighted-round-robin, weighted-icmp, consistent-hash, heartbeat-rtt)"
        )),
    })
}

fn parse_fail(s: &str) -> Result<Fail, String> {
    Ok(match mode_key(s).as_str() {
        "failover" => Fail::Failover,
        "failfast" => Fail::Failfast,
        "failtry" => Fail::Failtry,
        "failbackup" => Fail::Failbackup,
        _ => {
            return Err(format!(
                "{s:?} is not a fail mode (failover, failfast, failtry, failbackup)"
            ))
        }
    })
}

#[derive(Clone, Copy)]
enum Select {
    Random,
    RoundRobin,
    WeightedRoundRobin,
    WeightedIcmp,
    ConsistentHash,
    HeartbeatRtt,
}

#[derive(Clone, Copy)]
enum Fail {
    Failover,
    Failfast,
    Failtry,
    Failbackup,
}

#[derive(clap::Args)]
struct ListArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    /// Only this service (default: every service under the base path).
    service: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Codec {
    Json,
    Msgpack,
    Raw,
}

#[derive(clap::Args)]
struct CallArgs {
    /// `ADDRESS Service.Method [ARGS]`, or `Service.Method [ARGS]` with --etcd/--consul/--redis/--zookeeper/--dns.
    /// ADDRESS: tcp@host:port, host:port or unix@/path; or rpcx tunnelled as Go's clients do:
    /// http@host:port (HTTP CONNECT /_rpcx_), ws@host:port (a WebSocket at /_rpcx_) or
    /// wss@host:port (a WebSocket over TLS: add --tls or --tls-ca). Service.Method is split at
    /// the last dot. ARGS: JSON for json/msgpack, text for raw; default `{}` (empty for raw).
    #[arg(value_name = "ARG", num_args = 1..=3, required = true)]
    positional: Vec<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(flatten)]
    tls: TlsArgs,
    /// Select mode among the registered servers (default random): random, round-robin,
    /// weighted-round-robin, weighted-icmp, consistent-hash, heartbeat-rtt; `_` for `-` and
    /// Go's names (RoundRobin…) work too.
    #[arg(long = "select", value_name = "MODE", value_parser = parse_select)]
    select: Option<Select>,
    /// Fail mode among the registered servers (default failover): failover, failfast,
    /// failtry, failbackup, in any case (Go's Failover…).
    #[arg(long = "fail", value_name = "MODE", value_parser = parse_fail)]
    fail: Option<Fail>,
    /// Only servers of this group (metadata `group`).
    #[arg(long)]
    group: Option<String>,
    /// Call every registered server; succeed only if all do (prints the first reply; Go's
    /// Broadcast). Needs --etcd/--consul/--redis/--zookeeper/--dns.
    #[arg(long, conflicts_with_all = ["fork", "inform"])]
    broadcast: bool,
    /// Call every registered server; the first success wins (Go's Fork). Needs
    /// --etcd/--consul/--redis/--zookeeper/--dns.
    #[arg(long, conflicts_with = "inform")]
    fork: bool,
    /// Call every registered server and print each one's outcome, one JSON object per line
    /// (`{"server":…,"reply":…}` or `{"server":…,"error":…}`); exits 1 if any failed (Go's
    /// Inform). Needs --etcd/--consul/--redis/--zookeeper/--dns.
    #[arg(long)]
    inform: bool,
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
    /// Compress the request when it is larger than --compress-threshold bytes: none, gzip,
    /// snappy (type 2, Go's protocol.SnappyCompressor framing) or a number 0-7. The server
    /// answers a large reply with the same compression.
    #[arg(long, value_name = "TYPE", value_parser = parse_compress, default_value = "none")]
    compress: CompressType,
    /// Requests larger than this many bytes are compressed (with --compress).
    #[arg(long, value_name = "BYTES", default_value_t = rpcx::protocol::COMPRESS_THRESHOLD)]
    compress_threshold: usize,
    /// Same as --compress gzip.
    #[arg(long, conflicts_with = "compress")]
    gzip: bool,
    /// Also print the response metadata (to stderr).
    #[arg(long, short)]
    verbose: bool,
    /// Start a new trace: send a fresh random W3C `traceparent` (sampled) in the request
    /// metadata and print `trace-id: <32 hex digits>` to stderr before calling. A server
    /// with OpenTelemetry (Go's rpcx-plugins, rpcx's `otel`) makes its span a child of it.
    #[arg(long)]
    trace: bool,
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
        Command::Call(args) => match rt.block_on(call(*args)) {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => e.exit(),
        },
        Command::Upload(args) => report(rt.block_on(upload(*args))),
        Command::Download(args) => report(rt.block_on(download(*args))),
        Command::List(args) => match rt.block_on(list(*args)) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => e.exit(),
        },
    }
}

/// Prints a transfer's outcome: the line to stdout (stderr when stdout carries the file).
fn report(r: Result<(String, bool), Failure>) -> ExitCode {
    match r {
        Ok((line, to_stderr)) => {
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => e.exit(),
    }
}

/// The client and metadata of an upload or download.
async fn transfer_client(
    a: &TransferArgs,
) -> Result<(Client, std::collections::HashMap<String, String>), Failure> {
    let timeout = timeout_secs(a.timeout)?;
    check_address(&a.address)?;
    let mut meta = std::collections::HashMap::new();
    for kv in &a.meta {
        let (k, v) = meta_pair(kv)?;
        meta.insert(k, v);
    }
    let mut options = ClientOptions::default()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)));
    if let Some(t) = &a.auth {
        options = options.auth(t.clone());
    }
    if let Some(tls) = a.tls.config()? {
        options = options.with_tls(tls.build().map_err(|e| e.to_string())?);
    }
    let client = Client::connect(&a.address, options)
        .await
        .map_err(Failure::rpc)?;
    Ok((client, meta))
}

async fn upload(a: TransferArgs) -> Result<(String, bool), Failure> {
    if a.output.is_some() {
        return Err("-o/--output is for download".into());
    }
    // A local file that cannot be read is bad input, found before connecting.
    std::fs::File::open(&a.file).map_err(|e| Failure::Input(format!("{}: {e}", a.file)))?;
    let (client, meta) = transfer_client(&a).await?;
    let sent = client
        .send_file(&a.service, &a.file, a.rate, meta)
        .await
        .map_err(Failure::rpc);
    client.close();
    Ok((format!("{} bytes sent", sent?), false))
}

async fn download(a: TransferArgs) -> Result<(String, bool), Failure> {
    if a.rate != 0 {
        return Err("--rate is for upload".into());
    }
    let (client, meta) = transfer_client(&a).await?;
    let to_stdout = a.output.as_deref() == Some(std::path::Path::new("-"));
    let result = if to_stdout {
        let mut out = tokio::io::stdout();
        let n = client
            .download_file(&a.service, &a.file, &mut out, meta)
            .await
            .map_err(Failure::rpc);
        tokio::io::AsyncWriteExt::flush(&mut out)
            .await
            .map_err(|e| Failure::Other(e.to_string()))?;
        n
    } else {
        let path = match &a.output {
            Some(p) => p.clone(),
            None => PathBuf::from(
                std::path::Path::new(&a.file)
                    .file_name()
                    .ok_or_else(|| format!("{:?} has no file name: give -o PATH", a.file))?,
            ),
        };
        // Into a temporary file next to it, renamed once the whole file arrived.
        let mut tmp = path.clone().into_os_string();
        tmp.push(".rpcx-part");
        let tmp = PathBuf::from(tmp);
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| Failure::Other(format!("{}: {e}", tmp.display())))?;
        let n = client
            .download_file(&a.service, &a.file, &mut file, meta)
            .await
            .map_err(Failure::rpc);
        let done = match n {
            Ok(n) => tokio::io::AsyncWriteExt::flush(&mut file)
                .await
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map(|_| n)
                .map_err(|e| Failure::Other(format!("{}: {e}", path.display()))),
            Err(e) => Err(e),
        };
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    };
    client.close();
    Ok((format!("{} bytes received", result?), to_stdout))
}

async fn list(a: ListArgs) -> Result<Vec<String>, Failure> {
    let r = &a.registry;
    if let Some(d) = r.dns_discovery().await.map_err(Failure::Unreachable)? {
        if a.service.is_some() {
            return Err("list --dns takes no service (the name stands for it)".into());
        }
        return Ok(d
            .servers()
            .iter()
            .map(|s| format!("{}\t{}\t{}", d.domain(), s.key, meta_json(s)))
            .collect());
    }
    let tls = r.tls()?;
    let all = if let Some(eps) = r.etcd_endpoints() {
        match &tls {
            Some(tls) => EtcdDiscovery::list_all_tls(&eps, &r.base_path, tls).await,
            None => EtcdDiscovery::list_all(&eps, &r.base_path).await,
        }
    } else if let Some(addr) = r.redis.as_deref() {
        RedisDiscovery::list_all(addr, &r.base_path).await
    } else if let Some(servers) = r.zookeeper.as_deref() {
        ZookeeperDiscovery::list_all(servers, &r.base_path).await
    } else if let Some(addr) = r.consul.as_deref() {
        match &tls {
            Some(tls) => ConsulDiscovery::list_all_tls(addr, &r.base_path, tls).await,
            None => ConsulDiscovery::list_all(addr, &r.base_path).await,
        }
    } else {
        return Err(Failure::Usage(
            "list needs --etcd URL, --consul URL, --redis HOST:PORT, --zookeeper HOST:PORT or --dns NAME:PORT".into(),
        ));
    }
    .map_err(|e| Failure::Unreachable(format!("{} (base path {:?})", e, r.base_path)))?;
    let mut lines = Vec::new();
    for (service, servers) in &all {
        if a.service.as_ref().is_some_and(|s| s != service) {
            continue;
        }
        for s in servers {
            lines.push(format!("{service}\t{}\t{}", s.key, meta_json(s)));
        }
    }
    if lines.is_empty() {
        // Nothing to print is an answer too: say where nothing was found (stderr; exit 0).
        eprintln!(
            "no servers registered: {}",
            match &a.service {
                Some(svc) => r.describe(svc, None),
                None => format!("{}, base path {:?}", r.at(), r.base_path),
            }
        );
    }
    Ok(lines)
}

/// The metadata as a JSON object (a repeated key becomes an array), or a note when it does
/// not parse (then Go applies no filtering to the server).
fn meta_json(s: &ServerEntry) -> String {
    if !ServerMeta::parse(&s.metadata).is_valid() {
        return format!("unparsable metadata {:?}", s.metadata);
    }
    let mut m: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
    for part in s.metadata.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (
            unescape_query(k),
            serde_json::Value::String(unescape_query(v)),
        );
        match m.get_mut(&k) {
            Some(serde_json::Value::Array(a)) => a.push(v),
            Some(old) => *old = serde_json::Value::Array(vec![old.take(), v]),
            None => {
                m.insert(k, v);
            }
        }
    }
    serde_json::Value::Object(m).to_string()
}

fn unescape_query(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn call(a: CallArgs) -> Result<String, Failure> {
    let via_registry = a.registry.enabled();
    let mut pos = a.positional.iter().cloned();
    let address = if via_registry {
        String::new()
    } else {
        let first = pos.next().unwrap_or_default();
        // `rpcx call Arith.Mul '{…}'` without an address: say what is missing.
        let looks_like_target = first.contains('.')
            && !first.contains('@')
            && !first.contains(':')
            && !first.contains('/');
        if looks_like_target && a.positional.len() <= 2 {
            return Err(Failure::Usage(format!(
                "missing ADDRESS before {first:?}: rpcx call ADDRESS Service.Method [ARGS], \
                 or Service.Method [ARGS] with --etcd/--consul/--redis/--zookeeper/--dns"
            )));
        }
        check_address(&first)?;
        first
    };
    let target = pos.next().ok_or_else(|| {
        Failure::Usage(
            "missing Service.Method (give ADDRESS Service.Method, or --etcd URL Service.Method)"
                .into(),
        )
    })?;
    let call_args = pos.next();
    if pos.next().is_some() {
        return Err(Failure::Usage(
            "too many arguments (no ADDRESS with --etcd/--consul/--redis/--zookeeper/--dns)".into(),
        ));
    }
    let fan_out = a.broadcast || a.fork || a.inform;
    if fan_out && !via_registry {
        return Err("--broadcast, --fork and --inform call every server of a registry: give --etcd URL, --consul URL, --redis HOST:PORT, --zookeeper HOST:PORT or --dns NAME:PORT".into());
    }
    if !via_registry {
        let given: Vec<&str> = [
            ("--select", a.select.is_some()),
            ("--fail", a.fail.is_some()),
            ("--group", a.group.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, on)| on.then_some(flag))
        .collect();
        if !given.is_empty() {
            return Err(Failure::Input(format!(
                "{} choose among the servers of a registry: with a direct ADDRESS there is one \
                 server (give --etcd/--consul/--redis/--zookeeper/--dns instead of ADDRESS)",
                given.join(", ")
            )));
        }
    }
    let (service, method) = target
        .rsplit_once('.')
        .filter(|(s, m)| !s.is_empty() && !m.is_empty())
        .ok_or_else(|| format!("target {target:?} must be Service.Method"))?;
    let mut metadata = Metadata::new();
    for kv in &a.meta {
        let (k, v) = meta_pair(kv)?;
        metadata.insert(k, v);
    }
    if a.trace {
        use rpcx::trace_context::{TraceParent, TRACEPARENT};
        if metadata.contains_key(TRACEPARENT) {
            return Err(Failure::Input(format!(
                "--trace sends a new {TRACEPARENT}: do not also give --meta {TRACEPARENT}=…"
            )));
        }
        let tp = TraceParent::new_random(true);
        tp.set_in(&mut metadata);
        eprintln!("trace-id: {}", tp.trace_id_hex());
    }
    let timeout = timeout_secs(a.timeout)?;
    let st = match a.codec {
        Codec::Json => SerializeType::JSON,
        Codec::Msgpack => SerializeType::MSGPACK,
        Codec::Raw => SerializeType::RAW,
    };
    let payload = encode_args(a.codec, call_args.as_deref())?;
    let mut options = ClientOptions::default()
        .serialize_type(st)
        .compress(if a.gzip {
            CompressType::GZIP
        } else {
            a.compress
        })
        .compress_threshold(a.compress_threshold)
        .connect_timeout(timeout.min(Duration::from_secs(5)));
    if let Some(t) = a.auth {
        options = options.auth(t);
    }
    if let Some(tls) = a.tls.config()? {
        options = options.with_tls(tls.build().map_err(|e| e.to_string())?);
    }
    if via_registry {
        let registry = a.registry.describe(service, a.group.as_deref());
        let discovery = a
            .registry
            .discovery(service)
            .await
            .map_err(|e| Failure::Unreachable(format!("{registry}: {e}")))?;
        let xc = XClient::with_selector(
            service,
            discovery.into(),
            select_mode(a.select.unwrap_or(Select::Random)).build(),
            XClientOptions {
                fail_mode: match a.fail.unwrap_or(Fail::Failover) {
                    Fail::Failover => FailMode::Failover,
                    Fail::Failfast => FailMode::Failfast,
                    Fail::Failtry => FailMode::Failtry,
                    Fail::Failbackup => FailMode::Failbackup,
                },
                group: a.group.clone(),
                client: options,
                ..Default::default()
            },
        )
        .map_err(Failure::rpc)?;
        // "No server" names where the servers were looked for.
        let no_server = |e: rpcx::Error| match e {
            // Go's text first (scripts match it), then where the servers were looked for.
            rpcx::Error::NoServer => {
                Failure::Unreachable(format!("{}: {registry}", rpcx::Error::NoServer))
            }
            e => Failure::rpc(e),
        };
        let options = rpcx::client::CallOptions {
            metadata,
            timeout: Some(timeout),
            serialize_type: Some(st),
        };
        if a.inform {
            let receipts = xc.inform_raw(method, st, payload, options).await;
            xc.close();
            xc.discovery().close();
            return inform_lines(a.codec, receipts.map_err(no_server)?);
        }
        let resp = if a.broadcast {
            xc.broadcast_raw(method, st, payload, options).await
        } else if a.fork {
            xc.fork_raw(method, st, payload, options).await
        } else {
            xc.call_raw(method, st, payload, options).await
        }
        .map_err(no_server);
        xc.close();
        xc.discovery().close();
        let resp = resp?;
        if a.verbose {
            for (k, v) in &resp.metadata {
                eprintln!("meta {k}={v}");
            }
        }
        return decode_reply(a.codec, &resp.payload).map_err(Failure::Other);
    }
    let client = Client::connect(&address, options)
        .await
        .map_err(Failure::rpc)?;
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
        .map_err(Failure::rpc)?;
    client.close();
    if a.verbose {
        for (k, v) in &resp.metadata {
            eprintln!("meta {k}={v}");
        }
    }
    decode_reply(a.codec, &resp.payload).map_err(Failure::Other)
}

/// One JSON line per server of an inform; `Err` (all the lines, for stderr and exit 1 after
/// printing them) when any server failed.
fn inform_lines(
    codec: Codec,
    receipts: Vec<rpcx::xclient::Receipt<rpcx::client::RawResponse>>,
) -> Result<String, Failure> {
    let mut lines = Vec::new();
    let mut failed = false;
    for rc in receipts {
        let mut line = serde_json::Map::new();
        line.insert("server".into(), rc.server.into());
        let outcome = rc
            .result
            .map_err(|e| e.to_string())
            .and_then(|resp| decode_reply(codec, &resp.payload));
        match outcome {
            Ok(text) => {
                let reply = match codec {
                    Codec::Raw => serde_json::Value::String(text),
                    _ => serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
                };
                line.insert("reply".into(), reply);
            }
            Err(e) => {
                failed = true;
                line.insert("error".into(), e.into());
            }
        }
        lines.push(serde_json::Value::Object(line).to_string());
    }
    let out = lines.join("\n");
    if failed {
        println!("{out}");
        return Err(Failure::Other(
            "some servers failed (see their lines above)".into(),
        ));
    }
    Ok(out)
}

fn select_mode(s: Select) -> SelectMode {
    match s {
        Select::Random => SelectMode::Random,
        Select::RoundRobin => SelectMode::RoundRobin,
        Select::WeightedRoundRobin => SelectMode::WeightedRoundRobin,
        Select::WeightedIcmp => SelectMode::WeightedIcmp,
        Select::ConsistentHash => SelectMode::ConsistentHash,
        Select::HeartbeatRtt => SelectMode::HeartbeatRtt,
    }
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
