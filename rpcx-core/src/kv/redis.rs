//! Redis as a [`KvStore`], in the layout of libkv v0.5.1's redis store (what Go rpcx
//! v1.9.4's `RedisRegisterPlugin` writes through):
//!
//! - a key `k` is stored under libkv's normalised name `/` + `k` (so a base path given with a
//!   leading `/` becomes `//base/…`, exactly as in Go);
//! - every value is the JSON of libkv's `KVPair`: `{"Key":k,"Value":<base64 of the
//!   bytes>,"LastIndex":<the nanoseconds of the write's wall-clock second>}`;
//! - ephemeral (node) keys carry a TTL (2 × the update interval, as Go's plugin asks) and are
//!   written again, with that TTL, on every refresh; base and service keys have none.
//!
//! There is no session: a refresh rewrites every ephemeral key, and when the base or a
//! service key has vanished (Redis restarted empty) it reports [`StoreError::Lost`] so the
//! registration loop writes every key again.
//!
//! Watching uses keyspace notifications as libkv does: every (re)connection turns them on
//! with `CONFIG SET notify-keyspace-events KEA`, and the discovery `PSUBSCRIBE`s to
//! `__keyspace*:<prefix>*`, listing again after each notification. Notifications are
//! fire-and-forget, so the listing is also refreshed every [`RESYNC`] without one; when the
//! server refuses `CONFIG SET` (a managed Redis) the discovery falls back to polling every
//! [`POLL`].

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures_util::stream::{Stream, StreamExt};
use futures_util::FutureExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};

use super::{KvStore, Listing, StoreError};
use crate::Error;

/// Bound of one connection attempt or command.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a watching discovery lists again without a notification.
pub(crate) const RESYNC: Duration = Duration::from_secs(15);
/// How often it lists when keyspace notifications could not be turned on.
pub(crate) const POLL: Duration = Duration::from_secs(1);

type Messages = Pin<Box<dyn Stream<Item = redis::Msg> + Send>>;

/// A Redis client with the registration's ephemeral keys and the discovery's subscription.
pub(crate) struct RedisStore {
    client: Client,
    conn: Option<MultiplexedConnection>,
    /// Refresh period: Go's `UpdateInterval`; ephemeral keys live twice as long.
    interval: Duration,
    /// Ephemeral keys written (store spelling, un-normalised) → value.
    ephemeral: BTreeMap<String, String>,
    /// Persistent keys written (base and service keys).
    persistent: BTreeMap<String, String>,
    /// The open subscription: prefix, messages, and whether notifications are on.
    watch: Option<(String, Messages, bool)>,
    /// Version of the last listing (a counter: Redis has no revision).
    listed: u64,
}

/// A Redis error as this crate's error.
pub(crate) fn redis_error(what: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("redis: {what}")))
}

/// A [`Client`] for `address`: `host:port`, or a `redis://[:password@]host:port[/db]` URL.
pub(crate) fn redis_client(address: &str) -> Result<Client, Error> {
    let address = address.trim();
    if address.is_empty() {
        return Err(Error::Config("redis: empty address".into()));
    }
    let url = if address.contains("://") {
        address.to_owned()
    } else {
        format!("redis://{address}")
    };
    Client::open(url.as_str()).map_err(|e| Error::Config(format!("redis: {address}: {e}")))
}

/// libkv's `store.Normalize`: one `/` in front of the key, nothing else changed.
pub(crate) fn normalize(key: &str) -> String {
    format!("/{key}")
}

/// The JSON of libkv's `KVPair` as Go's `encoding/json` writes it (fields in declaration
/// order, `[]byte` as standard base64, `<`, `>`, `&`, U+2028 and U+2029 escaped).
pub(crate) fn encode_pair(key: &str, value: &[u8], last_index: u64) -> String {
    let key = serde_json::to_string(key).unwrap_or_else(|_| "\"\"".into());
    let key = key
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    let value = base64::engine::general_purpose::STANDARD.encode(value);
    format!(r#"{{"Key":{key},"Value":"{value}","LastIndex":{last_index}}}"#)
}

/// The value bytes of a `KVPair` JSON (`null` = empty); `None` if it is not one.
pub(crate) fn decode_pair(json: &[u8]) -> Option<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    match v.as_object()?.get("Value")? {
        serde_json::Value::Null => Some(Vec::new()),
        serde_json::Value::String(s) => base64::engine::general_purpose::STANDARD.decode(s).ok(),
        _ => None,
    }
}

