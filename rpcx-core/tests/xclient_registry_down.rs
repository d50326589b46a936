//! A registry that cannot be reached when the server starts, for every engine with a real
//! store (etcd, Redis, ZooKeeper): the registry is still created, the server serves, the
//! registry keeps retrying (about once per refresh period, never in a busy loop), its status
//! says why it is down, the metrics export `rpcx_registry_up 0`, and exactly one log line
//! reports the outage; once the store can be reached the keys are written, the status and the
//! metric turn to up and one line says so. The store sits behind a cutting proxy, so "cannot
//! be reached" is a refused connection, as for a registry that is down.
#![cfg(all(
    feature = "etcd",
    feature = "redis",
    feature = "zookeeper",
    feature = "tracing"
))]

#[path = "redis_support.rs"]
mod redis_support;
#[path = "xclient_support.rs"]
mod support;
#[path = "zookeeper_support.rs"]
mod zookeeper_support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rpcx::client::{Client, ClientOptions};
use rpcx::registry::{AnyRegistry, EtcdRegistry, RedisRegistry, ZookeeperRegistry};
use rpcx::server::{Metrics, Plugin};
use rpcx::xclient::{Discovery, EtcdDiscovery, RedisDiscovery, ZookeeperDiscovery};
use support::{guard, start_named, wait_until, Etcd, GUARD};
use zookeeper_support::{Proxy, ZooKeeper};

const BASE: &str = "rpcx_down";

/// Every log event of the process, as `LEVEL field=value …` lines.
struct Capture(Mutex<Vec<String>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields(event.metadata().level().to_string());
        event.record(&mut f);
        self.0.lock().unwrap().push(f.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        tracing::subscriber::set_global_default(CaptureRef(c)).unwrap();
        c
    })
}

struct CaptureRef(&'static Capture);

impl tracing::Subscriber for CaptureRef {
    fn enabled(&self, m: &tracing::Metadata<'_>) -> bool {
        self.0.enabled(m)
    }
    fn new_span(&self, a: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        self.0.new_span(a)
    }
    fn record(&self, i: &tracing::span::Id, r: &tracing::span::Record<'_>) {
        self.0.record(i, r)
    }
    fn record_follows_from(&self, a: &tracing::span::Id, b: &tracing::span::Id) {
        self.0.record_follows_from(a, b)
    }
    fn event(&self, e: &tracing::Event<'_>) {
        self.0.event(e)
    }
    fn enter(&self, i: &tracing::span::Id) {
        self.0.enter(i)
    }
    fn exit(&self, i: &tracing::span::Id) {
        self.0.exit(i)
    }
}

/// The captured lines mentioning `needle` and `what`.
fn logged(needle: &str, what: &str) -> Vec<String> {
    capture()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(needle) && l.contains(what))
        .cloned()
        .collect()
}

/// One engine under test: its real store, reached by the registry through `proxy`.
struct Case {
    engine: &'static str,
    proxy: Proxy,
    /// The registry's target as it reports it (the proxy's address, as given).
    target: String,
    registry: AnyRegistry,
    /// The refresh period of the registry (its retry cadence while down).
    period: Duration,
}

