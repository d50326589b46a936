//! ZooKeeper as a [`KvStore`], in the layout of libkv v0.5.1's zookeeper store (under Go's
//! rpcx-zookeeper plugin): a key `a/b/c` is the znode `/a/b/c` (one `/` put in front, a
//! trailing `/` dropped); parents are created as persistent nodes with empty data; a value is
//! the node's data, as is.
//!
//! Ephemeral keys are ephemeral znodes of this store's ZooKeeper session: the client keeps
//! the session alive by itself, [`KvStore::refresh`] checks that the session is still usable
//! and that every ephemeral node written on it still exists and belongs to it, and a session
//! that expired (the server unreachable for longer than the session timeout) is reported as
//! [`StoreError::Lost`], after which the registration loop opens a new one and writes every
//! node again. An ephemeral node left by another (older) session is deleted and created
//! again on ours.
//!
//! Watching: one-shot watches on the children of the watched node and on the data of every
//! child; any event (or 15 s without one) lists again.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use zookeeper_client as zk;

use super::{KvStore, Listing, StoreError};
use crate::Error;

/// How long one ZooKeeper request may take.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting (establishing a session) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a discovery waits for a watch event before listing again anyway.
pub(crate) const RESYNC: Duration = Duration::from_secs(15);
/// How deep below a listed node [`KvStore::list`] goes (`<base>/<Service>/<address>`).
const LIST_DEPTH: usize = 2;

fn io(what: String) -> Error {
    Error::Io(std::io::Error::other(format!("zookeeper: {what}")))
}

/// The znode of a key, as libkv spells it: `/` + the key without its trailing `/`.
pub(crate) fn znode(key: &str) -> String {
    format!("/{}", key.trim_end_matches('/'))
}

/// Checks a `host:port[,host:port…]` connect string (no chroot).
pub(crate) fn check_servers(servers: &str) -> Result<(), Error> {
    if servers.trim().is_empty() {
        return Err(Error::Config("zookeeper: empty server address".into()));
    }
    if servers.contains('/') {
        return Err(Error::Config(format!(
            "zookeeper: {servers}: expected host:port[,host:port…] without a path"
        )));
    }
    Ok(())
}

/// Runs one request with [`OP_TIMEOUT`].
async fn bounded<T>(fut: impl Future<Output = Result<T, zk::Error>>) -> Result<T, zk::Error> {
    tokio::time::timeout(OP_TIMEOUT, fut)
        .await
        .unwrap_or(Err(zk::Error::Timeout))
}

/// True when the error means the session is gone for good.
fn session_gone(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
    )
}

/// A ZooKeeper connection (one session) used as a [`KvStore`].
pub(crate) struct ZkStore {
    servers: String,
    session_timeout: Duration,
    refresh: Duration,
    client: Option<zk::Client>,
    state: Option<zk::StateWatcher>,
    /// Znodes written as ephemeral on the current session.
    ephemerals: BTreeSet<String>,
    /// The last listing handed out (prefix, pairs), to notice changes made between a listing
    /// and the watches set by the next [`KvStore::wait_change`].
    last: Option<(String, Pairs)>,
}

impl ZkStore {
    /// A store for the ensemble `servers` (`host:port[,host:port…]`), not connected yet.
    /// `session_timeout` is asked of the server (which bounds it by its own min and max);
    /// `refresh` is how often the registration loop checks the session.
    pub(crate) fn new(servers: &str, session_timeout: Duration, refresh: Duration) -> ZkStore {
        ZkStore {
            servers: servers.to_owned(),
            session_timeout,
            refresh,
            client: None,
            state: None,
            ephemerals: BTreeSet::new(),
            last: None,
        }
    }

