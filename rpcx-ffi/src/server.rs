//! `rpcx_server`: register C handlers, authenticate, start, shut down from any thread.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rpcx_core::protocol::Message;
use rpcx_core::server::{AuthFn, Handler, Metrics, Plugin, Server, ServerHandle, ServerOptions};
use tokio_util::sync::CancellationToken;

use crate::error::{rpcx_error, Failure};
use crate::guard::{
    cstr, invalid_arg, null_arg, on_runtime_thread, req, req_mut, run, run_or, Finalizer,
};
use crate::handler::{rpcx_handler_callback, FfiHandler};
use crate::options::rpcx_server_options;
use crate::registry::{self, Registry};
use crate::rpcx_finalizer;
use crate::status::rpcx_status;
use crate::transfer::SideSpec;
use rpcx_core::transfer::SideHandle;

/// Size of the buffer an auth callback may write its refusal message into.
pub const RPCX_AUTH_MESSAGE_CAP: usize = 1024;

/// Decides whether a request may proceed, from the token the client sent as `__AUTH`.
///
/// `service` and `method` name the call, `token` is the token (`""` when none was sent) and
/// `peer` the caller's address; all NUL-terminated and valid only during the callback. Return
/// non-zero to accept. To refuse, return 0 and optionally write a NUL-terminated message of
/// at most `message_cap` bytes (including the NUL) into `message` (zero-filled on entry; left
/// empty, the caller gets "rpcx: authentication failed"). A refused caller receives the
/// message as an error and its connection is closed (as in Go). Heartbeats are not
/// authenticated.
///
/// Runs on rpcx runtime worker threads, possibly on several at once: it must be thread-safe
/// and must not block for long.
pub type rpcx_auth_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        service: *const c_char,
        method: *const c_char,
        token: *const c_char,
        peer: *const c_char,
        message: *mut c_char,
        message_cap: usize,
    ) -> c_int,
>;

/// An rpcx server: create, register handlers (and an auth callback), start, shut down, free.
///
/// Thread-safe: every function may be called from any thread, concurrently, except
/// `rpcx_server_free`, which must be the last call on the server and must not race with any
/// other.
pub struct rpcx_server {
    state: Mutex<State>,
    /// Cancelled when pending handler calls must give up (grace period over, or freed).
    stopping: CancellationToken,
    address: OnceLock<CString>,
    /// Registry plugins (etcd, Consul); taken by the shutdown that unregisters.
    registries: Mutex<Vec<Registry>>,
    /// Other plugins (metrics, call observers), added before start.
    plugins: Mutex<Vec<Arc<dyn Plugin>>>,
    /// The metrics plugin, once enabled.
    pub(crate) metrics: OnceLock<Arc<Metrics>>,
    /// File transfer and stream services, registered on the core server at start.
    sides: Mutex<Vec<SideSpec>>,
    /// Their running side listeners (closed when dropped).
    side_handles: Mutex<Vec<SideHandle>>,
    /// Go's reflection service, once enabled (served from start).
    pub(crate) reflection: OnceLock<rpcx_core::server::Reflection>,
}

enum State {
    Building {
        /// Boxed: the options are most of the state's size (clippy's `large_enum_variant`).
        options: Box<ServerOptions>,
        auth: Option<AuthFn>,
        handlers: BTreeMap<(String, String), Arc<dyn Handler>>,
        /// service → metadata published by registry plugins.
        service_meta: BTreeMap<String, String>,
        /// Shut down before it was started: it never will be.
        stopped: bool,
    },
    Running(ServerHandle),
}

