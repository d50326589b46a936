//! JSON-RPC 2.0 over HTTP POST (any path), as Go's `server/jsonrpc2.go` serves it for requests
//! with the header `X-JSONRPC-2.0: true`: `method` is `Service.Method` (split at the last dot),
//! `params` is the JSON payload, the reply's payload is `result`, and errors carry Go's codes.
//! Beyond Go, a batch (an array of requests) gets an array of responses, as the
//! specification asks.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::cors::text;
use super::{read_body, respond, Body, HttpConn, Outcome};
use crate::protocol::query::parse_query_lenient;
use crate::protocol::{Message, Metadata, SerializeType, META_AUTH};

/// Invalid JSON (Go's `CodeParseJSONRPCError`).
const PARSE_ERROR: i64 = -32700;
/// Not a request object.
const INVALID_REQUEST: i64 = -32600;
/// No `Service.Method` in `method`.
const METHOD_NOT_FOUND: i64 = -32601;
/// The call failed (Go's `CodeInternalJSONRPCError`, used for every service error).
const INTERNAL_ERROR: i64 = -32603;

#[derive(Deserialize)]
struct RawRequest<'a> {
    jsonrpc: Option<Value>,
    method: Option<Value>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    id: Option<Value>,
}

#[derive(Serialize)]
struct RpcResponse<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RpcError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
}

#[derive(Serialize)]
struct RpcError {
    code: i64,
    message: String,
    /// Always `null`, as Go sends it.
    data: Option<()>,
}

fn error_response(id: Option<&Value>, code: i64, message: impl Into<String>) -> RpcResponse<'_> {
    RpcResponse {
        jsonrpc: "2.0",
        result: None,
        error: Some(RpcError {
            code,
            message: message.into(),
            data: None,
        }),
        id,
    }
}

/// Serves one HTTP request carrying JSON-RPC.
pub(super) async fn handle(ctx: &HttpConn, req: Request<Incoming>) -> Response<Body> {
    let read = match read_body(ctx, req).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let (headers, body) = (&read.parts.headers, &read.body);
    let base = base_metadata(text(headers, "x-rpcx-meta"), text(headers, "authorization"));
    let trimmed = body.iter().position(|b| !b.is_ascii_whitespace());
    let out = match trimmed.map(|i| body[i]) {
        Some(b'[') => match serde_json::from_slice::<Vec<&RawValue>>(body) {
            Ok(items) if items.is_empty() => Some(to_json(&error_response(
                None,
                INVALID_REQUEST,
                "invalid request: empty batch",
            ))),
            Ok(items) => {
                let mut answers = Vec::new();
                for item in items {
                    if let Some(a) = one(ctx, item.get().as_bytes(), &base).await {
                        answers.push(a);
                    }
                }
                (!answers.is_empty()).then(|| format!("[{}]", answers.join(",")))
            }
            Err(e) => Some(to_json(&error_response(None, PARSE_ERROR, e.to_string()))),
        },
        _ => one(ctx, body, &base).await,
    };
    let mut resp = respond(StatusCode::OK, out.map(Bytes::from).unwrap_or_default());
    if !resp.body().size_hint_is_zero() {
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
    }
    resp
}

trait SizeHintIsZero {
    fn size_hint_is_zero(&self) -> bool;
}

impl SizeHintIsZero for Body {
    fn size_hint_is_zero(&self) -> bool {
        hyper::body::Body::size_hint(self).exact() == Some(0)
    }
}

/// Metadata every request of the HTTP request gets: `X-RPCX-Meta` (errors ignored, as Go
/// does) and `Authorization` as `__AUTH`.
fn base_metadata(meta: &str, auth: &str) -> Metadata {
    let mut m = Metadata::new();
    for (k, v) in parse_query_lenient(meta).0 {
        m.get_or_insert_with(k, || v);
    }
    if !auth.is_empty() {
        m.insert(META_AUTH.to_owned(), auth.to_owned());
    }
    m
}

