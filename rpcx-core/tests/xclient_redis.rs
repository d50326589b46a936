//! Redis registry and discovery against a real redis-server (Debian's, started per test on
//! a free loopback port): the exact keys and `KVPair` JSON values Go's `RedisRegisterPlugin`
//! writes, discovery following servers coming and going, the node TTL refresh, a Redis
//! restart (empty, same port), and the graceful stop deleting node keys.
#![cfg(feature = "redis")]

#[path = "redis_support.rs"]
mod redis_support;
#[path = "xclient_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use redis_support::Redis;
use rpcx::arith::{Args, Reply};
use rpcx::registry::RedisRegistry;
use rpcx::server::{Plugin, ServerHandle};
use rpcx::xclient::{Discovery, RedisDiscovery, ServerEntry, XClient, XClientOptions};
use support::{guard, start_named, wait_until, GUARD};

async fn registered(
    redis: &Redis,
    base: &str,
    name: &str,
    meta: &str,
    interval: Duration,
) -> (ServerHandle, RedisRegistry) {
    let reg = RedisRegistry::connect(&redis.address, base, "", interval)
        .await
        .unwrap();
    let plugin: Arc<dyn Plugin> = Arc::new(reg.clone());
    let h = start_named(name, "127.0.0.1", meta, vec![plugin]).await;
    guard(GUARD, "registry flush", reg.flush()).await.unwrap();
    (h, reg)
}

fn key_of(h: &ServerHandle) -> String {
    h.local_address().to_string()
}