impl rpcx_server {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(INVALID_STATE)` once started or shut down.
    pub(crate) fn check_building(&self) -> Result<(), Failure> {
        match &*self.lock() {
            State::Building { stopped: false, .. } => Ok(()),
            _ => Err(not_building()),
        }
    }

    /// Runs `f` while holding the state lock, if the server is still being built: a
    /// concurrent `rpcx_server_start` (which takes the same lock) either runs wholly before
    /// (then `Err(INVALID_STATE)`) or wholly after `f`, so it sees what `f` set up.
    pub(crate) fn while_building<R>(&self, f: impl FnOnce() -> R) -> Result<R, Failure> {
        let st = self.lock();
        match &*st {
            State::Building { stopped: false, .. } => Ok(f()),
            _ => Err(not_building()),
        }
    }

    /// Adds a registry plugin: before start to the plugins the server starts with, after
    /// start to the running server (which tells it every service at once). Closes it and
    /// refuses once shut down.
    pub(crate) fn add_registry(&self, r: Registry) -> Result<(), Failure> {
        let live = match self.live() {
            Ok(live) => live,
            Err(e) => {
                r.close();
                return Err(e);
            }
        };
        let joined = match live {
            Some(handle) => handle.add_registry(r.plugin()).map_err(Failure::from),
            None => Ok(()),
        };
        self.registries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(r);
        joined
    }

    /// `None` while being built, the handle once running; `Err(INVALID_STATE)` once shut
    /// down (or shutting down). The handle is used after the state lock is released: a
    /// change of services may release replaced handlers, whose finalizers may call back.
    pub(crate) fn live(&self) -> Result<Option<ServerHandle>, Failure> {
        match &*self.lock() {
            State::Building { stopped: false, .. } => Ok(None),
            State::Running(h) if !h.is_stopping() => Ok(Some(h.clone())),
            _ => Err(shut_down()),
        }
    }

    /// Adds a plugin before start; refuses (and drops it) once started.
    pub(crate) fn add_plugin(&self, p: Arc<dyn Plugin>) -> Result<(), Failure> {
        let st = self.lock();
        if !matches!(&*st, State::Building { stopped: false, .. }) {
            return Err(not_building());
        }
        self.plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(p);
        Ok(())
    }

    /// The state of every registry still attached (see `rpcx_server_metrics_text`).
    pub(crate) fn registry_statuses(&self) -> Vec<rpcx_core::registry::RegistryStatus> {
        self.registries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|r| r.status_handle().get())
            .collect()
    }

    /// Adds (or replaces, one of each kind) a file transfer or stream service; only before
    /// start. A replaced one is dropped outside the locks (its finalizer may call back).
    pub(crate) fn add_side(&self, spec: SideSpec) -> Result<(), Failure> {
        let st = self.lock();
        if !matches!(&*st, State::Building { stopped: false, .. }) {
            return Err(not_building());
        }
        let mut sides = self.sides.lock().unwrap_or_else(|p| p.into_inner());
        let old = sides
            .iter()
            .position(|s| s.is_files() == spec.is_files())
            .map(|i| sides.remove(i));
        sides.push(spec);
        drop(sides);
        drop(st);
        drop(old);
        Ok(())
    }

    /// Runs `f` on the side services (before start only); what it returns is dropped outside
    /// the locks.
    pub(crate) fn edit_sides<T>(
        &self,
        f: impl FnOnce(&mut Vec<SideSpec>) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let st = self.lock();
        if !matches!(&*st, State::Building { stopped: false, .. }) {
            return Err(not_building());
        }
        let mut sides = self.sides.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut sides)
    }

    /// Closes the side listeners (file transfer, streams).
    fn close_sides(&self) {
        let handles =
            std::mem::take(&mut *self.side_handles.lock().unwrap_or_else(|p| p.into_inner()));
        for h in &handles {
            h.close();
        }
    }

    fn take_registries(&self) -> Vec<Registry> {
        std::mem::take(&mut *self.registries.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn not_building() -> Failure {
    Failure::new(
        rpcx_status::RPCX_ERR_INVALID_STATE,
        "rpcx: the server was already started or shut down",
    )
}

fn shut_down() -> Failure {
    Failure::new(
        rpcx_status::RPCX_ERR_INVALID_STATE,
        "rpcx: the server was shut down",
    )
}

/// Creates a server with `opts` (copied; NULL for the defaults). On success `*server_out`
/// receives the server, owned by the caller: free it with `rpcx_server_free`. Returns
/// `RPCX_ERR_NULL_ARG` when `server_out` is NULL. Does not start the runtime.
#[no_mangle]
pub extern "C" fn rpcx_server_new(
    opts: Option<&rpcx_server_options>,
    server_out: Option<&mut *mut rpcx_server>,
) -> rpcx_status {
    run(None, || {
        let out = req_mut(server_out, "server_out")?;
        let options = Box::new(opts.map(|o| o.inner.clone()).unwrap_or_default());
        let server = rpcx_server {
            state: Mutex::new(State::Building {
                options,
                auth: None,
                handlers: BTreeMap::new(),
                service_meta: BTreeMap::new(),
                stopped: false,
            }),
            stopping: CancellationToken::new(),
            address: OnceLock::new(),
            registries: Mutex::new(Vec::new()),
            plugins: Mutex::new(Vec::new()),
            metrics: OnceLock::new(),
            sides: Mutex::new(Vec::new()),
            side_handles: Mutex::new(Vec::new()),
            reflection: OnceLock::new(),
        };
        *out = Box::into_raw(Box::new(server));
        Ok(())
    })
}

/// Requires every request (except heartbeats) to pass `callback` (see `rpcx_auth_callback`),
/// replacing any previous one. Only before `rpcx_server_start`.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of `callback` — when the callback is
/// replaced, when the server is freed, or before this function returns if it fails
/// (`RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_STATE` once started). The finalizer may run on
/// any thread; when the callback is replaced it runs on this thread before this returns,
/// outside the server's lock, so it may call `rpcx_server_*` functions on this server.
#[no_mangle]
pub extern "C" fn rpcx_server_set_auth(
    server: Option<&rpcx_server>,
    callback: rpcx_auth_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let server = req(server, "server")?;
        let cb = callback.ok_or_else(|| null_arg("callback"))?;
        let mut st = server.lock();
        let State::Building {
            auth,
            stopped: false,
            ..
        } = &mut *st
        else {
            return Err(not_building());
        };
        let fin = Arc::new(fin);
        let f: AuthFn = Arc::new(move |msg: &Message, token: &str, peer: &str| {
            authenticate(cb, &fin, msg, token, peer)
        });
        let old = auth.replace(f);
        drop(st);
        // The replaced callback's finalizer runs here, outside the lock: it may call back
        // into the server.
        drop(old);
        Ok(())
    })
}

type AuthCallbackFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    *mut c_char,
    usize,
) -> c_int;

fn authenticate(
    cb: AuthCallbackFn,
    fin: &Finalizer,
    msg: &Message,
    token: &str,
    peer: &str,
) -> Result<(), String> {
    let token = CString::new(token).map_err(|_| "rpcx: invalid auth token".to_owned())?;
    let name = |s: &str| CString::new(s).unwrap_or_default();
    let (service, method, peer) = (
        name(&msg.service_path),
        name(&msg.service_method),
        name(peer),
    );
    let mut message = vec![0 as c_char; RPCX_AUTH_MESSAGE_CAP];
    let accepted = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `cb` and the userdata were registered together for calls from runtime
        // threads; the strings and the zeroed message buffer outlive the call, and
        // `message.len()` is its true capacity.
        unsafe {
            cb(
                fin.userdata.0,
                service.as_ptr(),
                method.as_ptr(),
                token.as_ptr(),
                peer.as_ptr(),
                message.as_mut_ptr(),
                message.len(),
            )
        }
    }))
    .unwrap_or(0);
    if accepted != 0 {
        return Ok(());
    }
    // Whatever the callback wrote, the last byte makes it terminated.
    if let Some(last) = message.last_mut() {
        *last = 0;
    }
    // SAFETY: `message` is NUL-terminated (last byte forced to 0) and outlives the borrow.
    let text = unsafe { CStr::from_ptr(message.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    if text.is_empty() {
        Err("rpcx: authentication failed".to_owned())
    } else {
        Err(text)
    }
}

/// Registers `callback` as `service.method` (both non-empty NUL-terminated UTF-8, copied).
/// Registering a name again replaces the previous handler. Before `rpcx_server_start`, or
/// while the server runs (Go's `Register` after `Serve`): then requests read from now on
/// reach it, calls already running keep the handler they started with, and registry plugins
/// (`rpcx_server_add_etcd_registry`) publish the service in the background. See
/// `rpcx_handler_callback` for how and where the callback runs.
///
/// Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
/// with it exactly once, after the last possible call of `callback` — when the handler is
/// replaced or its service unregistered (`rpcx_server_unregister`), when the server is freed
/// (after its last call ended), or before this function returns if it fails
/// (`RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_ARG` for an empty or non-UTF-8 name,
/// `RPCX_ERR_INVALID_STATE` once shut down, `RPCX_ERR_REGISTRATION` when a plugin refused
/// it). The finalizer may run on any thread. When a handler is replaced or unregistered it
/// runs outside the server's locks, so it may call `rpcx_server_*` functions on this server:
/// on this thread before this returns when none of its calls is running, else on the rpcx
/// runtime thread that ends the last of them.
#[no_mangle]
pub extern "C" fn rpcx_server_register(
    server: Option<&rpcx_server>,
    service: *const c_char,
    method: *const c_char,
    callback: rpcx_handler_callback,
    userdata: *mut c_void,
    finalizer: rpcx_finalizer,
) -> rpcx_status {
    let fin = Finalizer::new(userdata, finalizer);
    run(None, move || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes NUL-terminated strings valid during the call.
        let (service, method) = unsafe { (cstr(service, "service")?, cstr(method, "method")?) };
        if service.is_empty() || method.is_empty() {
            return Err(invalid_arg(
                "rpcx: service and method names must not be empty",
            ));
        }
        let callback = callback.ok_or_else(|| null_arg("callback"))?;
        let handler: Arc<dyn Handler> = Arc::new(FfiHandler {
            callback,
            userdata: fin,
            stopping: server.stopping.clone(),
        });
        let mut st = server.lock();
        match &mut *st {
            State::Building {
                handlers,
                stopped: false,
                ..
            } => {
                let old = handlers.insert((service.to_owned(), method.to_owned()), handler);
                drop(st);
                // The replaced handler's finalizer runs here, outside the lock.
                drop(old);
                Ok(())
            }
            State::Running(h) if !h.is_stopping() => {
                let h = h.clone();
                drop(st);
                Ok(h.register_handler(service, method, handler)?)
            }
            _ => Err(shut_down()),
        }
    })
}

/// Sets the metadata registry plugins publish for `service` (a URL query string such as
/// `weight=10&group=blue`; XClients read `weight`, `group`, `state`, `latitude`,
/// `longitude`), replacing any set before. `service` and `metadata` are NUL-terminated UTF-8,
/// copied; `service` must not be empty. Before `rpcx_server_start` it is published with the
/// service; on a running server, the registries rewrite the service's key with it (and it
/// goes with methods registered later). `RPCX_ERR_INVALID_STATE` once shut down,
/// `RPCX_ERR_REGISTRATION` when a plugin refused it, `RPCX_ERR_NULL_ARG` when an argument is
/// NULL.
#[no_mangle]
pub extern "C" fn rpcx_server_set_service_metadata(
    server: Option<&rpcx_server>,
    service: *const c_char,
    metadata: *const c_char,
) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes NUL-terminated strings valid during the call.
        let (service, metadata) =
            unsafe { (cstr(service, "service")?, cstr(metadata, "metadata")?) };
        if service.is_empty() {
            return Err(invalid_arg("rpcx: the service name is empty"));
        }
        let mut st = server.lock();
        match &mut *st {
            State::Building {
                service_meta,
                stopped: false,
                ..
            } => {
                service_meta.insert(service.to_owned(), metadata.to_owned());
                Ok(())
            }
            State::Running(h) if !h.is_stopping() => {
                let h = h.clone();
                drop(st);
                Ok(h.set_service_metadata(service, metadata)?)
            }
            _ => Err(shut_down()),
        }
    })
}

/// Unregisters `service` (NUL-terminated UTF-8): removes every method of it and its
/// metadata, and has the registries delete its key. On a running server, calls of it
/// already running finish and answer; requests read from now on get Go's `rpcx: can't find
/// service <name>`. Each removed handler's finalizer runs once its calls have ended (see
/// `rpcx_server_register`). Before start it only forgets the registrations. Callable from any
/// thread, handlers included; does not block.
///
/// `RPCX_ERR_NOT_FOUND` when neither a method nor metadata of `service` is registered, `RPCX_ERR_INVALID_STATE`
/// once shut down (shutdown already unregistered everything), `RPCX_ERR_NULL_ARG` when an
/// argument is NULL, `RPCX_ERR_INVALID_ARG` for a non-UTF-8 name.
#[no_mangle]
pub extern "C" fn rpcx_server_unregister(
    server: Option<&rpcx_server>,
    service: *const c_char,
) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let service = unsafe { cstr(service, "service")? };
        let found = unregister_where(server, Some(service))? > 0;
        if found {
            Ok(())
        } else {
            Err(Failure::new(
                rpcx_status::RPCX_ERR_NOT_FOUND,
                format!("rpcx: no service {service} is registered"),
            ))
        }
    })
}

