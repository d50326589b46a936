//! Client interceptors: hooks around every call a [`Client`](super::Client) makes — and so
//! around every attempt of an [`XClient`](crate::xclient::XClient), whose calls go through
//! its connections' clients (as Go's `PreCall` / `PostCall` plugins run per attempt).
//!
//! The usual use is to attach metadata to every call (a trace id, a token) and to observe
//! outcomes (latency, errors):
//!
//! ```
//! use rpcx::client::{ClientCall, ClientInterceptor, ClientOptions, RawResponse};
//!
//! struct TraceIds;
//!
//! impl ClientInterceptor for TraceIds {
//!     fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
//!         call.set_meta("trace-id", "4bf92f3577b34da6");
//!         Ok(())
//!     }
//!
//!     fn after_call(&self, call: &ClientCall<'_>, result: Result<&RawResponse, &rpcx::Error>) {
//!         if let Err(e) = result {
//!             eprintln!("{}.{} failed: {e}", call.service(), call.method());
//!         }
//!     }
//! }
//!
//! let options = ClientOptions::default().interceptor(TraceIds);
//! # let _ = options;
//! ```

use std::any::Any;
use std::sync::Arc;

use super::{RawRequest, RawResponse};
use crate::protocol::Metadata;
use crate::Error;

/// One call as an interceptor sees it: names, the server, and the request metadata, which
/// [`before_call`](ClientInterceptor::before_call) may change.
#[derive(Debug)]
pub struct ClientCall<'a> {
    service: &'a str,
    method: &'a str,
    server: &'a str,
    oneway: bool,
    metadata: &'a mut Metadata,
    /// Per-call values of the interceptors, by interceptor index.
    locals: &'a mut Locals,
    /// The index of the interceptor being run.
    index: usize,
}

/// Values interceptors keep from `before_call` to `after_call` of one call, by interceptor
/// index. Usually none or one: the first is kept inline, so a single traced interceptor costs
/// only its value's box.
#[derive(Debug, Default)]
struct Locals {
    first: Option<(usize, Box<dyn Any + Send + Sync>)>,
    more: Vec<(usize, Box<dyn Any + Send + Sync>)>,
}

impl Locals {
    fn set(&mut self, index: usize, value: Box<dyn Any + Send + Sync>) {
        match &mut self.first {
            Some((i, v)) if *i == index => *v = value,
            None => self.first = Some((index, value)),
            Some(_) => match self.more.iter_mut().find(|(i, _)| *i == index) {
                Some((_, v)) => *v = value,
                None => self.more.push((index, value)),
            },
        }
    }

    fn get(&self, index: usize) -> Option<&(dyn Any + Send + Sync)> {
        self.first
            .iter()
            .chain(self.more.iter())
            .find(|(i, _)| *i == index)
            .map(|(_, v)| &**v)
    }
}

impl ClientCall<'_> {
    /// The service path (`Arith`).
    pub fn service(&self) -> &str {
        self.service
    }

    /// The method (`Mul`).
    pub fn method(&self) -> &str {
        self.method
    }

    /// The server this call goes to (`tcp@127.0.0.1:8972`).
    pub fn server(&self) -> &str {
        self.server
    }

    /// True for a oneway send (no reply comes back).
    pub fn is_oneway(&self) -> bool {
        self.oneway
    }

    /// The request metadata (without `__AUTH` and `__ServerTimeout`, which the client adds
    /// after the interceptors ran). In `after_call` it is empty when no interceptor of the
    /// client [reads it there](ClientInterceptor::reads_metadata_after_call).
    pub fn metadata(&self) -> &Metadata {
        self.metadata
    }

    /// The request metadata, to change before the call is sent.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        self.metadata
    }

    /// Sets one request metadata value, replacing any previous one.
    pub fn set_meta(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    /// Keeps a value of this interceptor's for this call, from `before_call` to its
    /// `after_call` (a span, a start time), replacing the one it kept before. Each
    /// interceptor sees only its own value; it is dropped when the call ends, also when the
    /// call's future is dropped before `after_call` ran.
    pub fn set_local<T: Any + Send + Sync>(&mut self, value: T) {
        self.locals.set(self.index, Box::new(value));
    }

    /// The value this interceptor kept for this call with [`set_local`](Self::set_local),
    /// if it is a `T`.
    pub fn local<T: Any>(&self) -> Option<&T> {
        self.locals.get(self.index).and_then(|v| v.downcast_ref())
    }
}

