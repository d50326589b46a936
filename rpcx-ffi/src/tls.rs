//! TLS and mutual TLS in the C API: setters on server, client and XClient options (PEM bytes
//! or file paths), and etcd / Consul discoveries and registries over TLS.
//!
//! Every setter checks what it is given at once (a PEM that does not parse, a missing file, a
//! key that is not the certificate's, a bad server name: `RPCX_ERR_CONFIG` with a message
//! naming it) and leaves the options unchanged on failure. Client settings are combined when
//! a client or XClient is created; only then is the system CA bundle read when no CA was set.

use std::os::raw::c_char;
use std::sync::Arc;

use rpcx_core::client::ClientOptions;
use rpcx_core::registry::{ConsulRegistry, EtcdRegistry};
use rpcx_core::transport::tls::{ClientTlsConfig, ServerTlsConfig};
use rpcx_core::xclient::{ConsulDiscovery, EtcdDiscovery, XClientOptions};

use crate::discovery::{hand_out, rpcx_discovery, string_list};
use crate::error::{rpcx_error, Failure};
use crate::guard::{bytes, cstr, invalid_arg, opt_cstr, req, req_mut, run};
use crate::options::{rpcx_client_options, rpcx_server_options};
use crate::registry::{ttl_of, Registry};
use crate::server::rpcx_server;
use crate::status::rpcx_status;
use crate::xclient::rpcx_xclient_options;

/// Options objects that carry client-side TLS settings.
trait ClientTlsSlot {
    fn tls_slot(&mut self) -> &mut Option<ClientTlsConfig>;
}

impl ClientTlsSlot for rpcx_client_options {
    fn tls_slot(&mut self) -> &mut Option<ClientTlsConfig> {
        &mut self.tls
    }
}

impl ClientTlsSlot for rpcx_xclient_options {
    fn tls_slot(&mut self) -> &mut Option<ClientTlsConfig> {
        &mut self.tls
    }
}

/// Turns TLS on (keeping the settings made so far) and applies `change`; the result is kept
/// only if it checks.
fn update_client<T: ClientTlsSlot>(
    opts: Option<&mut T>,
    change: impl FnOnce(ClientTlsConfig) -> Result<ClientTlsConfig, Failure>,
) -> Result<(), Failure> {
    let slot = req_mut(opts, "opts")?.tls_slot();
    let next = change(slot.clone().unwrap_or_default())?;
    next.check()?;
    *slot = Some(next);
    Ok(())
}

fn enable_client<T: ClientTlsSlot>(opts: Option<&mut T>, enable: bool) -> rpcx_status {
    run(None, || {
        let slot = req_mut(opts, "opts")?.tls_slot();
        if !enable {
            *slot = None;
        } else if slot.is_none() {
            *slot = Some(ClientTlsConfig::new());
        }
        Ok(())
    })
}

fn insecure_client<T: ClientTlsSlot>(opts: Option<&mut T>, insecure: bool) -> rpcx_status {
    run(None, || {
        update_client(opts, |t| Ok(t.danger_accept_invalid_certs(insecure)))
    })
}

/// # Safety
/// `pem` points to `len` readable bytes (or `len` is 0).
unsafe fn ca_pem<T: ClientTlsSlot>(
    opts: Option<&mut T>,
    pem: *const u8,
    len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: forwarded from our caller.
        let pem = unsafe { bytes(pem, len, "ca_pem")? };
        update_client(opts, |t| Ok(t.ca_pem(pem)))
    })
}

/// # Safety
/// `path` is NULL or a NUL-terminated string valid during the call.
unsafe fn ca_file<T: ClientTlsSlot>(
    opts: Option<&mut T>,
    path: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: forwarded from our caller.
        let path = unsafe { cstr(path, "ca_path")? };
        update_client(opts, |t| Ok(t.ca_file(path)?))
    })
}

/// # Safety
/// `name` is NULL or a NUL-terminated string valid during the call.
unsafe fn server_name<T: ClientTlsSlot>(
    opts: Option<&mut T>,
    name: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: forwarded from our caller.
        let name = unsafe { cstr(name, "server_name")? };
        update_client(opts, |t| Ok(t.server_name(name)))
    })
}