    async fn connect(&self) -> Result<zk::Client, Error> {
        let connect = zk::Client::connector()
            .with_session_timeout(self.session_timeout)
            .with_connection_timeout(CONNECT_TIMEOUT)
            .with_fail_eagerly()
            .connect(&self.servers);
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(io(format!("connect to {}: {e}", self.servers))),
            Err(_) => Err(io(format!(
                "connect to {}: no session within {CONNECT_TIMEOUT:?}",
                self.servers
            ))),
        }
    }

    /// The connected client, connecting first when there is none or its session ended (for
    /// the discovery, which has no ephemeral nodes to lose).
    async fn client(&mut self) -> Result<zk::Client, Error> {
        if let Some(c) = &self.client {
            if !c.state().is_terminated() {
                return Ok(c.clone());
            }
        }
        let c = self.connect().await?;
        self.state = Some(c.state_watcher());
        self.client = Some(c.clone());
        Ok(c)
    }

    /// The client of the registration's session; none (or a dead one) is a lost session.
    fn session(&self) -> Result<zk::Client, StoreError> {
        match &self.client {
            Some(c) if !c.state().is_terminated() => Ok(c.clone()),
            Some(c) => Err(StoreError::Lost(io(format!(
                "session {} ended: {}",
                c.session_id(),
                c.state()
            )))),
            None => Err(StoreError::Lost(io("no session".into()))),
        }
    }

    fn write_error(&self, path: &str, e: zk::Error) -> StoreError {
        let err = io(format!("{path}: {e}"));
        if session_gone(&e) {
            StoreError::Lost(err)
        } else {
            StoreError::Failed(err)
        }
    }

    /// Creates the missing parents of `path` as persistent nodes with empty data.
    async fn create_parents(&self, c: &zk::Client, path: &str) -> Result<(), StoreError> {
        let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let mut end = 0;
        while let Some(i) = path[end + 1..].find('/') {
            end += 1 + i;
            let parent = &path[..end];
            match bounded(c.create(parent, b"", &opts)).await {
                Ok(_) | Err(zk::Error::NodeExists) => {}
                Err(e) => return Err(self.write_error(parent, e)),
            }
        }
        Ok(())
    }

    /// Every node below `dir` (a znode), up to [`LIST_DEPTH`] levels, as `(key, data)` with
    /// keys `<key_dir>/<relative path>`. A missing `dir` is an empty listing.
    async fn walk(c: &zk::Client, dir: &str, key_dir: &str) -> Result<Listing, Error> {
        let mut pairs = Vec::new();
        let mut version = 0u64;
        let mut todo = vec![(dir.to_owned(), key_dir.to_owned(), 0usize)];
        while let Some((node, key, depth)) = todo.pop() {
            let children = match bounded(c.get_children(&node)).await {
                Ok((children, stat)) => {
                    if depth == 0 {
                        version = u64::try_from(stat.pzxid).unwrap_or(0);
                    }
                    children
                }
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(io(format!("list {node}: {e}"))),
            };
            for child in children {
                let child_node = if node == "/" {
                    format!("/{child}")
                } else {
                    format!("{node}/{child}")
                };
                let child_key = format!("{key}/{child}");
                match bounded(c.get_data(&child_node)).await {
                    Ok((data, _)) => pairs.push((child_key.clone(), data)),
                    Err(zk::Error::NoNode) => continue,
                    Err(e) => return Err(io(format!("get {child_node}: {e}"))),
                }
                if depth + 1 < LIST_DEPTH {
                    todo.push((child_node, child_key, depth + 1));
                }
            }
        }
        pairs.sort();
        Ok(Listing { pairs, version })
    }

    fn forget_client(&mut self) {
        self.client = None;
        self.state = None;
    }
}

/// `(key, value)` pairs of a listing.
type Pairs = Vec<(String, Vec<u8>)>;

type Event = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;

impl KvStore for ZkStore {
    fn refresh_period(&self) -> Duration {
        self.refresh
    }

    async fn new_session(&mut self) -> Result<(), Error> {
        self.forget_client();
        self.ephemerals.clear();
        let c = self.connect().await?;
        self.state = Some(c.state_watcher());
        self.client = Some(c);
        Ok(())
    }

    async fn refresh(&mut self) -> Result<(), StoreError> {
        let c = self.session()?;
        let ours = c.session_id().0;
        let paths: Vec<String> = self.ephemerals.iter().cloned().collect();
        for path in paths {
            match bounded(c.check_stat(&path)).await {
                Ok(Some(stat)) if stat.ephemeral_owner == ours => {}
                Ok(_) => {
                    return Err(StoreError::Lost(io(format!(
                        "ephemeral node {path} is gone"
                    ))))
                }
                Err(e) => return Err(self.write_error(&path, e)),
            }
        }
        Ok(())
    }

    async fn lost(&mut self) {
        let Some(state) = self.state.as_mut() else {
            return std::future::pending().await;
        };
        if state.peek_state().is_terminated() {
            return;
        }
        loop {
            if state.changed().await.is_terminated() {
                return;
            }
        }
    }

