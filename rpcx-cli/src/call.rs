//! `rpcx call`: one call to a server or through a registry's XClient.

use std::time::Duration;

use bytes::Bytes;
use rpcx::client::{Client, ClientOptions, RawRequest};
use rpcx::codec::Codable;
use rpcx::protocol::{CompressType, Metadata, SerializeType};
use rpcx::xclient::{FailMode, SelectMode, XClient, XClientOptions};

use crate::cli::{CallArgs, Codec, Fail, Select};
use crate::failure::Failure;
use crate::validate::{check_address, meta_pair, timeout_secs};

pub(crate) async fn call(a: CallArgs) -> Result<String, Failure> {
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
pub(crate) fn inform_lines(
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

pub(crate) fn encode_args(codec: Codec, args: Option<&str>) -> Result<Bytes, String> {
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

pub(crate) fn decode_reply(codec: Codec, payload: &[u8]) -> Result<String, String> {
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