/// libkv's `LastIndex`: the nanoseconds within the current second.
fn sequence_num() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()))
}

/// `prefix` with the glob characters of `SCAN MATCH` / `PSUBSCRIBE` escaped.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn bounded<T>(
    f: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, Error> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r.map_err(redis_error),
        Err(_) => Err(redis_error(format!("no answer within {OP_TIMEOUT:?}"))),
    }
}

impl RedisStore {
    /// A store over `client`; `interval` is the refresh period (ephemeral keys live
    /// 2 × `interval`, at least 1 ms).
    pub(crate) fn new(client: Client, interval: Duration) -> RedisStore {
        RedisStore {
            client,
            conn: None,
            interval: interval.max(Duration::from_millis(1)),
            ephemeral: BTreeMap::new(),
            persistent: BTreeMap::new(),
            watch: None,
            listed: 0,
        }
    }

    /// The command connection, opened (and keyspace notifications turned on, as libkv does)
    /// if needed.
    async fn conn(&mut self) -> Result<MultiplexedConnection, Error> {
        if let Some(c) = &self.conn {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT));
        let mut c = bounded(
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await?;
        // Best effort, as in libkv (a managed Redis may refuse CONFIG).
        let _ = notify_on(&mut c).await;
        self.conn = Some(c.clone());
        Ok(c)
    }

    /// Runs `cmd` (every command used here is idempotent). A failure on a connection opened
    /// earlier (Redis restarted since) is retried once on a new one; a failure on a new
    /// connection drops it so that the next call reconnects.
    async fn run<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> Result<T, Error> {
        loop {
            let reused = self.conn.is_some();
            let mut c = self.conn().await?;
            match bounded(cmd.query_async(&mut c)).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    self.conn = None;
                    if !reused {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// [`run`](Self::run) for a pipeline.
    async fn run_pipe(&mut self, pipe: &redis::Pipeline) -> Result<(), Error> {
        loop {
            let reused = self.conn.is_some();
            let mut c = self.conn().await?;
            match bounded(pipe.query_async::<()>(&mut c)).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.conn = None;
                    if !reused {
                        return Err(e);
                    }
                }
            }
        }
    }

    fn set_cmd(&self, key: &str, value: &str, ephemeral: bool) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(normalize(key))
            .arg(encode_pair(key, value.as_bytes(), sequence_num()));
        if ephemeral {
            let ttl = (self.interval * 2).as_millis().max(1);
            cmd.arg("PX").arg(u64::try_from(ttl).unwrap_or(u64::MAX));
        }
        cmd
    }

    /// Subscribes to the keyspace notifications of `prefix`, turning them on first.
    async fn subscribe(&mut self, prefix: &str) -> Result<(), Error> {
        self.watch = None;
        let mut c = self.conn().await?;
        let mut notifying = notify_on(&mut c).await.is_ok();
        if !notifying {
            // Perhaps a connection from before a restart: try once on a new one.
            self.conn = None;
            let mut c = self.conn().await?;
            notifying = notify_on(&mut c).await.is_ok();
        }
        let mut pubsub = bounded(self.client.get_async_pubsub()).await?;
        let pattern = format!("__keyspace*:{}*", glob_escape(prefix));
        bounded(pubsub.psubscribe(pattern)).await?;
        self.watch = Some((
            prefix.to_owned(),
            Box::pin(pubsub.into_on_message()),
            notifying,
        ));
        Ok(())
    }
}

async fn notify_on(c: &mut MultiplexedConnection) -> Result<(), Error> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("SET").arg("notify-keyspace-events").arg("KEA");
    bounded(cmd.query_async::<()>(c)).await
}

impl KvStore for RedisStore {
    /// Go's `UpdateInterval`: every ephemeral key is written again with a TTL of twice that.
    fn refresh_period(&self) -> Duration {
        self.interval
    }

    /// Redis has no session: (re)connects, which turns keyspace notifications on again.
    async fn new_session(&mut self) -> Result<(), Error> {
        self.conn = None;
        self.conn().await.map(drop)
    }

    /// Rewrites every ephemeral key with a fresh TTL (Go rewrites each node key every
    /// interval); [`StoreError::Lost`] when a base or service key is missing, i.e. Redis
    /// lost its data, so that everything is written again.
    async fn refresh(&mut self) -> Result<(), StoreError> {
        if !self.persistent.is_empty() {
            let mut cmd = redis::cmd("EXISTS");
            for key in self.persistent.keys() {
                cmd.arg(normalize(key));
            }
            let present: usize = self.run(&cmd).await?;
            if present < self.persistent.len() {
                return Err(StoreError::Lost(redis_error(
                    "the registry's keys are gone (Redis restarted empty?)",
                )));
            }
        }
        let mut pipe = redis::pipe();
        for (key, value) in &self.ephemeral {
            pipe.add_command(self.set_cmd(key, value, true)).ignore();
        }
        if !self.ephemeral.is_empty() {
            self.run_pipe(&pipe).await?;
        }
        Ok(())
    }