/// Checks that `json` is exactly libkv's `KVPair` JSON for `key` and `value`, and returns
/// its `LastIndex`.
fn assert_pair(json: &str, key: &str, value: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let last = v["LastIndex"].as_u64().expect("LastIndex is a u64");
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    let key_json = serde_json::to_string(key).unwrap();
    assert_eq!(
        json,
        format!(r#"{{"Key":{key_json},"Value":"{b64}","LastIndex":{last}}}"#)
    );
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_layout_discovery_and_graceful_stop() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let interval = Duration::from_secs(30);
    let (a, reg_a) = registered(&redis, "rpcx_test", "a", "weight=1&group=x", interval).await;
    let ka = key_of(&a);
    // Go's layout: keys normalised with one leading '/', values KVPair JSON.
    assert_eq!(
        redis.keys(),
        vec![
            "/rpcx_test".to_owned(),
            "/rpcx_test/Arith".to_owned(),
            format!("/rpcx_test/Arith/{ka}"),
            "/rpcx_test/Who".to_owned(),
            format!("/rpcx_test/Who/{ka}"),
        ]
    );
    assert_pair(&redis.get("/rpcx_test").unwrap(), "rpcx_test", "rpcx_path");
    assert_pair(
        &redis.get("/rpcx_test/Arith").unwrap(),
        "rpcx_test/Arith",
        "Arith",
    );
    let node_a = format!("/rpcx_test/Arith/{ka}");
    assert_pair(
        &redis.get(&node_a).unwrap(),
        &format!("rpcx_test/Arith/{ka}"),
        "weight=1&group=x",
    );
    // Node keys expire after 2 x UpdateInterval; base and service keys never.
    let pttl = redis.pttl(&node_a);
    assert!(pttl > 0 && pttl <= 60_000, "node PTTL {pttl}");
    assert_eq!(redis.pttl("/rpcx_test"), -1);
    assert_eq!(redis.pttl("/rpcx_test/Arith"), -1);
    // libkv turns keyspace notifications on.
    let events = redis
        .cli(&["CONFIG", "GET", "notify-keyspace-events"])
        .unwrap();
    assert!(events.contains('K') && events.contains('E'), "{events}");

    // A value that is not a KVPair under the prefix is skipped, not an error.
    assert_eq!(
        redis
            .cli(&["SET", "/rpcx_test/Arith/junk", "not json"])
            .as_deref(),
        Some("OK")
    );
    let d = RedisDiscovery::connect(&redis.address, "rpcx_test", "Arith")
        .await
        .unwrap();
    assert_eq!(d.prefix(), "/rpcx_test/Arith");
    assert_eq!(d.servers(), vec![ServerEntry::new(&ka, "weight=1&group=x")]);
    let xc = XClient::new("Arith", d, XClientOptions::default()).unwrap();
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 7, b: 8 }))
        .await
        .unwrap();
    assert_eq!(r.c, 56);

    // A second server appears through the keyspace notifications.
    redis.cli(&["DEL", "/rpcx_test/Arith/junk"]).unwrap();
    let (b, _reg_b) = registered(&redis, "rpcx_test", "b", "", interval).await;
    wait_until(GUARD, "b discovered", || xc.servers().len() == 2).await;
    let all = RedisDiscovery::list_all(&redis.address, "rpcx_test")
        .await
        .unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), vec!["Arith", "Who"]);
    assert_eq!(all["Arith"].len(), 2);
    assert_eq!(all["Who"].len(), 2);

    // Graceful stop: the node keys are deleted at once, and a is dropped.
    guard(GUARD, "shutdown", a.shutdown(Duration::from_secs(2))).await;
    guard(GUARD, "flush", reg_a.flush()).await.unwrap();
    assert_eq!(redis.get(&node_a), None, "node key deleted on shutdown");
    assert_eq!(redis.get(&format!("/rpcx_test/Who/{ka}")), None);
    assert!(redis.get("/rpcx_test/Arith").is_some(), "service key stays");
    wait_until(GUARD, "a dropped", || {
        xc.servers() == vec![ServerEntry::new(key_of(&b), "")]
    })
    .await;
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 3, b: 4 }))
        .await
        .unwrap();
    assert_eq!(r.c, 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_base_path_with_a_leading_slash_as_go_writes_it() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    let (a, _reg) = registered(&redis, "/rpcx_lead/", "a", "w=2", Duration::from_secs(30)).await;
    let ka = key_of(&a);
    let node = format!("//rpcx_lead/Arith/{ka}");
    assert!(redis.keys().contains(&node), "{:?}", redis.keys());
    assert_pair(
        &redis.get("//rpcx_lead").unwrap(),
        "/rpcx_lead",
        "rpcx_path",
    );
    assert_pair(
        &redis.get(&node).unwrap(),
        &format!("/rpcx_lead/Arith/{ka}"),
        "w=2",
    );
    let d = RedisDiscovery::connect(&redis.address, "/rpcx_lead", "Arith")
        .await
        .unwrap();
    assert_eq!(d.servers(), vec![ServerEntry::new(&ka, "w=2")]);
    // A base path without the slash is another tree.
    let other = RedisDiscovery::connect(&redis.address, "rpcx_lead", "Arith")
        .await
        .unwrap();
    assert!(other.servers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_ttl_is_refreshed_and_a_dead_server_expires() {
    let Some(redis) = Redis::start().await else {
        return;
    };
    // Generous against a loaded machine: a refresh late by up to one interval is fine.
    let interval = Duration::from_secs(1);
    let (a, reg) = registered(&redis, "rpcx_ttl", "a", "", interval).await;
    let node = format!("/rpcx_ttl/Arith/{}", key_of(&a));
    let d = RedisDiscovery::connect(&redis.address, "rpcx_ttl", "Arith")
        .await
        .unwrap();
    assert_eq!(d.servers().len(), 1);
    let rx = d.subscribe();
    // Refreshed every interval: the value is rewritten (a new LastIndex) and the key
    // outlives its TTL (2 s).
    let first = assert_pair(&redis.get(&node).unwrap(), &node[1..], "");
    let mut rewrites = 0;
    let mut last = first;
    for _ in 0..(GUARD.as_millis() / 50) {
        if let Some(v) = redis.get(&node) {
            let idx = assert_pair(&v, &node[1..], "");
            if idx != last {
                rewrites += 1;
                last = idx;
            }
        } else {
            panic!("node key expired while the registry was refreshing it");
        }
        if rewrites >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rewrites >= 3, "node key rewritten {rewrites} times");
    assert_eq!(rx.borrow().len(), 1);

    // A registry that stops refreshing (as a killed process) leaves nothing after its TTL.
    reg.close();
    wait_until(GUARD, "node key expired", || redis.get(&node).is_none()).await;
    wait_until(GUARD, "discovery dropped the expired server", || {
        d.servers().is_empty()
    })
    .await;
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_rewrites_keys_and_discovery_recovers() {
    let Some(mut redis) = Redis::start().await else {
        return;
    };
    let interval = Duration::from_secs(1);
    let (a, _reg_a) = registered(&redis, "rpcx_rs", "a", "v=1", interval).await;
    let ka = key_of(&a);
    let d = RedisDiscovery::connect(&redis.address, "rpcx_rs", "Arith")
        .await
        .unwrap();
    let xc = XClient::new("Arith", d, XClientOptions::default()).unwrap();
    let expected = vec![
        "/rpcx_rs".to_owned(),
        "/rpcx_rs/Arith".to_owned(),
        format!("/rpcx_rs/Arith/{ka}"),
        "/rpcx_rs/Who".to_owned(),
        format!("/rpcx_rs/Who/{ka}"),
    ];
    assert_eq!(redis.keys(), expected);

    // Redis comes back empty on the same port: every key is written again.
    redis.restart_empty().await;
    wait_until(GUARD, "keys re-written after the restart", || {
        redis.keys() == expected
    })
    .await;
    assert_pair(
        &redis.get(&format!("/rpcx_rs/Arith/{ka}")).unwrap(),
        &format!("rpcx_rs/Arith/{ka}"),
        "v=1",
    );
    assert!(redis.pttl(&format!("/rpcx_rs/Arith/{ka}")) > 0);
    // Keyspace notifications were turned on again on the new server.
    let events = redis
        .cli(&["CONFIG", "GET", "notify-keyspace-events"])
        .unwrap();
    assert!(events.contains('K') && events.contains('E'), "{events}");
    assert_eq!(xc.servers(), vec![ServerEntry::new(&ka, "v=1")]);
    // The discovery watches again (a server added after the restart is seen) and calls
    // work throughout.
    let (b, _reg_b) = registered(&redis, "rpcx_rs", "b", "v=2", interval).await;
    wait_until(GUARD, "b discovered after the restart", || {
        xc.servers().len() == 2
    })
    .await;
    assert!(xc.servers().contains(&ServerEntry::new(key_of(&b), "v=2")));
    let r: Reply = guard(GUARD, "call", xc.call("Mul", &Args { a: 6, b: 7 }))
        .await
        .unwrap();
    assert_eq!(r.c, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_without_config_falls_back_to_polling() {
    // A Redis that refuses CONFIG (as managed ones do): no keyspace notifications, so the
    // discovery lists every second instead; registration works as usual.
    let Some(redis) = Redis::start_with(&["--rename-command", "CONFIG", ""]).await else {
        return;
    };
    let refused = redis.cli(&["CONFIG", "GET", "notify-keyspace-events"]);
    assert!(
        refused
            .as_deref()
            .is_none_or(|o| o.contains("unknown command")),
        "{refused:?}"
    );
    let d = RedisDiscovery::connect(&redis.address, "rpcx_poll", "Arith")
        .await
        .unwrap();
    assert!(d.servers().is_empty());
    let interval = Duration::from_secs(30);
    let (a, reg) = registered(&redis, "rpcx_poll", "a", "p=1", interval).await;
    wait_until(GUARD, "a found by polling", || {
        d.servers() == vec![ServerEntry::new(key_of(&a), "p=1")]
    })
    .await;
    guard(GUARD, "shutdown", a.shutdown(Duration::from_secs(2))).await;
    guard(GUARD, "flush", reg.flush()).await.unwrap();
    wait_until(GUARD, "a dropped by polling", || d.servers().is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bad_addresses_fail_cleanly() {
    let dead = support::dead_address();
    let addr = dead.trim_start_matches("tcp@");
    // An unreachable Redis is an outage, not an error: the registry retries (its status
    // says why it is down, and its flush reports the error); a discovery has nothing to
    // list yet and fails.
    let reg = RedisRegistry::connect(addr, "b", "", Duration::from_secs(1))
        .await
        .unwrap();
    let status = reg.status();
    assert!(!status.up && status.last_error.is_some(), "{status:?}");
    assert!(guard(GUARD, "flush", reg.flush()).await.is_err());
    reg.close();
    assert!(RedisDiscovery::connect(addr, "b", "S").await.is_err());
    assert!(RedisRegistry::connect("", "b", "", Duration::from_secs(1))
        .await
        .is_err());
    assert!(
        RedisRegistry::connect("127.0.0.1:1", "b", "", Duration::ZERO)
            .await
            .is_err()
    );
    assert!(RedisDiscovery::list_all("redis://[bad", "b").await.is_err());
}
