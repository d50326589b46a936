//! HTTP on the rpcx port: tells rpcx from HTTP by the first bytes of a connection, then serves
//! the HTTP gateway, JSON-RPC 2.0 (with CORS) and rpcx tunnelled in `CONNECT` or a WebSocket.
//! See [`HttpOptions`](super::HttpOptions).

mod cors;
mod gateway;
mod jsonrpc;
mod sniff;

pub use cors::CorsOptions;

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;

use super::budget::Budgets;
use super::context::{ConnHandle, ConnShared};
use super::handle::Shared;
use super::Rejection;
use crate::protocol::{Message, MAGIC, META_AUTH};
use crate::transport::tunnel::{self, RPC_PATH};
use crate::transport::ws::{self, Role};
use crate::transport::{Connection, ReadHalf, WriteHalf};

/// The reply body type.
type Body = Full<Bytes>;

/// Serves one accepted connection: rpcx, or HTTP when its first byte says so. Connection
/// plugins (an IP filter, a connection limiter) judge it at once, before a byte is read,
/// whatever it turns out to speak (Go's gateway and JSON-RPC skip them), and hear
/// when it ends; a CONNECT or WebSocket tunnel stays the same connection to them.
pub(crate) async fn serve(shared: Arc<Shared>, mut conn: Connection) {
    // Each plugin is asked once, in order, until one refuses.
    if let Some(p) = shared
        .plugins
        .iter()
        .find(|p| !p.on_conn_accept(&conn.peer))
    {
        log_refused(&conn.peer, &format!("refused by the {} plugin", p.name()));
        return;
    }
    let _closed_notice = ClosedNotice {
        shared: Arc::clone(&shared),
        peer: conn.peer.clone(),
    };
    let mut buf = BytesMut::with_capacity(8 << 10);
    // The first bytes: a silent connection is an idle rpcx one (rpcx clients may dial ahead).
    let first = tokio::select! {
        _ = shared.closed.cancelled() => None,
        _ = shared.draining.cancelled() => None,
        n = super::conn::read_some(&mut conn.read, &mut buf, shared.options.idle_timeout) => n,
    };
    if !matches!(first, Some(n) if n > 0) {
        return;
    }
    if buf[0] == MAGIC {
        return super::conn::serve(shared, conn, buf).await;
    }
    let http = &shared.options.http;
    // An HTTP request starts with its method's capital letters; anything else is refused.
    if !http.any() || !buf[0].is_ascii_uppercase() {
        log_refused(&conn.peer, "neither rpcx nor HTTP");
        return;
    }
    let timeout = http.request_timeout;
    if is_connect(&mut conn.read, &mut buf, timeout).await {
        return connect_tunnel(shared, conn, buf).await;
    }
    serve_http(shared, conn, buf).await;
}

fn log_refused(peer: &str, why: &str) {
    tracing::warn!(peer = %peer, reason = %why, "rpcx: connection refused");
}

