//! `rpcx list`: the servers registered in a registry.

use rpcx::xclient::{
    ConsulDiscovery, Discovery, EtcdDiscovery, RedisDiscovery, ServerEntry, ServerMeta,
    ZookeeperDiscovery,
};

use crate::cli::ListArgs;
use crate::failure::Failure;

pub(crate) async fn list(a: ListArgs) -> Result<Vec<String>, Failure> {
    let r = &a.registry;
    let registry = r.etcd.is_some()
        || r.consul.is_some()
        || r.redis.is_some()
        || r.zookeeper.is_some()
        || r.dns.is_some();
    match (&a.service, registry) {
        (Some(addr), false) if crate::reflect::is_address(addr) => {
            return crate::reflect::list(addr, a.reflect_service.as_deref(), &a.conn).await;
        }
        _ if a.reflect_service.is_some() => {
            return Err(Failure::Usage(
                "a second argument (SERVICE) goes with a server ADDRESS, not a registry".into(),
            ));
        }
        _ => {}
    }
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
pub(crate) fn meta_json(s: &ServerEntry) -> String {
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

pub(crate) fn unescape_query(s: &str) -> String {
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
