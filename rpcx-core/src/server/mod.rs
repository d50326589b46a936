//! The rpcx server: register any callable as `Service.Method`, serve TCP or Unix sockets, shut
//! down gracefully from any thread.
//!
//! ```no_run
//! use rpcx::arith::{Args, Reply};
//! use rpcx::server::{Context, Server, ServiceError};
//!
//! # async fn run() -> Result<(), rpcx::Error> {
//! let mut server = Server::builder().build();
//! server.register_fn("Arith", "Mul", |_ctx: Context, args: Args| async move {
//!     Ok::<_, ServiceError>(Reply { c: args.a * args.b })
//! })?;
//! let handle = server.serve("tcp@127.0.0.1:0").await?;
//! println!("listening on {}", handle.local_address());
//! handle.shutdown(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```

mod budget;
mod conn;
mod context;
mod dispatch;
mod handle;
mod handler;
mod http;
mod interceptor;
mod live;
pub(crate) mod metrics;
mod options;
mod plugin;
pub mod plugins;
pub mod reflection;
mod registry;
pub mod registry_status;
mod typed;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

pub use context::{ConnHandle, Context};
pub use handle::ServerHandle;
pub use handler::{raw_fn, typed_fn, BoxFuture, Handler, HandlerResult, ServiceError};
pub use interceptor::Interceptor;
pub use metrics::{MethodStats, Metrics, LATENCY_BUCKETS};
pub use options::{AuthFn, CorsOptions, HttpOptions, ServerOptions};
pub use plugin::{Plugin, Rejection};
pub use reflection::{MethodDescription, Reflection, TypeDescription};
pub use registry::{Service, ServiceEntry, ServiceMap};
pub use typed::{async_fn, service_error, sync_fn, IntoHandler, IntoReply, NamedService};

use registry::Announce;

use crate::protocol::{Limits, Message};
use crate::transport::{Address, Listener};
use crate::Error;

/// Configures a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    options: ServerOptions,
    plugins: Vec<Arc<dyn Plugin>>,
    auth: Option<AuthFn>,
}

impl ServerBuilder {
    /// Replaces all options (TLS included: call [`tls`](Self::tls) after this).
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the frame, decompression and metadata limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options.limits = limits;
        self
    }

    /// Sets the per-connection in-flight request limit.
    pub fn max_inflight_per_conn(mut self, n: usize) -> Self {
        self.options.max_inflight_per_conn = n.max(1);
        self
    }

    /// Sets the connection limit.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.options.max_connections = n.max(1);
        self
    }

    /// Sets the memory one connection may hold in requests being served and unwritten
    /// replies, in bytes (see [`ServerOptions::max_pending_bytes_per_conn`]).
    pub fn max_pending_bytes_per_conn(mut self, n: usize) -> Self {
        self.options.max_pending_bytes_per_conn = n.max(1);
        self
    }

    /// Sets the same budget for the whole server (see [`ServerOptions::max_pending_bytes`]).
    pub fn max_pending_bytes(mut self, n: usize) -> Self {
        self.options.max_pending_bytes = n.max(1);
        self
    }

    /// Closes connections idle for this long.
    pub fn idle_timeout(mut self, d: std::time::Duration) -> Self {
        self.options.idle_timeout = Some(d);
        self
    }

    /// Sets what the port answers besides rpcx (gateway, JSON-RPC, CORS, tunnels).
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.options.http = http;
        self
    }

    /// Requires every non-heartbeat request to pass `auth(request, token, peer)`.
    pub fn auth<F>(mut self, auth: F) -> Self
    where
        F: Fn(&Message, &str, &str) -> Result<(), String> + Send + Sync + 'static,
    {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// Adds a plugin; plugins run in the order added.
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// Adds a shared plugin.
    pub fn plugin_arc(mut self, plugin: Arc<dyn Plugin>) -> Self {
        self.plugins.push(plugin);
        self
    }

    /// Serves TLS with this rustls configuration (feature `tls`; see
    /// [`transport::tls`](crate::transport::tls) for loading PEM files).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<crate::transport::tls::rustls::ServerConfig>) -> Self {
        self.options.tls = Some(config);
        self
    }

    /// Builds the server; register services on it, then [`Server::serve`].
    pub fn build(self) -> Server {
        Server {
            options: self.options,
            plugins: self.plugins,
            auth: self.auth,
            services: ServiceMap::default(),
            reflection: None,
        }
    }
}

/// A server being set up: register services, then [`serve`](Server::serve).
pub struct Server {
    options: ServerOptions,
    plugins: Vec<Arc<dyn Plugin>>,
    auth: Option<AuthFn>,
    services: ServiceMap,
    reflection: Option<Reflection>,
}

impl Server {
    /// A builder with default options.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Registers a handler as `service.method`. Registering the same name again replaces it.
    /// Plugins may refuse the registration. (A running server registers with
    /// [`ServerHandle::register_handler`].)
    pub fn register_handler(
        &mut self,
        service: &str,
        method: &str,
        handler: Arc<dyn Handler>,
    ) -> Result<(), Error> {
        self.services.register(
            Announce::new(&self.plugins).plugins(),
            service,
            method,
            handler,
        )
    }