/// True when the request is a `CONNECT` (reading, within `timeout`, until the first word is
/// known).
async fn is_connect(read: &mut ReadHalf, buf: &mut BytesMut, timeout: Duration) -> bool {
    const WORD: &[u8] = b"CONNECT ";
    let more = async {
        while buf.len() < WORD.len() && WORD.starts_with(buf) {
            match super::conn::read_some(read, buf, None).await {
                Some(n) if n > 0 => {}
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(timeout, more).await;
    buf.starts_with(WORD)
}

/// `CONNECT /_rpcx_ HTTP/1.0`: answer as Go does, then serve rpcx on the connection.
async fn connect_tunnel(shared: Arc<Shared>, mut conn: Connection, mut buf: BytesMut) {
    let http = &shared.options.http;
    let head = tokio::time::timeout(
        http.request_timeout,
        tunnel::read_head(&mut conn.read, &mut buf, http.max_header_bytes.max(1024)),
    )
    .await;
    let Ok(Ok(head)) = head else {
        log_refused(&conn.peer, "CONNECT request head late, too long or cut");
        return;
    };
    let mut headers = vec![httparse::EMPTY_HEADER; http.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let path = match req.parse(&buf[..head]) {
        Ok(httparse::Status::Complete(_)) => req.path.unwrap_or("").to_owned(),
        _ => {
            let _ = conn
                .write
                .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                .await;
            log_refused(&conn.peer, "malformed CONNECT request");
            return;
        }
    };
    let answer: &[u8] = if !http.connect {
        b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    } else if path != RPC_PATH {
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\
          X-Content-Type-Options: nosniff\r\nContent-Length: 19\r\nConnection: close\r\n\r\n\
          404 page not found\n"
    } else {
        b""
    };
    if !answer.is_empty() {
        let _ = conn.write.write_all(answer).await;
        let _ = conn.write.shutdown().await;
        return;
    }
    // Go's exact answer (bare line feeds); its client checks the status text.
    let ok = format!("HTTP/1.0 {}\n\n", tunnel::CONNECTED);
    if conn.write.write_all(ok.as_bytes()).await.is_err() {
        return;
    }
    let rest = buf.split_off(head);
    super::conn::serve(shared, conn, rest).await;
}

/// What the HTTP side shares with each request of one connection.
struct HttpConn {
    shared: Arc<Shared>,
    handle: ConnHandle,
    /// A WebSocket upgrade accepted on this connection: served once hyper lets go of it.
    upgrade: Mutex<Option<hyper::upgrade::OnUpgrade>>,
}

impl HttpConn {
    /// Runs one request that came over HTTP as an rpcx request from this connection:
    /// plugins' `after_read`, authentication, then the handler.
    async fn call(&self, mut msg: Message) -> Outcome {
        let shared = &self.shared;
        let peer = self.handle.peer();
        for p in &shared.plugins {
            if let Err(Rejection::Respond(t) | Rejection::Close(t)) = p.after_read(peer, &mut msg) {
                return Outcome::Refused(t);
            }
        }
        if let Some(auth) = &shared.auth {
            let token = msg.metadata.get_str(META_AUTH).unwrap_or("");
            if let Err(text) = auth(&msg, token, peer) {
                return Outcome::Unauthorized(text);
            }
        }
        shared.call_started();
        let reply = tokio::select! {
            biased;
            r = super::dispatch::run_call(shared, msg, &self.handle) => Some(r),
            _ = shared.closed.cancelled() => None,
        };
        shared.call_finished();
        match reply {
            Some(r) => Outcome::Reply(r),
            None => Outcome::Refused("rpcx: server closed".into()),
        }
    }
}

/// How a call that came over HTTP ended.
enum Outcome {
    /// A plugin refused it (Go's `DoPostReadRequest` error).
    Refused(String),
    /// Authentication failed.
    Unauthorized(String),
    /// The handler's reply (an error reply included).
    Reply(Message),
}

/// A connection handle for calls that came over HTTP: pushes to it fail (HTTP has no way to
/// carry them), and its calls are cancelled when `calls` is.
fn http_handle(
    shared: &Shared,
    peer: &str,
    calls: tokio_util::sync::CancellationToken,
) -> ConnHandle {
    let (tx, _) = mpsc::channel(1);
    ConnHandle {
        inner: Arc::new(ConnShared {
            peer: peer.into(),
            out: tx,
            push_seq: Arc::clone(&shared.push_seq),
            budgets: Budgets::new(
                shared.options.max_pending_bytes_per_conn,
                Arc::clone(&shared.pending_bytes),
            ),
            calls,
            server_closed: shared.closed.clone(),
            lane: None,
        }),
    }
}

/// Tells the plugins a connection they accepted has ended, however it ends.
struct ClosedNotice {
    shared: Arc<Shared>,
    peer: String,
}

impl Drop for ClosedNotice {
    fn drop(&mut self) {
        for p in &self.shared.plugins {
            p.on_conn_close(&self.peer);
        }
    }
}

async fn serve_http(shared: Arc<Shared>, conn: Connection, buf: BytesMut) {
    let http = shared.options.http.clone();
    let calls = shared.closed.child_token();
    // Calls in flight on this connection are cancelled when it ends, however it ends.
    let _cancel_calls = calls.clone().drop_guard();
    let ctx = Arc::new(HttpConn {
        handle: http_handle(&shared, &conn.peer, calls),
        shared: Arc::clone(&shared),
        upgrade: Mutex::new(None),
    });
    let Connection {
        read, write, peer, ..
    } = tunnel::with_prefix(conn, buf);
    let io = TokioIo::new(Joined { read, write });
    let svc_ctx = Arc::clone(&ctx);
    let service = hyper::service::service_fn(move |req| {
        let ctx = Arc::clone(&svc_ctx);
        async move { Ok::<_, Infallible>(route(&ctx, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .title_case_headers(true)
        .max_headers(http.max_headers)
        .max_buf_size(http.max_header_bytes.max(8192))
        .timer(TokioTimer::new())
        .header_read_timeout(http.request_timeout);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = shared.draining.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => r,
                _ = shared.closed.cancelled() => return,
            }
        }
        _ = shared.closed.cancelled() => return,
    };
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "rpcx: HTTP connection ended with an error");
    }
    let upgrade = ctx.upgrade.lock().ok().and_then(|mut u| u.take());
    drop(ctx);
    if let Some(upgrade) = upgrade {
        serve_websocket(shared, upgrade, peer).await;
    }
}

/// rpcx inside the WebSocket this connection was upgraded to.
async fn serve_websocket(shared: Arc<Shared>, upgrade: hyper::upgrade::OnUpgrade, peer: String) {
    let Ok(upgraded) = upgrade.await else {
        return;
    };
    let (r, w) = tokio::io::split(TokioIo::new(upgraded));
    let (conn, bridge) = ws::bridge(Box::new(r), Box::new(w), Role::Server, peer);
    let serve = super::conn::serve(shared, conn, BytesMut::new());
    tokio::join!(serve, bridge);
}

/// Routes one HTTP request: CORS preflight, WebSocket upgrade, JSON-RPC or the gateway.
async fn route(ctx: &HttpConn, req: Request<Incoming>) -> Response<Body> {
    let http = &ctx.shared.options.http;
    let cors = http.cors.as_ref();
    if let Some(cors) = cors {
        if CorsOptions::is_preflight(req.method(), req.headers()) {
            let mut resp = respond(StatusCode::NO_CONTENT, Bytes::new());
            cors.preflight(req.headers(), resp.headers_mut());
            return resp;
        }
    }
    if http.websocket && req.uri().path() == RPC_PATH && is_websocket_upgrade(req.headers()) {
        return accept_websocket(ctx, req);
    }
    // What CORS needs after the request is consumed (nothing to keep without CORS).
    let for_cors = cors.map(|_| (req.method().clone(), req.headers().clone()));
    let jsonrpc = http.jsonrpc && cors::text(req.headers(), "x-jsonrpc-2.0") == "true";
    let mut resp = if jsonrpc {
        jsonrpc::handle(ctx, req).await
    } else if http.gateway {
        gateway::handle(ctx, req).await
    } else {
        let mut r = respond(
            StatusCode::NOT_FOUND,
            Bytes::from_static(b"404 page not found\n"),
        );
        plain_text(r.headers_mut());
        r
    };
    if let (Some(cors), Some((method, headers))) = (cors, &for_cors) {
        cors.actual(method, headers, resp.headers_mut());
    }
    resp
}

fn is_websocket_upgrade(h: &HeaderMap) -> bool {
    cors::text(h, "upgrade").eq_ignore_ascii_case("websocket")
}

/// Answers a WebSocket handshake (RFC 6455 §4.2) and keeps the upgrade for after the reply.
fn accept_websocket(ctx: &HttpConn, mut req: Request<Incoming>) -> Response<Body> {
    let h = req.headers();
    let key = cors::text(h, "sec-websocket-key").to_owned();
    if req.method() != Method::GET
        || key.is_empty()
        || cors::text(h, "sec-websocket-version") != "13"
    {
        let mut r = respond(
            StatusCode::BAD_REQUEST,
            Bytes::from_static(
                b"Bad Request: a WebSocket handshake needs GET, a key and version 13\n",
            ),
        );
        r.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("13"));
        plain_text(r.headers_mut());
        return r;
    }
    if let Ok(mut slot) = ctx.upgrade.lock() {
        *slot = Some(hyper::upgrade::on(&mut req));
    }
    let mut r = respond(StatusCode::SWITCHING_PROTOCOLS, Bytes::new());
    let out = r.headers_mut();
    out.insert("upgrade", HeaderValue::from_static("websocket"));
    out.insert("connection", HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&ws::accept_key(&key)) {
        out.insert("sec-websocket-accept", v);
    }
    r
}

/// A response with `status` and `body`.
fn respond(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r
}

/// Marks a response as plain text (as Go's `http.Error` does).
fn plain_text(h: &mut HeaderMap) {
    h.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
}

/// Go's `http.Error`: `text` and a newline as a plain-text body with `status`.
fn http_error(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = respond(status, Bytes::from(format!("{text}\n")));
    plain_text(r.headers_mut());
    r
}

/// A request's head and body, with the body's bytes charged to the server's byte budget
/// until this is dropped (after the call answered).
pub(super) struct ReadRequest {
    pub(super) parts: hyper::http::request::Parts,
    pub(super) body: Bytes,
    _charges: Vec<super::budget::Charge>,
}

/// Reads a request body of at most the frame limit, within the request timeout; while the
/// server's byte budget is spent (by requests of other connections) it waits before reading
/// more. The error is the response to send (413, 408 or 400), the connection closing after it.
async fn read_body(ctx: &HttpConn, req: Request<Incoming>) -> Result<ReadRequest, Response<Body>> {
    let limit = ctx.shared.options.limits.max_frame_len as usize;
    let (parts, mut body) = req.into_parts();
    let closing = |mut r: Response<Body>| {
        r.headers_mut()
            .insert("connection", HeaderValue::from_static("close"));
        r
    };
    let too_large = || {
        closing(http_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("rpcx: request body larger than {limit} bytes"),
        ))
    };
    let declared = cors::text(&parts.headers, "content-length")
        .parse::<u64>()
        .ok();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let budgets = &ctx.handle.inner.budgets;
    let mut data = BytesMut::new();
    let mut charges = Vec::new();
    let read = async {
        loop {
            budgets.server.room().await;
            let Some(frame) = body.frame().await else {
                return Ok(());
            };
            let frame = frame.map_err(|e| {
                closing(http_error(
                    StatusCode::BAD_REQUEST,
                    &format!("rpcx: reading the body: {e}"),
                ))
            })?;
            if let Ok(chunk) = frame.into_data() {
                if data.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                charges.push(budgets.charge(chunk.len()));
                data.extend_from_slice(&chunk);
            }
        }
    };
    match tokio::time::timeout(ctx.shared.options.http.request_timeout, read).await {
        Ok(Ok(())) => Ok(ReadRequest {
            parts,
            body: data.freeze(),
            _charges: charges,
        }),
        Ok(Err(resp)) => Err(resp),
        Err(_) => Err(closing(http_error(
            StatusCode::REQUEST_TIMEOUT,
            "rpcx: request body too slow",
        ))),
    }
}

/// A connection's halves as one stream, for hyper.
struct Joined {
    read: ReadHalf,
    write: WriteHalf,
}

impl AsyncRead for Joined {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().read).poll_read(cx, buf)
    }
}

impl AsyncWrite for Joined {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().write).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().write).poll_shutdown(cx)
    }
}
