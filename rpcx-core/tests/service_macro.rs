//! `#[derive(rpcx::Codable)]`, `#[rpcx::service]` and the typed clients it generates, in
//! process over loopback: every serialization, sync and async methods with and without a
//! `Context`, handler errors reaching the caller with their text (and Go's zero reply), Go
//! method names, the XClient and blocking clients, sync handlers kept off the runtime, and
//! plain `fn(A) -> R` given to `register_fn`. (The same clients against Go and C servers, and
//! a Go client against such a service: tests/interop/run_macros.sh.)

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use rpcx::client::{CallOptions, Client, ClientOptions, RawRequest};
use rpcx::protocol::SerializeType;
use rpcx::server::{Context, Server, ServerHandle, ServiceError};
use rpcx::xclient::{MultipleServers, XClient, XClientOptions};

/// Serde and prost: every serialization.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize, rpcx::Codable)]
#[serde(default, rename_all = "PascalCase")]
pub struct Args {
    #[prost(int64, tag = "1")]
    pub a: i64,
    #[prost(int64, tag = "2")]
    pub b: i64,
}

#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize, rpcx::Codable)]
#[serde(default, rename_all = "PascalCase")]
pub struct Reply {
    #[prost(int64, tag = "1")]
    pub c: i64,
}

/// Serde only.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, rpcx::Codable)]
pub struct Greeting {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, rpcx::Codable)]
pub struct Hello {
    pub text: String,
}

/// Prost only.
#[derive(Clone, PartialEq, prost::Message, rpcx::Codable)]
pub struct Blob {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

/// Generic, with a where clause in rustfmt's style (ending in a comma).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, rpcx::Codable)]
pub struct Tagged<T>
where
    T: Clone + std::fmt::Debug,
{
    pub tag: String,
    pub value: T,
}

/// A service with every supported method shape.
pub struct Arith {
    gate: Mutex<mpsc::Receiver<()>>,
    opener: Mutex<mpsc::Sender<()>>,
    entered: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Arith {
    fn new() -> Arith {
        Arith::with_entered(tokio::sync::mpsc::unbounded_channel().0)
    }

    /// `entered` hears when `Wait` starts blocking.
    fn with_entered(entered: tokio::sync::mpsc::UnboundedSender<()>) -> Arith {
        let (tx, rx) = mpsc::channel();
        Arith {
            gate: Mutex::new(rx),
            opener: Mutex::new(tx),
            entered,
        }
    }

    /// Not `pub`: not a method.
    fn product(args: &Args) -> i64 {
        args.a * args.b
    }
}

#[rpcx::service]
impl Arith {
    /// Sync, plain reply.
    pub fn mul(&self, args: Args) -> Reply {
        Reply {
            c: Self::product(&args),
        }
    }

    /// Async, with the context, plain reply.
    pub async fn add(&self, ctx: Context, args: Args) -> Reply {
        let bonus = i64::from(ctx.metadata().get("bonus").is_some());
        Reply {
            c: args.a + args.b + bonus,
        }
    }

    /// Sync, error as a String.
    pub fn div(&self, args: Args) -> Result<Reply, String> {
        if args.b == 0 {
            return Err("divide by zero".to_owned());
        }
        Ok(Reply { c: args.a / args.b })
    }

    /// Async, a ServiceError with its own reply payload.
    pub async fn checked_sub(&self, args: Args) -> Result<Reply, ServiceError> {
        match args.a.checked_sub(args.b) {
            Some(c) => Ok(Reply { c }),
            None => Err(ServiceError::new("overflow").with_reply(Reply { c: -1 })),
        }
    }

    /// Async, any Display error (std::io::Error).
    pub async fn fail_io(&self, _: ()) -> std::io::Result<Reply> {
        Err(std::io::Error::other("disk on fire"))
    }

    /// Raw bytes, renamed.
    #[rpcx(name = "Echo")]
    pub fn echo_bytes(&self, data: Vec<u8>) -> Vec<u8> {
        data
    }

