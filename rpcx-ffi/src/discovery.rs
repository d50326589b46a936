//! `rpcx_discovery`: where an XClient finds its servers — one peer, a list the program
//! updates, etcd, Consul or DNS.

use std::os::raw::c_char;
use std::sync::Arc;

use rpcx_core::xclient::{
    ConsulDiscovery, Discovery, DnsDiscovery, EtcdDiscovery, MultipleServers, Peer, RedisDiscovery,
    ServerEntry, ZookeeperDiscovery,
};

use crate::error::{rpcx_error, Failure};
use crate::guard::{cstr, invalid_arg, null_arg, opt_cstr, req, req_mut, run, run_or};
use crate::status::rpcx_status;

/// One server of a discovery: its address and its metadata. Used both ways: filled in by the
/// caller for `rpcx_discovery_new_multiple` / `rpcx_discovery_update` (the strings are
/// copied), and handed to a custom selector (the strings are then borrowed for the duration
/// of the callback). Its layout is frozen — arrays of it cross the API in both directions —
/// so it never grows: richer server descriptions would come as a new type.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct rpcx_server_entry {
    /// The address clients dial, NUL-terminated UTF-8: `tcp@host:port`, `host:port`,
    /// `unix@/path`, `http@host:port`, `ws@host:port` or `wss@host:port`. Never NULL or empty.
    pub address: *const c_char,
    /// The server's metadata as a URL query string (`weight=10&group=blue`; keys Go's rpcx
    /// uses: `weight`, `group`, `state=inactive`, `latitude`, `longitude`), NUL-terminated
    /// UTF-8. NULL means `""` in input; never NULL in output.
    pub metadata: *const c_char,
}

/// A source of servers for XClients: a fixed peer, a list (replaceable at run time), a
/// registry (etcd, Consul, Redis) watched in the background, or a DNS name looked up periodically.
///
/// Thread-safe: every function may be called from any thread, concurrently, except
/// `rpcx_discovery_free`, which must be the last call on this handle. XClients created from a
/// discovery share it: it stays alive (and watched) until the handle and every such XClient
/// are freed, in any order.
pub struct rpcx_discovery {
    pub(crate) inner: Arc<dyn Discovery>,
    /// Set for `rpcx_discovery_new_multiple`: the list `rpcx_discovery_update` replaces.
    multiple: Option<MultipleServers>,
}

pub(crate) fn hand_out(
    out: &mut *mut rpcx_discovery,
    inner: Arc<dyn Discovery>,
    multiple: Option<MultipleServers>,
) {
    *out = Box::into_raw(Box::new(rpcx_discovery { inner, multiple }));
}

/// The body of the discovery constructors of a key-value store (Consul, Redis, ZooKeeper):
/// reads the store's address `at` (its argument's name, a test of it being empty and the
/// text of that error), `base_path` and `service`; refuses an empty address or service with
/// `RPCX_ERR_INVALID_ARG`; then blocks on `connect(at, base_path, service)` and hands the
/// discovery out through `discovery_out`.
///
/// # Safety
/// The three strings are NUL-terminated and valid during the call.
unsafe fn store_discovery<'a, D, Fut>(
    at: (*const c_char, &str, fn(&str) -> bool, &str),
    base_path: *const c_char,
    service: *const c_char,
    discovery_out: Option<&mut *mut rpcx_discovery>,
    connect: impl FnOnce(&'a str, &'a str, &'a str) -> Fut,
) -> Result<(), Failure>
where
    D: Discovery + 'static,
    Fut: std::future::Future<Output = Result<D, rpcx_core::Error>>,
{
    let (at, at_name, empty, why) = at;
    // SAFETY: by this function's contract.
    let (at, base_path, service) = unsafe {
        (
            cstr(at, at_name)?,
            cstr(base_path, "base_path")?,
            cstr(service, "service")?,
        )
    };
    if empty(at) || service.is_empty() {
        return Err(invalid_arg(why));
    }
    let out = req_mut(discovery_out, "discovery_out")?;
    let d = crate::runtime::block_on(connect(at, base_path, service))??;
    hand_out(out, Arc::new(d), None);
    Ok(())
}

/// Copies `servers[0..n)` into core entries.
///
/// # Safety
/// When `n > 0`, `servers` points to `n` entries whose strings are valid during the call.
unsafe fn entries(
    servers: *const rpcx_server_entry,
    n: usize,
) -> Result<Vec<ServerEntry>, Failure> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if servers.is_null() {
        return Err(null_arg("servers"));
    }
    // SAFETY: `servers` is not NULL and, by contract, points to `n` entries.
    let list = unsafe { std::slice::from_raw_parts(servers, n) };
    list.iter()
        .map(|e| {
            // SAFETY: by contract the strings are NULL or valid C strings during the call.
            let (address, metadata) = unsafe {
                (
                    cstr(e.address, "servers[].address")?,
                    opt_cstr(e.metadata, "servers[].metadata")?,
                )
            };
            if address.is_empty() {
                return Err(invalid_arg("rpcx: a server address is empty"));
            }
            Ok(ServerEntry::new(address, metadata.unwrap_or("")))
        })
        .collect()
}

