//! The HTTP gateway as Go's `server/gateway.go` and `converter.go` serve it: `X-RPCX-*`
//! request headers and the body become an rpcx request; the reply's payload is the response
//! body (typed as Go's `net/http` sniffs it), its metadata and errors go in `X-RPCX-*`
//! response headers.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::cors::text;
use super::{http_error, read_body, respond, Body, HttpConn, Outcome};
use crate::protocol::query::{encode_query, parse_query};
use crate::protocol::{Header, Message, MessageType, Metadata, SerializeType, META_AUTH};

const X_VERSION: &str = "x-rpcx-version";
const X_HEARTBEAT: &str = "x-rpcx-heartbeat";
const X_ONEWAY: &str = "x-rpcx-oneway";
const X_STATUS: &str = "x-rpcx-messagestatustype";
const X_SERIALIZE: &str = "x-rpcx-serializetype";
const X_COMPRESS: &str = "x-rpcx-compresstype";
const X_MESSAGE_ID: &str = "x-rpcx-messageid";
const X_SERVICE_PATH: &str = "x-rpcx-servicepath";
const X_SERVICE_METHOD: &str = "x-rpcx-servicemethod";
const X_META: &str = "x-rpcx-meta";
const X_ERROR: &str = "x-rpcx-errormessage";

/// Serves one gateway request (POST, GET or PUT on any path).
pub(super) async fn handle(ctx: &HttpConn, req: Request<Incoming>) -> Response<Body> {
    match *req.method() {
        Method::POST | Method::GET | Method::PUT => {}
        Method::OPTIONS => {
            let mut r = respond(StatusCode::OK, Bytes::new());
            r.headers_mut()
                .insert("allow", HeaderValue::from_static("GET, OPTIONS, POST, PUT"));
            return r;
        }
        _ => {
            let mut r = http_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            r.headers_mut()
                .insert("allow", HeaderValue::from_static("GET, OPTIONS, POST, PUT"));
            return r;
        }
    }
    let read = match read_body(ctx, req).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let (parts, body) = (&read.parts, read.body.clone());
    let h = &parts.headers;
    // Without the header, the service path is the URL path (less its leading slash).
    let path_service = parts.uri.path().trim_start_matches('/');
    let service_path = match text(h, X_SERVICE_PATH) {
        "" => path_service,
        s => s,
    };
    let converted = to_request(h, service_path, body);

    let mut resp = respond(StatusCode::OK, Bytes::new());
    let out = resp.headers_mut();
    set(out, X_VERSION, text(h, X_VERSION));
    set(out, X_MESSAGE_ID, text(h, X_MESSAGE_ID));
    // Go checks in this order and echoes each header it got past.
    let mut error = converted.as_ref().err().cloned();
    if error.is_none() && service_path.is_empty() {
        error = Some("empty servicepath".into());
    } else {
        set(out, X_SERVICE_PATH, service_path);
    }
    if error.is_none() && text(h, X_SERVICE_METHOD).is_empty() {
        error = Some("empty servicemethod".into());
    } else {
        set(out, X_SERVICE_METHOD, text(h, X_SERVICE_METHOD));
    }
    if error.is_none() && text(h, X_SERIALIZE).is_empty() {
        error = Some("empty serialized type".into());
    } else {
        set(out, X_SERIALIZE, text(h, X_SERIALIZE));
    }
    let msg = match (converted, error) {
        (Ok(msg), None) => msg,
        (_, Some(e)) | (Err(e), None) => {
            set_error(out, &e);
            return resp;
        }
    };
    let oneway = msg.header.is_oneway();
    match ctx.call(msg).await {
        Outcome::Refused(text) => http_error(StatusCode::INTERNAL_SERVER_ERROR, &text),
        Outcome::Unauthorized(text) => {
            set_error(resp.headers_mut(), &text);
            *resp.status_mut() = StatusCode::UNAUTHORIZED;
            resp
        }
        Outcome::Reply(reply) => {
            if let Some(e) = reply.error() {
                set_error(resp.headers_mut(), e);
                *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return resp;
            }
            let meta = encode_query(reply.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            set(resp.headers_mut(), X_META, &meta);
            // Go leaves a oneway call's reply payload out. A body gets the type Go's net/http
            // sniffs for it (Go's gateway names none).
            if !oneway && !reply.payload.is_empty() {
                let ct = HeaderValue::from_static(super::sniff::content_type(&reply.payload));
                resp.headers_mut().insert(hyper::header::CONTENT_TYPE, ct);
                *resp.body_mut() = Body::new(reply.payload);
            }
            resp
        }
    }
}

/// The request the headers and body describe (Go's `HTTPRequest2RpcxRequest`), or Go's error
/// text for a header that does not parse.
fn to_request(h: &HeaderMap, service_path: &str, body: Bytes) -> Result<Message, String> {
    let mut header = Header::new();
    header.set_message_type(MessageType::Request);
    let seq = text(h, X_MESSAGE_ID);
    if !seq.is_empty() {
        header.set_seq(parse_uint(seq)?);
    }
    header.set_heartbeat(!text(h, X_HEARTBEAT).is_empty());
    header.set_oneway(!text(h, X_ONEWAY).is_empty());
    let st = text(h, X_SERIALIZE);
    if !st.is_empty() {
        // Go keeps the low four bits of the number.
        let n = atoi(st)? as u8 & 0x0F;
        header.set_serialize_type(SerializeType::new(n).unwrap_or(SerializeType::RAW));
    }
    let ct = text(h, X_COMPRESS);
    if !ct.is_empty() {
        // Checked as Go does; the body is taken as it is (Go does not decompress it either).
        atoi(ct)?;
    }
    let mut metadata = Metadata::new();
    let meta = text(h, X_META);
    if !meta.is_empty() {
        for (k, v) in parse_query(meta)? {
            metadata.get_or_insert_with(k, || v);
        }
    }
    let auth = text(h, "authorization");
    if !auth.is_empty() {
        metadata.insert(META_AUTH.to_owned(), auth.to_owned());
    }
    Ok(Message {
        header,
        service_path: service_path.to_owned(),
        service_method: text(h, X_SERVICE_METHOD).to_owned(),
        metadata,
        payload: body,
    })
}

/// Go's `strconv.ParseUint(s, 10, 64)`, with its error text.
fn parse_uint(s: &str) -> Result<u64, String> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {s:?}: invalid syntax"));
    }
    s.parse::<u64>()
        .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: value out of range"))
}