/// Hooks around the calls of a client. Both have defaults that do nothing.
///
/// `before_call` runs before the request is built, in the order the interceptors were added;
/// the first refusal stops the call (later interceptors' `before_call` do not run) and the
/// caller gets [`Error::Refused`] with its text. `after_call` then runs for every
/// interceptor whose `before_call` ran (the refusing one included), in the same order, with
/// the outcome: the reply (for a oneway send, an empty one once the request is queued) or
/// the error.
///
/// Hooks run on the task making the call (for blocking calls, the calling thread; for async
/// ones, a runtime thread): they must be quick and must not block.
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Before the call is sent: may change the request metadata, or refuse the call with an
    /// error text.
    fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
        let _ = call;
        Ok(())
    }

    /// After the call: its reply or its error.
    fn after_call(&self, call: &ClientCall<'_>, result: Result<&RawResponse, &Error>) {
        let _ = (call, result);
    }

    /// Whether [`after_call`](Self::after_call) reads the request metadata
    /// ([`ClientCall::metadata`]). The request moves into its frame when it is sent, so the
    /// client keeps a copy of the metadata for `after_call` — one map and its strings per
    /// call. An interceptor that does not read it there returns `false`; when every
    /// interceptor of a client does, no copy is made and `after_call` sees empty metadata.
    /// The default is `true`.
    fn reads_metadata_after_call(&self) -> bool {
        true
    }
}

/// The interceptors of a client, in the order they were added. Cheap to clone.
#[derive(Clone, Default)]
pub struct Interceptors {
    list: Vec<Arc<dyn ClientInterceptor>>,
    /// Some interceptor reads the request metadata in `after_call`: keep a copy of it.
    keep_metadata: bool,
}

impl std::fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Interceptors({})", self.list.len())
    }
}

/// The service and method of a call, kept for `after_call`: inline when together they fit in
/// [`CallNames::INLINE`] bytes (the usual case, no allocation per call), else in one string.
enum CallNames {
    Inline {
        bytes: [u8; CallNames::INLINE],
        service_len: u8,
        len: u8,
    },
    Heap {
        names: String,
        service_len: usize,
    },
}

impl CallNames {
    const INLINE: usize = 64;

    fn new(service: &str, method: &str) -> CallNames {
        let len = service.len() + method.len();
        if len <= Self::INLINE {
            let mut bytes = [0u8; Self::INLINE];
            bytes[..service.len()].copy_from_slice(service.as_bytes());
            bytes[service.len()..len].copy_from_slice(method.as_bytes());
            // Both fit in a u8: len <= INLINE = 64.
            CallNames::Inline {
                bytes,
                service_len: service.len() as u8,
                len: len as u8,
            }
        } else {
            let mut names = String::with_capacity(len);
            names.push_str(service);
            names.push_str(method);
            CallNames::Heap {
                names,
                service_len: service.len(),
            }
        }
    }

    /// `(service, method)`.
    fn get(&self) -> (&str, &str) {
        let (names, service_len) = match self {
            // Two whole strings were copied in: valid UTF-8, split where the first ended.
            CallNames::Inline {
                bytes,
                service_len,
                len,
            } => (
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
                usize::from(*service_len),
            ),
            CallNames::Heap { names, service_len } => (names.as_str(), *service_len),
        };
        names.split_at_checked(service_len).unwrap_or(("", ""))
    }
}

/// What `after_call` needs of a request that was moved into its frame.
pub(crate) struct Seen {
    names: CallNames,
    metadata: Metadata,
    oneway: bool,
    /// How many interceptors' `before_call` ran.
    ran: usize,
    locals: Locals,
}

impl Interceptors {
    /// Adds one at the end.
    pub fn push(&mut self, interceptor: Arc<dyn ClientInterceptor>) {
        self.keep_metadata |= interceptor.reads_metadata_after_call();
        self.list.push(interceptor);
    }

    /// The interceptors, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn ClientInterceptor>> {
        self.list.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Runs `before_call` on `req`; returns what `after` needs and the refusal, if any.
    pub(crate) fn before(
        &self,
        req: &mut RawRequest,
        server: &str,
        oneway: bool,
    ) -> (Seen, Option<Error>) {
        let mut ran = 0;
        let mut refused = None;
        let mut locals = Locals::default();
        for (index, i) in self.list.iter().enumerate() {
            ran += 1;
            let mut call = ClientCall {
                service: &req.service,
                method: &req.method,
                server,
                oneway,
                metadata: &mut req.metadata,
                locals: &mut locals,
                index,
            };
            if let Err(text) = i.before_call(&mut call) {
                refused = Some(Error::Refused(text));
                break;
            }
        }
        let seen = Seen {
            names: CallNames::new(&req.service, &req.method),
            metadata: if self.keep_metadata {
                req.metadata.clone()
            } else {
                Metadata::new()
            },
            oneway,
            ran,
            locals,
        };
        (seen, refused)
    }