/// Collects `strings[0..n)` (at least one, each non-empty UTF-8).
///
/// # Safety
/// When `n > 0`, `strings` points to `n` C strings valid during the call.
pub(crate) unsafe fn string_list(
    strings: *const *const c_char,
    n: usize,
    name: &str,
) -> Result<Vec<String>, Failure> {
    if strings.is_null() {
        return Err(null_arg(name));
    }
    if n == 0 {
        return Err(invalid_arg(format!("rpcx: `{name}` is empty")));
    }
    // SAFETY: not NULL and, by contract, `n` pointers.
    let list = unsafe { std::slice::from_raw_parts(strings, n) };
    list.iter()
        .map(|&p| {
            // SAFETY: by contract each pointer is NULL or a valid C string during the call.
            let s = unsafe { cstr(p, name)? };
            if s.is_empty() {
                return Err(invalid_arg(format!("rpcx: an entry of `{name}` is empty")));
            }
            Ok(s.to_owned())
        })
        .collect()
}

/// A discovery of exactly one server at `address` (NUL-terminated UTF-8, non-empty) with
/// `metadata` (NULL for none); both copied. Go's peer-to-peer discovery. On success
/// `*discovery_out` receives it, owned by the caller: free it with `rpcx_discovery_free`.
/// `RPCX_ERR_NULL_ARG` when `address` or `discovery_out` is NULL, `RPCX_ERR_INVALID_ARG` for
/// an empty or non-UTF-8 string. The address is not checked until a call dials it.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_peer(
    address: *const c_char,
    metadata: *const c_char,
    discovery_out: Option<&mut *mut rpcx_discovery>,
) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller passes NUL-terminated strings (or NULL metadata) valid now.
        let (address, metadata) =
            unsafe { (cstr(address, "address")?, opt_cstr(metadata, "metadata")?) };
        if address.is_empty() {
            return Err(invalid_arg("rpcx: the address is empty"));
        }
        let out = req_mut(discovery_out, "discovery_out")?;
        hand_out(
            out,
            Arc::new(Peer::new(address, metadata.unwrap_or(""))),
            None,
        );
        Ok(())
    })
}

/// A discovery of the servers `servers[0..n)` (copied; `servers` may be NULL when `n` is 0: an
/// empty list, calls fail with `RPCX_ERR_NO_SERVER` until `rpcx_discovery_update` adds some).
/// The list can be replaced at run time with `rpcx_discovery_update`. On success
/// `*discovery_out` receives it, owned by the caller: free it with `rpcx_discovery_free`.
/// `RPCX_ERR_NULL_ARG` for a NULL `discovery_out`, `servers` (with `n` > 0) or address;
/// `RPCX_ERR_INVALID_ARG` for an empty or non-UTF-8 string.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_multiple(
    servers: *const rpcx_server_entry,
    n: usize,
    discovery_out: Option<&mut *mut rpcx_discovery>,
) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller passes `n` valid entries (or n == 0).
        let list = unsafe { entries(servers, n)? };
        let out = req_mut(discovery_out, "discovery_out")?;
        let multiple = MultipleServers::new(list);
        hand_out(out, Arc::new(multiple.clone()), Some(multiple));
        Ok(())
    })
}

/// Replaces the server list of a discovery made by `rpcx_discovery_new_multiple` with
/// `servers[0..n)` (copied; `n` may be 0). Every XClient using it switches to the new list
/// promptly (connections to removed servers close once their calls end). Thread-safe: may
/// be called from any thread, concurrently with calls, including from rpcx callbacks.
///
/// `RPCX_ERR_INVALID_STATE` for other kinds of discovery; `RPCX_ERR_NULL_ARG` /
/// `RPCX_ERR_INVALID_ARG` as for `rpcx_discovery_new_multiple` (the list is then unchanged).
#[no_mangle]
pub extern "C" fn rpcx_discovery_update(
    discovery: Option<&rpcx_discovery>,
    servers: *const rpcx_server_entry,
    n: usize,
) -> rpcx_status {
    run(None, || {
        let d = req(discovery, "discovery")?;
        // SAFETY: the caller passes `n` valid entries (or n == 0).
        let list = unsafe { entries(servers, n)? };
        let Some(m) = &d.multiple else {
            return Err(Failure::new(
                rpcx_status::RPCX_ERR_INVALID_STATE,
                "rpcx: only a discovery made by rpcx_discovery_new_multiple can be updated",
            ));
        };
        m.update(list);
        Ok(())
    })
}

