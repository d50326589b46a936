//! Handlers: raw (bytes in, bytes out) and typed (arguments and reply coded with the request's
//! serialization), and the error a service returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::Context;
use crate::codec::{Codable, CodecError};
use crate::protocol::SerializeType;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a handler produces: the encoded reply payload, or a service error.
pub type HandlerResult = Result<Bytes, ServiceError>;

/// A method implementation at the byte level. Typed handlers and the C and Python layers are
/// built on it.
pub trait Handler: Send + Sync + 'static {
    /// Serves one call: `payload` is the (decompressed) request payload.
    fn call(&self, ctx: Context, payload: Bytes) -> BoxFuture<HandlerResult>;

    /// How the reflection service describes this method's argument and reply; `None` (the
    /// default) lets it say raw bytes. [`typed_fn`] handlers name their Rust types.
    fn describe(&self) -> Option<super::MethodDescription> {
        None
    }
}

type EncodeReply = Box<dyn FnOnce(SerializeType) -> Result<Bytes, CodecError> + Send>;

/// An error returned by a service. Its message reaches the caller verbatim in
/// `__rpcx_error__`; it may carry a reply payload as Go services do.
pub struct ServiceError {
    message: String,
    reply: Option<ReplyPayload>,
}

enum ReplyPayload {
    Bytes(Bytes),
    Value(EncodeReply),
}

impl ServiceError {
    /// An error with this message and no reply payload.
    pub fn new(message: impl Into<String>) -> ServiceError {
        ServiceError {
            message: message.into(),
            reply: None,
        }
    }

    /// An error from anything displayable.
    pub fn from_display(e: impl fmt::Display) -> ServiceError {
        ServiceError::new(e.to_string())
    }

    /// Attaches a reply value, encoded with the caller's serialization (Go sends the reply
    /// object along with a service error).
    pub fn with_reply<R: Codable>(mut self, reply: R) -> ServiceError {
        self.reply = Some(ReplyPayload::Value(Box::new(move |st| {
            let mut out = Vec::new();
            reply.encode_as(st, &mut out)?;
            Ok(Bytes::from(out))
        })));
        self
    }

    /// Attaches an already encoded reply payload.
    pub fn with_payload(mut self, payload: impl Into<Bytes>) -> ServiceError {
        self.reply = Some(ReplyPayload::Bytes(payload.into()));
        self
    }