/// `rpcx_server_unregister` for every service; `*count_out` (may be NULL) receives how many
/// there were. The server keeps running and accepts new registrations. (Unlike Go's
/// `UnregisterAll`, which only tells the registries, the services also stop answering.)
/// `RPCX_ERR_INVALID_STATE` once shut down, `RPCX_ERR_NULL_ARG` when `server` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_server_unregister_all(
    server: Option<&rpcx_server>,
    count_out: Option<&mut usize>,
) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        let n = unregister_where(server, None)?;
        if let Some(out) = count_out {
            *out = n;
        }
        Ok(())
    })
}

/// Unregisters `service` (`None`: every service); returns how many services had methods or
/// metadata. Removed handlers are released outside the server's lock.
fn unregister_where(server: &rpcx_server, service: Option<&str>) -> Result<usize, Failure> {
    let which = |s: &str| service.is_none_or(|name| name == s);
    let mut st = server.lock();
    match &mut *st {
        State::Building {
            handlers,
            service_meta,
            stopped: false,
            ..
        } => {
            let (gone, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(handlers)
                .into_iter()
                .partition(|((s, _), _)| which(s));
            *handlers = kept;
            let mut names: BTreeSet<String> = gone.keys().map(|(s, _)| s.clone()).collect();
            names.extend(service_meta.keys().filter(|s| which(s)).cloned());
            service_meta.retain(|s, _| !which(s));
            drop(st);
            // The removed handlers' finalizers run here, outside the lock.
            drop(gone);
            Ok(names.len())
        }
        State::Running(h) if !h.is_stopping() => {
            let h = h.clone();
            drop(st);
            Ok(match service {
                Some(name) => usize::from(h.unregister(name)),
                None => h.unregister_all().len(),
            })
        }
        _ => Err(shut_down()),
    }
}

/// Binds `address` (`tcp@host:port` — port 0 picks a free one —, `host:port`, or
/// `unix@/path`; `http@`, `ws@` or `wss@host:port` bind TCP the same way, and are the form
/// `rpcx_server_address` reports and registries publish) and starts serving on the rpcx
/// runtime. Every TCP port serves rpcx, and HTTP unless the options turn it off
/// (`rpcx_server_options_set_http_gateway` and the setters beside it). On success `*port_out` (may be NULL)
/// receives the bound TCP port (0 for Unix sockets). Blocks until the listener is bound; from
/// an rpcx runtime thread it returns `RPCX_ERR_BLOCKING_IN_RUNTIME`.
///
/// Errors: `RPCX_ERR_ADDRESS` (bad address), `RPCX_ERR_IO` (bind failed), and
/// `RPCX_ERR_INVALID_STATE` when already started or shut down. A failed start may be retried.
/// `RPCX_ERR_NULL_ARG` when `server` or `address` is NULL. `err_out` may be NULL; otherwise on
/// failure it receives an `rpcx_error` to free with `rpcx_error_free` (and is left untouched
/// on success).
#[no_mangle]
pub extern "C" fn rpcx_server_start(
    server: Option<&rpcx_server>,
    address: *const c_char,
    port_out: Option<&mut u16>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes a NUL-terminated string valid during the call.
        let address = unsafe { cstr(address, "address")? };
        let mut st = server.lock();
        let State::Building {
            options,
            auth,
            handlers,
            service_meta,
            stopped: false,
        } = &*st
        else {
            return Err(not_building());
        };
        if on_runtime_thread() {
            return Err(rpcx_core::Error::BlockingInRuntime.into());
        }
        let mut builder = Server::builder().options(ServerOptions::clone(options));
        if let Some(auth) = auth.clone() {
            builder = builder.auth(move |m: &Message, t: &str, p: &str| auth(m, t, p));
        }
        for r in server
            .registries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            builder = builder.plugin_arc(r.plugin());
        }
        for p in server
            .plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            builder = builder.plugin_arc(Arc::clone(p));
        }
        let mut core = builder.build();
        for (service, meta) in service_meta {
            core.set_service_metadata(service, meta.clone());
        }
        for ((service, method), h) in handlers {
            core.register_handler(service, method, Arc::clone(h))?;
        }
        if let Some(r) = server.reflection.get() {
            core.add_reflection(r.clone())?;
        }
        let sides = server.sides.lock().unwrap_or_else(|p| p.into_inner());
        let (handle, side_handles) = crate::runtime::block_on(async {
            let mut side_handles = Vec::with_capacity(sides.len());
            for spec in sides.iter() {
                side_handles.push(spec.register(&mut core).await?);
            }
            let handle = core.serve(address).await?;
            Ok::<_, rpcx_core::Error>((handle, side_handles))
        })??;
        drop(sides);
        *server
            .side_handles
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = side_handles;
        let port = handle.port().unwrap_or(0);
        let text = handle.local_address().to_string();
        let _ = server.address.set(CString::new(text).unwrap_or_default());
        // The handlers and the auth callback now live in the running server only.
        let building = std::mem::replace(&mut *st, State::Running(handle));
        drop(st);
        drop(building);
        if let Some(p) = port_out {
            *p = port;
        }
        Ok(())
    })
}