    /// Serde-only types.
    pub fn greet(&self, g: Greeting) -> Hello {
        Hello {
            text: format!("hello, {}", g.name),
        }
    }

    /// Prost-only types.
    pub fn reverse_blob(&self, mut b: Blob) -> Blob {
        b.data.reverse();
        b
    }

    /// No receiver, async.
    pub async fn get_user_id(args: Args) -> Reply {
        Reply { c: args.a }
    }

    /// Blocks its thread until `open` is called (bounded).
    pub fn wait(&self, _: ()) -> Result<(), String> {
        let gate = self.gate.lock().map_err(|e| e.to_string())?;
        // Nobody listening is fine.
        let _ = self.entered.send(());
        gate.recv_timeout(Duration::from_secs(30))
            .map_err(|_| "not opened within 30 s".to_owned())
    }

    /// Opens `wait`.
    pub fn open(&self, _: ()) -> Result<(), String> {
        let opener = self.opener.lock().map_err(|e| e.to_string())?;
        opener.send(()).map_err(|e| e.to_string())
    }

    /// Panics on the blocking pool: the caller gets Go's internal-error text.
    pub fn boom(&self, _: ()) -> i64 {
        panic!("boom")
    }

    /// Left out.
    #[rpcx(skip)]
    pub fn not_exported(&self, args: Args) -> Reply {
        Reply { c: args.a }
    }
}

/// `#[rpcx::service(name = ...)]` and a unit struct.
pub struct Calculator;

#[rpcx::service(name = "Calc")]
impl Calculator {
    pub fn square(&self, n: i64) -> i64 {
        n * n
    }
}

async fn serve() -> ServerHandle {
    let mut server = Server::builder().build();
    server.register_service(Arith::new()).unwrap();
    server.register_service(Calculator).unwrap();
    server.serve("tcp@127.0.0.1:0").await.unwrap()
}

async fn connect(handle: &ServerHandle, st: SerializeType) -> Client {
    let options = ClientOptions {
        serialize_type: st,
        ..Default::default()
    };
    Client::connect(&handle.local_address().to_string(), options)
        .await
        .unwrap()
}

#[test]
fn methods_get_go_names() {
    let mut server = Server::builder().build();
    server.register_service(Arith::new()).unwrap();
    server.register_service(Calculator).unwrap();
    let services = server.services();
    assert_eq!(services.service_names(), ["Arith", "Calc"]);
    assert_eq!(
        services.get("Arith").unwrap().method_names(),
        [
            "Add",
            "Boom",
            "CheckedSub",
            "Div",
            "Echo",
            "FailIo",
            "GetUserId",
            "Greet",
            "Mul",
            "Open",
            "ReverseBlob",
            "Wait"
        ]
    );
    assert_eq!(<Arith as rpcx::server::NamedService>::NAME, "Arith");
    assert_eq!(ArithClient::<Client>::SERVICE, "Arith");
    assert_eq!(CalculatorClient::<Client>::SERVICE, "Calc");
    // The skipped and private functions stay callable from Rust.
    assert_eq!(Arith::new().not_exported(Args { a: 4, b: 0 }).c, 4);
}

#[tokio::test]
async fn typed_client_over_every_serialization() {
    let handle = serve().await;
    for st in [
        SerializeType::JSON,
        SerializeType::MSGPACK,
        SerializeType::PROTOBUF,
        SerializeType::THRIFT,
    ] {
        let arith = ArithClient::new(connect(&handle, st).await);
        assert_eq!(
            arith.mul(&Args { a: 6, b: 7 }).await.unwrap().c,
            42,
            "{st:?}"
        );
        assert_eq!(
            arith.add(&Args { a: 6, b: 7 }).await.unwrap().c,
            13,
            "{st:?}"
        );
        assert_eq!(
            arith.div(&Args { a: 7, b: 2 }).await.unwrap().c,
            3,
            "{st:?}"
        );
        assert_eq!(arith.get_user_id(&Args { a: 9, b: 0 }).await.unwrap().c, 9);
        let e = arith.div(&Args { a: 1, b: 0 }).await.unwrap_err();
        assert_eq!(e.server_message(), Some("divide by zero"), "{st:?}");

        let greeting = Greeting { name: "go".into() };
        let blob = Blob {
            data: vec![1, 2, 3],
        };
        if st == SerializeType::PROTOBUF {
            // Serde-only types have no protobuf; prost-only types have nothing else.
            let e = arith.greet(&greeting).await.unwrap_err();
            assert!(matches!(e, rpcx::Error::Codec(_)), "{e:?}");
            let back = arith.reverse_blob(&blob).await.unwrap();
            assert_eq!(back.data, [3, 2, 1]);
        } else {
            let hello = arith.greet(&greeting).await.unwrap();
            assert_eq!(hello.text, "hello, go", "{st:?}");
            let e = arith.reverse_blob(&blob).await.unwrap_err();
            assert!(matches!(e, rpcx::Error::Codec(_)), "{st:?}: {e:?}");
            // Thrift payloads are structs, not bare integers.
            if st != SerializeType::THRIFT {
                let calc = CalculatorClient::new(arith.into_caller());
                assert_eq!(calc.square(&12).await.unwrap(), 144, "{st:?}");
            }
        }
    }

    let raw = ArithClient::new(connect(&handle, SerializeType::RAW).await);
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(raw.echo_bytes(&bytes).await.unwrap(), bytes);
    let e = raw.mul(&Args { a: 1, b: 1 }).await.unwrap_err();
    assert!(matches!(e, rpcx::Error::Codec(_)), "{e:?}");
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn handler_errors_reach_the_caller_with_their_text() {
    let handle = serve().await;
    let client = connect(&handle, SerializeType::JSON).await;
    let arith = ArithClient::new(client.clone());

    let e = arith.fail_io(&()).await.unwrap_err();
    assert!(e.is_server_error());
    assert_eq!(e.server_message(), Some("disk on fire"));

    // A ServiceError is passed on as it is, with its reply.
    let e = arith
        .checked_sub(&Args { a: i64::MIN, b: 1 })
        .await
        .unwrap_err();
    match e {
        rpcx::Error::Server(e) => {
            assert_eq!(e.message, "overflow");
            assert_eq!(&e.payload[..], br#"{"C":-1}"#);
        }
        other => panic!("not a server error: {other:?}"),
    }

    // Any other error carries the zero reply, as Go sends it.
    let raw = client
        .call_raw(RawRequest {
            service: "Arith".into(),
            method: "Div".into(),
            serialize_type: SerializeType::JSON,
            metadata: Default::default(),
            payload: br#"{"A":1,"B":0}"#.to_vec().into(),
            timeout: None,
        })
        .await
        .unwrap_err();
    match raw {
        rpcx::Error::Server(e) => {
            assert_eq!(e.message, "divide by zero");
            assert_eq!(&e.payload[..], br#"{"C":0}"#);
        }
        other => panic!("not a server error: {other:?}"),
    }

    // A panicking sync method answers an error and the server goes on.
    let e = arith.boom(&()).await.unwrap_err();
    assert_eq!(
        e.server_message(),
        Some("[service internal error]: panic in Arith.Boom")
    );
    assert_eq!(arith.mul(&Args { a: 2, b: 2 }).await.unwrap().c, 4);

    // Per-call options and the response metadata.
    let mut options = CallOptions::default();
    options.metadata.insert("bonus".into(), "1".into());
    let r = arith.add_with(&Args { a: 1, b: 1 }, options).await.unwrap();
    assert_eq!(r.reply.c, 3);
    handle.shutdown(Duration::from_secs(5)).await;
}

/// On a current-thread runtime, `Wait` blocks its thread until `Open` runs, and `Open` is sent
/// only once `Wait` has started: if sync methods ran on the runtime thread, nothing else could
/// run until `Wait` gave up after its 30 s bound, and it would answer an error.
#[tokio::test(flavor = "current_thread")]
async fn sync_methods_do_not_block_the_runtime() {
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel();
    let mut server = Server::builder().build();
    server
        .register_service(Arith::with_entered(entered_tx))
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let arith = ArithClient::new(connect(&handle, SerializeType::JSON).await);
    let waiter = {
        let arith = arith.clone();
        tokio::spawn(async move { arith.wait(&()).await })
    };
    tokio::time::timeout(Duration::from_secs(60), entered.recv())
        .await
        .expect("Wait did not start")
        .unwrap();
    arith.open(&()).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(60), waiter)
        .await
        .expect("Wait did not return")
        .unwrap();
    assert_eq!(waited.unwrap(), ());
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn typed_client_over_an_xclient() {
    let handle = serve().await;
    let addr = handle.local_address().to_string();
    let xc = XClient::new(
        "Arith",
        MultipleServers::from_addresses([addr.as_str()]),
        XClientOptions::default(),
    )
    .unwrap();
    let arith = ArithClient::new(xc);
    assert_eq!(arith.mul(&Args { a: 3, b: 5 }).await.unwrap().c, 15);
    let e = arith.div(&Args { a: 3, b: 0 }).await.unwrap_err();
    assert_eq!(e.server_message(), Some("divide by zero"));

    // An XClient of another service refuses rather than calling the wrong one.
    let other = XClient::new(
        "Arith",
        MultipleServers::from_addresses([addr.as_str()]),
        XClientOptions::default(),
    )
    .unwrap();
    let calc = CalculatorClient::new(other);
    match calc.square(&2).await.unwrap_err() {
        rpcx::Error::Config(text) => assert!(text.contains("\"Calc\""), "{text}"),
        other => panic!("not a config error: {other:?}"),
    }
    handle.shutdown(Duration::from_secs(5)).await;
}

#[test]
fn blocking_typed_client() {
    let mut server = Server::builder().build();
    server.register_service(Arith::new()).unwrap();
    let handle = rpcx::blocking::serve(server, "tcp@127.0.0.1:0").unwrap();
    let client = rpcx::blocking::Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .unwrap();
    let arith = ArithBlockingClient::new(client);
    assert_eq!(arith.mul(&Args { a: 4, b: 5 }).unwrap().c, 20);
    let e = arith.div(&Args { a: 4, b: 0 }).unwrap_err();
    assert_eq!(e.server_message(), Some("divide by zero"));
    let r = arith
        .greet_with(&Greeting { name: "x".into() }, CallOptions::default())
        .unwrap();
    assert_eq!(r.reply.text, "hello, x");
    handle.shutdown_blocking(Duration::from_secs(5)).unwrap();
}

fn plain_add(args: Args) -> Reply {
    Reply { c: args.a + args.b }
}

fn plain_div(args: Args) -> Result<Reply, String> {
    if args.b == 0 {
        return Err("divide by zero".into());
    }
    Ok(Reply { c: args.a / args.b })
}

async fn ctx_mul(_ctx: Context, args: Args) -> Result<Reply, ServiceError> {
    Ok(Reply { c: args.a * args.b })
}

#[tokio::test]
async fn register_fn_takes_plain_sync_functions_and_async_ones() {
    let mut server = Server::builder().build();
    server.register_fn("Plain", "Add", plain_add).unwrap();
    server.register_fn("Plain", "Div", plain_div).unwrap();
    server.register_fn("Plain", "Mul", ctx_mul).unwrap();
    server.register_fn("Plain", "Neg", |n: i64| -n).unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    // And on a running server.
    handle.register_fn("Late", "Add", plain_add).unwrap();
    handle.register_service(Calculator).unwrap();

    for st in [SerializeType::JSON, SerializeType::PROTOBUF] {
        let client = connect(&handle, st).await;
        let args = Args { a: 8, b: 2 };
        let r: Reply = client.call("Plain", "Add", &args).await.unwrap();
        assert_eq!(r.c, 10);
        let r: Reply = client.call("Plain", "Div", &args).await.unwrap();
        assert_eq!(r.c, 4);
        let r: Reply = client.call("Plain", "Mul", &args).await.unwrap();
        assert_eq!(r.c, 16);
        let r: Reply = client.call("Late", "Add", &args).await.unwrap();
        assert_eq!(r.c, 10);
        let e = client
            .call::<_, Reply>("Plain", "Div", &Args { a: 1, b: 0 })
            .await
            .unwrap_err();
        assert_eq!(e.server_message(), Some("divide by zero"));
    }
    let client = connect(&handle, SerializeType::JSON).await;
    let n: i64 = client.call("Plain", "Neg", &5i64).await.unwrap();
    assert_eq!(n, -5);
    let calc = CalculatorClient::new(client);
    assert_eq!(calc.square(&3).await.unwrap(), 9);
    handle.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn generic_codable_with_a_trailing_comma_where_clause_round_trips() {
    use rpcx::codec::Codable;
    let value = Tagged {
        tag: "pair".to_owned(),
        value: vec![3i64, -4],
    };
    for st in [SerializeType::JSON, SerializeType::MSGPACK] {
        let mut bytes = Vec::new();
        value.encode_as(st, &mut bytes).unwrap();
        assert_eq!(Tagged::<Vec<i64>>::decode_as(st, &bytes).unwrap(), value);
    }
    let mut server = Server::builder().build();
    server
        .register_fn("Generic", "Echo", |t: Tagged<Vec<i64>>| t)
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    let client = connect(&handle, SerializeType::MSGPACK).await;
    let back: Tagged<Vec<i64>> = client.call("Generic", "Echo", &value).await.unwrap();
    assert_eq!(back, value);
    handle.shutdown(Duration::from_secs(5)).await;
}

/// A sync service whose method calls another service through the blocking client.
pub struct Relay {
    /// The server's address, known once it listens.
    address: std::sync::Arc<std::sync::OnceLock<String>>,
}

#[rpcx::service]
impl Relay {
    /// Squares `n` by asking `Calc.Square` on `address`, blocking this (pool) thread.
    pub fn square_via_calc(&self, n: i64) -> Result<i64, String> {
        let address = self.address.get().ok_or("address not set")?;
        let client = rpcx::blocking::Client::connect(address, ClientOptions::default())
            .map_err(|e| format!("connect: {e}"))?;
        let calc = CalculatorBlockingClient::new(client.clone());
        let r = calc.square(&n).map_err(|e| format!("call: {e}"));
        client.close();
        r
    }
}

// A current-thread runtime: the server's only worker must stay free while the sync method
// blocks on its call to the same server.
#[tokio::test(flavor = "current_thread")]
async fn sync_method_may_make_blocking_calls_to_its_own_server() {
    let address = std::sync::Arc::new(std::sync::OnceLock::new());
    let mut server = Server::builder().build();
    server.register_service(Calculator).unwrap();
    server
        .register_service(Relay {
            address: std::sync::Arc::clone(&address),
        })
        .unwrap();
    let handle = server.serve("tcp@127.0.0.1:0").await.unwrap();
    address.set(handle.local_address().to_string()).unwrap();
    let relay = RelayClient::new(connect(&handle, SerializeType::JSON).await);
    let options = CallOptions {
        timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    let r = relay.square_via_calc_with(&7, options).await.unwrap();
    assert_eq!(r.reply, 49);
    // Still refused on the runtime's own thread, where it could deadlock.
    let e = rpcx::blocking::Client::connect(
        &handle.local_address().to_string(),
        ClientOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, rpcx::Error::BlockingInRuntime), "{e:?}");
    handle.shutdown(Duration::from_secs(5)).await;
}
