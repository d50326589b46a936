//! A closed-loop load generator: `concurrency` callers share `pool` clients, each caller
//! sends the next request as soon as the previous reply arrived.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rpcx::benchmark::BenchmarkMessage;
use rpcx::client::{CallOptions, Client, ClientInterceptor, ClientOptions, RawRequest};
use rpcx::protocol::SerializeType;
use rpcx::xclient::{FailMode, Peer, SelectMode, XClient, XClientOptions};

use crate::stats::{micros, Stats};

/// How long a run lasts: a number of requests or a duration (both bounded).
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Requests(u64),
    Duration(Duration),
}

/// What each call does.
#[derive(Clone)]
pub enum Work {
    /// Send these pre-encoded bytes; the reply payload is not decoded.
    Raw(RawRequest),
    /// The Go benchclient's work: encode this message as the `Hello.Say` argument, decode the
    /// reply and check `field1 == "OK"`, `field2 == 100`.
    Say(Arc<BenchmarkMessage>),
}

/// One member of the client pool.
#[derive(Clone)]
pub enum Caller {
    /// A plain multiplexed client.
    Direct(Client),
    /// An XClient over one static peer with Failtry + RoundRobin, as the Go benchclient uses.
    X(XClient),
}

impl Caller {
    /// Closes the connection(s).
    pub fn close(&self) {
        match self {
            Caller::Direct(c) => c.close(),
            Caller::X(x) => x.close(),
        }
    }
}

impl Work {
    async fn call(&self, caller: &Caller) -> Result<(), String> {
        match (self, caller) {
            (Work::Raw(req), Caller::Direct(client)) => client
                .call_raw(req.clone())
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            (Work::Raw(req), Caller::X(x)) => x
                .call_raw(
                    &req.method,
                    req.serialize_type,
                    req.payload.clone(),
                    CallOptions::default(),
                )
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            (Work::Say(args), caller) => {
                let reply: BenchmarkMessage = match caller {
                    Caller::Direct(client) => {
                        client
                            .call_with("Hello", "Say", &**args, CallOptions::default())
                            .await
                    }
                    Caller::X(x) => x.call_with("Say", &**args, CallOptions::default()).await,
                }
                .map_err(|e| e.to_string())?
                .reply;
                if reply.field1 != "OK" || reply.field2 != 100 {
                    return Err(format!(
                        "bad reply field1={:?} field2={}",
                        reply.field1, reply.field2
                    ));
                }
                Ok(())
            }
        }
    }
}

fn client_options(interceptor: Option<Arc<dyn ClientInterceptor>>) -> ClientOptions {
    let options = ClientOptions::default()
        .connect_timeout(Duration::from_secs(5))
        .serialize_type(SerializeType::PROTOBUF);
    match interceptor {
        Some(i) => options.interceptor_arc(i),
        None => options,
    }
}

/// `pool` plain clients of `addr` (with `interceptor`, if any).
pub async fn connect_pool(
    addr: &str,
    pool: usize,
    interceptor: Option<Arc<dyn ClientInterceptor>>,
) -> Result<Vec<Caller>, rpcx::Error> {
    let mut clients = Vec::with_capacity(pool);
    for _ in 0..pool.max(1) {
        clients.push(Caller::Direct(
            Client::connect(addr, client_options(interceptor.clone())).await?,
        ));
    }
    Ok(clients)
}

/// `pool` XClients of service `Hello` over the one peer `addr`, with Failtry and RoundRobin
/// as the Go benchclient has them (each XClient holds its own connection), with
/// `interceptor`, if any.
pub fn xclient_pool(
    addr: &str,
    pool: usize,
    interceptor: Option<Arc<dyn ClientInterceptor>>,
) -> Result<Vec<Caller>, rpcx::Error> {
    (0..pool.max(1))
        .map(|_| {
            let options = XClientOptions {
                fail_mode: FailMode::Failtry,
                select_mode: SelectMode::RoundRobin,
                client: client_options(interceptor.clone()),
                ..XClientOptions::default()
            };
            XClient::new("Hello", Peer::new(addr, ""), options).map(Caller::X)
        })
        .collect()
}

pub async fn run(
    clients: &[Caller],
    work: Work,
    concurrency: usize,
    budget: Budget,
    warmup: usize,
) -> Result<Stats, String> {
    for (i, c) in clients.iter().enumerate() {
        for _ in 0..warmup {
            work.call(c)
                .await
                .map_err(|e| format!("warm-up call on client {i}: {e}"))?;
        }
    }
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = match budget {
        Budget::Duration(d) => Some(start + d),
        Budget::Requests(_) => None,
    };
    let limit = match budget {
        Budget::Requests(n) => n,
        Budget::Duration(_) => u64::MAX,
    };
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency.max(1) {
        let client = clients[i % clients.len()].clone();
        let work = work.clone();
        let issued = Arc::clone(&issued);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                if issued.fetch_add(1, Ordering::Relaxed) >= limit {
                    break;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let t = Instant::now();
                let r = work.call(&client).await;
                lat.push(micros(t.elapsed()));
                if let Err(e) = r {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut stats = Stats {
        requests: 0,
        errors: 0,
        seconds: 0.0,
        latencies_us: Vec::new(),
        first_error: None,
    };
    for t in tasks {
        if let Ok((lat, errors, fe)) = t.await {
            stats.latencies_us.extend(lat);
            stats.errors += errors;
            if stats.first_error.is_none() {
                stats.first_error = fe;
            }
        }
    }
    stats.seconds = start.elapsed().as_secs_f64();
    stats.requests = stats.latencies_us.len() as u64;
    stats.latencies_us.sort_unstable();
    Ok(stats)
}