/// The address the server listens on (`"tcp@127.0.0.1:40123"`, `"unix@/tmp/s.sock"`, or
/// `"ws@127.0.0.1:40123"` when started with a `ws@` address),
/// NUL-terminated and borrowed from `server` (valid until it is freed), or NULL before a
/// successful start or when `server` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_server_address(server: Option<&rpcx_server>) -> *const c_char {
    run_or(std::ptr::null(), || {
        server
            .and_then(|s| s.address.get())
            .map_or(std::ptr::null(), |a| a.as_ptr())
    })
}

fn running(server: &rpcx_server) -> Option<ServerHandle> {
    let mut st = server.lock();
    match &mut *st {
        State::Running(h) => Some(h.clone()),
        State::Building { stopped, .. } => {
            *stopped = true;
            None
        }
    }
}

/// How much longer than the grace period `rpcx_server_shutdown` and `rpcx_server_free` wait
/// for a server to stop (milliseconds) before they give up on a callback that does not
/// return.
pub const RPCX_SHUTDOWN_MARGIN_MS: u64 = 5000;

/// Stops `handle` on the runtime — gracefully for `grace`, then pending calls fail and every
/// connection closes — then flushes and closes `registries`, and waits for that from this
/// thread (outside the runtime) for at most `grace` + `RPCX_SHUTDOWN_MARGIN_MS` + the
/// registries' flush limits. `RPCX_ERR_TIMEOUT` when the wait gave up: a callback (handler or
/// auth) has not returned, its runtime thread is left inside it, and the server's last
/// references — so the finalizers of its callbacks — are released when it returns, on a
/// runtime thread.
fn stop_bounded(
    handle: ServerHandle,
    grace: Duration,
    stopping: CancellationToken,
    registries: Vec<Registry>,
) -> Result<(), Failure> {
    let rt = crate::runtime::handle()?;
    let flush =
        registry::FLUSH_LIMIT.saturating_mul(u32::try_from(registries.len()).unwrap_or(u32::MAX));
    let bound = grace
        .saturating_add(Duration::from_millis(RPCX_SHUTDOWN_MARGIN_MS))
        .saturating_add(flush);
    let closer = handle.clone();
    let (tx, rx) = std::sync::mpsc::sync_channel::<ServerHandle>(1);
    rt.spawn(async move {
        {
            let shutdown = handle.shutdown(grace);
            tokio::pin!(shutdown);
            tokio::select! {
                _ = &mut shutdown => {}
                _ = tokio::time::sleep(grace) => {
                    stopping.cancel();
                    shutdown.await;
                }
            }
        }
        // The services were unregistered: wait until the registries deleted their keys.
        registry::finish(registries).await;
        // Handed back so that the waiting thread drops the last reference (and runs the
        // finalizers); dropped here instead when it gave up waiting.
        let _ = tx.send(handle);
    });
    // A std wait, not a runtime timer: it is bounded even when every worker is stuck.
    let outcome = rx.recv_timeout(bound);
    closer.close();
    drop(closer);
    match outcome {
        Ok(handle) => {
            drop(handle);
            Ok(())
        }
        Err(RecvTimeoutError::Timeout) => Err(Failure::new(
            rpcx_status::RPCX_ERR_TIMEOUT,
            format!(
                "rpcx: the server is closed, but a handler or auth callback had not returned \
                 {} ms after the shutdown began (grace period + RPCX_SHUTDOWN_MARGIN_MS); it \
                 was left running",
                bound.as_millis()
            ),
        )),
        Err(RecvTimeoutError::Disconnected) => Err(Failure::new(
            rpcx_status::RPCX_ERR_PANIC,
            "rpcx: internal panic: the server's shutdown task ended early",
        )),
    }
}

