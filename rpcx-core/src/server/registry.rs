//! The map of services and their methods.

use std::collections::HashMap;
use std::sync::Arc;

use super::Handler;

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

/// All services of a server, looked up by exact, case-sensitive name (§3.1).
#[derive(Default, Clone)]
pub struct ServiceMap {
    pub(crate) services: HashMap<String, ServiceEntry>,
}

impl ServiceMap {
    /// A service by name.
    pub fn get(&self, service: &str) -> Option<&ServiceEntry> {
        self.services.get(service)
    }

    /// Names of the registered services, sorted.
    pub fn service_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.services.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

/// An object whose methods are registered all at once under one service name with
/// [`Server::register_object`](super::Server::register_object). Implement it with the
/// [`rpc_methods!`](crate::rpc_methods) macro.
pub trait Service: Send + Sync + 'static {
    /// The object's methods as (wire name, handler) pairs.
    fn methods(self: Arc<Self>) -> Vec<(String, Arc<dyn Handler>)>;
}

/// Implements [`Service`] for a type by listing its async methods and their wire names. Each
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