/// A discovery that lists and watches the servers of `service` registered in etcd v3 under
/// `base_path` (Go's rpcx-etcd layout: keys `<base_path>/<service>/<address>`, values the
/// metadata), e.g. by an rpcx server with `rpcx_server_add_etcd_registry`.
/// `endpoints[0..n_endpoints)` are the cluster's client URLs (`http://127.0.0.1:2379` or
/// `127.0.0.1:2379`). All strings are copied.
///
/// Blocks until etcd answered the first listing (an empty list is fine: servers may register
/// later). Then a background task on the rpcx runtime follows changes, re-creating a broken
/// watch with backoff while XClients keep the last list; it stops when the discovery and its
/// XClients are freed. On success `*discovery_out` receives the discovery, owned by the
/// caller: free it with `rpcx_discovery_free`.
///
/// Errors: `RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_ARG` (no endpoint, an empty string),
/// `RPCX_ERR_CONNECTION` or `RPCX_ERR_TIMEOUT` when etcd cannot be reached,
/// `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out` may be NULL; otherwise
/// on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_etcd(
    endpoints: *const *const c_char,
    n_endpoints: usize,
    base_path: *const c_char,
    service: *const c_char,
    discovery_out: Option<&mut *mut rpcx_discovery>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller passes valid C strings (and `n_endpoints` pointers).
        let (endpoints, base_path, service) = unsafe {
            (
                string_list(endpoints, n_endpoints, "endpoints")?,
                cstr(base_path, "base_path")?,
                cstr(service, "service")?,
            )
        };
        if service.is_empty() {
            return Err(invalid_arg("rpcx: the service name is empty"));
        }
        let out = req_mut(discovery_out, "discovery_out")?;
        let d = crate::runtime::block_on(EtcdDiscovery::connect(&endpoints, base_path, service))??;
        hand_out(out, Arc::new(d), None);
        Ok(())
    })
}

/// A discovery that lists and watches the servers of `service` registered in Consul's KV
/// store under `base_path` (Go's rpcx-consul layout), from the Consul agent at `address`
/// (`127.0.0.1:8500` or `http://127.0.0.1:8500`; plain HTTP, no ACL token). All strings are
/// copied. Blocking, background watching, ownership and errors as for
/// `rpcx_discovery_new_etcd`.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_consul(
    address: *const c_char,
    base_path: *const c_char,
    service: *const c_char,
    discovery_out: Option<&mut *mut rpcx_discovery>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let empty = |address: &str| address.is_empty();
        let why = "rpcx: the address or service name is empty";
        // SAFETY: the caller passes valid C strings.
        unsafe {
            store_discovery(
                (address, "address", empty, why),
                base_path,
                service,
                discovery_out,
                ConsulDiscovery::connect,
            )
        }
    })
}

/// A discovery that lists and watches the servers of `service` registered in Redis under
/// `base_path` in the layout of Go rpcx v1.9.4's `RedisRegisterPlugin` (keys
/// `/<base_path>/<service>/<address>`, libkv `KVPair` JSON values), e.g. by an rpcx server
/// with `rpcx_server_add_redis_registry`. `address` is the Redis server, `host:port` or
/// `redis://[:password@]host:port[/db]` (no TLS). Changes are followed through keyspace
/// notifications (turned on as libkv does), with a fresh listing every 15 s anyway (every
/// second if the server refuses to turn them on). All strings are copied. Blocking,
/// background watching, ownership and errors as for `rpcx_discovery_new_etcd`.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_redis(
    address: *const c_char,
    base_path: *const c_char,
    service: *const c_char,
    discovery_out: Option<&mut *mut rpcx_discovery>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let empty = |address: &str| address.trim().is_empty();
        let why = "rpcx: the address or service name is empty";
        // SAFETY: the caller passes valid C strings.
        unsafe {
            store_discovery(
                (address, "address", empty, why),
                base_path,
                service,
                discovery_out,
                RedisDiscovery::connect,
            )
        }
    })
}

