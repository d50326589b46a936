//! Calls started without a task of their own ([`Client::start_call_raw`]): the request is
//! written (or queued) on the caller's thread and the outcome is handed to a callback by
//! whoever delivers it — the connection's reader for a reply. Bindings whose callers live
//! outside the runtime (an asyncio loop, a C event loop) save a task spawn, and the wake-up of
//! a runtime thread to run it, per call.

use std::sync::{Arc, Mutex};

use tokio::task::AbortHandle;

use super::conn::Conn;
use super::{response_within, Client, RawRequest, RawResponse};
use crate::Error;

/// A call started with [`Client::start_call_raw`].
///
/// Dropping it does not stop the call; [`StartedCall::cancel`] does.
pub struct StartedCall {
    pending: Option<(Arc<Conn>, u64)>,
    timer: Arc<Mutex<Option<AbortHandle>>>,
}

impl std::fmt::Debug for StartedCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedCall")
            .field("seq", &self.pending.as_ref().map(|(_, seq)| *seq))
            .finish()
    }
}

impl StartedCall {
    /// Stops waiting: the callback is dropped without being called, a late reply is
    /// discarded, and the call's timer (if any) ends now.
    pub fn cancel(&self) {
        if let Some((conn, seq)) = &self.pending {
            conn.forget(*seq);
        }
        if let Some(t) = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

impl Client {
    /// Starts a call and returns at once; `done` runs exactly once with the outcome (unless
    /// the call is [cancelled](StartedCall::cancel)), on the runtime thread that read the
    /// reply, or on this thread if the call fails before it is sent. Unlike
    /// [`call_raw`](Client::call_raw) no task is spawned unless the request must wait for
    /// room in the send queue or has a timeout (its timer is a task, ended with the call).
    ///
    /// Interceptors run as for `call_raw`: `before_call` on this thread, `after_call` before
    /// `done`. `done` must not block: it runs on a runtime thread.
    ///
    /// # Panics
    /// Outside a tokio runtime context (it spawns the timer and the queue wait there).
    pub fn start_call_raw<F>(&self, mut req: RawRequest, done: F) -> StartedCall
    where
        F: FnOnce(Result<RawResponse, Error>) + Send + 'static,
    {
        let hooks = &self.inner.options.interceptors;
        let timer: Arc<Mutex<Option<AbortHandle>>> = Arc::default();
        let (seen, refused) = if hooks.is_empty() {
            (None, None)
        } else {
            let (seen, refused) = hooks.before(&mut req, &self.inner.server, false);
            (Some(seen), refused)
        };
        let client = self.clone();
        let finish = move |result: Result<RawResponse, Error>| {
            if let Some(seen) = seen {
                let inner = &client.inner;
                inner
                    .options
                    .interceptors
                    .after(seen, &inner.server, result.as_ref());
            }
            done(result);
        };
        if let Some(e) = refused {
            finish(Err(e));
            return StartedCall {
                pending: None,
                timer,
            };
        }
        let timeout = req.timeout.or(self.inner.options.default_timeout);
        let conn = Arc::clone(&self.inner.conn);
        let seq = conn.next_seq();
        let msg = self.build(req, seq, false, timeout);
        let stop_timer = Arc::clone(&timer);
        let registered = conn.register_call(
            seq,
            Box::new(move |outcome| {
                if let Some(t) = stop_timer.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    t.abort();
                }
                finish(outcome.and_then(|msg| response_within(msg, timeout)));
            }),
        );
        if !registered {
            return StartedCall {
                pending: None,
                timer,
            };
        }
        if let Some(d) = timeout {
            // Durations too large for a deadline mean no limit (as `call_raw`).
            if let Some(deadline) = tokio::time::Instant::now().checked_add(d) {
                let on_time = Arc::clone(&conn);
                let task = tokio::spawn(async move {
                    tokio::time::sleep_until(deadline).await;
                    on_time.fail_call(seq, Error::Timeout(d));
                });
                let mut slot = timer.lock().unwrap_or_else(|e| e.into_inner());
                // The reply may already have come (and found no timer to stop).
                if conn.is_pending(seq) {
                    *slot = Some(task.abort_handle());
                } else {
                    task.abort();
                }
            }
        }
        match conn.send_now(msg) {
            Ok(None) => {}
            Ok(Some(queued)) => {
                let conn = Arc::clone(&conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.send_queued(queued).await {
                        conn.fail_call(seq, e);
                    }
                });
            }
            Err(e) => conn.fail_call(seq, e),
        }
        StartedCall {
            pending: Some((conn, seq)),
            timer,
        }
    }
}