    /// Registers a function or closure taking typed arguments; arguments and reply use the
    /// caller's serialization. Either shape works ([`IntoHandler`]):
    ///
    /// * `async fn(Context, A) -> Result<R, E>` (`E: Into<ServiceError>`);
    /// * a plain sync `fn(A) -> R` (or `-> Result<R, E>` with `E: Display`), run on the blocking
    ///   thread pool so it cannot stall the runtime ([`sync_fn`]).
    ///
    /// With two shapes to choose from, Rust no longer infers a closure's parameter types from
    /// this method: a closure that uses its context names the type (`|ctx: Context, args:
    /// Args| async move { … }`); an unused `_ctx` needs no annotation.
    ///
    /// ```
    /// use rpcx::arith::{Args, Reply};
    /// use rpcx::server::{Context, Server, ServiceError};
    ///
    /// fn add(a: Args) -> Reply {
    ///     Reply { c: a.a + a.b }
    /// }
    /// async fn mul(_ctx: Context, a: Args) -> Result<Reply, ServiceError> {
    ///     Ok(Reply { c: a.a * a.b })
    /// }
    /// let mut server = Server::builder().build();
    /// server.register_fn("Arith", "Add", add).unwrap();
    /// server.register_fn("Arith", "Mul", mul).unwrap();
    /// ```
    pub fn register_fn<M>(
        &mut self,
        service: &str,
        method: &str,
        f: impl IntoHandler<M>,
    ) -> Result<(), Error> {
        self.register_handler(service, method, f.into_handler())
    }

    /// Registers an async function or closure on raw payload bytes.
    pub fn register_raw<F, Fut, E>(
        &mut self,
        service: &str,
        method: &str,
        f: F,
    ) -> Result<(), Error>
    where
        F: Fn(Context, Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Bytes, E>> + Send + 'static,
        E: Into<ServiceError> + 'static,
    {
        self.register_handler(service, method, raw_fn(f))
    }

    /// Registers every method of an object (see [`rpc_methods!`](crate::rpc_methods)).
    pub fn register_object<S: Service>(
        &mut self,
        service: &str,
        object: Arc<S>,
    ) -> Result<(), Error> {
        for (method, handler) in object.methods() {
            self.register_handler(service, &method, handler)?;
        }
        Ok(())
    }

    /// Registers every method of a service under its own name: an object whose `impl` block
    /// carries [`#[rpcx::service]`](crate::service).
    pub fn register_service<S: NamedService>(&mut self, object: S) -> Result<(), Error> {
        self.register_object(S::NAME, Arc::new(object))
    }

    /// Sets the metadata string a registry publishes for `service` (`weight=5&group=blue`).
    /// Plugins are given it when the service's methods are registered: set it first.
    pub fn set_service_metadata(&mut self, service: &str, metadata: impl Into<String>) {
        self.services.set_metadata(service, metadata.into());
    }

    /// Serves Go's reflection service (`Reflection.GetServices`, `Reflection.GetService`, see
    /// [`reflection`]) describing every service of this server, including those registered
    /// later or while it runs. Returns the service, to [`describe`](Reflection::describe)
    /// methods with; enabling again returns the same one.
    pub fn enable_reflection(&mut self) -> Result<Reflection, Error> {
        if let Some(r) = &self.reflection {
            return Ok(r.clone());
        }
        let r = Reflection::new();
        self.add_reflection(r.clone())?;
        Ok(r)
    }

    /// Serves `reflection` (made with [`Reflection::new`]) as this server's reflection
    /// service, replacing one enabled before. One `Reflection` describes one server:
    /// [`Error::Registration`] while another server holds it (one built with it and not
    /// dropped, or running and not shut down); adding it again to this server is harmless.
    pub fn add_reflection(&mut self, reflection: Reflection) -> Result<(), Error> {
        if self
            .reflection
            .as_ref()
            .is_some_and(|r| r.same_as(&reflection))
        {
            return Ok(());
        }
        let claim = reflection.claim()?;
        for (method, handler) in reflection.handlers(&claim) {
            self.register_handler(reflection::SERVICE, method, handler)?;
        }
        self.reflection = Some(reflection);
        Ok(())
    }

    /// The reflection service, once enabled.
    pub fn reflection(&self) -> Option<&Reflection> {
        self.reflection.as_ref()
    }

    /// True when TLS options are set.
    fn serves_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.options.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The registered services.
    pub fn services(&self) -> &ServiceMap {
        &self.services
    }

    /// Binds `address` (`tcp@host:port`, port 0 for a free one, or `unix@/path`) and serves it
    /// on the current tokio runtime until the returned handle shuts it down.
    ///
    /// A TCP listener also answers HTTP (see [`HttpOptions`]): the gateway, JSON-RPC 2.0, and
    /// rpcx tunnelled in HTTP `CONNECT` or a WebSocket. `http@host:port`, `ws@host:port` and
    /// `wss@host:port` bind the same way (`wss@` needs TLS options); they differ only in the
    /// address registries publish, which tells clients how to dial.
    ///
    /// Fails with [`Error::Config`] when an option is out of range
    /// ([`ServerOptions::validate`]).
    pub async fn serve(self, address: &str) -> Result<ServerHandle, Error> {
        self.options.validate()?;
        let addr = Address::parse(address)?;
        if matches!(addr, Address::Wss(_)) && !self.serves_tls() {
            return Err(Error::Config(format!(
                "{addr}: a wss@ address needs TLS options (ServerBuilder::tls)"
            )));
        }
        let listener = Listener::bind(&addr).await?;
        Ok(handle::start(self, listener, &addr))
    }
}