fn to_json(r: &RpcResponse<'_>) -> String {
    serde_json::to_string(r).unwrap_or_else(|e| {
        format!(
            r#"{{"jsonrpc":"2.0","error":{{"code":{INTERNAL_ERROR},"message":{:?},"data":null}}}}"#,
            e.to_string()
        )
    })
}

/// Runs one request object; `None` for a notification (no answer).
async fn one(ctx: &HttpConn, json: &[u8], base: &Metadata) -> Option<String> {
    let req: RawRequest<'_> = match serde_json::from_slice(json) {
        Ok(r) => r,
        Err(e) if e.is_data() && json.first() != Some(&b'{') => {
            return Some(to_json(&error_response(
                None,
                INVALID_REQUEST,
                e.to_string(),
            )))
        }
        Err(e) => return Some(to_json(&error_response(None, PARSE_ERROR, e.to_string()))),
    };
    match &req.jsonrpc {
        None => {}
        Some(Value::String(v)) if v == "2.0" => {}
        Some(Value::String(v)) => {
            return Some(to_json(&error_response(
                None,
                PARSE_ERROR,
                format!("invalid RPC version {v}"),
            )))
        }
        Some(other) => {
            return Some(to_json(&error_response(
                None,
                PARSE_ERROR,
                format!("invalid RPC version {other}"),
            )))
        }
    }
    let id = match req.id {
        None | Some(Value::Null) => None,
        Some(v @ (Value::Number(_) | Value::String(_))) => Some(v),
        Some(_) => {
            return Some(to_json(&error_response(
                None,
                INVALID_REQUEST,
                "invalid request: id must be a number or a string",
            )))
        }
    };
    let method = match &req.method {
        Some(Value::String(m)) => m.as_str(),
        None => "",
        Some(_) => {
            return Some(to_json(&error_response(
                id.as_ref(),
                INVALID_REQUEST,
                "invalid request: method must be a string",
            )))
        }
    };
    let split = method.rfind('.').filter(|&i| i > 0);
    let Some(dot) = split else {
        return id.as_ref().map(|id| {
            to_json(&error_response(
                Some(id),
                METHOD_NOT_FOUND,
                "must contains servicepath and method",
            ))
        });
    };
    let params = req.params.map_or("null", RawValue::get);
    let mut msg = Message::request(
        &method[..dot],
        &method[dot + 1..],
        SerializeType::JSON,
        Bytes::copy_from_slice(params.as_bytes()),
    );
    msg.metadata = base.clone();
    let Some(id) = id else {
        // A notification: run it as a oneway call after answering, as Go does.
        msg.header.set_oneway(true);
        notify(ctx, msg);
        return None;
    };
    let answer = match ctx.call(msg).await {
        Outcome::Refused(t) | Outcome::Unauthorized(t) => {
            error_response(Some(&id), INTERNAL_ERROR, t)
        }
        Outcome::Reply(reply) => match reply.error() {
            Some(e) => error_response(Some(&id), INTERNAL_ERROR, e),
            None => {
                let text = String::from_utf8(reply.payload.to_vec()).map_err(|e| e.to_string());
                match text.and_then(|t| RawValue::from_string(t).map_err(|e| e.to_string())) {
                    Ok(raw) => RpcResponse {
                        jsonrpc: "2.0",
                        result: Some(raw),
                        error: None,
                        id: Some(&id),
                    },
                    Err(e) => error_response(
                        Some(&id),
                        INTERNAL_ERROR,
                        format!("rpcx: the reply is not JSON: {e}"),
                    ),
                }
            }
        },
    };
    Some(to_json(&answer))
}

/// Runs a notification in the background (tracked, so a graceful shutdown waits for it).
fn notify(ctx: &HttpConn, msg: Message) {
    let call = HttpConn {
        shared: std::sync::Arc::clone(&ctx.shared),
        handle: ctx.handle.clone(),
        upgrade: std::sync::Mutex::new(None),
    };
    ctx.shared.spawn(async move {
        let _ = call.call(msg).await;
    });
}
