//! Memory budgets in bytes: what one connection (and the whole server) holds in requests being
//! served and replies not yet written. The reader stops taking frames off a connection while
//! either budget is spent (backpressure through TCP, as HTTP/2 flow-control windows do), so a
//! client that pipelines requests and never reads its replies pins a bounded amount of memory.
//!
//! Budgets are soft: a request is admitted whole while the budget is not yet spent, and a reply
//! is charged without waiting (a handler never blocks on the budget), so one connection holds
//! at most its budget plus one frame plus the replies of the calls already admitted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::protocol::Message;

/// Bytes charged per message besides its payload, names and metadata (header, bookkeeping).
const MESSAGE_OVERHEAD: usize = 64;

/// The bytes a message holds in memory, as charged against a budget.
pub(crate) fn footprint(msg: &Message) -> usize {
    let meta = msg.metadata.charged_len();
    MESSAGE_OVERHEAD + msg.payload.len() + msg.service_path.len() + msg.service_method.len() + meta
}

/// One budget: bytes in use against a limit, and a wake-up for a reader waiting for room.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    used: AtomicUsize,
    limit: usize,
    freed: Notify,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> ByteBudget {
        ByteBudget {
            used: AtomicUsize::new(0),
            limit,
            freed: Notify::new(),
        }
    }

    /// True while the budget is spent: take no more requests.
    pub(crate) fn is_spent(&self) -> bool {
        self.used.load(Ordering::Acquire) >= self.limit
    }

    /// Waits until the budget is not spent.
    pub(crate) async fn room(&self) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before checking, so a release between the check and the wait wakes us.
            freed.as_mut().enable();
            if !self.is_spent() {
                return;
            }
            freed.await;
        }
    }

    /// Bytes currently charged.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn charge(&self, n: usize) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    fn release(&self, n: usize) {
        let before = self.used.fetch_sub(n, Ordering::AcqRel);
        if before >= self.limit && before - n < self.limit {
            self.freed.notify_waiters();
        }
    }
}

/// The budgets a connection charges: its own and the server's.
#[derive(Debug)]
pub(crate) struct Budgets {
    pub(crate) conn: ByteBudget,
    pub(crate) server: Arc<ByteBudget>,
}

impl Budgets {
    pub(crate) fn new(conn_limit: usize, server: Arc<ByteBudget>) -> Arc<Budgets> {
        Arc::new(Budgets {
            conn: ByteBudget::new(conn_limit),
            server,
        })
    }

    /// Charges `n` bytes to both budgets until the returned charge is dropped.
    pub(crate) fn charge(self: &Arc<Self>, n: usize) -> Charge {
        self.conn.charge(n);
        self.server.charge(n);
        Charge {
            budgets: Arc::clone(self),
            n,
        }
    }

    /// True while either budget is spent.
    pub(crate) fn is_spent(&self) -> bool {
        self.conn.is_spent() || self.server.is_spent()
    }

    /// Waits until neither budget is spent.
    pub(crate) async fn room(&self) {
        loop {
            let conn = self.conn.freed.notified();
            let server = self.server.freed.notified();
            tokio::pin!(conn, server);
            // Registered before checking, so a release between the check and the wait wakes us.
            conn.as_mut().enable();
            server.as_mut().enable();
            if !self.is_spent() {
                return;
            }
            tokio::select! {
                _ = conn => {}
                _ = server => {}
            }
        }
    }
}

/// Bytes charged to a connection's budgets, released when dropped (after the reply was
/// written, or when the call or connection is abandoned).
#[derive(Debug)]
pub(crate) struct Charge {
    budgets: Arc<Budgets>,
    n: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budgets.conn.release(self.n);
        self.budgets.server.release(self.n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn room_waits_until_a_charge_is_released() {
        let budgets = Budgets::new(100, Arc::new(ByteBudget::new(1000)));
        let held = budgets.charge(150);
        assert!(budgets.is_spent());
        let b = Arc::clone(&budgets);
        let waiter = tokio::spawn(async move { b.room().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("room() woke up")
            .unwrap();
        assert_eq!(budgets.conn.used(), 0);
        assert_eq!(budgets.server.used(), 0);
    }

    #[tokio::test]
    async fn the_server_budget_is_shared_by_connections() {
        let server = Arc::new(ByteBudget::new(100));
        let a = Budgets::new(1000, Arc::clone(&server));
        let b = Budgets::new(1000, Arc::clone(&server));
        let held = a.charge(100);
        assert!(b.is_spent(), "another connection's bytes count server-wide");
        drop(held);
        assert!(!b.is_spent());
    }
}
