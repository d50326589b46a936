//! Service discovery: a current list of servers plus a stream of changes.
//!
//! A [`Discovery`] publishes complete lists through a `tokio::sync::watch` channel, so a
//! subscriber always sees the newest list and never a backlog. [`Peer`] and
//! [`MultipleServers`] are built in; etcd, consul and DNS live behind the `etcd`, `consul`
//! and `dns` cargo features.

use std::sync::Arc;

use tokio::sync::watch;

use super::meta::ServerMeta;

/// One server as a registry lists it: key `network@address`, value the URL-query metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerEntry {
    /// `tcp@10.0.0.5:8972`, `unix@/path`…
    pub key: String,
    /// Metadata query string (`weight=10&group=blue`), may be empty.
    pub metadata: String,
}

impl ServerEntry {
    /// An entry.
    pub fn new(key: impl Into<String>, metadata: impl Into<String>) -> ServerEntry {
        ServerEntry {
            key: key.into(),
            metadata: metadata.into(),
        }
    }

    /// The metadata, parsed.
    pub fn meta(&self) -> ServerMeta {
        ServerMeta::parse(&self.metadata)
    }
}

/// A source of servers for one service.
pub trait Discovery: Send + Sync + 'static {
    /// A receiver of the complete server list: its current value now, and each new list as
    /// it is published.
    fn subscribe(&self) -> watch::Receiver<Vec<ServerEntry>>;

    /// The current list.
    fn servers(&self) -> Vec<ServerEntry> {
        self.subscribe().borrow().clone()
    }

    /// Stops background watching (idempotent).
    fn close(&self) {}
}

/// A fixed list that can be replaced at run time; the base of the static discoveries and a
/// building block for registry-backed ones.
#[derive(Clone)]
pub struct MultipleServers {
    tx: Arc<watch::Sender<Vec<ServerEntry>>>,
}

impl MultipleServers {
    /// Starts with `servers`.
    pub fn new(servers: Vec<ServerEntry>) -> MultipleServers {
        let (tx, _) = watch::channel(servers);
        MultipleServers { tx: Arc::new(tx) }
    }

    /// From bare addresses with empty metadata.
    pub fn from_addresses<I, S>(addresses: I) -> MultipleServers
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        MultipleServers::new(
            addresses
                .into_iter()
                .map(|a| ServerEntry::new(a, ""))
                .collect(),
        )
    }

    /// Replaces the list; every subscriber sees the new one.
    pub fn update(&self, servers: Vec<ServerEntry>) {
        self.tx.send_replace(servers);
    }
}

impl Discovery for MultipleServers {
    fn subscribe(&self) -> watch::Receiver<Vec<ServerEntry>> {
        self.tx.subscribe()
    }
}

/// Exactly one server (Go's peer-to-peer discovery).
#[derive(Clone)]
pub struct Peer(MultipleServers);

impl Peer {
    /// The server at `address` with `metadata`.
    pub fn new(address: impl Into<String>, metadata: impl Into<String>) -> Peer {
        Peer(MultipleServers::new(vec![ServerEntry::new(
            address, metadata,
        )]))
    }
}

impl Discovery for Peer {
    fn subscribe(&self) -> watch::Receiver<Vec<ServerEntry>> {
        self.0.subscribe()
    }
}