/// # Safety
/// `cert`/`key` point to `cert_len`/`key_len` readable bytes (or the length is 0).
unsafe fn client_cert_pem<T: ClientTlsSlot>(
    opts: Option<&mut T>,
    cert: *const u8,
    cert_len: usize,
    key: *const u8,
    key_len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: forwarded from our caller.
        let (cert, key) = unsafe {
            (
                bytes(cert, cert_len, "cert_pem")?,
                bytes(key, key_len, "key_pem")?,
            )
        };
        update_client(opts, |t| Ok(t.client_cert_pem(cert, key)))
    })
}

/// # Safety
/// `cert_path`/`key_path` are NULL or NUL-terminated strings valid during the call.
unsafe fn client_cert_file<T: ClientTlsSlot>(
    opts: Option<&mut T>,
    cert_path: *const c_char,
    key_path: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: forwarded from our caller.
        let (cert, key) = unsafe { (cstr(cert_path, "cert_path")?, cstr(key_path, "key_path")?) };
        update_client(opts, |t| Ok(t.client_cert_files(cert, key)?))
    })
}

impl rpcx_client_options {
    /// The core options with the TLS settings combined (this is where the system CA bundle
    /// is read when TLS is on without a CA).
    pub(crate) fn resolved(&self) -> Result<ClientOptions, Failure> {
        let mut options = self.inner.clone();
        if let Some(tls) = &self.tls {
            options.tls = Some(tls.build()?);
        }
        Ok(options)
    }

    /// The TLS settings for a registry connection: none set is an error.
    fn registry_tls(&self) -> Result<&ClientTlsConfig, Failure> {
        self.tls.as_ref().ok_or_else(|| {
            invalid_arg("rpcx: `tls` has no TLS settings (use rpcx_client_options_set_tls*)")
        })
    }
}

impl rpcx_xclient_options {
    /// The core options (interceptors included, see `core`) with the TLS settings combined.
    pub(crate) fn resolved(&self) -> Result<XClientOptions, Failure> {
        let mut options = self.core();
        if let Some(tls) = &self.tls {
            options.client.tls = Some(tls.build()?);
        }
        Ok(options)
    }
}

// ---------------------------------------------------------------- server options

/// Serves TLS with this certificate chain (PEM, the server's certificate first) and its
/// private key (PEM: PKCS#8, PKCS#1 or SEC1). Both are copied and checked now: a PEM that
/// does not parse or a key that is not the certificate's is `RPCX_ERR_CONFIG` with a message
/// saying which. Replaces earlier TLS settings, client CA included (set it again after).
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL, or a pointer is NULL with a non-zero length.
/// `err_out` may be NULL; otherwise on failure it receives an `rpcx_error` to free with
/// `rpcx_error_free`. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_tls_pem(
    opts: Option<&mut rpcx_server_options>,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes buffers of the given lengths, valid during the call.
        let (cert, key) = unsafe {
            (
                bytes(cert_pem, cert_len, "cert_pem")?,
                bytes(key_pem, key_len, "key_pem")?,
            )
        };
        set_server_tls(opts, ServerTlsConfig::from_pem(cert, key))
    })
}

/// Like `rpcx_server_options_set_tls_pem`, reading the PEM files `cert_path` and `key_path`
/// (NUL-terminated UTF-8 paths, copied) now; a file that cannot be read is `RPCX_ERR_CONFIG`
/// naming it. `err_out`, NULL arguments and access as for `rpcx_server_options_set_tls_pem`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_tls_files(
    opts: Option<&mut rpcx_server_options>,
    cert_path: *const c_char,
    key_path: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes valid C strings.
        let (cert, key) = unsafe { (cstr(cert_path, "cert_path")?, cstr(key_path, "key_path")?) };
        set_server_tls(opts, ServerTlsConfig::from_files(cert, key)?)
    })
}

/// Mutual TLS: verifies client certificates against the CA certificates of this PEM bundle
/// (copied, checked now). With `require` a client without a certificate is refused during
/// the handshake (it sees `received fatal alert: CertificateRequired`); without, such
/// clients are served and only certificates that are presented must verify. Call it after
/// `rpcx_server_options_set_tls_pem` / `_files` (`RPCX_ERR_INVALID_STATE` before).
/// `RPCX_ERR_CONFIG` when the PEM holds no usable certificate. `err_out`, NULL arguments and
/// access as for `rpcx_server_options_set_tls_pem`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_tls_client_ca_pem(
    opts: Option<&mut rpcx_server_options>,
    ca_pem: *const u8,
    ca_len: usize,
    require: bool,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes a buffer of `ca_len` bytes, valid during the call.
        let ca = unsafe { bytes(ca_pem, ca_len, "ca_pem")? };
        let tls = server_tls_set(opts)?;
        set_server_tls(opts, tls.client_ca_pem(ca, require))
    })
}