    async fn lost(&mut self) {
        std::future::pending().await
    }

    async fn put(&mut self, key: &str, value: &str, ephemeral: bool) -> Result<(), StoreError> {
        let cmd = self.set_cmd(key, value, ephemeral);
        self.run::<()>(&cmd).await?;
        let map = if ephemeral {
            &mut self.ephemeral
        } else {
            &mut self.persistent
        };
        map.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    async fn delete(&mut self, key: &str) -> Result<(), Error> {
        self.ephemeral.remove(key);
        self.persistent.remove(key);
        let mut cmd = redis::cmd("DEL");
        cmd.arg(normalize(key));
        self.run::<()>(&cmd).await
    }

    /// `SCAN MATCH <prefix>*` then `MGET`, as libkv's `List`. Unlike [`put`](Self::put) and
    /// [`delete`](Self::delete), which take libkv's keys and normalise them, listing and
    /// watching take and return Redis's own key names (`/<base>/…`); values are decoded from
    /// their `KVPair` JSON (other values are skipped).
    async fn list(&mut self, prefix: &str) -> Result<Listing, Error> {
        let pattern = format!("{}*", glob_escape(prefix));
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(100);
            let (next, batch): (u64, Vec<Vec<u8>>) = self.run(&cmd).await?;
            // A key that is not UTF-8 cannot be a server of ours: skipped, not an error.
            keys.extend(batch.into_iter().filter_map(|k| String::from_utf8(k).ok()));
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        let mut pairs = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(256) {
            let mut cmd = redis::cmd("MGET");
            for k in chunk {
                cmd.arg(k);
            }
            let values: Vec<Option<Vec<u8>>> = self.run(&cmd).await?;
            for (k, v) in chunk.iter().zip(values) {
                if let Some(value) = v.as_deref().and_then(decode_pair) {
                    pairs.push((k.clone(), value));
                }
            }
        }
        self.listed += 1;
        Ok(Listing {
            pairs,
            version: self.listed,
        })
    }

    /// Waits for a keyspace notification under `prefix` (subscribing first if needed, and
    /// then listing at once so that nothing between the caller's listing and the
    /// subscription is missed), or for [`RESYNC`] ([`POLL`] without notifications), then
    /// lists again. A closed subscription (Redis restarted) is an error.
    async fn wait_change(&mut self, prefix: &str, _since: u64) -> Result<Listing, Error> {
        if self.watch.as_ref().is_none_or(|(p, _, _)| p != prefix) {
            self.subscribe(prefix).await?;
            return self.list(prefix).await;
        }
        let Some((_, messages, notifying)) = self.watch.as_mut() else {
            return Err(redis_error("the subscription was closed"));
        };
        let wait = if *notifying { RESYNC } else { POLL };
        match tokio::time::timeout(wait, messages.next()).await {
            Ok(Some(_)) => {
                // One listing for a burst of notifications.
                while let Some(Some(_)) = messages.next().now_or_never() {}
            }
            Ok(None) => {
                self.watch = None;
                return Err(redis_error("the subscription was closed"));
            }
            Err(_) => {}
        }
        let listed = self.list(prefix).await;
        if listed.is_err() {
            self.watch = None;
        }
        listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_as_go_writes_them() {
        assert_eq!(
            encode_pair("rpcx/Arith/tcp@127.0.0.1:1", b"w=1", 42),
            r#"{"Key":"rpcx/Arith/tcp@127.0.0.1:1","Value":"dz0x","LastIndex":42}"#
        );
        assert_eq!(
            encode_pair("a<b>&", b"", 0),
            r#"{"Key":"a\u003cb\u003e\u0026","Value":"","LastIndex":0}"#
        );
        assert_eq!(
            decode_pair(br#"{"Key":"k","Value":"dz0x"}"#).unwrap(),
            b"w=1"
        );
        assert_eq!(decode_pair(br#"{"Key":"k","Value":null}"#).unwrap(), b"");
        assert!(decode_pair(b"plain").is_none());
        assert_eq!(normalize("/rpcx/A"), "//rpcx/A");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
