//! `rpcx call`: one call to a server or through a registry's XClient.

use std::time::Duration;

use bytes::Bytes;
use rpcx::client::{Client, ClientOptions, RawRequest};
use rpcx::codec::Codable;
use rpcx::protocol::{CompressType, Metadata, SerializeType};
use rpcx::xclient::{FailMode, SelectMode, XClient, XClientOptions};

use crate::cli::{CallArgs, Codec, Fail, Output, Select};
use crate::failure::Failure;
use crate::input;
use crate::proto::{self, ProtoMethod};
use crate::validate::{check_address, meta_pair, timeout_secs};

/// `rpcx call`: what to write to standard output (the reply in the `--output` form).
pub(crate) async fn call(a: CallArgs) -> Result<Vec<u8>, Failure> {
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
    if a.inform && a.output == Some(Output::Raw) {
        return Err(Failure::Input(
            "--output raw writes one reply's bytes: with --inform give --output json, hex or \
             base64"
                .into(),
        ));
    }
    let wire = if a.proto.is_empty() {
        match a.codec {
            Codec::Json => Wire::Json,
            Codec::Msgpack => Wire::Msgpack,
            Codec::Raw => Wire::Raw,
        }
    } else {
        let pool = proto::compile(&a.proto, &a.import_path)?;
        Wire::Proto(proto::method(&pool, service, method, a.emit_defaults)?)
    };
    let st = wire.serialize_type();
    let payload = wire.encode(call_args.as_deref())?;
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
            return inform_lines(&wire, a.output, receipts.map_err(no_server)?);
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
        return render(&wire, a.output, &resp.payload).map_err(Failure::Other);
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
    render(&wire, a.output, &resp.payload).map_err(Failure::Other)
}

/// One JSON line per server of an inform (the reply in the `--output` form: JSON, or a
/// string of hex or base64); `Err` (after printing all the lines) when any server failed.
pub(crate) fn inform_lines(
    wire: &Wire,
    output: Option<Output>,
    receipts: Vec<rpcx::xclient::Receipt<rpcx::client::RawResponse>>,
) -> Result<Vec<u8>, Failure> {
    let mut lines = Vec::new();
    let mut failed = false;
    for rc in receipts {
        let mut line = serde_json::Map::new();
        line.insert("server".into(), rc.server.into());
        let outcome = rc
            .result
            .map_err(|e| e.to_string())
            .and_then(|resp| reply_value(wire, output, &resp.payload));
        match outcome {
            Ok(reply) => {
                line.insert("reply".into(), reply);
            }
            Err(e) => {
                failed = true;
                line.insert("error".into(), e.into());
            }
        }
        lines.push(serde_json::Value::Object(line).to_string());
    }
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    if failed {
        use std::io::Write;
        let _ = std::io::stdout().write_all(&out);
        return Err(Failure::Other(
            "some servers failed (see their lines above)".into(),
        ));
    }
    Ok(out)
}

pub(crate) fn select_mode(s: Select) -> SelectMode {
    match s {
        Select::Random => SelectMode::Random,
        Select::RoundRobin => SelectMode::RoundRobin,
        Select::WeightedRoundRobin => SelectMode::WeightedRoundRobin,
        Select::WeightedIcmp => SelectMode::WeightedIcmp,
        Select::ConsistentHash => SelectMode::ConsistentHash,
        Select::HeartbeatRtt => SelectMode::HeartbeatRtt,
    }
}

/// How the request is encoded and the reply decoded.
pub(crate) enum Wire {
    /// JSON text both ways.
    Json,
    /// MsgPack, converted from and to JSON.
    Msgpack,
    /// The bytes as they are.
    Raw,
    /// Protobuf messages of a .proto method, converted from and to JSON.
    Proto(ProtoMethod),
}

impl Wire {
    /// The serialize type of the messages.
    pub(crate) fn serialize_type(&self) -> SerializeType {
        match self {
            Wire::Json => SerializeType::JSON,
            Wire::Msgpack => SerializeType::MSGPACK,
            Wire::Raw => SerializeType::RAW,
            Wire::Proto(_) => SerializeType::PROTOBUF,
        }
    }

    /// The request payload from ARGS (text, `-`/`@-` for standard input, `@FILE`; absent:
    /// `{}`, or nothing for raw).
    pub(crate) fn encode(&self, args: Option<&str>) -> Result<Bytes, Failure> {
        let bytes = match args {
            Some(a) => input::read_args(a)?,
            None if matches!(self, Wire::Raw) => Vec::new(),
            None => b"{}".to_vec(),
        };
        let from = input::describe(args);
        let st = match self {
            Wire::Raw => return Ok(bytes.into()),
            Wire::Proto(m) => return m.encode(&bytes, &from).map(Bytes::from),
            Wire::Json => SerializeType::JSON,
            Wire::Msgpack => SerializeType::MSGPACK,
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::Input(format!("{from} are not valid JSON: {e}")))?;
        let mut out = Vec::new();
        value
            .encode_as(st, &mut out)
            .map_err(|e| Failure::Input(e.to_string()))?;
        Ok(out.into())
    }

