//! Registry plugins of a C server: publish its services in etcd, Consul, Redis or ZooKeeper, so that XClients
//! with the matching discovery find it.

use std::os::raw::c_char;
use std::time::Duration;

use rpcx_core::registry::{ConsulRegistry, EtcdRegistry, RedisRegistry, ZookeeperRegistry};

use crate::discovery::string_list;
use crate::error::{rpcx_error, Failure};
use crate::guard::{cstr, invalid_arg, opt_cstr, req, run};
use crate::server::rpcx_server;
use crate::status::rpcx_status;

/// How long shutdown waits for a registry to delete the server's keys.
pub(crate) const FLUSH_LIMIT: Duration = rpcx_core::registry::FLUSH_LIMIT;

/// One registry plugin of a server.
pub(crate) use rpcx_core::registry::AnyRegistry as Registry;

/// Flushes (bounded), then closes every registry.
pub(crate) async fn finish(list: Vec<Registry>) {
    rpcx_core::registry::finish(&list, FLUSH_LIMIT).await;
}

pub(crate) fn ttl_of(ttl_ms: u64) -> Duration {
    if ttl_ms == 0 {
        Duration::from_secs(30)
    } else {
        Duration::from_millis(ttl_ms)
    }
}

/// The body of the registry plugins of a key-value store (Consul, Redis, ZooKeeper): reads
/// the store's address `at` (its argument's name, a test of it being empty and the text of
/// that error), `base_path` and `service_address` (NULL for `""`); refuses an empty address
/// with `RPCX_ERR_INVALID_ARG`; then, unless the server is shut down, blocks on
/// `connect(at, base_path, service_address, ttl)` and adds the registry, made by `wrap`, to
/// `server`.
///
/// # Safety
/// The strings are NUL-terminated and valid during the call (`service_address` may be NULL).
unsafe fn add_store_registry<'a, R, Fut>(
    server: Option<&rpcx_server>,
    at: (*const c_char, &str, fn(&str) -> bool, &str),
    base_path: *const c_char,
    service_address: *const c_char,
    ttl: Duration,
    connect: impl FnOnce(&'a str, &'a str, &'a str, Duration) -> Fut,
    wrap: fn(R) -> Registry,
) -> Result<(), Failure>
where
    Fut: std::future::Future<Output = Result<R, rpcx_core::Error>>,
{
    let server = req(server, "server")?;
    let (at, at_name, empty, why) = at;
    // SAFETY: by this function's contract.
    let (at, base_path, service_address) = unsafe {
        (
            cstr(at, at_name)?,
            cstr(base_path, "base_path")?,
            opt_cstr(service_address, "service_address")?,
        )
    };
    if empty(at) {
        return Err(invalid_arg(why));
    }
    // Refused early when shut down: connecting would be for nothing.
    server.live()?;
    let reg =
        crate::runtime::block_on(connect(at, base_path, service_address.unwrap_or(""), ttl))??;
    server.add_registry(wrap(reg))
}

/// Registers every service of `server` in etcd v3 once it runs, under `base_path`, Go's
/// rpcx-etcd layout: `<base_path>/<service>/<address>` = the service's metadata (see
/// `rpcx_server_set_service_metadata`), written under a lease of `ttl_ms` milliseconds (0: 30
/// s; etcd works in whole seconds, at least about 2) that a background task keeps alive.
/// `endpoints[0..n_endpoints)` are the cluster's client URLs (`http://127.0.0.1:2379`);
/// `service_address` is the address clients should dial (`tcp@10.0.0.5:8972`), or NULL /
/// `""` for the address the server is bound to (use a concrete IP then, not `0.0.0.0`). All
/// strings are copied.
///
/// A graceful `rpcx_server_shutdown` deletes the keys before it returns (waiting at most 5 s
/// for etcd); a server closed or freed without one leaves them to expire with the lease.
/// Services registered (`rpcx_server_register`) or unregistered (`rpcx_server_unregister`)
/// while the server runs are published or deleted in the background. Before or after
/// `rpcx_server_start` — added to a running server, it publishes every service at once;
/// several registries may be added.
///
/// Blocks while it tries once to connect and grant the lease (bounded by the store's
/// request timeout, 5 s). A registry that cannot be reached — at this call or any time
/// later — is not an error: it is added all the same, the server serves, and a background
/// task retries about every refresh period (a third of the TTL), writing every key once
/// the store answers (an emptied store is repopulated). Its state is
/// `rpcx_registry_up` / `rpcx_registry_failures_total` in `rpcx_server_metrics_text`.
/// Errors: `RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_ARG` (no endpoint, an empty or non-UTF-8
/// string), `RPCX_ERR_INVALID_STATE` (shut down), `RPCX_ERR_IO` (a refusal retrying cannot
/// cure: a certificate or credentials the store refuses, with its reason),
/// `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out` may be NULL; otherwise on failure it receives an `rpcx_error` to free
/// with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_server_add_etcd_registry(
    server: Option<&rpcx_server>,
    endpoints: *const *const c_char,
    n_endpoints: usize,
    base_path: *const c_char,
    service_address: *const c_char,
    ttl_ms: u64,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes valid C strings (and `n_endpoints` pointers).
        let (endpoints, base_path, address) = unsafe {
            (
                string_list(endpoints, n_endpoints, "endpoints")?,
                cstr(base_path, "base_path")?,
                opt_cstr(service_address, "service_address")?,
            )
        };
        // Refused early when shut down: connecting would be for nothing.
        server.live()?;
        let reg = crate::runtime::block_on(EtcdRegistry::connect(
            &endpoints,
            base_path,
            address.unwrap_or(""),
            ttl_of(ttl_ms),
        ))??;
        server.add_registry(Registry::Etcd(reg))
    })
}

