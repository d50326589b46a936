//! `interop_client`: the Rust twin of `tests/interop/go/cmd/goclient`. It runs the same
//! scripted cases with [`rpcx::client::Client`] against any rpcx server exposing the interop
//! services (normally the real Go `goserver`), and prints the same lines:
//!
//! ```text
//! PASS <case>
//! FAIL <case>: <reason>
//! SKIP <case>: <reason>
//! <codec>: N passed, N failed, N skipped
//! ```
//!
//! Exit status 1 if a case failed, 2 on usage errors.
//!
//! ```text
//! cargo run -p rpcx --example interop_client -- -addr tcp@127.0.0.1:8972 \
//!     [-codec json|msgpack|protobuf|raw] [-auth TOKEN] [-cases a,b] [-case-timeout 30s] [-v]
//! ```
//!
//! Wire-level checks (compress bits of requests *and* responses, heartbeat echoes, "exactly one
//! frame received" after oneway calls, number of connections) are made by a recording proxy on
//! loopback between the client and the server, which decodes every frame in both directions
//! with [`rpcx::protocol::FrameCodec`] — the counterpart of goclient's client plugin.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use rpcx::arith::{Args, PushArgs, Reply, SleepArgs};
use rpcx::benchmark::BenchmarkMessage;
use rpcx::client::{CallOptions, Client, ClientOptions};
use rpcx::codec::Codable;
use rpcx::protocol::{
    CompressType, FrameCodec, Limits, Message, MessageStatus, MessageType, SerializeType,
    META_AUTH, META_ERROR,
};
use rpcx::transport::{dial, Address};

const ALL_CASES: &[&str] = &[
    "plain",
    "gzip",
    "snappy",
    "metadata",
    "auth_ok",
    "auth_refused",
    "service_error",
    "unknown_service",
    "unknown_method",
    "oneway",
    "heartbeat",
    "timeout",
    "concurrent",
    "push",
];

const INVALID_TOKEN: &str = "invalid token";
const DIVIDE_BY_ZERO: &str = "divide by zero";

/// Why a case did not pass.
enum CaseError {
    Fail(String),
    Skip(String),
}

impl From<String> for CaseError {
    fn from(s: String) -> Self {
        CaseError::Fail(s)
    }
}

impl From<&str> for CaseError {
    fn from(s: &str) -> Self {
        CaseError::Fail(s.to_owned())
    }
}

type CaseResult = Result<(), CaseError>;

macro_rules! fail {
    ($($t:tt)*) => {
        return Err(CaseError::Fail(format!($($t)*)))
    };
}

