//! The watching discovery behind every registry engine: lists a service's prefix once, then
//! follows it through the store's [`KvStore::wait_change`], publishing the complete list
//! whenever it changes. When the store fails, subscribers keep the last list while the
//! watch is retried with a backoff of 1 s doubling to 30 s, each retry starting with a fresh
//! listing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::discovery::ServerEntry;
use crate::kv::{servers_of, KvStore};
use crate::Error;

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Pause after a wait that returned without a change (a blocking query may return early).
const NO_CHANGE_PAUSE: Duration = Duration::from_millis(50);

/// The servers of one service, followed in the background until closed or dropped.
pub(crate) struct Watched {
    tx: Arc<watch::Sender<Vec<ServerEntry>>>,
    stop: CancellationToken,
    prefix: String,
}

impl Watched {
    /// Lists the servers under `prefix` (`<base>/<service>` as the store spells it) and
    /// starts following them. Fails if the store cannot be reached; no server yet is fine.
    pub(crate) async fn start<S: KvStore>(mut store: S, prefix: String) -> Result<Watched, Error> {
        let query = format!("{prefix}/");
        let first = store.list(&query).await?;
        let (tx, _) = watch::channel(servers_of(&prefix, first.pairs));
        let tx = Arc::new(tx);
        let stop = CancellationToken::new();
        tokio::spawn(follow(
            store,
            prefix.clone(),
            Arc::clone(&tx),
            stop.clone(),
            first.version,
        ));
        Ok(Watched { tx, stop, prefix })
    }

    /// The watched prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Vec<ServerEntry>> {
        self.tx.subscribe()
    }

    pub(crate) fn close(&self) {
        self.stop.cancel();
    }

    /// `Debug` for the public wrapper named `name`.
    pub(crate) fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("prefix", &self.prefix)
            .field("servers", &self.tx.borrow().len())
            .finish()
    }
}

/// `Debug` and `impl Discovery` for an engine's public discovery, a tuple struct around a
/// [`Watched`].
macro_rules! watched_discovery {
    ($t:ident) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.debug(stringify!($t), f)
            }
        }

        impl $crate::xclient::Discovery for $t {
            fn subscribe(&self) -> tokio::sync::watch::Receiver<Vec<$crate::xclient::ServerEntry>> {
                self.0.subscribe()
            }

            fn close(&self) {
                self.0.close();
            }
        }
    };
}
pub(crate) use watched_discovery;

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn publish(tx: &watch::Sender<Vec<ServerEntry>>, list: Vec<ServerEntry>) {
    tx.send_if_modified(|cur| {
        if *cur == list {
            false
        } else {
            *cur = list;
            true
        }
    });
}

async fn follow<S: KvStore>(
    mut store: S,
    prefix: String,
    tx: Arc<watch::Sender<Vec<ServerEntry>>>,
    stop: CancellationToken,
    mut version: u64,
) {
    let query = format!("{prefix}/");
    let mut backoff = BACKOFF_MIN;
    loop {
        let changed = tokio::select! {
            _ = stop.cancelled() => return,
            r = store.wait_change(&query, version) => r,
        };
        match changed {
            Ok(listing) => {
                backoff = BACKOFF_MIN;
                let unchanged = listing.version == version;
                version = listing.version;
                publish(&tx, servers_of(&prefix, listing.pairs));
                if unchanged {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(NO_CHANGE_PAUSE) => {}
                    }
                }
            }
            Err(_) => {
                // Broken watch: wait, then catch up with a fresh list before waiting again.
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                let listed = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = store.list(&query) => r,
                };
                if let Ok(listing) = listed {
                    version = listing.version;
                    publish(&tx, servers_of(&prefix, listing.pairs));
                }
            }
        }
    }
}
