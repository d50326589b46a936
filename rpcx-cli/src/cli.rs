//! The command line (clap): commands, their flags, and the parsers of flag values.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use rpcx::protocol::CompressType;

#[derive(Parser)]
#[command(
    name = "rpcx",
    version,
    about = "Call rpcx services (Go rpcx compatible)"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Call Service.Method on a server and print the reply as JSON.
    Call(Box<CallArgs>),
    /// List the servers registered in etcd, Consul, Redis or ZooKeeper (or behind a DNS name), one line each:
    /// `<service> <server> <metadata as JSON>` (with --dns the name stands for the service).
    /// `rpcx list ADDRESS [SERVICE]` asks a server instead, through Go's reflection service:
    /// its service names, or SERVICE's methods as `Service.Method` lines.
    List(Box<ListArgs>),
    /// Print the Go source-like description a server's reflection service gives of every
    /// service, or of SERVICE (Go's `Reflection.GetServices` / `GetService`).
    Describe(Box<crate::reflect::DescribeArgs>),
    /// Upload a file to a server with file transfer on (Go's SendFile: `_filetransfer.TransferFile`,
    /// then the bytes to its side listener); prints the bytes sent.
    Upload(Box<TransferArgs>),
    /// Download a file from a server with file transfer on (Go's DownloadFile:
    /// `_filetransfer.DownloadFile`); prints the bytes received (to stderr with `-o -`).
    Download(Box<TransferArgs>),
    /// Print a completion script for SHELL to standard output, e.g.
    /// `rpcx completions bash > /etc/bash_completion.d/rpcx`,
    /// `rpcx completions zsh > "${fpath[1]}/_rpcx"`,
    /// `rpcx completions fish > ~/.config/fish/completions/rpcx.fish`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Arguments of `upload` and `download`.
#[derive(clap::Args)]
pub(crate) struct TransferArgs {
    /// tcp@host:port (or host:port, unix@/path, http@/ws@/wss@host:port) of the server.
    pub(crate) address: String,
    /// upload: the local file (its base name is the name sent); download: the name on the
    /// server (relative to its download directory).
    pub(crate) file: String,
    /// download: where to write it (default: the name's last part in the current
    /// directory; `-`: standard output). An existing file is replaced.
    #[arg(short, long, value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,
    /// upload: at most this many bytes per second (0: no limit).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub(crate) rate: u64,
    /// Metadata pair sent with the request (repeatable; Go's `meta` map).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub(crate) meta: Vec<String>,
    /// Timeout in seconds of the call and of each read or write of the transfer.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) timeout: f64,
    /// Auth token, sent as __AUTH.
    #[arg(long)]
    pub(crate) auth: Option<String>,
    /// The service name (Go's default `_filetransfer`).
    #[arg(long, default_value = rpcx::transfer::FILE_TRANSFER_SERVICE)]
    pub(crate) service: String,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// Where servers are registered.
#[derive(clap::Args, Clone)]
pub(crate) struct RegistryArgs {
    /// etcd v3 endpoints (comma-separated `http://host:port`): discover servers there.
    #[arg(long, value_name = "URL", conflicts_with = "consul")]
    pub(crate) etcd: Option<String>,
    /// Consul agent (`host:port`): discover servers in its KV store.
    #[arg(long, value_name = "URL")]
    pub(crate) consul: Option<String>,
    /// Redis server (`host:port` or `redis://[:password@]host:port[/db]`): discover servers
    /// registered there in the layout of Go's RedisRegisterPlugin. No registry TLS.
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["etcd", "consul", "registry_tls_ca", "registry_tls_cert"])]
    pub(crate) redis: Option<String>,
    /// ZooKeeper ensemble (`host:port[,host:port…]`): discover servers registered there in
    /// the layout of Go's rpcx-zookeeper plugin. No registry TLS.
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["etcd", "consul", "redis", "registry_tls_ca", "registry_tls_cert"])]
    pub(crate) zookeeper: Option<String>,
    /// DNS discovery (Go's DNSDiscovery): every A/AAAA record of NAME is a server on PORT.
    #[arg(long, value_name = "NAME:PORT", conflicts_with_all = ["etcd", "consul", "redis", "zookeeper"])]
    pub(crate) dns: Option<String>,
    /// With --dns: ask these nameservers (comma-separated `ip[:port]`, port 53 by default)
    /// instead of the system's resolver.
    #[arg(long, value_name = "IP:PORT", requires = "dns")]
    pub(crate) dns_server: Option<String>,
    /// With --dns: the network of the servers (tcp, tcp4 = A records only, tcp6 = AAAA only,
    /// http, ws, wss; default tcp).
    #[arg(long, value_name = "NET", requires = "dns")]
    pub(crate) dns_network: Option<String>,
    /// Registry base path.
    #[arg(long, value_name = "P", default_value = "/rpcx_test")]
    pub(crate) base_path: String,
    /// Reach the registry over TLS trusting these PEM CA certificates.
    #[arg(long, value_name = "FILE")]
    pub(crate) registry_tls_ca: Option<PathBuf>,
    /// Present this PEM client certificate to the registry (mutual TLS; with
    /// --registry-tls-key).
    #[arg(long, value_name = "FILE", requires = "registry_tls_key")]
    pub(crate) registry_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --registry-tls-cert.
    #[arg(long, value_name = "FILE", requires = "registry_tls_cert")]
    pub(crate) registry_tls_key: Option<PathBuf>,
}

