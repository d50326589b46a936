//! A server interceptor made of closures: the [`Plugin`] hooks around calls
//! (`before_call` / `after_call`) without writing a plugin type.

use bytes::Bytes;

use super::{Context, Plugin};

type Before = Box<dyn Fn(&Context) -> Result<(), String> + Send + Sync>;
type After = Box<dyn Fn(&Context, Result<&Bytes, &str>) + Send + Sync>;

/// Hooks around every call a server serves, from closures; add it with
/// [`ServerBuilder::plugin`](super::ServerBuilder::plugin).
///
/// `before` sees the call (service, method, metadata, peer, and [`Context::connection`]
/// for pushes) before the handler runs; an error text refuses the call: the handler is
/// skipped and the caller receives the text as the call's error. `after` sees the outcome
/// — the encoded reply or the error text — after the handler (or the refusal); both may add
/// reply metadata with [`Context::set_reply_meta`]. They run on runtime threads, for calls of
/// any connection at once, so they must be quick and must not block.
///
/// ```
/// use rpcx::server::{Interceptor, Server};
///
/// let interceptor = Interceptor::new()
///     .before(|ctx| match ctx.meta("tenant") {
///         Some(_) => Ok(()),
///         None => Err("missing tenant".to_owned()),
///     })
///     .after(|ctx, _result| ctx.set_reply_meta("served-by", "node-1"));
/// let server = Server::builder().plugin(interceptor).build();
/// # let _ = server;
/// ```
#[derive(Default)]
pub struct Interceptor {
    before: Option<Before>,
    after: Option<After>,
}

impl Interceptor {
    /// An interceptor that does nothing yet.
    pub fn new() -> Interceptor {
        Interceptor::default()
    }

    /// Sets the hook run before each call; `Err(text)` refuses the call with `text`.
    pub fn before<F>(mut self, f: F) -> Self
    where
        F: Fn(&Context) -> Result<(), String> + Send + Sync + 'static,
    {
        self.before = Some(Box::new(f));
        self
    }

    /// Sets the hook run after each call, with the encoded reply or the error text.
    pub fn after<F>(mut self, f: F) -> Self
    where
        F: Fn(&Context, Result<&Bytes, &str>) + Send + Sync + 'static,
    {
        self.after = Some(Box::new(f));
        self
    }
}

impl Plugin for Interceptor {
    fn name(&self) -> &str {
        "interceptor"
    }

    fn before_call(&self, ctx: &Context, _payload: &Bytes) -> Result<(), String> {
        self.before.as_ref().map_or(Ok(()), |f| f(ctx))
    }

    fn after_call(&self, ctx: &Context, result: Result<&Bytes, &str>) {
        if let Some(f) = &self.after {
            f(ctx, result);
        }
    }
}