/// Go's `strconv.Atoi` (a 64-bit int), with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

fn set(out: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        out.insert(HeaderName::from_static(name), v);
    }
}

fn set_error(out: &mut HeaderMap, text: &str) {
    set(out, X_STATUS, "Error");
    // Header values cannot hold line breaks: an error text with them is sent on one line.
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    set(out, X_ERROR, &one_line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_and_fail_as_go() {
        assert_eq!(parse_uint("42"), Ok(42));
        assert_eq!(
            parse_uint("+1").unwrap_err(),
            "strconv.ParseUint: parsing \"+1\": invalid syntax"
        );
        assert_eq!(
            parse_uint("99999999999999999999").unwrap_err(),
            "strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
        );
        assert_eq!(atoi("-3"), Ok(-3));
        assert_eq!(
            atoi("x").unwrap_err(),
            "strconv.Atoi: parsing \"x\": invalid syntax"
        );
    }

    #[test]
    fn headers_become_a_request() {
        let mut h = HeaderMap::new();
        h.insert(X_MESSAGE_ID, HeaderValue::from_static("7"));
        h.insert(X_SERIALIZE, HeaderValue::from_static("1"));
        h.insert(X_SERVICE_METHOD, HeaderValue::from_static("Mul"));
        h.insert(X_META, HeaderValue::from_static("a=1&b=x+y"));
        h.insert("authorization", HeaderValue::from_static("tok"));
        let m = to_request(&h, "Arith", Bytes::from_static(b"{}")).unwrap();
        assert_eq!(m.header.seq(), 7);
        assert_eq!(m.header.serialize_type(), SerializeType::JSON);
        assert_eq!(m.service_path, "Arith");
        assert_eq!(m.metadata["b"], "x y");
        assert_eq!(m.metadata[META_AUTH], "tok");
        h.insert(X_META, HeaderValue::from_static("a=%zz"));
        assert_eq!(
            to_request(&h, "Arith", Bytes::new()).unwrap_err(),
            "invalid URL escape \"%zz\""
        );
    }
}