/// Graceful shutdown: stops accepting connections and reading requests, lets calls in
/// flight finish and send their replies for up to `grace_ms` milliseconds, then fails the
/// calls still pending (their callers get "rpcx: server is shutting down", their responders
/// become invalid) and closes every connection. Returns when the server is down. Idempotent;
/// callable from any thread except rpcx runtime threads (`RPCX_ERR_BLOCKING_IN_RUNTIME`:
/// use `rpcx_server_close` there), concurrently with other calls. A server shut down before
/// it started can no longer start. Handlers' finalizers run at `rpcx_server_free`.
/// `RPCX_ERR_NULL_ARG` when `server` is NULL.
///
/// The wait is bounded: at most `grace_ms` + `RPCX_SHUTDOWN_MARGIN_MS` (plus up to 5 s per
/// etcd/Consul registry to delete its keys). A handler or auth callback that has not returned
/// by then cannot be stopped: this returns `RPCX_ERR_TIMEOUT` with the server closed (no
/// connection is served any more) and that callback still running — its thread, an rpcx
/// runtime worker, stays inside it (the runtime has one worker fewer meanwhile). When it
/// returns, its reply goes nowhere. See `rpcx_server_free` for the finalizers.
#[no_mangle]
pub extern "C" fn rpcx_server_shutdown(server: Option<&rpcx_server>, grace_ms: u64) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        if on_runtime_thread() {
            return Err(rpcx_core::Error::BlockingInRuntime.into());
        }
        server.close_sides();
        let Some(handle) = running(server) else {
            return Ok(());
        };
        let grace = Duration::from_millis(grace_ms);
        let registries = server.take_registries();
        stop_bounded(handle, grace, server.stopping.clone(), registries)
    })
}