/// Registers every service of `server` in Consul's KV store once it runs (Go's
/// rpcx-consul layout under `base_path`), through the Consul agent at `address`
/// (`127.0.0.1:8500`; plain HTTP), with keys bound to a session of about `ttl_ms / 2`
/// milliseconds (0: 30 s; Consul keeps session TTLs within 10 s – 24 h) renewed in the
/// background. `service_address`, shutdown, blocking, errors and ownership as for
/// `rpcx_server_add_etcd_registry`.
#[no_mangle]
pub extern "C" fn rpcx_server_add_consul_registry(
    server: Option<&rpcx_server>,
    address: *const c_char,
    base_path: *const c_char,
    service_address: *const c_char,
    ttl_ms: u64,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let empty = |address: &str| address.is_empty();
        let why = "rpcx: the Consul address is empty";
        // SAFETY: the caller passes valid C strings.
        unsafe {
            add_store_registry(
                server,
                (address, "address", empty, why),
                base_path,
                service_address,
                ttl_of(ttl_ms),
                ConsulRegistry::connect,
                Registry::Consul,
            )
        }
    })
}

/// Registers every service of `server` in Redis once it runs, in the layout of Go rpcx
/// v1.9.4's `RedisRegisterPlugin` (libkv's redis store): keys `/<base_path>/<service>/<address>`
/// (a `base_path` with a leading `/` gives `//…`, as in Go), each value the JSON of libkv's
/// `KVPair` with the service's metadata (see `rpcx_server_set_service_metadata`) in base64.
/// `address` is the Redis server, `host:port` or `redis://[:password@]host:port[/db]` (no
/// TLS). Node keys expire after 2 × `update_interval_ms` milliseconds (0: a 30 s interval)
/// and a background task writes them again every interval; when Redis comes back empty
/// every key is written again. Keyspace notifications are turned on (`CONFIG SET
/// notify-keyspace-events KEA`) as libkv does. `service_address`, shutdown, blocking, errors
/// and ownership as for `rpcx_server_add_etcd_registry` (an unreachable Redis is retried
/// every interval; `RPCX_ERR_IO`: refused credentials, with Redis' reason). All strings are copied; `err_out` may be NULL.
#[no_mangle]
pub extern "C" fn rpcx_server_add_redis_registry(
    server: Option<&rpcx_server>,
    address: *const c_char,
    base_path: *const c_char,
    service_address: *const c_char,
    update_interval_ms: u64,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let empty = |address: &str| address.trim().is_empty();
        let why = "rpcx: the Redis address is empty";
        // SAFETY: the caller passes valid C strings.
        unsafe {
            add_store_registry(
                server,
                (address, "address", empty, why),
                base_path,
                service_address,
                ttl_of(update_interval_ms),
                RedisRegistry::connect,
                Registry::Redis,
            )
        }
    })
}

/// Registers every service of `server` in ZooKeeper once it runs, in the layout of Go's
/// rpcx-zookeeper plugin (libkv's zookeeper store): persistent nodes `/<base_path>` (data
/// `rpcx_path`) and `/<base_path>/<service>` (data the service name), and an ephemeral node
/// `/<base_path>/<service>/<address>` whose data is the service's metadata (see
/// `rpcx_server_set_service_metadata`); one leading `/` of `base_path` is dropped, as Go
/// does. `servers` is the ensemble, `host:port[,host:port…]` (no TLS, no chroot). The
/// session timeout asked for is 2 × `update_interval_ms` milliseconds (0: a 30 s interval;
/// the server bounds it) and a background task checks the session and the nodes every
/// interval; an expired session is replaced and every node written again. `service_address`,
/// shutdown (which deletes the nodes), blocking, errors and ownership as for
/// `rpcx_server_add_etcd_registry` (an unreachable ZooKeeper is retried every interval;
/// `RPCX_ERR_CONFIG`: a base path that is not a ZooKeeper path, or a zero interval). All strings
/// are copied; `err_out` may be NULL.
#[no_mangle]
pub extern "C" fn rpcx_server_add_zookeeper_registry(
    server: Option<&rpcx_server>,
    servers: *const c_char,
    base_path: *const c_char,
    service_address: *const c_char,
    update_interval_ms: u64,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let empty = |servers: &str| servers.trim().is_empty();
        let why = "rpcx: the ZooKeeper servers are empty";
        // SAFETY: the caller passes valid C strings.
        unsafe {
            add_store_registry(
                server,
                (servers, "servers", empty, why),
                base_path,
                service_address,
                ttl_of(update_interval_ms),
                ZookeeperRegistry::connect,
                Registry::Zookeeper,
            )
        }
    })
}