/// A discovery that lists and watches the servers of `service` registered in ZooKeeper under
/// `base_path` in the layout of Go's rpcx-zookeeper plugin (libkv's zookeeper store): the
/// children of the node `/<base_path>/<service>` (one leading `/` of `base_path` dropped, as
/// Go does), each node's data the metadata; e.g. by an rpcx server with
/// `rpcx_server_add_zookeeper_registry`. `servers` is the ensemble, `host:port[,host:port…]`
/// (no TLS, no chroot). Changes are followed through ZooKeeper watches, with a fresh listing
/// every 15 s anyway. All strings are copied. Blocking, background watching, ownership and
/// errors as for `rpcx_discovery_new_etcd`.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_zookeeper(
    servers: *const c_char,
    base_path: *const c_char,
    service: *const c_char,
    discovery_out: Option<&mut *mut rpcx_discovery>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let empty = |servers: &str| servers.trim().is_empty();
        let why = "rpcx: the ZooKeeper servers or service name is empty";
        // SAFETY: the caller passes valid C strings.
        unsafe {
            store_discovery(
                (servers, "servers", empty, why),
                base_path,
                service,
                discovery_out,
                ZookeeperDiscovery::connect,
            )
        }
    })
}

/// A discovery of the servers behind the DNS name `domain` (Go's `NewDNSDiscovery`): each A
/// and AAAA record `ip` is the server `network@ip:port` (IPv6 bracketed: `tcp@[::1]:8972`)
/// with empty metadata. `network` is `tcp` (NULL means `tcp`), `tcp4` (A records only),
/// `tcp6` (AAAA only), `http`, `ws` or `wss`; `port` the servers' port (not 0).
/// `nameservers` is NULL to use the system's resolver configuration (`/etc/resolv.conf`,
/// `/etc/hosts`), or a comma-separated list of nameservers to ask instead (`ip`, `ip:port`,
/// `[ipv6]:port`; port 53 when absent), without hosts file or search domains. Strings are
/// copied.
///
/// Blocks for the first lookup: a name without address yet is fine (an empty list, filled in
/// by a later refresh), but no answer, SERVFAIL or REFUSED fail. Then a background task on
/// the rpcx runtime looks the name up again every `interval_ms` milliseconds (not 0); XClients
/// switch to a new list when it changes. A failed lookup, or one finding no address, keeps
/// the last list (never emptied by a transient failure) and is retried after 1 s, doubling
/// up to the interval. The task stops when the discovery and its XClients are freed. On
/// success `*discovery_out` receives the discovery, owned by the caller: free it with
/// `rpcx_discovery_free`.
///
/// Errors: `RPCX_ERR_NULL_ARG` (`domain`, `discovery_out`), `RPCX_ERR_INVALID_ARG` (empty,
/// non-UTF-8 or invalid name, another network, port 0, interval 0, a bad nameserver),
/// `RPCX_ERR_IO` when the first lookup fails, `RPCX_ERR_BLOCKING_IN_RUNTIME` on an
/// rpcx runtime thread. `err_out` may be NULL; otherwise on failure it receives an
/// `rpcx_error` to free with `rpcx_error_free`.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_dns(
    domain: *const c_char,
    network: *const c_char,
    port: u16,
    interval_ms: u64,
    nameservers: *const c_char,
    discovery_out: Option<&mut *mut rpcx_discovery>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller passes valid C strings (or NULL for the optional ones).
        let (domain, network, nameservers) = unsafe {
            (
                cstr(domain, "domain")?,
                opt_cstr(network, "network")?,
                opt_cstr(nameservers, "nameservers")?,
            )
        };
        let out = req_mut(discovery_out, "discovery_out")?;
        let network = network.unwrap_or("tcp");
        let interval = std::time::Duration::from_millis(interval_ms);
        // Bad arguments are the caller's: INVALID_ARG rather than the core's CONFIG.
        let arg = |e: rpcx_core::Error| match e {
            rpcx_core::Error::Config(m) => invalid_arg(format!("rpcx: {m}")),
            e => Failure::from(e),
        };
        let made = match nameservers {
            None => crate::runtime::block_on(DnsDiscovery::new(domain, network, port, interval))?,
            Some(list) => {
                let ns = DnsDiscovery::parse_nameservers(list).map_err(arg)?;
                crate::runtime::block_on(DnsDiscovery::with_nameservers(
                    domain, network, port, interval, &ns,
                ))?
            }
        };
        hand_out(out, Arc::new(made.map_err(arg)?), None);
        Ok(())
    })
}

/// The number of servers the discovery lists right now, before any XClient filtering by
/// group or state (0 when `discovery` is NULL). Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_discovery_len(discovery: Option<&rpcx_discovery>) -> usize {
    run_or(0, || discovery.map_or(0, |d| d.inner.servers().len()))
}

/// Releases this handle on the discovery. XClients created from it keep using it; a registry
/// watch stops once they are freed too. NULL is accepted and ignored. Must be the last call on
/// this handle.
#[no_mangle]
pub extern "C" fn rpcx_discovery_free(discovery: Option<Box<rpcx_discovery>>) {
    run_or((), || drop(discovery))
}
