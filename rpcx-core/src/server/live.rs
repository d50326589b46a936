//! Changing the services of a running server: register and unregister while it serves (Go's
//! `Register` after `Serve`, and `UnregisterAll`), and registry plugins added while it runs.
//!
//! ```no_run
//! use std::time::Duration;
//! use rpcx::arith::{Args, Reply};
//! use rpcx::server::{Context, Server, ServiceError};
//!
//! # async fn run() -> Result<(), rpcx::Error> {
//! let mut server = Server::builder().build();
//! server.register_fn("Arith", "Mul", |_ctx: Context, a: Args| async move {
//!     Ok::<_, ServiceError>(Reply { c: a.a * a.b })
//! })?;
//! let handle = server.serve("tcp@127.0.0.1:0").await?;
//! // Added while serving: callers see it from their next request on.
//! handle.register_fn("Arith", "Add", |_ctx: Context, a: Args| async move {
//!     Ok::<_, ServiceError>(Reply { c: a.a + a.b })
//! })?;
//! // Calls in flight finish; new ones get "rpcx: can't find service Arith".
//! assert!(handle.unregister("Arith"));
//! handle.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use super::{
    raw_fn, Context, Handler, IntoHandler, NamedService, Plugin, ServerHandle, Service,
    ServiceError, ServiceMap,
};
use crate::Error;

impl ServerHandle {
    /// Registers `handler` as `service.method` on the running server; requests read from now
    /// on reach it. Registering a name again replaces its handler (calls already running keep
    /// the old one). The plugins are asked first, as by [`Server::register_handler`]
    /// (registry plugins publish the service); a refusal changes nothing.
    ///
    /// Refused with [`Error::Registration`] once [`shutdown`](Self::shutdown) or
    /// [`close`](Self::close) has begun. Cheap for requests: they keep reading the previous
    /// table until the new one is swapped in. Must not be called from a plugin's
    /// registration hooks (`on_register`, `on_unregister`, `on_start`).
    ///
    /// [`Server::register_handler`]: super::Server::register_handler
    pub fn register_handler(
        &self,
        service: &str,
        method: &str,
        handler: Arc<dyn Handler>,
    ) -> Result<(), Error> {
        // Held until the locks are released: a refused handler is dropped here, not under
        // them (its drop may run user code that calls back into the server).
        let keep = Arc::clone(&handler);
        let done =
            self.shared
                .services
                .change(&self.shared.plugins, self.is_stopping(), |map, to| {
                    map.register(to.plugins(), service, method, handler)
                });
        drop(keep);
        done
    }

    /// [`register_handler`](Self::register_handler) for a function or closure taking typed
    /// arguments, async or sync (see [`Server::register_fn`](super::Server::register_fn)).
    pub fn register_fn<M>(
        &self,
        service: &str,
        method: &str,
        f: impl IntoHandler<M>,
    ) -> Result<(), Error> {
        self.register_handler(service, method, f.into_handler())
    }

    /// [`register_handler`](Self::register_handler) for an async function or closure on raw
    /// payload bytes.
    pub fn register_raw<F, Fut, E>(&self, service: &str, method: &str, f: F) -> Result<(), Error>
    where
        F: Fn(Context, Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Bytes, E>> + Send + 'static,
        E: Into<ServiceError> + 'static,
    {
        self.register_handler(service, method, raw_fn(f))
    }

    /// Registers every method of a [`NamedService`] under its own name on the running server
    /// (see [`register_object`](Self::register_object)).
    pub fn register_service<S: NamedService>(&self, object: S) -> Result<(), Error> {
        self.register_object(S::NAME, Arc::new(object))
    }

    /// Registers every method of an object (see [`rpc_methods!`](crate::rpc_methods)) on the
    /// running server, all at once: requests see all of them or none; if a plugin refuses
    /// one, none is registered.
    pub fn register_object<S: Service>(&self, service: &str, object: Arc<S>) -> Result<(), Error> {
        let methods = object.methods();
        // As in `register_handler`: refused handlers are dropped once the locks are released.
        let keep: Vec<Arc<dyn Handler>> = methods.iter().map(|(_, h)| Arc::clone(h)).collect();
        let done =
            self.shared
                .services
                .change(&self.shared.plugins, self.is_stopping(), |map, to| {
                    for (method, handler) in methods {
                        map.register(to.plugins(), service, &method, handler)?;
                    }
                    Ok(())
                });
        drop(keep);
        done
    }

    /// Sets the metadata registry plugins publish for `service` (`weight=5&group=blue`). When
    /// the service already has methods, they are announced again with it (registry plugins
    /// rewrite the service's key); otherwise it is used when they are registered. Refused
    /// once shutdown has begun; a plugin's refusal leaves the old metadata.
    pub fn set_service_metadata(
        &self,
        service: &str,
        metadata: impl Into<String>,
    ) -> Result<(), Error> {
        let metadata = metadata.into();
        self.shared
            .services
            .change(&self.shared.plugins, self.is_stopping(), |map, to| {
                map.set_metadata(service, metadata);
                let Some(entry) = map.get(service) else {
                    return Ok(());
                };
                let errors: Vec<String> = entry
                    .method_names()
                    .into_iter()
                    .flat_map(|method| {
                        to.plugins().filter_map(move |p| {
                            p.on_register(service, method, entry.metadata()).err()
                        })
                    })
                    .collect();
                if errors.is_empty() {
                    Ok(())
                } else {
                    Err(Error::Registration(errors.join("; ")))
                }
            })
    }

    /// Removes `service` and every method of it, then tells the plugins (`on_unregister`:
    /// registry plugins delete its key). Calls already running finish and answer; requests
    /// read from now on get Go's `rpcx: can't find service <name>`. `false` when no such
    /// service was registered (or shutdown has begun: it already unregistered everything).
    pub fn unregister(&self, service: &str) -> bool {
        !self
            .shared
            .services
            .unregister(&self.shared.plugins, |s| s == service)
            .is_empty()
    }

    /// [`unregister`](Self::unregister) for every service; returns their names, sorted. The
    /// server keeps running (new services may be registered); unlike Go's `UnregisterAll`,
    /// which only tells the plugins, the services also stop answering.
    pub fn unregister_all(&self) -> Vec<String> {
        self.shared
            .services
            .unregister(&self.shared.plugins, |_| true)
    }

    /// The services registered now (a snapshot: later changes do not show in it).
    pub fn services(&self) -> Arc<ServiceMap> {
        self.shared.services.snapshot()
    }

    /// Adds a plugin to the running server that gets the registration hooks from now on — a
    /// registry plugin such as [`EtcdRegistry`](crate::registry) joining after start. It is
    /// first given the bound address (`on_start`) and every registered method
    /// (`on_register`), then every later change, until shutdown unregisters everything.
    /// Only those hooks: connection and call hooks go to the plugins the server was built
    /// with.
    ///
    /// Refused with [`Error::Registration`] once shutdown has begun. If the plugin refuses
    /// some of the services, their errors are returned (joined) and it stays added.
    pub fn add_registry(&self, plugin: Arc<dyn Plugin>) -> Result<(), Error> {
        let address = self.shared.local.to_string();
        self.shared
            .services
            .add_late(plugin, &address, self.is_stopping())
    }
}
