//! HTTP on the rpcx port: the gateway, JSON-RPC 2.0, CORS, CONNECT and WebSocket tunnels, the
//! options that turn them off, and hostile HTTP peers (garbage, a head left open, a lying
//! Content-Length, a flood of headers), each closing only its own connection while rpcx
//! clients on the same port go on.

#[path = "server_support.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use rpcx::arith::{self, Args, Reply};
use rpcx::client::{Client, ClientOptions};
use rpcx::server::{CorsOptions, HttpOptions, Server, ServerHandle};
use support::{guard, socket_addr, GUARD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP response as read off the wire.
#[derive(Debug)]
struct HttpReply {
    status: u16,
    #[allow(dead_code)]
    reason: String,
    /// Lower-case names; the last value of a repeated header.
    headers: HashMap<String, String>,
    /// Names as sent, to check their case.
    raw_names: Vec<String>,
    body: Vec<u8>,
}

impl HttpReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response (with a Content-Length body, or none) from `s`; `None` at EOF.
async fn read_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<HttpReply> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        if let Ok(httparse::Status::Complete(n)) = resp.parse(buf) {
            let mut map = HashMap::new();
            let mut raw_names = Vec::new();
            for h in resp.headers.iter() {
                raw_names.push(h.name.to_owned());
                map.insert(
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                );
            }
            let len: usize = map
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let status = resp.code.unwrap_or(0);
            let reason = resp.reason.unwrap_or("").to_owned();
            while buf.len() < n + len {
                let mut chunk = [0u8; 4096];
                let k = s.read(&mut chunk).await.ok()?;
                if k == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..k]);
            }
            let body = buf[n..n + len].to_vec();
            buf.drain(..n + len);
            return Some(HttpReply {
                status,
                reason,
                headers: map,
                raw_names,
                body,
            });
        }
        let mut chunk = [0u8; 4096];
        let k = s.read(&mut chunk).await.ok()?;
        if k == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..k]);
    }
}

/// Sends `request` on a new connection and reads one response.
async fn http(addr: &str, request: &[u8]) -> HttpReply {
    guard(GUARD, "an HTTP exchange", async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        read_reply(&mut s, &mut Vec::new())
            .await
            .expect("a response")
    })
    .await
}