/// Like `rpcx_server_options_set_tls_client_ca_pem`, reading the PEM file `ca_path` now.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_tls_client_ca_file(
    opts: Option<&mut rpcx_server_options>,
    ca_path: *const c_char,
    require: bool,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes a valid C string.
        let path = unsafe { cstr(ca_path, "ca_path")? };
        let tls = server_tls_set(opts)?;
        set_server_tls(opts, tls.client_ca_file(path, require)?)
    })
}

fn server_tls_set(opts: &rpcx_server_options) -> Result<ServerTlsConfig, Failure> {
    opts.tls.clone().ok_or_else(|| {
        Failure::new(
            rpcx_status::RPCX_ERR_INVALID_STATE,
            "rpcx: set the server certificate (rpcx_server_options_set_tls_pem or _files) before the client CA",
        )
    })
}

fn set_server_tls(opts: &mut rpcx_server_options, tls: ServerTlsConfig) -> Result<(), Failure> {
    opts.inner.tls = Some(tls.build()?);
    opts.tls = Some(tls);
    Ok(())
}

// ---------------------------------------------------------------- client options

/// Turns TLS on (`enable`, trusting the system's CA bundle unless a CA is set, checking the
/// host dialed unless a server name is set) or off (forgetting every TLS setting). The
/// other `rpcx_client_options_set_tls_*` setters turn it on too. The system bundle
/// (`SSL_CERT_FILE`, else the usual files under /etc/ssl and /etc/pki) is read when the
/// client connects; none found is `RPCX_ERR_CONFIG` then. `RPCX_ERR_NULL_ARG` when `opts`
/// is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_tls(
    opts: Option<&mut rpcx_client_options>,
    enable: bool,
) -> rpcx_status {
    enable_client(opts, enable)
}

/// Connects with TLS, trusting exactly the CA certificates of this PEM bundle (copied,
/// checked now: `RPCX_ERR_CONFIG` when it holds no usable certificate). A server whose
/// certificate does not chain to them is refused at connect with `RPCX_ERR_CONNECTION` and
/// `TLS handshake: invalid peer certificate: UnknownIssuer`. `RPCX_ERR_NULL_ARG` when `opts`
/// is NULL, or `ca_pem` is NULL with a non-zero length. `err_out` may be NULL; otherwise on
/// failure it receives an `rpcx_error` to free with `rpcx_error_free`. Needs exclusive
/// access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_tls_ca_pem(
    opts: Option<&mut rpcx_client_options>,
    ca_pem: *const u8,
    ca_len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes a buffer of `ca_len` bytes, valid during the call.
    unsafe { self::ca_pem(opts, ca_pem, ca_len, err_out) }
}

/// Like `rpcx_client_options_set_tls_ca_pem`, reading the PEM file `ca_path` (NUL-terminated
/// UTF-8) now; a file that cannot be read is `RPCX_ERR_CONFIG` naming it.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_tls_ca_file(
    opts: Option<&mut rpcx_client_options>,
    ca_path: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes a valid C string.
    unsafe { ca_file(opts, ca_path, err_out) }
}

/// Connects with TLS, requiring the server's certificate to be valid for `server_name` (a
/// DNS name or an IP address, copied) instead of the host dialed; `""` restores that default.
/// Needed for Unix sockets. A certificate for another name is refused at connect with
/// `RPCX_ERR_CONNECTION` and `certificate not valid for name ...`. `RPCX_ERR_CONFIG` for a
/// string that is neither a DNS name nor an IP. `RPCX_ERR_NULL_ARG` when an argument is
/// NULL. `err_out` and access as for `rpcx_client_options_set_tls_ca_pem`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_tls_server_name(
    opts: Option<&mut rpcx_client_options>,
    server_name: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes a valid C string.
    unsafe { self::server_name(opts, server_name, err_out) }
}

