//! Serving one request: lookup, deadline, plugins, the handler (panics caught), the reply.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;

use super::context::{CallInfo, ConnHandle, Context};
use super::handle::Shared;
use super::{HandlerResult, ServiceError};
use crate::protocol::{CompressType, Message, Metadata, COMPRESS_THRESHOLD, META_SERVER_TIMEOUT};

/// Text of the error sent when a handler outlives the caller's `__ServerTimeout` (Go's
/// `context.DeadlineExceeded`).
pub(crate) const DEADLINE_EXCEEDED: &str = "context deadline exceeded";

/// The error a call ends with when its caller's connection went away before the handler
/// answered (plugins see it in `after_call`; nobody is left to receive it).
pub(crate) const CALLER_GONE: &str = "rpcx: the caller has gone";

/// The deadline a `__ServerTimeout` value sets, read as Go does: a signed count of
/// milliseconds, where 0 or less means the deadline has already passed (a Go client near its
/// own deadline sends those). Text that is not a number sets no deadline; so does a value too
/// large to represent.
pub(crate) fn server_deadline(value: &str, now: Instant) -> Option<Instant> {
    let ms = value.trim().parse::<i64>().ok()?;
    match u64::try_from(ms) {
        Ok(ms) if ms > 0 => now.checked_add(Duration::from_millis(ms)),
        _ => Some(now),
    }
}

/// The error response to `req`: status Error, `__rpcx_error__` = `text`, empty payload.
pub(crate) fn error_reply(req: &Message, text: impl Into<String>) -> Message {
    let mut m = req.response();
    m.set_error(text);
    m
}

/// Runs the request and returns the reply to send (`None` for oneway requests).
pub(crate) async fn dispatch(shared: &Shared, req: Message, conn: &ConnHandle) -> Option<Message> {
    let oneway = req.header.is_oneway();
    let reply = run_call(shared, req, conn).await;
    if oneway {
        None
    } else {
        Some(reply)
    }
}

/// Runs the request and returns its reply, oneway or not (the HTTP gateway answers both).
pub(crate) async fn run_call(shared: &Shared, req: Message, conn: &ConnHandle) -> Message {
    // A clone of the handler: a call in flight finishes even if its service is unregistered.
    let handler = match shared
        .services
        .lookup(&req.service_path, &req.service_method)
    {
        Ok(h) => h,
        Err(text) => return error_reply(&req, text),
    };
    let Message {
        header,
        service_path,
        service_method,
        metadata,
        payload,
    } = req;
    let received = Instant::now();
    let deadline = metadata
        .get_str(META_SERVER_TIMEOUT)
        .and_then(|v| server_deadline(v, received));
    let ctx = Context {
        inner: Arc::new(CallInfo {
            service: service_path,
            method: service_method,
            metadata,
            serialize: header.serialize_type(),
            deadline,
            oneway: header.is_oneway(),
            received,
            reply_metadata: Mutex::new(Metadata::new()),
            conn: conn.clone(),
            #[cfg(feature = "otel")]
            otel: std::sync::OnceLock::new(),
        }),
    };

    let result = match shared
        .plugins
        .iter()
        .find_map(|p| p.before_call(&ctx, &payload).err())
    {
        Some(text) => Err(ServiceError::new(text)),
        None => {
            let run = run_handler(&*handler, &ctx, payload, deadline);
            // The `otel` server plugin's span is the current OpenTelemetry context while the
            // span of the `tracing` feature is made (so tracing-opentelemetry makes that span
            // its child) and while the handler runs (its own client calls are children).
            #[cfg(feature = "tracing")]
            let run = {
                #[cfg(feature = "otel")]
                let _current = ctx.otel_context().map(|cx| cx.clone().attach());
                let span = tracing::info_span!(
                    "rpcx.call",
                    service = %ctx.service(),
                    method = %ctx.method(),
                    peer = %ctx.peer(),
                    seq = header.seq()
                );
                tracing::Instrument::instrument(run, span)
            };
            #[cfg(feature = "otel")]
            let run = match ctx.otel_context() {
                Some(cx) => futures_util::future::Either::Left(
                    opentelemetry::context::FutureExt::with_context(run, cx.clone()),
                ),
                None => futures_util::future::Either::Right(run),
            };
            run.await
        }
    };
    let (payload, error) = match result {
        Ok(p) => (p, None),
        Err(e) => {
            let (text, p) = e.into_parts(ctx.serialize_type());
            (p, Some(text))
        }
    };
    for p in &shared.plugins {
        p.after_call(&ctx, error.as_deref().map_or(Ok(&payload), Err));
    }

    // The handler usually dropped its clone of the context by now: then the names move into
    // the reply instead of being copied.
    let (service_path, service_method, metadata) = match Arc::try_unwrap(ctx.inner) {
        Ok(info) => (
            info.service,
            info.method,
            info.reply_metadata.into_inner().unwrap_or_default(),
        ),
        Err(inner) => {
            let ctx = Context { inner };
            (
                ctx.service().to_owned(),
                ctx.method().to_owned(),
                ctx.take_reply_metadata(),
            )
        }
    };
    let mut reply = Message {
        header: header.response(),
        service_path,
        service_method,
        metadata,
        payload,
    };
    if let Some(text) = error {
        reply.set_error(text);
    }
    let compress = header.compress_type();
    // The request decoded, so its compressor exists, unless it was unregistered meanwhile:
    // then the reply goes uncompressed rather than failing to encode (Go's Encode does that).
    if compress != CompressType::NONE
        && reply.payload.len() > COMPRESS_THRESHOLD
        && crate::protocol::is_compress_type_supported(compress)
    {
        reply.header.set_compress_type(compress);
    }
    reply
}

async fn run_handler(
    handler: &dyn super::Handler,
    ctx: &Context,
    payload: Bytes,
    deadline: Option<Instant>,
) -> HandlerResult {
    let panicked = |panic: Box<dyn std::any::Any + Send>| {
        let text = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(not a string)");
        tracing::error!(
            service = %ctx.service(),
            method = %ctx.method(),
            peer = %ctx.peer(),
            panic = %text,
            "rpcx: handler panicked; the caller gets an error"
        );
        ServiceError::new(format!(
            "[service internal error]: panic in {}.{}",
            ctx.service(),
            ctx.method()
        ))
    };
    let fut =
        match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(ctx.clone(), payload))) {
            Ok(f) => AssertUnwindSafe(f).catch_unwind(),
            Err(p) => return Err(panicked(p)),
        };
    let bounded = async {
        match deadline {
            None => Ok(fut.await),
            Some(d) => tokio::time::timeout_at(d.into(), fut).await,
        }
    };
    // The handler is polled first: most finish at once, and then the connection's token is
    // never polled (polling it registers a waiter under the token's lock).
    let outcome = tokio::select! {
        biased;
        r = bounded => match r {
            Ok(r) => r,
            Err(_) => return Err(ServiceError::new(DEADLINE_EXCEEDED)),
        },
        _ = ctx.token().cancelled() => return Err(ServiceError::new(CALLER_GONE)),
    };
    outcome.unwrap_or_else(|p| Err(panicked(p)))
}
