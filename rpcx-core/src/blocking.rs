//! Blocking facades for callers without an async runtime, usable from any thread. They share
//! one runtime ([`crate::runtime`]), never one per call.

use crate::client::{self, CallOptions, ClientOptions, RawRequest, RawResponse, Response};
use crate::codec::Codable;
use crate::runtime::block_on;
use crate::server::{Server, ServerHandle};
use crate::Error;

/// A blocking client over [`client::Client`]. Cheap to clone; safe to share across threads.
#[derive(Clone, Debug)]
pub struct Client {
    inner: client::Client,
}

impl Client {
    /// Connects to `address`.
    pub fn connect(address: &str, options: ClientOptions) -> Result<Client, Error> {
        let inner = block_on(client::Client::connect(address, options))??;
        Ok(Client { inner })
    }

    /// Calls `service.method`.
    pub fn call<A: Codable, R: Codable>(
        &self,
        service: &str,
        method: &str,
        args: &A,
    ) -> Result<R, Error> {
        block_on(self.inner.call(service, method, args))?
    }

    /// Calls with per-call options; returns reply and response metadata.
    pub fn call_with<A: Codable, R: Codable>(
        &self,
        service: &str,
        method: &str,
        args: &A,
        options: CallOptions,
    ) -> Result<Response<R>, Error> {
        block_on(self.inner.call_with(service, method, args, options))?
    }

    /// Raw call.
    pub fn call_raw(&self, req: RawRequest) -> Result<RawResponse, Error> {
        block_on(self.inner.call_raw(req))?
    }

    /// Oneway send.
    pub fn send<A: Codable>(&self, service: &str, method: &str, args: &A) -> Result<(), Error> {
        block_on(self.inner.send(service, method, args))?
    }

    /// Raw oneway send.
    pub fn send_raw(&self, req: RawRequest) -> Result<(), Error> {
        block_on(self.inner.send_raw(req))?
    }

    /// Closes the connection; pending calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.close();
    }

    /// The async client underneath (for use on the shared runtime).
    pub fn as_async(&self) -> &client::Client {
        &self.inner
    }
}

/// Starts `server` on the shared runtime from a thread outside any runtime; returns its
/// handle (use [`ServerHandle::shutdown_blocking`] to stop it).
pub fn serve(server: Server, address: &str) -> Result<ServerHandle, Error> {
    let handle = crate::runtime::handle()?;
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::BlockingInRuntime);
    }
    let address = address.to_owned();
    handle.block_on(async move { server.serve(&address).await })
}
