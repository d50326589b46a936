//! `rpcx list ADDRESS [SERVICE]` and `rpcx describe ADDRESS [SERVICE]`: Go rpcx's reflection
//! service (`Reflection.GetServices`, `Reflection.GetService`), served by Go servers that
//! register `reflection.New()` and by ours with reflection enabled.

use std::collections::BTreeMap;
use std::time::Duration;

use rpcx::client::{Client, ClientOptions};
use rpcx::protocol::SerializeType;

use crate::cli::TlsArgs;
use crate::failure::Failure;
use crate::validate::{check_address, timeout_secs};

/// The reflection service's name, as Go applications register it.
const SERVICE: &str = "Reflection";

/// Arguments of `describe`.
#[derive(clap::Args)]
pub(crate) struct DescribeArgs {
    /// tcp@host:port (or host:port, unix@/path, http@/ws@/wss@host:port) of a server serving
    /// Go's reflection service.
    pub(crate) address: String,
    /// Only this service (`Reflection.GetService`); default every service
    /// (`Reflection.GetServices`).
    pub(crate) service: Option<String>,
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
}

/// How to reach the server.
#[derive(clap::Args, Clone)]
pub(crate) struct ConnArgs {
    /// Timeout in seconds of the connection and the call.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) timeout: f64,
    /// Auth token, sent as __AUTH.
    #[arg(long)]
    pub(crate) auth: Option<String>,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// True when `s` names a server rather than a service (services have neither `@` nor `:`):
/// `rpcx list ADDRESS` then asks the server instead of a registry.
pub(crate) fn is_address(s: &str) -> bool {
    s.contains('@') || s.contains(':') || s.contains('/')
}

/// Calls `Reflection.method(arg)` with JSON strings (what Go's and our servers both take).
async fn reflect(
    address: &str,
    conn: &ConnArgs,
    method: &str,
    arg: &str,
) -> Result<String, Failure> {
    let timeout: Duration = timeout_secs(conn.timeout)?;
    check_address(address)?;
    let mut options = ClientOptions::default()
        .serialize_type(SerializeType::JSON)
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(t) = &conn.auth {
        options = options.auth(t.clone());
    }
    if let Some(tls) = conn.tls.config()? {
        options = options.with_tls(tls.build().map_err(|e| e.to_string())?);
    }
    let client = Client::connect(address, options)
        .await
        .map_err(Failure::rpc)?;
    let result = client
        .call::<_, String>(SERVICE, method, &arg.to_owned())
        .await
        .map_err(|e| match e {
            rpcx::Error::Server(s) if s.message.contains("can't find service") => {
                Failure::Server(format!(
                    "{} (the server does not serve Go's reflection service; Go servers register \
                     reflection.New(), ours enable reflection)",
                    s.message
                ))
            }
            e => Failure::rpc(e),
        });
    client.close();
    result
}

/// The methods of every service in a reflection text, by service (from the
/// `type (s *Service) Method(ctx context.Context, arg *A, reply *R) error {` lines).
pub(crate) fn methods_of(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("type (s *") else {
            continue;
        };
        let Some((service, rest)) = rest.split_once(") ") else {
            continue;
        };
        let Some((method, _)) = rest.split_once('(') else {
            continue;
        };
        let methods = out.entry(service.to_owned()).or_default();
        if !methods.iter().any(|m| m == method) {
            methods.push(method.to_owned());
        }
    }
    out
}

/// `rpcx list ADDRESS [SERVICE]`: the service names (sorted), or `SERVICE.Method` lines.
pub(crate) async fn list(
    address: &str,
    service: Option<&str>,
    conn: &ConnArgs,
) -> Result<Vec<String>, Failure> {
    match service {
        None => {
            let text = reflect(address, conn, "GetServices", "").await?;
            Ok(methods_of(&text).into_keys().collect())
        }
        Some(s) => {
            let text = reflect(address, conn, "GetService", s).await?;
            let methods = methods_of(&text);
            // Go's text names the service by its Go type, which may differ from the
            // registered name: take the one service the text describes.
            let mut lines = Vec::new();
            for ms in methods.values() {
                for m in ms {
                    lines.push(format!("{s}.{m}"));
                }
            }
            Ok(lines)
        }
    }
}

/// `rpcx describe ADDRESS [SERVICE]`: the reflection text as the server sends it.
pub(crate) async fn describe(a: DescribeArgs) -> Result<String, Failure> {
    match &a.service {
        None => reflect(&a.address, &a.conn, "GetServices", "").await,
        Some(s) => reflect(&a.address, &a.conn, "GetService", s).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_from_go_text() {
        let text = "package svc\n\ntype Arith struct{}\n\n\ntype Args struct {\n\tA int64 \n}\n\n\n\
                    type (s *Arith) Add(ctx context.Context, arg *Args, reply *Reply) error {\n\treturn nil\n}\n\n\
                    type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {\n\treturn nil\n}\n\n\
                    type Hello struct{}\n\n\n\n\n\
                    type (s *Hello) Say(ctx context.Context, arg *BenchmarkMessage, reply *BenchmarkMessage) error {\n\treturn nil\n}\n";
        let m = methods_of(text);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["Arith", "Hello"]);
        assert_eq!(m["Arith"], ["Add", "Mul"]);
        assert_eq!(m["Hello"], ["Say"]);
        assert!(is_address("tcp@127.0.0.1:8972") && is_address("127.0.0.1:8972"));
        assert!(is_address("unix@/tmp/s") && !is_address("Arith"));
    }
}