    async fn put(&mut self, key: &str, value: &str, ephemeral: bool) -> Result<(), StoreError> {
        let c = self.session()?;
        let path = znode(key);
        let ours = c.session_id().0;
        let stat = bounded(c.check_stat(&path))
            .await
            .map_err(|e| self.write_error(&path, e))?;
        if let Some(stat) = stat {
            if !ephemeral || stat.ephemeral_owner == ours {
                return match bounded(c.set_data(&path, value.as_bytes(), None)).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(self.write_error(&path, e)),
                };
            }
            // An ephemeral node of another session (ours before it expired, or a stale
            // server's): take it over.
            match bounded(c.delete(&path, None)).await {
                Ok(()) | Err(zk::Error::NoNode) => {}
                Err(e) => return Err(self.write_error(&path, e)),
            }
        }
        self.create_parents(&c, &path).await?;
        let mode = if ephemeral {
            zk::CreateMode::Ephemeral
        } else {
            zk::CreateMode::Persistent
        };
        let opts = mode.with_acls(zk::Acls::anyone_all());
        match bounded(c.create(&path, value.as_bytes(), &opts)).await {
            Ok(_) => {}
            Err(zk::Error::NodeExists) if !ephemeral => {
                bounded(c.set_data(&path, value.as_bytes(), None))
                    .await
                    .map_err(|e| self.write_error(&path, e))?;
            }
            Err(e) => return Err(self.write_error(&path, e)),
        }
        if ephemeral {
            self.ephemerals.insert(path);
        }
        Ok(())
    }

    async fn delete(&mut self, key: &str) -> Result<(), Error> {
        let path = znode(key);
        self.ephemerals.remove(&path);
        let c = match self.session() {
            Ok(c) => c,
            // No session: its ephemeral nodes are gone already.
            Err(_) => return Ok(()),
        };
        match bounded(c.delete(&path, None)).await {
            Ok(()) | Err(zk::Error::NoNode) => Ok(()),
            Err(e) => Err(io(format!("delete {path}: {e}"))),
        }
    }

    async fn list(&mut self, prefix: &str) -> Result<Listing, Error> {
        let c = self.client().await?;
        let key_dir = prefix.trim_end_matches('/');
        let listing = match Self::walk(&c, &znode(key_dir), key_dir).await {
            Ok(l) => l,
            Err(e) => {
                self.forget_client();
                return Err(e);
            }
        };
        self.last = Some((prefix.to_owned(), listing.pairs.clone()));
        Ok(listing)
    }

    async fn wait_change(&mut self, prefix: &str, _since: u64) -> Result<Listing, Error> {
        let c = self.client().await?;
        let key_dir = prefix.trim_end_matches('/');
        let dir = znode(key_dir);
        // Watch first, then compare with what was handed out last: a change made in
        // between is not missed.
        let mut events: Vec<Event> = Vec::new();
        let mut pairs = Vec::new();
        match bounded(c.get_and_watch_children(&dir)).await {
            Ok((children, _, w)) => {
                events.push(Box::pin(w.changed()));
                for child in children {
                    let node = format!("{dir}/{child}");
                    match bounded(c.get_and_watch_data(&node)).await {
                        Ok((data, _, w)) => {
                            events.push(Box::pin(w.changed()));
                            pairs.push((format!("{key_dir}/{child}"), data));
                        }
                        Err(zk::Error::NoNode) => {}
                        Err(e) => {
                            self.forget_client();
                            return Err(io(format!("get {node}: {e}")));
                        }
                    }
                }
            }
            Err(zk::Error::NoNode) => match bounded(c.check_and_watch_stat(&dir)).await {
                Ok((_, w)) => events.push(Box::pin(w.changed())),
                Err(e) => {
                    self.forget_client();
                    return Err(io(format!("watch {dir}: {e}")));
                }
            },
            Err(e) => {
                self.forget_client();
                return Err(io(format!("watch {dir}: {e}")));
            }
        }
        pairs.sort();
        let same = self
            .last
            .as_ref()
            .is_some_and(|(p, last)| p == prefix && *last == pairs);
        if same {
            let any = futures_util::future::select_all(events);
            if let Ok((event, _, _)) = tokio::time::timeout(RESYNC, any).await {
                if event.session_state.is_terminated() {
                    self.forget_client();
                    return Err(io(format!("session ended: {}", event.session_state)));
                }
            }
        }
        self.list(prefix).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn znodes_as_libkv_normalises_them() {
        assert_eq!(super::znode("rpcx/Arith/tcp@h:1"), "/rpcx/Arith/tcp@h:1");
        assert_eq!(super::znode("rpcx/"), "/rpcx");
    }

    #[test]
    fn servers_are_checked() {
        assert!(super::check_servers("").is_err());
        assert!(super::check_servers("h:1/chroot").is_err());
        assert!(super::check_servers("h:1,h:2").is_ok());
    }
}