    /// The reply as JSON (`null` for an empty JSON or MsgPack payload; a JSON string of the
    /// text for raw, which must then be UTF-8).
    pub(crate) fn reply_json(&self, payload: &[u8]) -> Result<serde_json::Value, String> {
        let st = match self {
            Wire::Raw => {
                return std::str::from_utf8(payload)
                    .map(|t| serde_json::Value::String(t.to_owned()))
                    .map_err(|_| {
                        "the reply is not UTF-8 text: print it with --output raw, hex or base64"
                            .to_owned()
                    })
            }
            Wire::Proto(m) => return m.decode(payload),
            Wire::Json => SerializeType::JSON,
            Wire::Msgpack => SerializeType::MSGPACK,
        };
        if payload.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::Value::decode_as(st, payload).map_err(|e| format!("reply: {e}"))
    }
}

/// The reply as `--output` asks (default: JSON; for raw, the text when it is UTF-8 and hex
/// otherwise), with a newline except for `--output raw`.
pub(crate) fn render(
    wire: &Wire,
    output: Option<Output>,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let mut out = match (output, wire) {
        (Some(Output::Raw), _) => return Ok(payload.to_vec()),
        (Some(Output::Hex), _) => hex(payload).into_bytes(),
        (Some(Output::Base64), _) => base64_std(payload).into_bytes(),
        (None, Wire::Raw) => raw_text(payload).into_bytes(),
        (_, Wire::Proto(m)) => m.decode_text(payload)?.into_bytes(),
        (Some(Output::Json), _) | (None, _) => wire.reply_json(payload)?.to_string().into_bytes(),
    };
    out.push(b'\n');
    Ok(out)
}

/// The reply of one server of an inform, as a JSON value for its line.
fn reply_value(
    wire: &Wire,
    output: Option<Output>,
    payload: &[u8],
) -> Result<serde_json::Value, String> {
    match (output, wire) {
        (Some(Output::Hex), _) => Ok(hex(payload).into()),
        (Some(Output::Base64), _) => Ok(base64_std(payload).into()),
        (None, Wire::Raw) => Ok(raw_text(payload).into()),
        _ => wire.reply_json(payload),
    }
}

/// A raw reply for people: the text when it is UTF-8, else hex.
fn raw_text(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(s) => s.to_owned(),
        Err(_) => hex(payload),
    }
}

/// Lower-case hex digits, two per byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

/// Standard base64 with padding (RFC 4648 section 4).
pub(crate) fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_encodings() {
        assert_eq!(hex(b""), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(base64_std(b""), "");
        assert_eq!(base64_std(b"f"), "Zg==");
        assert_eq!(base64_std(b"foob"), "Zm9vYg==");
        assert_eq!(base64_std(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn output_forms() {
        let json = br#"{"C":56}"#;
        assert_eq!(render(&Wire::Json, None, json).unwrap(), b"{\"C\":56}\n");
        assert_eq!(render(&Wire::Json, Some(Output::Raw), json).unwrap(), json);
        assert_eq!(render(&Wire::Raw, None, b"hi").unwrap(), b"hi\n");
        assert_eq!(render(&Wire::Raw, None, &[0xff, 0]).unwrap(), b"ff00\n");
        assert_eq!(
            render(&Wire::Raw, Some(Output::Json), b"a\"b").unwrap(),
            b"\"a\\\"b\"\n"
        );
        assert!(render(&Wire::Raw, Some(Output::Json), &[0xff]).is_err());
        assert_eq!(render(&Wire::Json, None, b"").unwrap(), b"null\n");
    }

    #[test]
    fn inform_reply_values() {
        let json = br#"{"C":56}"#;
        assert_eq!(
            reply_value(&Wire::Json, None, json).unwrap(),
            serde_json::json!({"C": 56})
        );
        assert_eq!(
            reply_value(&Wire::Json, Some(Output::Hex), json).unwrap(),
            serde_json::json!("7b2243223a35367d")
        );
        assert_eq!(
            reply_value(
                &Wire::Msgpack,
                Some(Output::Base64),
                &[0x81, 0xa1, b'C', 0x38]
            )
            .unwrap(),
            serde_json::json!("gaFDOA==")
        );
        assert_eq!(
            reply_value(&Wire::Raw, None, &[0xff, 0x00]).unwrap(),
            serde_json::json!("ff00")
        );
        assert_eq!(
            reply_value(&Wire::Raw, Some(Output::Json), b"hi").unwrap(),
            serde_json::json!("hi")
        );
        assert!(reply_value(&Wire::Json, None, b"{oops").is_err());
    }
}