/// Mutual TLS: connects with TLS and presents this certificate chain (PEM, the client's
/// certificate first) and private key (PEM) to servers that ask for one. Both copied and
/// checked now (`RPCX_ERR_CONFIG` when a PEM does not parse or the key is not the
/// certificate's). `err_out`, NULL arguments and access as for
/// `rpcx_client_options_set_tls_ca_pem`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_tls_client_cert_pem(
    opts: Option<&mut rpcx_client_options>,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes buffers of the given lengths, valid during the call.
    unsafe { client_cert_pem(opts, cert_pem, cert_len, key_pem, key_len, err_out) }
}

/// Like `rpcx_client_options_set_tls_client_cert_pem`, reading the PEM files `cert_path` and
/// `key_path` now.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_tls_client_cert_file(
    opts: Option<&mut rpcx_client_options>,
    cert_path: *const c_char,
    key_path: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes valid C strings.
    unsafe { client_cert_file(opts, cert_path, key_path, err_out) }
}

/// DANGER — for tests against throwaway certificates only. With `insecure` true, connects
/// with TLS WITHOUT verifying the server's certificate: expired, self-signed or issued for
/// another name, it is accepted, so anyone on the network path can impersonate the server
/// and read every call. Handshake signatures are still checked. False (the default) verifies
/// again. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_tls_insecure(
    opts: Option<&mut rpcx_client_options>,
    insecure: bool,
) -> rpcx_status {
    insecure_client(opts, insecure)
}

// ---------------------------------------------------------------- XClient options

/// `rpcx_client_options_set_tls` for every server connection of an XClient.
/// (`rpcx_xclient_options_set_client_options` copies the client options' TLS settings too.)
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_tls(
    opts: Option<&mut rpcx_xclient_options>,
    enable: bool,
) -> rpcx_status {
    enable_client(opts, enable)
}

/// `rpcx_client_options_set_tls_ca_pem` for every server connection of an XClient.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_tls_ca_pem(
    opts: Option<&mut rpcx_xclient_options>,
    ca_pem: *const u8,
    ca_len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes a buffer of `ca_len` bytes, valid during the call.
    unsafe { self::ca_pem(opts, ca_pem, ca_len, err_out) }
}

/// `rpcx_client_options_set_tls_ca_file` for every server connection of an XClient.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_tls_ca_file(
    opts: Option<&mut rpcx_xclient_options>,
    ca_path: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes a valid C string.
    unsafe { ca_file(opts, ca_path, err_out) }
}

/// `rpcx_client_options_set_tls_server_name` for every server connection of an XClient:
/// usually left unset, so that each server's certificate is checked against its own host.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_tls_server_name(
    opts: Option<&mut rpcx_xclient_options>,
    server_name: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes a valid C string.
    unsafe { self::server_name(opts, server_name, err_out) }
}

/// `rpcx_client_options_set_tls_client_cert_pem` for every server connection of an XClient.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_tls_client_cert_pem(
    opts: Option<&mut rpcx_xclient_options>,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes buffers of the given lengths, valid during the call.
    unsafe { client_cert_pem(opts, cert_pem, cert_len, key_pem, key_len, err_out) }
}

/// `rpcx_client_options_set_tls_client_cert_file` for every server connection of an XClient.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_tls_client_cert_file(
    opts: Option<&mut rpcx_xclient_options>,
    cert_path: *const c_char,
    key_path: *const c_char,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    // SAFETY: the caller passes valid C strings.
    unsafe { client_cert_file(opts, cert_path, key_path, err_out) }
}

/// DANGER — `rpcx_client_options_set_tls_insecure` for every server connection of an
/// XClient: server certificates are NOT verified. For tests only.
#[no_mangle]
pub extern "C" fn rpcx_xclient_options_set_tls_insecure(
    opts: Option<&mut rpcx_xclient_options>,
    insecure: bool,
) -> rpcx_status {
    insecure_client(opts, insecure)
}

// ---------------------------------------------------------------- registries over TLS