    /// Runs `after_call` of the interceptors whose `before_call` ran.
    pub(crate) fn after(&self, mut seen: Seen, server: &str, result: Result<&RawResponse, &Error>) {
        let (service, method) = seen.names.get();
        let mut call = ClientCall {
            service,
            method,
            server,
            oneway: seen.oneway,
            metadata: &mut seen.metadata,
            locals: &mut seen.locals,
            index: 0,
        };
        for (index, i) in self.list.iter().take(seen.ran).enumerate() {
            call.index = index;
            i.after_call(&call, result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_names_split_back_inline_and_on_the_heap() {
        for (service, method) in [
            ("Arith", "Mul"),
            ("", ""),
            ("Ünïcode", "Mëthod"),
            ("S".repeat(40).as_str(), "M".repeat(24).as_str()),
            ("S".repeat(40).as_str(), "M".repeat(25).as_str()),
            ("Long".repeat(100).as_str(), "Method"),
        ] {
            let names = CallNames::new(service, method);
            let inline = matches!(names, CallNames::Inline { .. });
            assert_eq!(inline, service.len() + method.len() <= CallNames::INLINE);
            assert_eq!(names.get(), (service, method));
        }
    }

    /// Keeps `(tag, n)` in `before_call` (twice: the second replaces the first) and checks it
    /// in `after_call`.
    struct Keeper(&'static str, std::sync::Mutex<Vec<String>>);

    impl ClientInterceptor for Keeper {
        fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
            assert!(call.local::<(&str, u32)>().is_none());
            call.set_local((self.0, 1u32));
            call.set_local((self.0, 2u32));
            Ok(())
        }

        fn after_call(&self, call: &ClientCall<'_>, _result: Result<&RawResponse, &Error>) {
            let seen = call.local::<(&str, u32)>().copied();
            assert!(
                call.local::<String>().is_none(),
                "another type is not found"
            );
            self.1.lock().unwrap().push(format!("{seen:?}"));
        }
    }

    /// A JSON request for `S.M` with no metadata, payload or timeout.
    fn request() -> RawRequest {
        RawRequest {
            service: "S".into(),
            method: "M".into(),
            serialize_type: crate::protocol::SerializeType::JSON,
            metadata: Metadata::new(),
            payload: bytes::Bytes::new(),
            timeout: None,
        }
    }

    #[test]
    fn each_interceptor_keeps_its_own_local() {
        let keepers: Vec<Arc<Keeper>> = ["a", "b", "c"]
            .into_iter()
            .map(|t| Arc::new(Keeper(t, Default::default())))
            .collect();
        let mut hooks = Interceptors::default();
        for k in &keepers {
            hooks.push(Arc::clone(k) as Arc<dyn ClientInterceptor>);
        }
        let mut req = request();
        let (seen, refused) = hooks.before(&mut req, "tcp@127.0.0.1:1", false);
        assert!(refused.is_none());
        hooks.after(seen, "tcp@127.0.0.1:1", Err(&Error::Closed));
        for k in &keepers {
            assert_eq!(*k.1.lock().unwrap(), [format!("{:?}", Some((k.0, 2u32)))]);
        }
    }

    /// Sets `k=v` in `before_call`; records the metadata `after_call` sees; says whether it
    /// reads it there.
    struct MetaReader(bool, std::sync::Mutex<Option<Metadata>>);

    impl ClientInterceptor for MetaReader {
        fn before_call(&self, call: &mut ClientCall<'_>) -> Result<(), String> {
            call.set_meta("k", "v");
            Ok(())
        }

        fn after_call(&self, call: &ClientCall<'_>, _result: Result<&RawResponse, &Error>) {
            *self.1.lock().unwrap() = Some(call.metadata().clone());
        }

        fn reads_metadata_after_call(&self) -> bool {
            self.0
        }
    }

    /// What `after_call` of each reader sees when the readers say `reads`.
    fn metadata_after_call(reads: &[bool]) -> Vec<Metadata> {
        let readers: Vec<Arc<MetaReader>> = reads
            .iter()
            .map(|&r| Arc::new(MetaReader(r, Default::default())))
            .collect();
        let mut hooks = Interceptors::default();
        for r in &readers {
            hooks.push(Arc::clone(r) as Arc<dyn ClientInterceptor>);
        }
        let mut req = request();
        let (seen, _) = hooks.before(&mut req, "tcp@127.0.0.1:1", false);
        assert_eq!(req.metadata.get("k").map(String::as_str), Some("v"));
        hooks.after(seen, "tcp@127.0.0.1:1", Err(&Error::Closed));
        readers
            .iter()
            .map(|r| r.1.lock().unwrap().take().expect("after_call ran"))
            .collect()
    }

    #[test]
    fn metadata_is_kept_for_after_call_only_when_an_interceptor_reads_it() {
        let with_k = Metadata::from([("k".to_owned(), "v".to_owned())]);
        assert_eq!(metadata_after_call(&[false]), [Metadata::new()]);
        assert_eq!(
            metadata_after_call(&[false, false]),
            [Metadata::new(), Metadata::new()]
        );
        // One reader is enough for every interceptor of the client to see it.
        assert_eq!(
            metadata_after_call(&[false, true]),
            [with_k.clone(), with_k.clone()]
        );
        assert_eq!(metadata_after_call(&[true]), [with_k]);
    }
}
