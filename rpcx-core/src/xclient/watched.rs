//! The watching discovery behind every registry engine: lists a service's prefix once, then
//! follows it through the store's [`KvStore::wait_change`], publishing the complete list
//! whenever it changes. When the store fails, subscribers keep the last list while the
//! watch is retried with a backoff of 1 s doubling to 10 s, each retry starting with a fresh
//! listing. A store that comes back *empty* (restarted without its data) does not empty the
//! list at once: the servers write their keys again within their refresh period, so an
//! empty listing replaces a non-empty one only when it is still empty [`EMPTY_GRACE`] after
//! the store's return. One line is logged when the store fails and one when it is back.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::discovery::ServerEntry;
use crate::kv::{servers_of, KvStore};
use crate::Error;

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How long after a store's return an empty listing is taken for "not repopulated yet"
/// rather than "no server left".
pub(crate) const EMPTY_GRACE: Duration = Duration::from_secs(30);
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
    // When the store last came back after its watch broke (unreachable, restarted): an empty
    // listing then is held back.
    let mut returned: Option<Instant> = None;
    let mut failing = false;
    let mut broke = false;
    // An empty listing was held back: look again when the grace ends.
    let mut holding = false;
    loop {
        let grace_end = async {
            match returned {
                Some(t) if holding => tokio::time::sleep_until(t + EMPTY_GRACE).await,
                _ => std::future::pending().await,
            }
        };
        let changed = tokio::select! {
            _ = stop.cancelled() => return,
            r = store.wait_change(&query, version) => r,
            () = grace_end => store.list(&query).await,
        };
        match changed {
            Ok(listing) => {
                backoff = BACKOFF_MIN;
                if failing {
                    failing = false;
                    log_back(&prefix, listing.pairs.len());
                }
                if std::mem::take(&mut broke) {
                    returned = Some(Instant::now());
                }
                let unchanged = listing.version == version;
                version = listing.version;
                holding = offer(&tx, servers_of(&prefix, listing.pairs), returned);
                if unchanged {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(NO_CHANGE_PAUSE) => {}
                    }
                }
            }
            Err(e) => {
                // A broken watch may be a store that restarted, maybe empty: hold back an
                // empty listing after it as after an outage.
                broke = true;
                if !failing {
                    failing = true;
                    // Counted first: no borrow of the list is held while subscribers log.
                    let kept = tx.borrow().len();
                    log_failing(&prefix, kept, &e);
                }
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
                    failing = false;
                    if std::mem::take(&mut broke) {
                        returned = Some(Instant::now());
                    }
                    log_back(&prefix, listing.pairs.len());
                    version = listing.version;
                    holding = offer(&tx, servers_of(&prefix, listing.pairs), returned);
                }
            }
        }
    }
}

/// Publishes `list`, unless it is empty while the last one was not and the store came back
/// less than [`EMPTY_GRACE`] ago (its servers have not written their keys again yet); true
/// when it was held back.
fn offer(
    tx: &watch::Sender<Vec<ServerEntry>>,
    list: Vec<ServerEntry>,
    returned: Option<Instant>,
) -> bool {
    let fresh_return = returned.is_some_and(|t| t.elapsed() < EMPTY_GRACE);
    if list.is_empty() && fresh_return && !tx.borrow().is_empty() {
        return true;
    }
    publish(tx, list);
    false
}

/// The one line a discovery logs when its store fails.
fn log_failing(prefix: &str, kept: usize, error: &Error) {
    tracing::warn!(
        prefix = %prefix,
        servers_kept = kept,
        error = %error,
        "rpcx: discovery lost its registry; calls go to the last known servers while it retries"
    );
}

/// The one line a discovery logs when its store answers again.
fn log_back(prefix: &str, keys: usize) {
    tracing::info!(prefix = %prefix, keys = keys, "rpcx: discovery reached its registry again");
}