/// `rpcx_discovery_new_etcd` over TLS: the TLS settings of `tls` (set with the
/// `rpcx_client_options_set_tls*` setters; its other settings are ignored; read during the
/// call, not kept) secure the etcd connection: endpoints are `host:port` or
/// `https://host:port`, the CA (default: the system bundle) must have signed etcd's
/// certificate, whose name is checked (default: each endpoint's host), and the client
/// certificate is presented to an etcd started with `--client-cert-auth`. Refusals come back
/// with the TLS reason (`RPCX_ERR_IO`, `etcd: ...: TLS handshake: invalid peer certificate:
/// UnknownIssuer`, `... received fatal alert: BadCertificate`); `rpcx_client_options_set_tls_insecure`
/// is refused (`RPCX_ERR_CONFIG`). `RPCX_ERR_INVALID_ARG` when `tls` has no TLS settings.
/// Everything else (blocking, ownership, errors) as for `rpcx_discovery_new_etcd`.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_etcd_tls(
    endpoints: *const *const c_char,
    n_endpoints: usize,
    base_path: *const c_char,
    service: *const c_char,
    tls: Option<&rpcx_client_options>,
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
        let tls = req(tls, "tls")?.registry_tls()?.clone();
        let out = req_mut(discovery_out, "discovery_out")?;
        let connect =
            async move { EtcdDiscovery::connect_tls(&endpoints, base_path, service, &tls).await };
        let d = crate::runtime::block_on(connect)??;
        hand_out(out, Arc::new(d), None);
        Ok(())
    })
}

/// `rpcx_discovery_new_consul` over TLS (HTTPS): `address` is `host:port` or
/// `https://host:port`; the TLS settings of `tls` as for `rpcx_discovery_new_etcd_tls`
/// (the DANGER insecure setting is honoured here). Everything else as for
/// `rpcx_discovery_new_consul`.
#[no_mangle]
pub extern "C" fn rpcx_discovery_new_consul_tls(
    address: *const c_char,
    base_path: *const c_char,
    service: *const c_char,
    tls: Option<&rpcx_client_options>,
    discovery_out: Option<&mut *mut rpcx_discovery>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        // SAFETY: the caller passes valid C strings.
        let (address, base_path, service) = unsafe {
            (
                cstr(address, "address")?,
                cstr(base_path, "base_path")?,
                cstr(service, "service")?,
            )
        };
        if address.is_empty() || service.is_empty() {
            return Err(invalid_arg("rpcx: the address or service name is empty"));
        }
        let tls = req(tls, "tls")?.registry_tls()?.clone();
        let out = req_mut(discovery_out, "discovery_out")?;
        let connect =
            async move { ConsulDiscovery::connect_tls(address, base_path, service, &tls).await };
        let d = crate::runtime::block_on(connect)??;
        hand_out(out, Arc::new(d), None);
        Ok(())
    })
}

/// `rpcx_server_add_etcd_registry` over TLS, with the TLS settings of `tls` as for
/// `rpcx_discovery_new_etcd_tls`. Everything else as for `rpcx_server_add_etcd_registry`.
#[no_mangle]
pub extern "C" fn rpcx_server_add_etcd_registry_tls(
    server: Option<&rpcx_server>,
    endpoints: *const *const c_char,
    n_endpoints: usize,
    base_path: *const c_char,
    service_address: *const c_char,
    ttl_ms: u64,
    tls: Option<&rpcx_client_options>,
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
        let tls = req(tls, "tls")?.registry_tls()?.clone();
        server.check_building()?;
        let reg = crate::runtime::block_on(async move {
            EtcdRegistry::connect_tls(
                &endpoints,
                base_path,
                address.unwrap_or(""),
                ttl_of(ttl_ms),
                &tls,
            )
            .await
        })??;
        server.add_registry(Registry::Etcd(reg))
    })
}

/// `rpcx_server_add_consul_registry` over TLS (HTTPS), with the TLS settings of `tls` as for
/// `rpcx_discovery_new_consul_tls`. Everything else as for `rpcx_server_add_consul_registry`.
#[no_mangle]
pub extern "C" fn rpcx_server_add_consul_registry_tls(
    server: Option<&rpcx_server>,
    address: *const c_char,
    base_path: *const c_char,
    service_address: *const c_char,
    ttl_ms: u64,
    tls: Option<&rpcx_client_options>,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes valid C strings.
        let (address, base_path, service_address) = unsafe {
            (
                cstr(address, "address")?,
                cstr(base_path, "base_path")?,
                opt_cstr(service_address, "service_address")?,
            )
        };
        if address.is_empty() {
            return Err(invalid_arg("rpcx: the Consul address is empty"));
        }
        let tls = req(tls, "tls")?.registry_tls()?.clone();
        server.check_building()?;
        let reg = crate::runtime::block_on(async move {
            ConsulRegistry::connect_tls(
                address,
                base_path,
                service_address.unwrap_or(""),
                ttl_of(ttl_ms),
                &tls,
            )
            .await
        })??;
        server.add_registry(Registry::Consul(reg))
    })
}
