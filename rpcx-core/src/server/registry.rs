//! The map of services and their methods, and the live table a running server reads it from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use super::{Handler, Plugin};
use crate::Error;

/// One registered service: its methods and the opaque metadata string that registry plugins
/// publish (a URL query such as `weight=10&group=a`).
#[derive(Default, Clone)]
pub struct ServiceEntry {
    pub(crate) methods: HashMap<String, Arc<dyn Handler>>,
    pub(crate) metadata: String,
}

impl ServiceEntry {
    /// Names of the registered methods, sorted.
    pub fn method_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.methods.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// The service's registration metadata.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }
}

/// All services of a server, looked up by exact, case-sensitive name.
///
/// Cheap to clone: entries are shared until one is changed (a running server changes a copy
/// and swaps it in, see [`ServerHandle::register_handler`](super::ServerHandle::register_handler)).
#[derive(Default, Clone)]
pub struct ServiceMap {
    pub(crate) services: HashMap<String, Arc<ServiceEntry>>,
}

impl ServiceMap {
    /// A service by name.
    pub fn get(&self, service: &str) -> Option<&ServiceEntry> {
        self.services.get(service).map(|e| &**e)
    }

    /// Names of the registered services, sorted.
    pub fn service_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.services.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Asks every plugin, then adds (or replaces) `service.method`. A refused registration
    /// changes nothing here: callers would otherwise get "can't find method" instead of
    /// "can't find service" for an empty service left behind.
    pub(crate) fn register<'a>(
        &mut self,
        plugins: impl Iterator<Item = &'a Arc<dyn Plugin>>,
        service: &str,
        method: &str,
        handler: Arc<dyn Handler>,
    ) -> Result<(), Error> {
        let metadata = self
            .get(service)
            .map_or("", |entry| entry.metadata.as_str());
        let errors: Vec<String> = plugins
            .filter_map(|p| p.on_register(service, method, metadata).err())
            .collect();
        if !errors.is_empty() {
            return Err(Error::Registration(errors.join("; ")));
        }
        let entry = self.services.entry(service.to_owned()).or_default();
        Arc::make_mut(entry)
            .methods
            .insert(method.to_owned(), handler);
        Ok(())
    }

    /// Sets `service`'s metadata (creating an empty entry when it has no method yet, so that
    /// its methods are announced with it).
    pub(crate) fn set_metadata(&mut self, service: &str, metadata: String) {
        let entry = self.services.entry(service.to_owned()).or_default();
        Arc::make_mut(entry).metadata = metadata;
    }
}

/// The service table of a running server: a snapshot read on every request, replaced as a
/// whole (copy on write) when services change.
///
/// Readers hold the read lock only to look a handler up and clone its `Arc`, writers only to
/// swap the snapshot in, so requests never wait behind a registration and a registration
/// waits at most for lookups in progress. Changes are serialized by a second lock held
/// while the plugins' registration hooks run, so every plugin sees them in the order they
/// took effect.
pub(crate) struct LiveServices {
    current: RwLock<Arc<ServiceMap>>,
    changes: Mutex<Changes>,
}

/// What the change lock guards besides the order of changes.
struct Changes {
    /// Plugins added to the running server ([`ServerHandle::add_registry`](super::ServerHandle::add_registry)):
    /// they get the registration hooks only.
    late: Vec<Arc<dyn Plugin>>,
    /// The services were unregistered by a shutdown: no more changes.
    closed: bool,
}

/// Text of the error of changes made once the server is shutting down.
const STOPPING: &str = "the server is shutting down";

impl LiveServices {
    pub(crate) fn new(map: ServiceMap) -> LiveServices {
        LiveServices {
            current: RwLock::new(Arc::new(map)),
            changes: Mutex::new(Changes {
                late: Vec::new(),
                closed: false,
            }),
        }
    }

    /// The handler of `service.method`, or the error text Go answers with.
    pub(crate) fn lookup(&self, service: &str, method: &str) -> Result<Arc<dyn Handler>, String> {
        let map = self.current.read().unwrap_or_else(|p| p.into_inner());
        match map.services.get(service) {
            // An entry with metadata only (set before any method) is no service yet.
            Some(entry) if !entry.methods.is_empty() => match entry.methods.get(method) {
                Some(h) => Ok(Arc::clone(h)),
                None => Err(format!("rpcx: can't find method {method}")),
            },
            _ => Err(format!("rpcx: can't find service {service}")),
        }
    }

    /// The current snapshot.
    pub(crate) fn snapshot(&self) -> Arc<ServiceMap> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn lock(&self) -> MutexGuard<'_, Changes> {
        self.changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Swaps `map` in; returns the old snapshot, to be dropped once no lock is held (the
    /// last references of replaced handlers may run user code when they go).
    fn swap(&self, map: ServiceMap) -> Arc<ServiceMap> {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *current, Arc::new(map))
    }

