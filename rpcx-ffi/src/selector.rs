//! A selector implemented in C: `rpcx_selector_callback` behind the core `Selector` trait.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use rpcx_core::xclient::{SelectRequest, Selector, ServerEntry};

use crate::discovery::rpcx_server_entry;
use crate::guard::Finalizer;

/// Picks the server for one call of an XClient: return the index (0 ≤ i < `n_servers`) of the
/// chosen entry in `servers`, or a negative (or any out-of-range) value to choose none — the
/// attempt then fails with `RPCX_ERR_NO_SERVER`.
///
/// `service` and `method` name the call and `args[0..args_len)` is its encoded payload (NULL
/// when empty; what ConsistentHash hashes). `servers[0..n_servers)` is the XClient's current
/// list (after group and state filtering), sorted by address, never empty (with no server the
/// callback is not called). Everything is borrowed for the duration of the callback only.
///
/// Runs on the thread of a blocking XClient call, or on an rpcx runtime worker thread (async
/// calls, broadcast, fork): calls overlap, so it must be thread-safe, and it must be quick and
/// must not block (it delays the call; blocking rpcx functions return
/// `RPCX_ERR_BLOCKING_IN_RUNTIME` there). It may run several times for one call: fail modes
/// ask again after a failure, and a choice of a server that just failed is asked again once
/// per server to find another. The finalizer registered with it runs exactly once, after its
/// last invocation (see `rpcx_xclient_options_set_selector`).
pub type rpcx_selector_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        service: *const c_char,
        method: *const c_char,
        args: *const u8,
        args_len: usize,
        servers: *const rpcx_server_entry,
        n_servers: usize,
    ) -> i64,
>;

pub(crate) type SelectorFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const u8,
    usize,
    *const rpcx_server_entry,
    usize,
) -> i64;

/// The C callback with its userdata; shared by the options and every XClient built from
/// them. The finalizer runs when the last of those lets go.
pub(crate) struct SelectorCallback {
    pub(crate) callback: SelectorFn,
    pub(crate) userdata: Finalizer,
}

/// The server list as C sees it.
#[derive(Default)]
struct Snapshot {
    keys: Vec<String>,
    /// Owns the strings `entries` points into (a CString's bytes do not move with it).
    _strings: Vec<(CString, CString)>,
    entries: Vec<rpcx_server_entry>,
}

// SAFETY: the raw pointers in `entries` point into the CStrings owned by the same snapshot,
// which is immutable once built and shared only behind an `Arc`.
unsafe impl Send for Snapshot {}
// SAFETY: as above; nothing mutates a snapshot after construction.
unsafe impl Sync for Snapshot {}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// One XClient's selector: its own server list, the shared C callback.
pub(crate) struct CSelector {
    callback: Arc<SelectorCallback>,
    service: CString,
    servers: RwLock<Arc<Snapshot>>,
}

impl CSelector {
    pub(crate) fn new(callback: Arc<SelectorCallback>, service: &str) -> CSelector {
        CSelector {
            callback,
            service: c_string(service),
            servers: RwLock::new(Arc::default()),
        }
    }
}

impl Selector for CSelector {
    fn select(&self, req: &SelectRequest<'_>) -> Option<String> {
        let snap = Arc::clone(&*self.servers.read().ok()?);
        if snap.entries.is_empty() {
            return None;
        }
        let method = c_string(req.method);
        let (args, args_len) = if req.args.is_empty() {
            (std::ptr::null(), 0)
        } else {
            (req.args.as_ptr(), req.args.len())
        };
        let cb = self.callback.callback;
        let ud = self.callback.userdata.userdata.0;
        let pick = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `cb` and `ud` were registered together by the C caller for calls from
            // any rpcx thread; every pointer passed outlives the call.
            unsafe {
                cb(
                    ud,
                    self.service.as_ptr(),
                    method.as_ptr(),
                    args,
                    args_len,
                    snap.entries.as_ptr(),
                    snap.entries.len(),
                )
            }
        }))
        .ok()?;
        let i = usize::try_from(pick).ok()?;
        snap.keys.get(i).cloned()
    }

    fn update(&self, servers: &[ServerEntry]) {
        let mut list: Vec<&ServerEntry> = servers.iter().collect();
        list.sort();
        list.dedup_by(|a, b| a.key == b.key);
        let strings: Vec<(CString, CString)> = list
            .iter()
            .map(|s| (c_string(&s.key), c_string(&s.metadata)))
            .collect();
        let entries = strings
            .iter()
            .map(|(k, m)| rpcx_server_entry {
                address: k.as_ptr(),
                metadata: m.as_ptr(),
            })
            .collect();
        let snap = Snapshot {
            keys: list.iter().map(|s| s.key.clone()).collect(),
            _strings: strings,
            entries,
        };
        if let Ok(mut s) = self.servers.write() {
            *s = Arc::new(snap);
        }
    }
}