/// A POST with `headers` (each `Name: value`) and `body`.
fn post(path: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut r = format!("POST {path} HTTP/1.1\r\nHost: test\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r.into_bytes()
}

async fn start(http: HttpOptions) -> ServerHandle {
    let mut server = Server::builder().http(http).build();
    arith::register(&mut server).unwrap();
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

/// True when the peer closed `s` (EOF or reset) within the guard.
async fn closed(s: &mut TcpStream) -> bool {
    guard(GUARD, "the server closing a connection", async {
        let mut b = [0u8; 4096];
        loop {
            match s.read(&mut b).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
}

async fn rpcx_mul_works(addr: &str) {
    let client = Client::connect(addr, ClientOptions::default())
        .await
        .unwrap();
    let r: Reply = client
        .call("Arith", "Mul", &Args { a: 6, b: 7 })
        .await
        .unwrap();
    assert_eq!(r.c, 42);
}

#[tokio::test]
async fn gateway_calls_a_service_and_answers_with_rpcx_headers() {
    let h = start(HttpOptions::default()).await;
    let addr = socket_addr(&h);
    let r = http(
        &addr,
        &post(
            "/",
            &[
                "X-RPCX-MessageID: 12",
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Arith",
                "X-RPCX-ServiceMethod: Mul",
            ],
            r#"{"A":7,"B":8}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body_text(), r#"{"C":56}"#);
    assert_eq!(r.header("x-rpcx-messageid"), Some("12"));
    assert_eq!(r.header("x-rpcx-servicepath"), Some("Arith"));
    assert_eq!(r.header("x-rpcx-servicemethod"), Some("Mul"));
    assert_eq!(r.header("x-rpcx-serializetype"), Some("1"));
    assert_eq!(r.header("x-rpcx-meta"), Some(""));
    assert_eq!(r.header("x-rpcx-messagestatustype"), None);
    // The type Go's net/http sniffs for the payload (Go's gateway names none).
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    // Header names as Go writes them (canonical case).
    assert!(
        r.raw_names.iter().any(|n| n == "X-Rpcx-Messageid"),
        "{:?}",
        r.raw_names
    );

    // The service path from the URL; metadata both ways; Authorization becomes __AUTH.
    let r = http(
        &addr,
        &post(
            "/Arith",
            &[
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServiceMethod: Meta",
                "X-RPCX-Meta: k=a+b&z=%21",
                "Authorization: tok",
            ],
            "{}",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body_text(), r#"{"C":3}"#);
    assert_eq!(
        r.header("x-rpcx-meta"),
        Some("echo-__AUTH=tok&echo-k=a+b&echo-z=%21")
    );

    // A oneway call runs; its reply has no body, as Go's.
    let r = http(
        &addr,
        &post(
            "/",
            &[
                "X-RPCX-Oneway: true",
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Arith",
                "X-RPCX-ServiceMethod: Mul",
            ],
            r#"{"A":1,"B":2}"#,
        ),
    )
    .await;
    assert_eq!((r.status, r.body.len()), (200, 0), "{r:?}");
    assert_eq!(r.header("content-type"), None);
    h.close();
}

#[tokio::test]
async fn gateway_errors_are_headers_as_in_go() {
    let h = start(HttpOptions::default()).await;
    let addr = socket_addr(&h);
    // A service error: 500 with the text in X-RPCX-ErrorMessage.
    let r = http(
        &addr,
        &post(
            "/",
            &[
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Nope",
                "X-RPCX-ServiceMethod: Mul",
            ],
            "{}",
        ),
    )
    .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.header("x-rpcx-messagestatustype"), Some("Error"));
    assert_eq!(
        r.header("x-rpcx-errormessage"),
        Some("rpcx: can't find service Nope")
    );
    // A header that does not parse: 200 with Go's strconv text.
    let r = http(
        &addr,
        &post(
            "/",
            &[
                "X-RPCX-MessageID: x1",
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Arith",
                "X-RPCX-ServiceMethod: Mul",
            ],
            "{}",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-rpcx-errormessage"),
        Some("strconv.ParseUint: parsing \"x1\": invalid syntax")
    );
    // Missing pieces, in Go's order.
    let r = http(&addr, &post("/Arith", &["X-RPCX-SerializeType: 1"], "")).await;
    assert_eq!(r.header("x-rpcx-errormessage"), Some("empty servicemethod"));
    let r = http(&addr, &post("/Arith", &["X-RPCX-ServiceMethod: Mul"], "")).await;
    assert_eq!(
        r.header("x-rpcx-errormessage"),
        Some("empty serialized type")
    );
    // Methods other than GET, POST and PUT.
    let r = http(&addr, b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(r.status, 405);
    h.close();
}

#[tokio::test]
async fn gateway_refuses_a_bad_token_with_401() {
    let mut server = Server::builder()
        .auth(|_m, token, _peer| {
            if token == "good" {
                Ok(())
            } else {
                Err("bad token".into())
            }
        })
        .build();
    arith::register(&mut server).unwrap();
    let h = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = socket_addr(&h);
    let call = |tok: &'static str| {
        post(
            "/",
            &[
                tok,
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Arith",
                "X-RPCX-ServiceMethod: Mul",
            ],
            r#"{"A":2,"B":3}"#,
        )
    };
    let r = http(&addr, &call("Authorization: bad")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-rpcx-errormessage"), Some("bad token"));
    let r = http(&addr, &call("Authorization: good")).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, r#"{"C":6}"#));
    h.close();
}

#[tokio::test]
async fn jsonrpc_single_batch_notification_and_errors() {
    let h = start(HttpOptions::default()).await;
    let addr = socket_addr(&h);
    let rpc = |body: &str| post("/", &["X-JSONRPC-2.0: true"], body);
    let r = http(
        &addr,
        &rpc(r#"{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":3,"B":4},"id":1}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body_text(),
        r#"{"jsonrpc":"2.0","result":{"C":12},"id":1}"#
    );
    assert_eq!(r.header("content-type"), Some("application/json"));

    let r = http(
        &addr,
        &rpc(r#"{"jsonrpc":"2.0","method":"Arith.Nope","params":{},"id":"x"}"#),
    )
    .await;
    assert_eq!(
        r.body_text(),
        r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"rpcx: can't find method Nope","data":null},"id":"x"}"#
    );
    let r = http(&addr, &rpc(r#"{"jsonrpc":"2.0","method":"Mul","id":2}"#)).await;
    assert_eq!(
        r.body_text(),
        r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"must contains servicepath and method","data":null},"id":2}"#
    );
    let r = http(&addr, &rpc("{not json")).await;
    assert!(
        r.body_text().contains(r#""code":-32700"#),
        "{}",
        r.body_text()
    );
    let r = http(
        &addr,
        &rpc(r#"{"jsonrpc":"1.0","method":"Arith.Mul","id":2}"#),
    )
    .await;
    assert!(
        r.body_text().contains("invalid RPC version 1.0"),
        "{}",
        r.body_text()
    );

    // A notification: no body.
    let r = http(
        &addr,
        &rpc(r#"{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":3,"B":4}}"#),
    )
    .await;
    assert_eq!((r.status, r.body.len()), (200, 0));

    // A batch: one answer per request that has an id, in order.
    let r = http(
        &addr,
        &rpc(concat!(
            r#"[{"jsonrpc":"2.0","method":"Arith.Add","params":{"A":1,"B":2},"id":1},"#,
            r#"{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":1,"B":2}},"#,
            r#"{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":5,"B":6},"id":2}]"#
        )),
    )
    .await;
    assert_eq!(
        r.body_text(),
        r#"[{"jsonrpc":"2.0","result":{"C":3},"id":1},{"jsonrpc":"2.0","result":{"C":30},"id":2}]"#
    );
    let r = http(&addr, &rpc("[]")).await;
    assert!(
        r.body_text().contains(r#""code":-32600"#),
        "{}",
        r.body_text()
    );
    h.close();
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let h = start(HttpOptions::default()).await;
    let mut s = TcpStream::connect(socket_addr(&h)).await.unwrap();
    let mut buf = Vec::new();
    for i in 0..20i64 {
        let body = format!(r#"{{"A":{i},"B":2}}"#);
        s.write_all(&post(
            "/",
            &[
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Arith",
                "X-RPCX-ServiceMethod: Mul",
            ],
            &body,
        ))
        .await
        .unwrap();
        let r = guard(GUARD, "a keep-alive reply", read_reply(&mut s, &mut buf))
            .await
            .unwrap();
        assert_eq!(r.body_text(), format!(r#"{{"C":{}}}"#, i * 2));
    }
    h.close();
}

#[tokio::test]
async fn cors_preflight_and_actual_requests() {
    let h = start(HttpOptions {
        cors: Some(CorsOptions::allow_all()),
        ..HttpOptions::default()
    })
    .await;
    let addr = socket_addr(&h);
    let r = http(
        &addr,
        b"OPTIONS / HTTP/1.1\r\nHost: t\r\nOrigin: https://a.test\r\n\
          Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: x-rpcx-servicepath\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("x-rpcx-servicepath")
    );
    let r = http(
        &addr,
        &post(
            "/",
            &[
                "Origin: https://a.test",
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Arith",
                "X-RPCX-ServiceMethod: Mul",
            ],
            r#"{"A":2,"B":2}"#,
        ),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.body_text(), r#"{"C":4}"#);
    h.close();
}

#[tokio::test]
async fn rpcx_clients_tunnel_through_connect_and_websocket() {
    let h = start(HttpOptions::default()).await;
    let hp = socket_addr(&h);
    for network in ["tcp", "http", "ws"] {
        rpcx_mul_works(&format!("{network}@{hp}")).await;
    }
    // Many calls at once through one WebSocket, replies bigger than one frame.
    let client = Client::connect(&format!("ws@{hp}"), ClientOptions::default())
        .await
        .unwrap();
    let big = vec![7u8; 300_000];
    let mut calls = Vec::new();
    for _ in 0..8 {
        let c = client.clone();
        let data = big.clone();
        calls.push(tokio::spawn(async move {
            c.call_raw(rpcx::client::RawRequest {
                service: "Arith".into(),
                method: "Echo".into(),
                serialize_type: rpcx::protocol::SerializeType::RAW,
                metadata: Default::default(),
                payload: data.into(),
                timeout: None,
            })
            .await
            .unwrap()
            .payload
        }));
    }
    for c in calls {
        assert_eq!(c.await.unwrap().len(), big.len());
    }
    h.close();
}

/// Go's WebSocket client sends its binary rpcx frames in *text* WebSocket frames; the server
/// reads them like binary ones.
#[tokio::test]
async fn websocket_text_frames_carry_rpcx_as_go_sends_them() {
    let h = start(HttpOptions::default()).await;
    let mut s = TcpStream::connect(socket_addr(&h)).await.unwrap();
    s.write_all(
        b"GET /_rpcx_ HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Origin: http://t\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let r = guard(GUARD, "the handshake", read_reply(&mut s, &mut buf))
        .await
        .unwrap();
    assert_eq!(r.status, 101);
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    let frame = support::json_mul(5, 9, 9).encode().unwrap();
    let mask = [1u8, 2, 3, 4];
    let mut ws = vec![0x81, 0x80 | 126];
    ws.extend_from_slice(&(frame.len() as u16).to_be_bytes());
    ws.extend_from_slice(&mask);
    ws.extend(frame.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&ws).await.unwrap();
    // The reply: binary frames, unmasked, holding one rpcx response.
    let mut got = buf;
    let reply = guard(GUARD, "the reply frame", async {
        loop {
            if got.len() >= 2 {
                let len = (got[1] & 0x7f) as usize;
                assert!(len < 126, "a short reply fits a short frame");
                assert_eq!(got[0], 0x82);
                if got.len() >= 2 + len {
                    return got[2..2 + len].to_vec();
                }
            }
            let mut c = [0u8; 1024];
            let n = s.read(&mut c).await.unwrap();
            assert!(n > 0, "closed before the reply");
            got.extend_from_slice(&c[..n]);
        }
    })
    .await;
    let msg = rpcx::protocol::Message::decode(&reply, &Default::default()).unwrap();
    assert_eq!(msg.header.seq(), 5);
    assert_eq!(&msg.payload[..], br#"{"C":81}"#);
    h.close();
}

#[tokio::test]
async fn hostile_http_peers_lose_only_their_own_connection() {
    let h = start(HttpOptions {
        request_timeout: Duration::from_millis(300),
        ..HttpOptions::default()
    })
    .await;
    let addr = socket_addr(&h);
    let rpcx_client = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap();

    // Garbage that is neither rpcx nor HTTP.
    let mut g = TcpStream::connect(&addr).await.unwrap();
    g.write_all(&[0xff; 64]).await.unwrap();
    assert!(closed(&mut g).await);

    // A head left open: closed after the request timeout.
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nX-RPCX-Ser")
        .await
        .unwrap();
    assert!(closed(&mut half).await);

    // A body promised and never sent.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let r = guard(GUARD, "a slow body", read_reply(&mut slow, &mut buf)).await;
    assert_eq!(r.map(|r| r.status), Some(408));

    // A 1 GiB body announced: refused at once, before any of it is read.
    let r = http(
        &addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 413);

    // 10,000 headers.
    let mut flood = TcpStream::connect(&addr).await.unwrap();
    let mut req = b"POST / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..10_000 {
        req.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    let _ = flood.write_all(&req).await;
    let mut buf = Vec::new();
    if let Some(r) = guard(GUARD, "a header flood", read_reply(&mut flood, &mut buf)).await {
        assert!(r.status == 431 || r.status == 400, "{r:?}");
    }
    assert!(closed(&mut flood).await);

    // A CONNECT to another path, and a malformed one.
    let r = http(&addr, b"CONNECT /elsewhere HTTP/1.0\n\n").await;
    assert_eq!(r.status, 404);
    let mut bad = TcpStream::connect(&addr).await.unwrap();
    bad.write_all(b"CONNECT \x01\x02\n\n").await.unwrap();
    assert!(closed(&mut bad).await);

    // The rpcx client on the same port never noticed.
    let r: Reply = rpcx_client
        .call("Arith", "Mul", &Args { a: 3, b: 3 })
        .await
        .unwrap();
    assert_eq!(r.c, 9);
    h.close();
}

#[tokio::test]
async fn http_services_can_be_turned_off() {
    let h = start(HttpOptions::disabled()).await;
    let addr = socket_addr(&h);
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(&post("/", &["X-RPCX-ServicePath: Arith"], ""))
        .await
        .unwrap();
    assert!(closed(&mut s).await);
    assert!(
        Client::connect(&format!("ws@{addr}"), ClientOptions::default())
            .await
            .is_err()
    );
    rpcx_mul_works(&addr).await;
    h.close();

    // JSON-RPC alone: the gateway's requests find nothing.
    let h = start(HttpOptions {
        gateway: false,
        ..HttpOptions::default()
    })
    .await;
    let addr = socket_addr(&h);
    let r = http(&addr, &post("/", &["X-RPCX-ServicePath: Arith"], "")).await;
    assert_eq!(r.status, 404);
    let r = http(
        &addr,
        &post(
            "/",
            &["X-JSONRPC-2.0: true"],
            r#"{"method":"Arith.Add","params":{"A":1,"B":1},"id":1}"#,
        ),
    )
    .await;
    assert_eq!(
        r.body_text(),
        r#"{"jsonrpc":"2.0","result":{"C":2},"id":1}"#
    );
    // CONNECT off: refused with 405.
    h.close();
    let h = start(HttpOptions {
        connect: false,
        ..HttpOptions::default()
    })
    .await;
    let r = http(&socket_addr(&h), b"CONNECT /_rpcx_ HTTP/1.0\n\n").await;
    assert_eq!(r.status, 405);
    h.close();
}

#[tokio::test]
async fn tunnel_addresses_are_what_the_server_reports() {
    let mut server = Server::builder().build();
    arith::register(&mut server).unwrap();
    let h = server.serve("ws@127.0.0.1:0").await.unwrap();
    let local = h.local_address().to_string();
    assert!(local.starts_with("ws@127.0.0.1:"), "{local}");
    rpcx_mul_works(&local).await;
    h.close();
}

#[tokio::test]
async fn connect_reply_is_gos_exact_bytes() {
    let h = start(HttpOptions::default()).await;
    let mut s = TcpStream::connect(socket_addr(&h)).await.unwrap();
    s.write_all(b"CONNECT /_rpcx_ HTTP/1.0\n\n").await.unwrap();
    let mut got = vec![0u8; 32];
    guard(GUARD, "the CONNECT answer", s.read_exact(&mut got))
        .await
        .unwrap();
    assert_eq!(&got, b"HTTP/1.0 200 Connected to rpcx\n\n");
    h.close();
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Churn over every HTTP door: connections that call and leave, leave mid-head, mid-body, or
/// mid-call inside a WebSocket or CONNECT tunnel. Afterwards the server holds no socket, task
/// or call of theirs: open fds come back to where they were and it still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_through_http_doors_leaves_nothing_behind() {
    let h = start(HttpOptions::default()).await;
    let addr = socket_addr(&h);
    let call = post(
        "/",
        &[
            "X-RPCX-SerializeType: 1",
            "X-RPCX-ServicePath: Arith",
            "X-RPCX-ServiceMethod: Mul",
        ],
        r#"{"A":3,"B":5}"#,
    );
    // Warm up (runtime threads, lazily opened fds), then take the baseline.
    let _ = http(&addr, &call).await;
    rpcx_mul_works(&format!("ws@{addr}")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = open_fds();
    for round in 0..200usize {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        match round % 5 {
            0 => {
                s.write_all(&call).await.unwrap();
                let r = read_reply(&mut s, &mut Vec::new()).await.unwrap();
                assert_eq!(r.body_text(), r#"{"C":15}"#);
            }
            1 => s
                .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nX-RP")
                .await
                .unwrap(),
            2 => s
                .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{\"A\"")
                .await
                .unwrap(),
            3 => {
                // A WebSocket client that starts a ten-minute call and leaves.
                let c = Client::connect(&format!("ws@{addr}"), ClientOptions::default())
                    .await
                    .unwrap();
                let pending = tokio::spawn(async move {
                    let _ = c
                        .call::<_, Reply>("Arith", "Sleep", &rpcx::arith::SleepArgs { ms: 600_000 })
                        .await;
                });
                tokio::time::sleep(Duration::from_millis(5)).await;
                pending.abort();
            }
            _ => {
                s.write_all(b"CONNECT /_rpcx_ HTTP/1.0\n\n").await.unwrap();
                let mut ok = [0u8; 32];
                s.read_exact(&mut ok).await.unwrap();
                s.write_all(&support::json_mul(1, 2, 2).encode().unwrap()[..20])
                    .await
                    .unwrap();
            }
        }
        drop(s);
    }
    let mut now = open_fds();
    for _ in 0..(GUARD.as_millis() / 20) {
        now = open_fds();
        if now <= baseline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(now <= baseline, "fds: {now} after churn, {baseline} before");
    support::wait_until("every abandoned call ended", || h.inflight() == 0).await;
    let r = http(&addr, &call).await;
    assert_eq!(r.body_text(), r#"{"C":15}"#);
    h.close();
}

#[tokio::test]
async fn a_wss_server_needs_tls() {
    let e = Server::builder()
        .build()
        .serve("wss@127.0.0.1:0")
        .await
        .expect_err("wss@ without TLS served");
    assert!(e.to_string().contains("needs TLS"), "{e}");
}

/// A slow reader over HTTP: pipelined requests with large bodies, no reply ever read. The
/// server reads one request ahead at most, so what it holds stays small while the client's
/// writes back up; everyone else is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelining_http_client_that_never_reads_is_held_back() {
    let h = start(HttpOptions::default()).await;
    let addr = socket_addr(&h);
    let body = "7".repeat(64 << 10);
    let one = post(
        "/",
        &[
            "X-RPCX-SerializeType: 0",
            "X-RPCX-ServicePath: Arith",
            "X-RPCX-ServiceMethod: Echo",
        ],
        &body,
    );
    let s = TcpStream::connect(&addr).await.unwrap();
    let (_r, mut w) = s.into_split();
    let total = 2000 * one.len(); // about 128 MiB
    let writer = tokio::spawn(async move {
        for _ in 0..2000 {
            if w.write_all(&one).await.is_err() {
                break;
            }
        }
        w
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !writer.is_finished(),
        "{total} bytes were taken without a reply read"
    );
    assert!(
        h.pending_bytes() <= 1 << 20,
        "server holds {} bytes",
        h.pending_bytes()
    );
    rpcx_mul_works(&addr).await;
    let r = http(
        &addr,
        &post(
            "/",
            &[
                "X-RPCX-SerializeType: 1",
                "X-RPCX-ServicePath: Arith",
                "X-RPCX-ServiceMethod: Add",
            ],
            r#"{"A":1,"B":1}"#,
        ),
    )
    .await;
    assert_eq!(r.body_text(), r#"{"C":2}"#);
    writer.abort();
    h.close();
}

/// Hostile servers met by a client opening a tunnel: a CONNECT answered with garbage, with a
/// refusal, never answered, or with an endless head; a WebSocket handshake answered 200 or
/// with a wrong accept key. Each connect fails with a clear error within its timeout.
#[tokio::test]
async fn tunnel_clients_refuse_hostile_servers() {
    async fn fake(answer: &'static [u8]) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    let _ = s.read(&mut b).await;
                    if answer == b"endless" {
                        loop {
                            if s.write_all(b"X-A: b\r\n").await.is_err() {
                                return;
                            }
                        }
                    }
                    let _ = s.write_all(answer).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
        addr
    }
    let opts = || ClientOptions::default().connect_timeout(Duration::from_millis(500));
    let cases: [(&str, &'static [u8], &str); 6] = [
        ("http", b"\x00\x01garbage\n\n", "unexpected HTTP response"),
        ("http", b"HTTP/1.0 405 Method Not Allowed\r\n\r\n", "405"),
        ("http", b"", "timed out"),
        ("http", b"endless", "longer than"),
        ("ws", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "refused"),
        (
            "ws",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n",
            "Sec-WebSocket-Accept",
        ),
    ];
    for (network, answer, want) in cases {
        let addr = fake(answer).await;
        let connected = guard(
            GUARD,
            "a refused tunnel",
            Client::connect(&format!("{network}@{addr}"), opts()),
        )
        .await;
        let Err(e) = connected else {
            panic!("{network} {answer:?}: connected through a hostile server");
        };
        let e = e.to_string();
        assert!(e.contains(want), "{network} {answer:?}: {e}");
    }
}

/// Counts the connections the plugins are told about.
#[derive(Default)]
struct ConnCounter {
    accepted: std::sync::atomic::AtomicUsize,
    closed: std::sync::atomic::AtomicUsize,
}

impl rpcx::server::Plugin for ConnCounter {
    fn name(&self) -> &str {
        "conn-counter"
    }
    fn on_conn_accept(&self, _peer: &str) -> bool {
        self.accepted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        true
    }
    fn on_conn_close(&self, _peer: &str) {
        self.closed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn connection_plugins_judge_http_connections_too() {
    use rpcx::server::plugins::IpFilter;
    use std::sync::atomic::Ordering::SeqCst;
    let gateway = post(
        "/",
        &[
            "X-RPCX-SerializeType: 1",
            "X-RPCX-ServicePath: Arith",
            "X-RPCX-ServiceMethod: Mul",
        ],
        r#"{"A":2,"B":3}"#,
    );
    let jsonrpc = post(
        "/",
        &["X-JSONRPC-2.0: true"],
        r#"{"jsonrpc":"2.0","method":"Arith.Mul","params":{"A":2,"B":3},"id":1}"#,
    );

    // An IP filter refusing loopback refuses the gateway and JSON-RPC as it refuses rpcx
    // (Go's HTTP side skips connection plugins): closed without an answer.
    let mut server = Server::builder()
        .plugin(IpFilter::deny(["127.0.0.0/8".parse().unwrap()]))
        .build();
    arith::register(&mut server).unwrap();
    let h = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = socket_addr(&h);
    for request in [&gateway, &jsonrpc] {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut got = Vec::new();
        guard(
            GUARD,
            "the refused connection closing",
            s.read_to_end(&mut got),
        )
        .await
        .ok();
        assert!(
            got.is_empty(),
            "answered: {}",
            String::from_utf8_lossy(&got)
        );
    }
    h.close();

    // Every HTTP connection a plugin accepts, it is told about closing.
    let counter = std::sync::Arc::new(ConnCounter::default());
    let mut server = Server::builder().plugin_arc(counter.clone()).build();
    arith::register(&mut server).unwrap();
    let h = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let addr = socket_addr(&h);
    assert_eq!(http(&addr, &gateway).await.body_text(), r#"{"C":6}"#);
    assert_eq!(http(&addr, &jsonrpc).await.status, 200);
    support::wait_until("both HTTP connections reported closed", || {
        counter.closed.load(SeqCst) == 2
    })
    .await;
    assert_eq!(counter.accepted.load(SeqCst), 2);
    h.close();
}

#[tokio::test]
async fn bad_http_options_are_refused_by_name() {
    for (http, want) in [
        (
            HttpOptions {
                request_timeout: Duration::ZERO,
                ..HttpOptions::default()
            },
            "http.request_timeout",
        ),
        (
            HttpOptions {
                max_headers: 0,
                ..HttpOptions::default()
            },
            "http.max_headers",
        ),
    ] {
        let served = Server::builder()
            .http(http)
            .build()
            .serve("tcp@127.0.0.1:0")
            .await;
        let Err(e) = served else {
            panic!("served with a bad HTTP option")
        };
        assert!(matches!(e, rpcx::Error::Config(_)), "{e:?}");
        assert!(e.to_string().contains(want), "{e}");
    }
}