    /// Applies `change` to a copy of the table under the change lock, and swaps the result
    /// in unless it fails or `stopping` says the server is going down. Replaced handlers are
    /// released after both locks are.
    pub(crate) fn change<T>(
        &self,
        plugins: &[Arc<dyn Plugin>],
        stopping: bool,
        change: impl FnOnce(&mut ServiceMap, Announce<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let old;
        let out = {
            let changes = self.lock();
            if changes.closed || stopping {
                return Err(Error::Registration(STOPPING.into()));
            }
            let mut map = ServiceMap::clone(&self.snapshot());
            let out = change(
                &mut map,
                Announce {
                    server: plugins,
                    late: &changes.late,
                },
            )?;
            old = self.swap(map);
            out
        };
        drop(old);
        Ok(out)
    }

    /// Removes the services `which` selects and tells every plugin; returns their names.
    pub(crate) fn unregister(
        &self,
        plugins: &[Arc<dyn Plugin>],
        which: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let old;
        let names = {
            let changes = self.lock();
            if changes.closed {
                return Vec::new();
            }
            let mut map = ServiceMap::clone(&self.snapshot());
            let mut names: Vec<String> =
                map.services.keys().filter(|s| which(s)).cloned().collect();
            names.sort_unstable();
            if names.is_empty() {
                return names;
            }
            for name in &names {
                map.services.remove(name);
            }
            old = self.swap(map);
            for name in &names {
                for p in plugins.iter().chain(&changes.late) {
                    p.on_unregister(name);
                }
            }
            names
        };
        drop(old);
        names
    }

    /// Shutdown: every plugin is told that every service is unregistered, and later changes
    /// are refused. The table itself stays, for the calls still being read. Once only.
    pub(crate) fn close(&self, plugins: &[Arc<dyn Plugin>]) {
        let mut changes = self.lock();
        if std::mem::replace(&mut changes.closed, true) {
            return;
        }
        let map = self.snapshot();
        for name in map.service_names() {
            for p in plugins.iter().chain(&changes.late) {
                p.on_unregister(name);
            }
        }
    }

    /// Adds a plugin that gets the registration hooks from now on, after telling it the
    /// server's address and every registered method.
    pub(crate) fn add_late(
        &self,
        plugin: Arc<dyn Plugin>,
        address: &str,
        stopping: bool,
    ) -> Result<(), Error> {
        let mut changes = self.lock();
        if changes.closed || stopping {
            return Err(Error::Registration(STOPPING.into()));
        }
        plugin.on_start(address);
        let map = self.snapshot();
        let mut errors = Vec::new();
        for service in map.service_names() {
            let entry = &map.services[service];
            for method in entry.method_names() {
                if let Err(e) = plugin.on_register(service, method, &entry.metadata) {
                    errors.push(e);
                }
            }
        }
        changes.late.push(plugin);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Registration(errors.join("; ")))
        }
    }
}

/// The plugins a change is announced to: the server's, then those added while it runs.
#[derive(Clone, Copy)]
pub(crate) struct Announce<'a> {
    server: &'a [Arc<dyn Plugin>],
    late: &'a [Arc<dyn Plugin>],
}

impl<'a> Announce<'a> {
    /// A server's own plugins (before it runs, there are no others).
    pub(crate) fn new(server: &'a [Arc<dyn Plugin>]) -> Announce<'a> {
        Announce { server, late: &[] }
    }

    pub(crate) fn plugins(self) -> impl Iterator<Item = &'a Arc<dyn Plugin>> + Clone {
        self.server.iter().chain(self.late)
    }
}

/// An object whose methods are registered all at once under one service name with
/// [`Server::register_object`](super::Server::register_object). Implement it with
/// [`#[rpcx::service]`](crate::service) on the type's `impl` block, or with the
/// [`rpc_methods!`](crate::rpc_methods) macro.
pub trait Service: Send + Sync + 'static {
    /// The object's methods as (wire name, handler) pairs.
    fn methods(self: Arc<Self>) -> Vec<(String, Arc<dyn Handler>)>;
}

/// Implements [`Service`] for a type by listing its async methods and their wire names
/// ([`#[rpcx::service]`](crate::service) on the `impl` block does this, and more, without the
/// list). Each
/// method has the form `async fn name(&self, ctx: Context, args: A) -> Result<R, E>` with `A`
/// and `R` [`Codable`](crate::codec::Codable) and `E: Into<ServiceError>`.
///
/// ```
/// use std::sync::Arc;
/// use rpcx::server::{Context, ServiceError, Server};
///
/// struct Counter { step: i64 }
/// impl Counter {
///     async fn add(&self, _ctx: Context, n: i64) -> Result<i64, ServiceError> { Ok(n + self.step) }
///     async fn sub(&self, _ctx: Context, n: i64) -> Result<i64, ServiceError> { Ok(n - self.step) }
/// }
/// rpcx::rpc_methods!(Counter { "Add" => add, "Sub" => sub });
///
/// let mut server = Server::builder().build();
/// server.register_object("Counter", Arc::new(Counter { step: 2 })).unwrap();
/// ```
#[macro_export]
macro_rules! rpc_methods {
    ($ty:ty { $($name:literal => $method:ident),+ $(,)? }) => {
        impl $crate::server::Service for $ty {
            fn methods(
                self: ::std::sync::Arc<Self>,
            ) -> ::std::vec::Vec<(::std::string::String, ::std::sync::Arc<dyn $crate::server::Handler>)> {
                ::std::vec![$(
                    (
                        ::std::string::String::from($name),
                        {
                            let this = ::std::sync::Arc::clone(&self);
                            $crate::server::typed_fn(move |ctx, args| {
                                let this = ::std::sync::Arc::clone(&this);
                                async move { this.$method(ctx, args).await }
                            })
                        },
                    )
                ),+]
            }
        }
    };
}