macro_rules! skip {
    ($($t:tt)*) => {
        return Err(CaseError::Skip(format!($($t)*)))
    };
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Codec {
    Json,
    MsgPack,
    Protobuf,
    Raw,
}

impl Codec {
    fn parse(s: &str) -> Option<Codec> {
        match s {
            "json" => Some(Codec::Json),
            "msgpack" => Some(Codec::MsgPack),
            "protobuf" => Some(Codec::Protobuf),
            "raw" => Some(Codec::Raw),
            _ => None,
        }
    }

    fn serialize_type(self) -> SerializeType {
        match self {
            Codec::Json => SerializeType::JSON,
            Codec::MsgPack => SerializeType::MSGPACK,
            Codec::Protobuf => SerializeType::PROTOBUF,
            Codec::Raw => SerializeType::RAW,
        }
    }
}

// ------------------------------------------------------------------ recording proxy

/// Every frame seen by the proxy, decoded, in both directions.
#[derive(Default)]
struct Recorder {
    /// Connections accepted (= made by the client).
    conns: AtomicUsize,
    /// Connections that ended (either side closed).
    closed: AtomicUsize,
    frames: Mutex<Vec<Seen>>,
    errors: Mutex<Vec<String>>,
}

struct Seen {
    from_server: bool,
    msg: Message,
}

impl Recorder {
    fn push(&self, from_server: bool, msg: Message) {
        if let Ok(mut f) = self.frames.lock() {
            f.push(Seen { from_server, msg });
        }
    }

    fn error(&self, e: String) {
        if let Ok(mut v) = self.errors.lock() {
            v.push(e);
        }
    }

    fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    /// Frames the server sent.
    fn server_frames(&self) -> usize {
        self.frames
            .lock()
            .map(|f| f.iter().filter(|s| s.from_server).count())
            .unwrap_or(0)
    }

    /// Compress types of the last request to `key` ("path.method") and of its response
    /// (matched by seq).
    fn compress_of(&self, key: &str) -> (Option<CompressType>, Option<CompressType>) {
        let Ok(frames) = self.frames.lock() else {
            return (None, None);
        };
        let req = frames.iter().rev().find(|s| {
            !s.from_server
                && !s.msg.header.is_heartbeat()
                && format!("{}.{}", s.msg.service_path, s.msg.service_method) == key
        });
        let Some(req) = req else { return (None, None) };
        let seq = req.msg.header.seq();
        let res = frames.iter().rev().find(|s| {
            s.from_server
                && s.msg.header.message_type() == MessageType::Response
                && s.msg.header.seq() == seq
        });
        (
            Some(req.msg.header.compress_type()),
            res.map(|r| r.msg.header.compress_type()),
        )
    }

    /// Checks the heartbeats: (good echoes, problems).
    fn heartbeats(&self) -> (usize, Vec<String>) {
        let Ok(frames) = self.frames.lock() else {
            return (0, vec!["recorder poisoned".into()]);
        };
        let mut sent: HashMap<u64, &Message> = HashMap::new();
        let mut bad = Vec::new();
        for s in frames.iter().filter(|s| !s.from_server) {
            let m = &s.msg;
            if !m.header.is_heartbeat() {
                continue;
            }
            if !m.service_path.is_empty()
                || !m.service_method.is_empty()
                || m.header.serialize_type() != SerializeType::MSGPACK
                || m.payload.len() != 9
                || m.payload[0] != 0xd3
                || m.header.is_oneway()
            {
                bad.push(format!(
                    "heartbeat request seq {} is not Go-shaped (path {:?} method {:?} serialize {} payload {:02x?})",
                    m.header.seq(),
                    m.service_path,
                    m.service_method,
                    m.header.serialize_type(),
                    &m.payload[..]
                ));
            }
            sent.insert(m.header.seq(), m);
        }
        let mut ok = 0;
        for s in frames.iter().filter(|s| s.from_server) {
            let m = &s.msg;
            if !m.header.is_heartbeat() {
                continue;
            }
            let seq = m.header.seq();
            match sent.get(&seq) {
                None => bad.push(format!("heartbeat reply with unknown seq {seq}")),
                Some(_) if m.header.message_type() != MessageType::Response => {
                    bad.push(format!("heartbeat reply seq {seq} is not a response"))
                }
                Some(_) if m.header.status() != MessageStatus::Normal => bad.push(format!(
                    "heartbeat reply seq {seq} has error status: {:?}",
                    m.metadata.get(META_ERROR)
                )),
                Some(req) if req.payload != m.payload => bad.push(format!(
                    "heartbeat reply seq {seq} payload {:02x?} != sent {:02x?}",
                    &m.payload[..],
                    &req.payload[..]
                )),
                Some(_) => ok += 1,
            }
        }
        (ok, bad)
    }
}

/// A loopback TCP proxy to the server that records every frame; stops accepting when dropped.
struct Proxy {
    addr: String,
    rec: Arc<Recorder>,
    accept: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn start_proxy(upstream: &str) -> Result<Proxy, String> {
    let up = Address::parse(upstream).map_err(|e| format!("bad address {upstream}: {e}"))?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("proxy bind: {e}"))?;
    let addr = format!(
        "tcp@{}",
        listener
            .local_addr()
            .map_err(|e| format!("proxy addr: {e}"))?
    );
    let rec = Arc::new(Recorder::default());
    let r = Arc::clone(&rec);
    let accept = tokio::spawn(async move {
        // Bounded: a case makes a handful of connections at most.
        for _ in 0..64 {
            let Ok((down, _)) = listener.accept().await else {
                return;
            };
            r.conns.fetch_add(1, Ordering::SeqCst);
            let rec = Arc::clone(&r);
            let up = up.clone();
            tokio::spawn(async move {
                let upc = match dial(&up, Duration::from_secs(3)).await {
                    Ok(c) => c,
                    Err(e) => {
                        rec.error(format!("proxy dial {up}: {e}"));
                        rec.closed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                };
                let _ = down.set_nodelay(true);
                let (dr, dw) = down.into_split();
                let ended = Arc::new(AtomicBool::new(false));
                tokio::join!(
                    pump(dr, upc.write, false, Arc::clone(&rec), Arc::clone(&ended)),
                    pump(upc.read, dw, true, Arc::clone(&rec), ended),
                );
            });
        }
    });
    Ok(Proxy { addr, rec, accept })
}

/// Copies one direction, decoding (and recording) each frame before forwarding its bytes.
async fn pump<R, W>(
    mut r: R,
    mut w: W,
    from_server: bool,
    rec: Arc<Recorder>,
    ended: Arc<AtomicBool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let codec = FrameCodec::new(Limits::UNLIMITED);
    let mut acc = BytesMut::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut decoding = true;
    loop {
        let n = match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if decoding {
            acc.extend_from_slice(&chunk[..n]);
            loop {
                match codec.decode_frame(&mut acc) {
                    Ok(Some(m)) => rec.push(from_server, m),
                    Ok(None) => break,
                    Err(e) => {
                        let dir = if from_server { "server" } else { "client" };
                        rec.error(format!("undecodable frame from the {dir}: {e}"));
                        decoding = false;
                        acc.clear();
                        break;
                    }
                }
            }
        }
        if w.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
    if !ended.swap(true, Ordering::SeqCst) {
        rec.closed.fetch_add(1, Ordering::SeqCst);
    }
}

// ------------------------------------------------------------------ runner

struct Runner {
    addr: String,
    codec: Codec,
    auth: String,
    verbose: bool,
}

/// How to build a client for a case.
#[derive(Default)]
struct ClientSpec {
    /// Token override (`Some("")`: no token at all).
    auth: Option<String>,
    /// Compression of requests over 1 KiB (`None`: none).
    compress: Option<CompressType>,
    heartbeat: Option<Duration>,
    /// Route through a recording proxy.
    record: bool,
}

fn err_text<T>(r: &Result<T, rpcx::Error>) -> String {
    match r {
        Ok(_) => "<nil>".into(),
        Err(e) => e.to_string(),
    }
}

impl Runner {
    fn logf(&self, s: impl AsRef<str>) {
        if self.verbose {
            eprintln!("interop_client: {}", s.as_ref());
        }
    }

    fn arith_like(&self) -> bool {
        matches!(self.codec, Codec::Json | Codec::MsgPack)
    }

    /// The service of the basic calls.
    fn path(&self) -> &'static str {
        if self.codec == Codec::Protobuf {
            "ProtoArith"
        } else {
            "Arith"
        }
    }

    fn first_method(&self) -> &'static str {
        if self.codec == Codec::Raw {
            "Echo"
        } else {
            "Mul"
        }
    }

    fn options(&self, spec: &ClientSpec) -> ClientOptions {
        let mut o = ClientOptions::default()
            .serialize_type(self.codec.serialize_type())
            .connect_timeout(Duration::from_secs(3))
            .compress(spec.compress.unwrap_or(CompressType::NONE));
        let token = spec.auth.clone().unwrap_or_else(|| self.auth.clone());
        if !token.is_empty() {
            o = o.auth(token);
        }
        if let Some(every) = spec.heartbeat {
            o = o.heartbeat(every);
            o.heartbeat_timeout = Duration::from_secs(2);
        }
        o
    }

    async fn connect(&self, spec: ClientSpec) -> Result<(Client, Option<Proxy>), CaseError> {
        let opts = self.options(&spec);
        let (addr, proxy) = if spec.record {
            let p = start_proxy(&self.addr).await?;
            (p.addr.clone(), Some(p))
        } else {
            (self.addr.clone(), None)
        };
        let c = Client::connect(&addr, opts)
            .await
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        Ok((c, proxy))
    }

    /// One basic call derived from `i`: Mul(i, 3) or Echo("echo-i"), checked.
    async fn roundtrip(&self, c: &Client, i: i64) -> Result<(), String> {
        match self.codec {
            Codec::Raw => {
                let input = Bytes::from(format!("echo-{i}"));
                let out: Bytes = c
                    .call("Arith", "Echo", &input)
                    .await
                    .map_err(|e| format!("Arith.Echo({input:?}): {e}"))?;
                if out != input {
                    return Err(format!("Arith.Echo({input:?}) = {out:?}"));
                }
            }
            _ => {
                let p = self.path();
                let r: Reply = c
                    .call(p, "Mul", &Args { a: i, b: 3 })
                    .await
                    .map_err(|e| format!("{p}.Mul({i},3): {e}"))?;
                if r.c != i * 3 {
                    return Err(format!("{p}.Mul({i},3) = {}, want {}", r.c, i * 3));
                }
            }
        }
        Ok(())
    }

    /// A call of `path.method` with arguments valid for the codec.
    async fn basic_call(&self, c: &Client, path: &str, method: &str) -> Result<(), rpcx::Error> {
        match self.codec {
            Codec::Raw => c
                .call::<_, Bytes>(path, method, &Bytes::from_static(b"raw"))
                .await
                .map(|_| ()),
            _ => c
                .call::<_, Reply>(path, method, &Args { a: 2, b: 3 })
                .await
                .map(|_| ()),
        }
    }

    /// A oneway send of `method` on the codec's service with valid arguments.
    async fn basic_send(&self, c: &Client, method: &str, args: Args) -> Result<(), rpcx::Error> {
        match self.codec {
            Codec::Raw => c.send("Arith", method, &Bytes::from_static(b"raw")).await,
            _ => c.send(self.path(), method, &args).await,
        }
    }

    // -------------------------------------------------------------- cases

    async fn case_plain(&self) -> CaseResult {
        let (c, _p) = self.connect(ClientSpec::default()).await?;
        match self.codec {
            Codec::Json | Codec::MsgPack | Codec::Protobuf => {
                let path = self.path();
                let mut cases = vec![("Mul", 7, 8, 56), ("Add", 7, 8, 15), ("Add", -300, 5, -295)];
                if self.codec != Codec::Protobuf {
                    cases.push(("Mul", 100_000, 100_000, 10_000_000_000));
                }
                for (m, a, b, want) in cases {
                    let r: Reply = c
                        .call(path, m, &Args { a, b })
                        .await
                        .map_err(|e| format!("{path}.{m}({a},{b}): {e}"))?;
                    if r.c != want {
                        fail!("{path}.{m}({a},{b}) = {}, want {want}", r.c);
                    }
                }
            }
            Codec::Raw => {
                let all: Vec<u8> = (0..=255u8).collect();
                for input in [Bytes::from_static(b"hello"), Bytes::from(all)] {
                    let out: Bytes = c
                        .call("Arith", "Echo", &input)
                        .await
                        .map_err(|e| format!("Arith.Echo({} bytes): {e}", input.len()))?;
                    if out != input {
                        fail!(
                            "Arith.Echo({} bytes) returned {} different bytes",
                            input.len(),
                            out.len()
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// A 4 KiB call compressed with `ct` (gzip, or snappy at type 2: the Go peer registers
    /// `protocol.SnappyCompressor` there): request and reply both carry `ct` on the wire, a
    /// small call on the same client goes uncompressed both ways.
    async fn case_compress(&self, ct: CompressType, name: &str) -> CaseResult {
        let (c, p) = self
            .connect(ClientSpec {
                compress: Some(ct),
                record: true,
                ..ClientSpec::default()
            })
            .await?;
        let rec = &p.as_ref().ok_or("no proxy")?.rec;
        let pattern = b"rpcx-cmpr-payload-";
        let big: Vec<u8> = (0..4096usize)
            .map(|i| pattern[i % 18] + (i / 18 % 3) as u8)
            .collect();
        let key = if self.codec == Codec::Protobuf {
            let s4 = String::from_utf8(big).map_err(|e| e.to_string())?;
            let mut m = BenchmarkMessage::filled();
            m.field4 = Some(s4.clone());
            let out: BenchmarkMessage = c
                .call("Hello", "Say", &m)
                .await
                .map_err(|e| format!("Hello.Say(4 KiB field4, {name}): {e}"))?;
            if out.field1 != "OK"
                || out.field2 != 100
                || out.field3 != 100_000
                || out.field4.as_deref() != Some(s4.as_str())
            {
                fail!(
                    "Hello.Say({name}) reply wrong: field1={:?} field2={} field3={} len(field4)={}",
                    out.field1,
                    out.field2,
                    out.field3,
                    out.field4.as_ref().map_or(0, String::len)
                );
            }
            "Hello.Say".to_owned()
        } else {
            let input = Bytes::from(big);
            let out: Bytes = c
                .call("Arith", "Echo", &input)
                .await
                .map_err(|e| format!("Arith.Echo(4 KiB, {name}): {e}"))?;
            if out != input {
                fail!(
                    "Arith.Echo(4 KiB, {name}) returned {} different bytes",
                    out.len()
                );
            }
            "Arith.Echo".to_owned()
        };
        let (rq, rs) = rec.compress_of(&key);
        if rq != Some(ct) {
            fail!("request {key} was not {name}-compressed by the Rust client (compress={rq:?})");
        }
        if rs != Some(ct) {
            fail!(
                "response of {key} (> 1 KiB to a {name} request) has compress type {rs:?}, want {}",
                ct.value()
            );
        }
        if self.codec != Codec::Protobuf {
            self.roundtrip(&c, 5)
                .await
                .map_err(|e| format!("small call on {name} client: {e}"))?;
            let small = format!("{}.{}", self.path(), self.first_method());
            let (rq, rs) = rec.compress_of(&small);
            if rq != Some(CompressType::NONE) || rs != Some(CompressType::NONE) {
                fail!("small call {small}: request compress {rq:?}, response compress {rs:?}, want 0/0");
            }
        }
        Ok(())
    }

    async fn case_metadata(&self) -> CaseResult {
        if !self.arith_like() {
            skip!("Arith.Meta takes struct args (json/msgpack only)");
        }
        let (c, _p) = self.connect(ClientSpec::default()).await?;
        let sent = [
            ("k", "v"),
            ("trace-id", "abc-123"),
            ("empty", ""),
            ("ключ", "значение"),
        ];
        let mut opts = CallOptions::default();
        for (k, v) in sent {
            opts = opts.meta(k, v);
        }
        let resp = c
            .call_with::<_, Reply>("Arith", "Meta", &Args { a: 1, b: 2 }, opts)
            .await
            .map_err(|e| format!("Arith.Meta: {e}"))?;
        let want = sent.len() as i64 + i64::from(!self.auth.is_empty());
        if resp.reply.c != want {
            fail!(
                "Arith.Meta reply C = {} request metadata keys, want {want}",
                resp.reply.c
            );
        }
        for (k, v) in sent {
            let got = resp.metadata.get(&format!("echo-{k}"));
            if got.map(String::as_str) != Some(v) {
                fail!(
                    "response metadata echo-{k} = {got:?}, want {v:?}; got {:?}",
                    resp.metadata
                );
            }
        }
        if !self.auth.is_empty()
            && resp.metadata.get(&format!("echo-{META_AUTH}")) != Some(&self.auth)
        {
            fail!(
                "response metadata echo-__AUTH = {:?}, want the token",
                resp.metadata.get(&format!("echo-{META_AUTH}"))
            );
        }
        if resp.metadata.contains_key(META_ERROR) {
            fail!("successful response carries {META_ERROR}");
        }
        Ok(())
    }

    async fn case_auth_ok(&self) -> CaseResult {
        if self.auth.is_empty() {
            skip!("no -auth token given");
        }
        let (c, _p) = self.connect(ClientSpec::default()).await?;
        for i in 0..3 {
            self.roundtrip(&c, i).await?;
        }
        Ok(())
    }

    async fn case_auth_refused(&self) -> CaseResult {
        if self.auth.is_empty() {
            skip!("no -auth token given");
        }
        for tok in [format!("{}-wrong", self.auth), String::new()] {
            let (c, _p) = self
                .connect(ClientSpec {
                    auth: Some(tok.clone()),
                    ..ClientSpec::default()
                })
                .await?;
            let r = self.basic_call(&c, self.path(), self.first_method()).await;
            c.close();
            match &r {
                Ok(()) => fail!("call with token {tok:?} succeeded, want error"),
                Err(e) if e.server_message() == Some(INVALID_TOKEN) => {}
                Err(e) if e.is_server_error() => {
                    fail!(
                        "token {tok:?}: error {:?}, want exactly {INVALID_TOKEN:?}",
                        e.to_string()
                    )
                }
                Err(e) => fail!(
                    "token {tok:?}: error {:?} is not a server error (no __rpcx_error__ / status?)",
                    e.to_string()
                ),
            }
        }
        Ok(())
    }

    async fn case_service_error(&self) -> CaseResult {
        if self.codec == Codec::Raw {
            skip!("Div takes struct args (no raw variant)");
        }
        let (c, p) = self
            .connect(ClientSpec {
                record: true,
                ..ClientSpec::default()
            })
            .await?;
        let rec = &p.as_ref().ok_or("no proxy")?.rec;
        let path = self.path();
        let r = c.call::<_, Reply>(path, "Div", &Args { a: 1, b: 0 }).await;
        match &r {
            Err(rpcx::Error::Server(se)) if se.message == DIVIDE_BY_ZERO => {
                if self.arith_like() {
                    if se.payload.is_empty() {
                        fail!("{path}.Div(1,0): the error response carries no payload (the zero reply must still be serialised)");
                    }
                    let st = self.codec.serialize_type();
                    match Reply::decode_as(st, &se.payload) {
                        Ok(rep) if rep.c == 0 => {}
                        Ok(rep) => fail!("{path}.Div(1,0): reply C = {}, want 0", rep.c),
                        Err(e) => fail!("{path}.Div(1,0): error payload does not decode: {e}"),
                    }
                }
            }
            Err(e) if e.is_server_error() => {
                fail!(
                    "{path}.Div(1,0): error {:?}, want {DIVIDE_BY_ZERO:?}",
                    e.to_string()
                )
            }
            _ => fail!(
                "{path}.Div(1,0): error {:?}, want the server error {DIVIDE_BY_ZERO:?}",
                err_text(&r)
            ),
        }
        match c.call::<_, Reply>(path, "Div", &Args { a: 7, b: 2 }).await {
            Ok(rep) if rep.c == 3 => {}
            other => fail!(
                "{path}.Div(7,2) = {:?}, {}; want 3",
                other.as_ref().ok().map(|r| r.c),
                err_text(&other)
            ),
        }
        let n = rec.conns();
        if n != 1 || c.is_closed() {
            fail!("{n} connections were made (closed: {}), want 1 open (a service error must not close the connection)", c.is_closed());
        }
        Ok(())
    }

    async fn case_unknown_service(&self) -> CaseResult {
        let (c, _p) = self.connect(ClientSpec::default()).await?;
        let r = self.basic_call(&c, "NoSuch", self.first_method()).await;
        let want = "rpcx: can't find service NoSuch";
        match &r {
            Err(e) if e.server_message() == Some(want) => Ok(()),
            Err(e) if !e.is_server_error() => {
                fail!("error {:?} is not a server error", e.to_string())
            }
            _ => fail!("error {:?}, want {want:?}", err_text(&r)),
        }
    }

    async fn case_unknown_method(&self) -> CaseResult {
        let (c, p) = self
            .connect(ClientSpec {
                record: true,
                ..ClientSpec::default()
            })
            .await?;
        let rec = &p.as_ref().ok_or("no proxy")?.rec;
        let r = self.basic_call(&c, self.path(), "NoSuch").await;
        let want = "rpcx: can't find method NoSuch";
        match &r {
            Err(e) if e.server_message() == Some(want) => {}
            Err(e) if !e.is_server_error() => {
                fail!("error {:?} is not a server error", e.to_string())
            }
            _ => fail!("error {:?}, want {want:?}", err_text(&r)),
        }
        self.roundtrip(&c, 9)
            .await
            .map_err(|e| format!("call after the error: {e}"))?;
        let n = rec.conns();
        if n != 1 {
            fail!("{n} connections were made, want 1 (an unknown method must not close the connection)");
        }
        Ok(())
    }

    async fn case_oneway(&self) -> CaseResult {
        let (c, p) = self
            .connect(ClientSpec {
                record: true,
                ..ClientSpec::default()
            })
            .await?;
        let rec = &p.as_ref().ok_or("no proxy")?.rec;
        let m = self.first_method();
        let args = Args { a: 2, b: 3 };
        self.basic_send(&c, m, args)
            .await
            .map_err(|e| format!("send({m}): {e}"))?;
        self.basic_send(&c, m, args)
            .await
            .map_err(|e| format!("second send({m}): {e}"))?;
        // oneway requests that fail on the server must not be answered either
        self.basic_send(&c, "NoSuch", args)
            .await
            .map_err(|e| format!("send(NoSuch): {e}"))?;
        if self.codec != Codec::Raw {
            self.basic_send(&c, "Div", Args { a: 1, b: 0 })
                .await
                .map_err(|e| format!("send(Div by 0): {e}"))?;
        }
        self.roundtrip(&c, 11)
            .await
            .map_err(|e| format!("normal call after oneway calls: {e}"))?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let n = rec.server_frames();
        if n != 1 {
            fail!("client received {n} frames, want exactly 1 (oneway requests must never be answered)");
        }
        let oneway_sent = rec
            .frames
            .lock()
            .map(|f| {
                f.iter()
                    .filter(|s| !s.from_server && s.msg.header.is_oneway())
                    .count()
            })
            .unwrap_or(0);
        let want = if self.codec == Codec::Raw { 3 } else { 4 };
        if oneway_sent != want {
            fail!("{oneway_sent} frames with the oneway flag were sent, want {want}");
        }
        Ok(())
    }

    async fn case_heartbeat(&self) -> CaseResult {
        let (c, p) = self
            .connect(ClientSpec {
                heartbeat: Some(Duration::from_millis(100)),
                record: true,
                ..ClientSpec::default()
            })
            .await?;
        let rec = &p.as_ref().ok_or("no proxy")?.rec;
        let deadline = Instant::now() + Duration::from_millis(1200);
        let mut i = 0;
        while Instant::now() < deadline && i < 1000 {
            self.roundtrip(&c, i)
                .await
                .map_err(|e| format!("call {i} with heartbeats on: {e}"))?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            i += 1;
        }
        let (ok, bad) = rec.heartbeats();
        if !bad.is_empty() {
            fail!("bad heartbeats: {}", bad.join("; "));
        }
        if ok < 5 {
            fail!("only {ok} heartbeat echoes in 1.2 s with a 100 ms interval, want >= 5");
        }
        let (n, closed) = (rec.conns(), rec.closed());
        if n != 1 || closed != 0 || c.is_closed() {
            fail!(
                "connections created {n}, ended {closed}, client closed {}; want 1, 0, false",
                c.is_closed()
            );
        }
        Ok(())
    }

    async fn case_timeout(&self) -> CaseResult {
        if !self.arith_like() {
            skip!("Arith.Sleep takes struct args (json/msgpack only)");
        }
        let (c, p) = self
            .connect(ClientSpec {
                record: true,
                ..ClientSpec::default()
            })
            .await?;
        let rec = &p.as_ref().ok_or("no proxy")?.rec;
        // a short sleep with a generous deadline succeeds (exercises __ServerTimeout)
        let r = c
            .call_with::<_, Reply>(
                "Arith",
                "Sleep",
                &SleepArgs { ms: 20 },
                CallOptions::default().timeout(Duration::from_secs(3)),
            )
            .await;
        match &r {
            Ok(resp) if resp.reply.c == 20 => {}
            _ => fail!(
                "Sleep{{20}} with a 3 s deadline = {:?}, {}; want 20, nil",
                r.as_ref().ok().map(|r| r.reply.c),
                err_text(&r)
            ),
        }
        let start = Instant::now();
        let r = c
            .call_with::<_, Reply>(
                "Arith",
                "Sleep",
                &SleepArgs { ms: 2000 },
                CallOptions::default().timeout(Duration::from_millis(200)),
            )
            .await;
        let el = start.elapsed();
        let e = match r {
            Ok(_) => fail!("Sleep{{2000}} with a 200 ms deadline succeeded after {el:?}"),
            Err(e) => e,
        };
        if el > Duration::from_secs(1) {
            fail!("Sleep{{2000}} with a 200 ms deadline failed only after {el:?}: {e}");
        }
        let deadline_like = matches!(e, rpcx::Error::Timeout(_))
            || e.server_message()
                .is_some_and(|m| m.contains("deadline") || m.contains("timeout"));
        if !deadline_like {
            fail!(
                "Sleep{{2000}} with a 200 ms deadline: error {:?} is not a deadline/timeout error",
                e.to_string()
            );
        }
        self.logf(format!(
            "timeout error after {el:?}: {:?} (server error: {})",
            e.to_string(),
            e.is_server_error()
        ));
        self.roundtrip(&c, 4)
            .await
            .map_err(|e| format!("call after the timeout: {e}"))?;
        let n = rec.conns();
        if n != 1 {
            fail!("{n} connections were made, want 1");
        }
        Ok(())
    }

    async fn case_concurrent(self: Arc<Self>) -> CaseResult {
        let (c, p) = self
            .connect(ClientSpec {
                record: true,
                ..ClientSpec::default()
            })
            .await?;
        let rec = Arc::clone(&p.as_ref().ok_or("no proxy")?.rec);
        self.roundtrip(&c, 0).await?;
        const N: i64 = 1000;
        let mut tasks = Vec::with_capacity(N as usize);
        for i in 1..=N {
            let (r, c) = (Arc::clone(&self), c.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(30), r.roundtrip(&c, i))
                    .await
                    .unwrap_or_else(|_| Err(format!("call {i} did not finish within 30 s")))
            }));
        }
        let mut failed = 0;
        let mut first: Option<String> = None;
        for t in tasks {
            let res = t.await.unwrap_or_else(|e| Err(format!("task: {e}")));
            if let Err(e) = res {
                failed += 1;
                first.get_or_insert(e);
            }
        }
        if failed > 0 {
            fail!(
                "{failed} of {N} concurrent calls failed; first: {}",
                first.unwrap_or_default()
            );
        }
        let n = rec.conns();
        if n != 1 {
            fail!("{n} connections were made, want 1");
        }
        Ok(())
    }

    async fn case_push(&self) -> CaseResult {
        if !self.arith_like() {
            skip!("Arith.Push takes struct args (json/msgpack only)");
        }
        let (c, _p) = self.connect(ClientSpec::default()).await?;
        let mut pushes = c.take_pushes().ok_or("take_pushes returned None")?;
        let r: Reply = c
            .call(
                "Arith",
                "Push",
                &PushArgs {
                    count: 3,
                    data: "hello".into(),
                },
            )
            .await
            .map_err(|e| format!("Arith.Push: {e}"))?;
        if r.c != 3 {
            fail!("Arith.Push reply C = {}, want 3", r.c);
        }
        for i in 0..3 {
            let m = match tokio::time::timeout(Duration::from_secs(3), pushes.recv()).await {
                Ok(Some(m)) => m,
                Ok(None) => fail!("push channel closed after {i} of 3 server messages"),
                Err(_) => fail!("received only {i} of 3 server messages within 3 s"),
            };
            if m.header.status() != MessageStatus::Normal {
                fail!("push {i}: error status: {:?}", m.metadata);
            }
            if m.service_path != "Push" || m.service_method != "Data" || &m.payload[..] != b"hello"
            {
                fail!(
                    "push {i}: path {:?} method {:?} payload {:?}, want Push/Data/hello",
                    m.service_path,
                    m.service_method,
                    m.payload
                );
            }
            let h = m.header;
            if h.message_type() != MessageType::Request || !h.is_oneway() || h.is_heartbeat() {
                fail!(
                    "push {i}: flags type={:?} oneway={} heartbeat={}, want request+oneway",
                    h.message_type(),
                    h.is_oneway(),
                    h.is_heartbeat()
                );
            }
            if h.serialize_type() != SerializeType::RAW {
                fail!("push {i}: serialize type {}, want 0", h.serialize_type());
            }
        }
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), pushes.recv()).await {
            fail!(
                "unexpected 4th server message {}.{}",
                m.service_path,
                m.service_method
            );
        }
        Ok(())
    }
}

async fn run_case(r: Arc<Runner>, name: &'static str) -> CaseResult {
    match name {
        "plain" => r.case_plain().await,
        "gzip" => r.case_compress(CompressType::GZIP, "gzip").await,
        "snappy" => r.case_compress(CompressType::SNAPPY, "snappy").await,
        "metadata" => r.case_metadata().await,
        "auth_ok" => r.case_auth_ok().await,
        "auth_refused" => r.case_auth_refused().await,
        "service_error" => r.case_service_error().await,
        "unknown_service" => r.case_unknown_service().await,
        "unknown_method" => r.case_unknown_method().await,
        "oneway" => r.case_oneway().await,
        "heartbeat" => r.case_heartbeat().await,
        "timeout" => r.case_timeout().await,
        "concurrent" => r.case_concurrent().await,
        "push" => r.case_push().await,
        other => Err(CaseError::Fail(format!("unknown case {other}"))),
    }
}

// ------------------------------------------------------------------ main

struct Flags {
    addr: String,
    codec: String,
    auth: String,
    cases: String,
    case_timeout: Duration,
    verbose: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("interop_client: {msg}");
    eprintln!(
        "usage: interop_client -addr tcp@host:port [-codec json|msgpack|protobuf|raw] [-auth TOKEN] [-cases a,b] [-case-timeout 30s] [-v]"
    );
    std::process::exit(2);
}

/// Go-style durations: `30s`, `500ms`, `2m`, or plain seconds.
fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let v: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Parses Go `flag`-style arguments (`-name value`, `-name=value`, `--name value`).
fn parse_flags() -> Flags {
    let mut f = Flags {
        addr: String::new(),
        codec: "msgpack".into(),
        auth: String::new(),
        cases: String::new(),
        case_timeout: Duration::from_secs(30),
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            usage(&format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (stripped.to_owned(), None),
        };
        if name == "v" {
            f.verbose = inline.as_deref().is_none_or(|v| v == "true" || v == "1");
            continue;
        }
        if name == "h" || name == "help" {
            usage("help requested");
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .unwrap_or_else(|| usage(&format!("flag needs an argument: -{name}"))),
        };
        match name.as_str() {
            "addr" => f.addr = value,
            "codec" => f.codec = value,
            "auth" => f.auth = value,
            "cases" => f.cases = value,
            "case-timeout" => {
                f.case_timeout = parse_duration(&value)
                    .unwrap_or_else(|| usage(&format!("bad -case-timeout {value:?}")))
            }
            _ => usage(&format!("flag provided but not defined: -{name}")),
        }
    }
    f
}

#[tokio::main]
async fn main() {
    let flags = parse_flags();
    if flags.addr.is_empty() {
        usage("-addr is required");
    }
    let addr = if flags.addr.contains('@') {
        flags.addr.clone()
    } else {
        format!("tcp@{}", flags.addr)
    };
    let Some(codec) = Codec::parse(&flags.codec) else {
        usage(&format!("unknown -codec {:?}", flags.codec));
    };
    let mut cases: Vec<&'static str> = Vec::new();
    if flags.cases.is_empty() {
        cases.extend_from_slice(ALL_CASES);
    } else {
        for c in flags
            .cases
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            match ALL_CASES.iter().find(|k| **k == c) {
                Some(k) => cases.push(k),
                None => usage(&format!(
                    "unknown case {c:?} (known: {})",
                    ALL_CASES.join(",")
                )),
            }
        }
    }
    let runner = Arc::new(Runner {
        addr,
        codec,
        auth: flags.auth.clone(),
        verbose: flags.verbose,
    });

    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for name in cases {
        let task = tokio::spawn(run_case(Arc::clone(&runner), name));
        let abort = task.abort_handle();
        let outcome = match tokio::time::timeout(flags.case_timeout, task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) if e.is_panic() => Err(CaseError::Fail(format!("panic: {e}"))),
            Ok(Err(e)) => Err(CaseError::Fail(format!("task failed: {e}"))),
            Err(_) => {
                abort.abort();
                Err(CaseError::Fail(format!(
                    "case did not finish within {:?}",
                    flags.case_timeout
                )))
            }
        };
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("PASS {name}");
            }
            Err(CaseError::Skip(why)) => {
                skipped += 1;
                println!("SKIP {name}: {why}");
            }
            Err(CaseError::Fail(why)) => {
                failed += 1;
                println!("FAIL {name}: {}", why.replace('\n', " "));
            }
        }
    }
    println!(
        "{}: {passed} passed, {failed} failed, {skipped} skipped",
        flags.codec
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