/// Closes the server at once without waiting: stops accepting, drops every connection and
/// fails pending calls; replies not yet written are lost. Returns immediately; callable from
/// any thread, including handlers and other callbacks on rpcx runtime threads. Idempotent.
/// `RPCX_ERR_NULL_ARG` when `server` is NULL.
#[no_mangle]
pub extern "C" fn rpcx_server_close(server: Option<&rpcx_server>) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        server.stopping.cancel();
        server.close_sides();
        if let Some(h) = running(server) {
            h.close();
        }
        Ok(())
    })
}

/// Stops the server if it runs (like `rpcx_server_shutdown` with no grace: pending calls
/// fail) and frees it. NULL is accepted and ignored. Must be the last call on `server`.
///
/// Outside rpcx runtime threads it returns after the server is down and the finalizers of its
/// handlers, auth callback and call observers have run, on this thread — unless a handler or
/// auth callback has not returned within `RPCX_SHUTDOWN_MARGIN_MS` (plus up to 5 s per
/// registry): then it returns anyway, with that callback's thread left running inside it, and
/// those finalizers are deferred until the callback returns — they then run on that runtime
/// thread, after it returned. If it never returns, they never run (and what they would
/// release stays allocated). From a runtime thread this only closes (see
/// `rpcx_server_close`) and the finalizers run on a runtime thread once the last connection
/// has ended.
#[no_mangle]
pub extern "C" fn rpcx_server_free(server: Option<Box<rpcx_server>>) {
    run_or((), || {
        let Some(server) = server else { return };
        server.stopping.cancel();
        server.close_sides();
        let registries = server.take_registries();
        let stopping = server.stopping.clone();
        let handle = match server.state.into_inner().unwrap_or_else(|p| p.into_inner()) {
            State::Running(handle) => Some(handle),
            // Never started: its callbacks are released (finalizers run) right here.
            State::Building { .. } => None,
        };
        if on_runtime_thread() {
            if let Some(h) = handle {
                h.close();
            }
            if !registries.is_empty() {
                if let Ok(rt) = crate::runtime::handle() {
                    rt.spawn(registry::finish(registries));
                }
            }
            return;
        }
        match handle {
            Some(h) => {
                let _ = stop_bounded(h, Duration::ZERO, stopping, registries);
            }
            None if !registries.is_empty() => {
                let _ = crate::runtime::block_on(registry::finish(registries));
            }
            None => {}
        }
    })
}