async fn down_at_start(case: Case, discovery: Box<dyn Discovery>) {
    let Case {
        engine,
        proxy,
        target,
        registry,
        period,
    } = case;
    let status = registry.status_handle();
    let s = status.get();
    assert_eq!(s.engine, engine);
    assert_eq!(s.target, target);
    assert!(!s.up, "{engine}: up although the store was cut off");
    assert!(s.last_error.is_some(), "{engine}: no reason given");

    // The server serves anyway.
    let metrics = Metrics::new();
    metrics.track_registry(registry.status_handle());
    let plugins: Vec<Arc<dyn Plugin>> = vec![registry.plugin(), metrics.clone()];
    let server = start_named(engine, "127.0.0.1", "group=down", plugins).await;
    let address = server.local_address().to_string();
    let client = Client::connect(&address, ClientOptions::default())
        .await
        .unwrap();
    let who: String = guard(GUARD, "direct call", client.call("Who", "Am", &1i64))
        .await
        .unwrap();
    assert_eq!(who, engine);

    // It retries, about once per refresh period, and says so once.
    let before = status.get().failures;
    tokio::time::sleep(period * 3).await;
    let s = status.get();
    assert!(!s.up);
    let retries = s.failures - before;
    eprintln!(
        "{engine}: {retries} failed tries in {:?} (refresh period {period:?}); down for {:?}; last error: {:?}",
        period * 3,
        s.down_for,
        s.last_error
    );
    assert!(retries >= 1, "{engine}: no retry while down");
    assert!(
        retries <= 3 * 4,
        "{engine}: {retries} tries in 3 refresh periods: a busy loop"
    );
    let label = format!("registry=\"{engine}\",target=\"{target}\"");
    let text = metrics.prometheus_text();
    assert!(
        text.contains(&format!("rpcx_registry_up{{{label}}} 0\n")),
        "{text}"
    );
    let failing = logged(&target, "registry writes fail");
    assert_eq!(failing.len(), 1, "{engine}: {failing:#?}");
    assert!(failing[0].starts_with("WARN"), "{failing:?}");

    // The store comes back: the keys are written within a refresh period or two.
    proxy.restore();
    let mut servers = discovery.subscribe();
    guard(GUARD, "registered after the store came back", async {
        loop {
            if servers.borrow_and_update().iter().any(|e| e.key == address) {
                return;
            }
            servers.changed().await.unwrap();
        }
    })
    .await;
    wait_until(GUARD, "status up", || status.get().up).await;
    let s = status.get();
    assert!(s.last_error.is_none() && s.down_for.is_none());
    let text = metrics.prometheus_text();
    assert!(
        text.contains(&format!("rpcx_registry_up{{{label}}} 1\n")),
        "{text}"
    );
    let back = logged(&target, "registry keys written again");
    assert_eq!(back.len(), 1, "{engine}: {back:#?}");
    assert_eq!(logged(&target, "registry writes fail").len(), 1);

    // A graceful shutdown still unregisters.
    server.shutdown(Duration::from_secs(5)).await;
    guard(GUARD, "flush", registry.flush()).await.unwrap();
    guard(GUARD, "unregistered", async {
        loop {
            if !servers.borrow_and_update().iter().any(|e| e.key == address) {
                return;
            }
            servers.changed().await.unwrap();
        }
    })
    .await;
    registry.close();
}

async fn cut_proxy(target: &str) -> Proxy {
    let proxy = Proxy::start(target).await;
    proxy.cut();
    proxy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_down_at_start() {
    capture();
    let Some(etcd) = Etcd::start().await else {
        return;
    };
    let proxy = cut_proxy(etcd.endpoint.trim_start_matches("http://")).await;
    let target = format!("http://{}", proxy.address);
    let registry = EtcdRegistry::connect(&[target.as_str()], BASE, "", Duration::from_secs(3))
        .await
        .expect("created although etcd is unreachable");
    let discovery = EtcdDiscovery::connect(&[etcd.endpoint.as_str()], BASE, "Who")
        .await
        .unwrap();
    let case = Case {
        engine: "etcd",
        proxy,
        target,
        registry: registry.into(),
        period: Duration::from_secs(1),
    };
    down_at_start(case, Box::new(discovery)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start() {
    capture();
    let Some(redis) = redis_support::Redis::start().await else {
        return;
    };
    let proxy = cut_proxy(&redis.address).await;
    let target = proxy.address.clone();
    let period = Duration::from_secs(1);
    let registry = RedisRegistry::connect(&target, BASE, "", period)
        .await
        .expect("created although Redis is unreachable");
    let discovery = RedisDiscovery::connect(&redis.address, BASE, "Who")
        .await
        .unwrap();
    let case = Case {
        engine: "redis",
        proxy,
        target,
        registry: registry.into(),
        period,
    };
    down_at_start(case, Box::new(discovery)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_down_at_start() {
    capture();
    let Some(zk) = ZooKeeper::start().await else {
        return;
    };
    let proxy = cut_proxy(&zk.address).await;
    let target = proxy.address.clone();
    let period = Duration::from_secs(1);
    let registry = ZookeeperRegistry::connect(&target, BASE, "", period)
        .await
        .expect("created although ZooKeeper is unreachable");
    let discovery = ZookeeperDiscovery::connect(&zk.address, BASE, "Who")
        .await
        .unwrap();
    let case = Case {
        engine: "zookeeper",
        proxy,
        target,
        registry: registry.into(),
        period,
    };
    down_at_start(case, Box::new(discovery)).await;
}