    /// True when a reply payload or value is attached.
    pub fn has_reply(&self) -> bool {
        self.reply.is_some()
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Splits into the message and the encoded reply payload (empty when none).
    pub(crate) fn into_parts(self, st: SerializeType) -> (String, Bytes) {
        match self.reply {
            None => (self.message, Bytes::new()),
            Some(ReplyPayload::Bytes(b)) => (self.message, b),
            Some(ReplyPayload::Value(f)) => match f(st) {
                Ok(b) => (self.message, b),
                Err(e) if is_type_mismatch(&e) => (
                    format!(
                        "{} (its reply value cannot be sent as {})",
                        self.message,
                        wire_name(st)
                    ),
                    Bytes::new(),
                ),
                Err(e) => (e.to_string(), Bytes::new()),
            },
        }
    }
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceError")
            .field("message", &self.message)
            .field("has_reply", &self.reply.is_some())
            .finish()
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for ServiceError {
    fn from(s: String) -> Self {
        ServiceError::new(s)
    }
}

impl From<&str> for ServiceError {
    fn from(s: &str) -> Self {
        ServiceError::new(s)
    }
}

impl From<CodecError> for ServiceError {
    fn from(e: CodecError) -> Self {
        ServiceError::from_display(e)
    }
}

impl From<crate::Error> for ServiceError {
    fn from(e: crate::Error) -> Self {
        ServiceError::from_display(e)
    }
}

impl From<std::io::Error> for ServiceError {
    fn from(e: std::io::Error) -> Self {
        ServiceError::from_display(e)
    }
}

/// A raw handler from an async closure `(Context, Bytes) -> Result<Bytes, E>`.
pub fn raw_fn<F, Fut, E>(f: F) -> Arc<dyn Handler>
where
    F: Fn(Context, Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Bytes, E>> + Send + 'static,
    E: Into<ServiceError> + 'static,
{
    struct Raw<F>(F);
    impl<F, Fut, E> Handler for Raw<F>
    where
        F: Fn(Context, Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Bytes, E>> + Send + 'static,
        E: Into<ServiceError> + 'static,
    {
        fn call(&self, ctx: Context, payload: Bytes) -> BoxFuture<HandlerResult> {
            let fut = (self.0)(ctx, payload);
            Box::pin(async move { fut.await.map_err(Into::into) })
        }

        fn describe(&self) -> Option<super::MethodDescription> {
            Some(super::MethodDescription::raw())
        }
    }
    Arc::new(Raw(f))
}

/// How a caller's documentation names a serialize type: `JSON (SerializeType 1)`.
fn wire_name(st: SerializeType) -> String {
    let name = match st.value() {
        0 => "raw bytes",
        1 => "JSON",
        2 => "Protobuf",
        3 => "MsgPack",
        4 => "Thrift",
        _ => return format!("SerializeType {}", st.value()),
    };
    format!("{name} (SerializeType {})", st.value())
}

/// Whether `e` says a value's type does not fit the serialization (the errors whose codec text
/// names a Rust type).
fn is_type_mismatch(e: &CodecError) -> bool {
    matches!(
        e,
        CodecError::NotRaw { .. }
            | CodecError::NotProtobuf { .. }
            | CodecError::ProtobufOnly { .. }
    )
}

/// The error a caller gets when its serialization does not fit the handler's argument
/// (`request`) or reply type. A caller may be written in any language, so the text names the
/// serialization the caller sent and the method, never a Rust type path; every other codec
/// error keeps the codec's text (Go-compatible: `EOF`, `can not find codec for <n>`, …).
fn codec_error_for_caller(ctx: &Context, e: CodecError, request: bool) -> ServiceError {
    let method = format!("{}.{}", ctx.service(), ctx.method());
    let sent = wire_name(ctx.serialize_type());
    let text = match (&e, request) {
        (CodecError::NotRaw { .. }, true) => {
            format!("the request body is {sent}, but {method} takes a structured argument, not raw bytes")
        }
        (CodecError::NotProtobuf { .. }, true) => {
            format!("the request body is {sent}, but {method} takes an argument that is not a protobuf message")
        }
        (CodecError::ProtobufOnly { .. }, true) => {
            format!("the request body is {sent}, but {method} takes only Protobuf (SerializeType 2)")
        }
        (CodecError::NotRaw { .. }, false) => format!(
            "{method} replies with a structured value, which cannot be sent as {sent} (the request's serialization)"
        ),
        (CodecError::NotProtobuf { .. }, false) => format!(
            "{method} replies with a value that is not a protobuf message, which cannot be sent as {sent} (the request's serialization)"
        ),
        (CodecError::ProtobufOnly { .. }, false) => format!(
            "{method} replies only in Protobuf (SerializeType 2), not in {sent} (the request's serialization)"
        ),
        _ => return ServiceError::from(e),
    };
    ServiceError::new(text)
}

/// A typed handler from an async closure `(Context, A) -> Result<R, E>`: the arguments are
/// decoded and the reply encoded with the request's serialization, so one handler answers
/// JSON, MsgPack and Protobuf callers. A decoding failure answers the codec's error text, except
/// that a serialization the argument or reply type cannot use (raw bytes for a struct, JSON for
/// a protobuf-only message, …) answers a text naming the caller's serialization and the method,
/// such as `the request body is raw bytes (SerializeType 0), but Arith.Mul takes a structured
/// argument, not raw bytes`.
pub fn typed_fn<A, R, E, F, Fut>(f: F) -> Arc<dyn Handler>
where
    A: Codable,
    R: Codable,
    E: Into<ServiceError> + 'static,
    F: Fn(Context, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
{
    struct Typed<F, A, R>(F, std::marker::PhantomData<fn(A) -> R>);
    impl<A, R, E, F, Fut> Handler for Typed<F, A, R>
    where
        A: Codable,
        R: Codable,
        E: Into<ServiceError> + 'static,
        F: Fn(Context, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        fn call(&self, ctx: Context, payload: Bytes) -> BoxFuture<HandlerResult> {
            let st = ctx.serialize_type();
            let args = match A::decode_as(st, &payload) {
                Ok(a) => a,
                Err(e) => {
                    return Box::pin(std::future::ready(Err(codec_error_for_caller(
                        &ctx, e, true,
                    ))))
                }
            };
            let method = ctx.clone();
            let fut = (self.0)(ctx, args);
            Box::pin(async move {
                let reply = fut.await.map_err(Into::into)?;
                let mut out = Vec::new();
                reply
                    .encode_as(st, &mut out)
                    .map_err(|e| codec_error_for_caller(&method, e, false))?;
                Ok(Bytes::from(out))
            })
        }

        fn describe(&self) -> Option<super::MethodDescription> {
            Some(super::MethodDescription::new(
                super::TypeDescription::of::<A>(),
                super::TypeDescription::of::<R>(),
            ))
        }
    }
    Arc::new(Typed(f, std::marker::PhantomData))
}