/// TLS to the rpcx servers.
#[derive(clap::Args, Clone)]
pub(crate) struct TlsArgs {
    /// Connect with TLS, trusting the system's CA bundle unless --tls-ca is given (implied
    /// by the other --tls-* flags).
    #[arg(long)]
    pub(crate) tls: bool,
    /// Connect with TLS, trusting these PEM CA certificates.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_ca: Option<PathBuf>,
    /// Present this PEM client certificate (mutual TLS; with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the host of the address).
    #[arg(long, value_name = "NAME")]
    pub(crate) tls_server_name: Option<String>,
    /// DANGER, for tests only: do NOT verify the server's certificate (expired, self-signed
    /// or for another name, it is accepted: anyone on the path can impersonate the server).
    #[arg(long)]
    pub(crate) tls_insecure: bool,
}

/// `--compress`: a name or a compress type number.
pub(crate) fn parse_compress(s: &str) -> Result<CompressType, String> {
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
pub(crate) fn mode_key(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

pub(crate) fn parse_select(s: &str) -> Result<Select, String> {
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

pub(crate) fn parse_fail(s: &str) -> Result<Fail, String> {
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
pub(crate) enum Select {
    Random,
    RoundRobin,
    WeightedRoundRobin,
    WeightedIcmp,
    ConsistentHash,
    HeartbeatRtt,
}

#[derive(Clone, Copy)]
pub(crate) enum Fail {
    Failover,
    Failfast,
    Failtry,
    Failbackup,
}

#[derive(clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Only this service (default: every service under the base path); or, with no
    /// registry flag, the ADDRESS of a server to ask through Go's reflection service
    /// (tcp@host:port, host:port, unix@/path…).
    #[arg(value_name = "SERVICE|ADDRESS")]
    pub(crate) service: Option<String>,
    /// With ADDRESS: list this service's methods (`Service.Method` lines).
    #[arg(value_name = "SERVICE")]
    pub(crate) reflect_service: Option<String>,
    /// With ADDRESS: how to reach the server.
    #[command(flatten)]
    pub(crate) conn: crate::reflect::ConnArgs,
}

/// `--codec`: the serialization of the request and the reply on the wire.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Codec {
    /// JSON (serialize type 1).
    Json,
    /// MsgPack (serialize type 3), converted from and to JSON.
    Msgpack,
    /// The bytes as given (serialize type 0).
    Raw,
}

/// `--output`: how the reply is written to standard output.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// The reply as JSON and a newline (a JSON string for --codec raw).
    Json,
    /// The reply payload's bytes unchanged, nothing added.
    Raw,
    /// The reply payload's bytes as lower-case hex digits and a newline.
    Hex,
    /// The reply payload's bytes in standard base64 (with padding) and a newline.
    Base64,
}

#[derive(clap::Args)]
pub(crate) struct CallArgs {
    /// `ADDRESS Service.Method [ARGS]`, or `Service.Method [ARGS]` with --etcd/--consul/--redis/--zookeeper/--dns.
    /// ADDRESS: tcp@host:port, host:port or unix@/path; or rpcx tunnelled as Go's clients do:
    /// http@host:port (HTTP CONNECT /_rpcx_), ws@host:port (a WebSocket at /_rpcx_) or
    /// wss@host:port (a WebSocket over TLS: add --tls or --tls-ca). Service.Method is split at
    /// the last dot. ARGS: JSON for json/msgpack/--proto, text for raw; default `{}` (empty
    /// for raw). `-` or `@-` reads ARGS from standard input, `@FILE` from FILE (bytes as they
    /// are: binary-safe with --codec raw); `@@…` stands for a literal ARGS starting with `@`
    /// (the first `@` is dropped).
    #[arg(value_name = "ARG", num_args = 1..=3, required = true)]
    pub(crate) positional: Vec<String>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// Select mode among the registered servers (default random): random, round-robin,
    /// weighted-round-robin, weighted-icmp, consistent-hash, heartbeat-rtt; `_` for `-` and
    /// Go's names (RoundRobin…) work too.
    #[arg(long = "select", value_name = "MODE", value_parser = parse_select)]
    pub(crate) select: Option<Select>,
    /// Fail mode among the registered servers (default failover): failover, failfast,
    /// failtry, failbackup, in any case (Go's Failover…).
    #[arg(long = "fail", value_name = "MODE", value_parser = parse_fail)]
    pub(crate) fail: Option<Fail>,
    /// Only servers of this group (metadata `group`).
    #[arg(long)]
    pub(crate) group: Option<String>,
    /// Call every registered server; succeed only if all do (prints the first reply; Go's
    /// Broadcast). Needs --etcd/--consul/--redis/--zookeeper/--dns.
    #[arg(long, conflicts_with_all = ["fork", "inform"])]
    pub(crate) broadcast: bool,
    /// Call every registered server; the first success wins (Go's Fork). Needs
    /// --etcd/--consul/--redis/--zookeeper/--dns.
    #[arg(long, conflicts_with = "inform")]
    pub(crate) fork: bool,
    /// Call every registered server and print each one's outcome, one JSON object per line
    /// (`{"server":…,"reply":…}` or `{"server":…,"error":…}`); exits 1 if any failed (Go's
    /// Inform). Needs --etcd/--consul/--redis/--zookeeper/--dns.
    #[arg(long)]
    pub(crate) inform: bool,
    /// Serialization on the wire (with --proto: protobuf, and --codec is not given).
    #[arg(long, value_enum, default_value = "json")]
    pub(crate) codec: Codec,
    /// How to print the reply: json (the default, except with --codec raw, where a UTF-8
    /// reply is printed as text and any other as hex, each with a newline), raw (the reply's
    /// bytes unchanged), hex or base64 (the reply's bytes encoded, with a newline).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub(crate) output: Option<Output>,
    /// A .proto file (repeatable): call with protobuf (serialize type 2); the request and
    /// reply messages are those of `rpc Method` in the file's `service` named like the rpcx
    /// service, ARGS is their JSON form (proto3 JSON mapping) and the reply is printed as
    /// JSON. Compiled in-process: no protoc needed.
    #[arg(long, value_name = "FILE", conflicts_with = "codec")]
    pub(crate) proto: Vec<PathBuf>,
    /// Where the --proto files and their imports are looked up (repeatable; default: the
    /// directory of each --proto file). Each --proto file must be inside one of them.
    #[arg(long, value_name = "DIR", requires = "proto")]
    pub(crate) import_path: Vec<PathBuf>,
    /// With --proto: print fields that have their default value too (proto3 JSON omits them).
    #[arg(long, requires = "proto")]
    pub(crate) emit_defaults: bool,
    /// Request metadata pair (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub(crate) meta: Vec<String>,
    /// Call timeout in seconds (also sent as __ServerTimeout).
    #[arg(long, default_value_t = 10.0)]
    pub(crate) timeout: f64,
    /// Auth token, sent as __AUTH.
    #[arg(long)]
    pub(crate) auth: Option<String>,
    /// Compress the request when it is larger than --compress-threshold bytes: none, gzip,
    /// snappy (type 2, Go's protocol.SnappyCompressor framing) or a number 0-7. The server
    /// answers a large reply with the same compression.
    #[arg(long, value_name = "TYPE", value_parser = parse_compress, default_value = "none")]
    pub(crate) compress: CompressType,
    /// Requests larger than this many bytes are compressed (with --compress).
    #[arg(long, value_name = "BYTES", default_value_t = rpcx::protocol::COMPRESS_THRESHOLD)]
    pub(crate) compress_threshold: usize,
    /// Same as --compress gzip.
    #[arg(long, conflicts_with = "compress")]
    pub(crate) gzip: bool,
    /// Also print the response metadata (to stderr).
    #[arg(long, short)]
    pub(crate) verbose: bool,
    /// Start a new trace: send a fresh random W3C `traceparent` (sampled) in the request
    /// metadata and print `trace-id: <32 hex digits>` to stderr before calling. A server
    /// with OpenTelemetry (Go's rpcx-plugins, rpcx's `otel`) makes its span a child of it.
    #[arg(long)]
    pub(crate) trace: bool,
}
