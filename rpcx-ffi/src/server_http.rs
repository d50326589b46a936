//! HTTP on the rpcx port: the server options that turn the HTTP gateway, JSON-RPC 2.0 and the
//! `CONNECT` / WebSocket tunnels on or off, bound HTTP requests, and set CORS
//! (`rpcx_core::server::HttpOptions`).
//!
//! Every TCP port of a server tells rpcx from HTTP by the first byte of each connection: rpcx
//! frames start with `0x08`, anything an HTTP/1 client sends goes to the HTTP side. All four
//! services are on by default (as Go serves the gateway and JSON-RPC on its port), CORS is off.

use std::os::raw::c_char;
use std::time::Duration;

use rpcx_core::server::CorsOptions;

use crate::error::{rpcx_error, Failure};
use crate::guard::{cstr, invalid_arg, null_arg, req_mut, run};
use crate::options::{rpcx_server_options, set_server_option};
use crate::status::rpcx_status;

/// Turns the HTTP gateway on or off (default on): an HTTP request with `X-RPCX-*` headers
/// (`X-RPCX-ServicePath`, `X-RPCX-ServiceMethod`, `X-RPCX-SerializeType`, `X-RPCX-Meta`…) and
/// the payload as its body is served as an rpcx call, the reply's payload as the response
/// body, as Go's gateway does. Off, such requests get `404 page not found` (or, with every
/// HTTP service off, the connection is closed). `RPCX_ERR_NULL_ARG` when `opts` is NULL.
/// Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_http_gateway(
    opts: Option<&mut rpcx_server_options>,
    enable: bool,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.gateway = enable)
}

/// Turns JSON-RPC 2.0 on or off (default on): an HTTP POST with the header
/// `X-JSONRPC-2.0: true` and a body `{"jsonrpc":"2.0","method":"Service.Method",
/// "params":…,"id":…}` (or a batch, an array of them) calls the service with `params` as a
/// JSON payload and answers `{"jsonrpc":"2.0","result":…,"id":…}`, as Go does. Off, such
/// requests go to the gateway (or get 404 when it is off too). `RPCX_ERR_NULL_ARG` when
/// `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_jsonrpc(
    opts: Option<&mut rpcx_server_options>,
    enable: bool,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.jsonrpc = enable)
}

/// Turns the `CONNECT /_rpcx_` tunnel on or off (default on): clients dialling an
/// `http@host:port` address send that request, then speak rpcx on the connection (Go's `http`
/// network). Off, the request is answered `405 Method Not Allowed` and the connection closed.
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_http_connect(
    opts: Option<&mut rpcx_server_options>,
    enable: bool,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.connect = enable)
}

/// Turns the WebSocket tunnel on or off (default on): clients dialling a `ws@host:port`
/// address (or `wss@` to a TLS server) upgrade `GET /_rpcx_` to a WebSocket and carry rpcx
/// frames in its messages (Go's `ws`/`wss` networks). Off, the upgrade is not accepted (the
/// request goes to the gateway) and such clients fail to connect. `RPCX_ERR_NULL_ARG` when
/// `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_websocket(
    opts: Option<&mut rpcx_server_options>,
    enable: bool,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.websocket = enable)
}

/// Sets how long, in milliseconds, an HTTP request's head and body may take to arrive, and
/// how long a kept-alive HTTP connection may wait for its next request; past it the connection
/// is closed (a late body is answered `408 Request Timeout` first). Default 30000. `RPCX_ERR_INVALID_ARG` if `ms` is 0. `RPCX_ERR_NULL_ARG` when
/// `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_http_request_timeout_ms(
    opts: Option<&mut rpcx_server_options>,
    ms: u64,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.request_timeout = Duration::from_millis(ms))
}

/// Sets the largest HTTP request head (request line and headers) accepted, in bytes; a larger
/// head is answered `431 Request Header Fields Too Large` and its connection closed. Default
/// 65536; rpcx reads at least 8192 bytes of a request head
/// whatever the setting (1024 of a `CONNECT` head). Request bodies are bounded by the frame
/// limit (`rpcx_limits.max_frame_len`). `RPCX_ERR_INVALID_ARG` if `n` is 0.
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_http_max_header_bytes(
    opts: Option<&mut rpcx_server_options>,
    n: usize,
) -> rpcx_status {
    if n == 0 {
        return run(None, || {
            req_mut(opts, "opts")?;
            Err(invalid_arg(
                "rpcx: http max_header_bytes must be at least 1",
            ))
        });
    }
    set_server_option(opts, |o| o.http.max_header_bytes = n)
}

/// Sets the most headers one HTTP request may carry; a request with more is answered `431
/// Request Header Fields Too Large` and its connection closed. Default 100. `RPCX_ERR_INVALID_ARG` if `n` is 0. `RPCX_ERR_NULL_ARG` when
/// `opts` is NULL. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_http_max_headers(
    opts: Option<&mut rpcx_server_options>,
    n: usize,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.max_headers = n)
}

/// Sets CORS to Go's `AllowAllCORSOptions()`: every origin (`Access-Control-Allow-Origin: *`),
/// the methods HEAD, GET, POST, PUT, PATCH and DELETE, any request header, no credentials.
/// Replaces earlier CORS settings. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive
/// access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_set_cors_allow_all(
    opts: Option<&mut rpcx_server_options>,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.cors = Some(CorsOptions::allow_all()))
}

/// Turns CORS off (the default): responses of the gateway and JSON-RPC carry no
/// `Access-Control-*` headers and preflight requests are served as ordinary requests, as Go
/// without `SetCORS`. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to
/// `opts`.
#[no_mangle]
pub extern "C" fn rpcx_server_options_clear_cors(
    opts: Option<&mut rpcx_server_options>,
) -> rpcx_status {
    set_server_option(opts, |o| o.http.cors = None)
}

/// Sets cross-origin resource sharing for the gateway and JSON-RPC (Go's `SetCORS`, with the
/// semantics of the `rs/cors` package), replacing earlier CORS settings. Each list is an
/// array of `n_*` NUL-terminated UTF-8 strings, copied; an array may be NULL when its count is
/// 0:
///
/// - `origins`: origins allowed (`"https://app.example.com"`); `"*"` allows every origin and
///   one `*` inside an entry is a wildcard (`"https://app-*.example.com"`, or a scheme, a
///   `*` and a domain to allow its subdomains); compared without regard to case. None (0)
///   allows every origin, as in `rs/cors`.
/// - `methods`: methods a cross-origin request may use (`"PUT"`; compared in capitals, so
///   `"put"` allows PUT too); none means GET, POST and HEAD.
/// - `headers`: request headers a cross-origin request may carry; `"*"` allows any; none
///   means Accept, Content-Type and X-Requested-With.
/// - `exposed_headers`: response headers scripts may read (`Access-Control-Expose-Headers`).
///
/// `allow_credentials` sends `Access-Control-Allow-Credentials: true`; `max_age_secs` is the
/// `Access-Control-Max-Age` of preflight answers (0 sends none).
///
/// Errors (nothing is changed then; `*err_out`, when `err_out` is not NULL, receives an error
/// naming the bad entry, owned by the caller: free it with `rpcx_error_free`):
/// `RPCX_ERR_NULL_ARG` when `opts` is NULL, or an array is NULL with a non-zero count, or an
/// entry is NULL; `RPCX_ERR_INVALID_ARG` for an entry that is not UTF-8, is empty, holds a
/// space or a control character, or (methods and headers) is not an HTTP token. Needs
/// exclusive access to `opts`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn rpcx_server_options_set_cors(
    opts: Option<&mut rpcx_server_options>,
    origins: *const *const c_char,
    n_origins: usize,
    methods: *const *const c_char,
    n_methods: usize,
    headers: *const *const c_char,
    n_headers: usize,
    exposed_headers: *const *const c_char,
    n_exposed_headers: usize,
    allow_credentials: bool,
    max_age_secs: u32,
    err_out: Option<&mut *mut rpcx_error>,
) -> rpcx_status {
    run(err_out, || {
        let opts = req_mut(opts, "opts")?;
        // SAFETY: the caller passes arrays of `n_*` NUL-terminated strings (or NULL with 0),
        // valid during the call.
        let cors = unsafe {
            CorsOptions {
                allowed_origins: entries(origins, n_origins, "origins", Kind::Origin)?,
                allowed_methods: entries(methods, n_methods, "methods", Kind::Token)?,
                allowed_headers: entries(headers, n_headers, "headers", Kind::HeaderOrStar)?,
                exposed_headers: entries(
                    exposed_headers,
                    n_exposed_headers,
                    "exposed_headers",
                    Kind::Token,
                )?,
                allow_credentials,
                max_age_secs,
            }
        };
        let mut next = opts.inner.clone();
        next.http.cors = Some(cors);
        next.validate()
            .map_err(|e| invalid_arg(format!("rpcx: {e}")))?;
        opts.inner = next;
        Ok(())
    })
}

/// What a CORS list holds.
#[derive(Clone, Copy)]
enum Kind {
    /// An origin pattern: visible ASCII.
    Origin,
    /// An HTTP token (a method or a header name).
    Token,
    /// A header name or `*`.
    HeaderOrStar,
}

/// True for the characters of an HTTP token (RFC 9110 §5.6.2 `tchar`).
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Checks one CORS entry; the error names the list and the entry.
fn check_entry(s: &str, name: &str, kind: Kind) -> Result<(), Failure> {
    let bad = |why: &str| invalid_arg(format!("rpcx: CORS {name} entry {s:?} {why}"));
    if s.is_empty() {
        return Err(invalid_arg(format!("rpcx: a CORS {name} entry is empty")));
    }
    match kind {
        Kind::Origin => {
            if !s.chars().all(|c| c.is_ascii_graphic()) {
                return Err(bad("must be visible ASCII without spaces (an origin such as https://app.example.com, or *)"));
            }
        }
        Kind::HeaderOrStar if s == "*" => {}
        Kind::Token | Kind::HeaderOrStar => {
            if !s.chars().all(is_tchar) {
                return Err(bad(
                    "is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)",
                ));
            }
        }
    }
    Ok(())
}

/// Reads and checks `list[0..n)`.
///
/// # Safety
/// When `n > 0`, `list` is NULL or points to `n` pointers, each NULL or a NUL-terminated
/// string valid during the call.
unsafe fn entries(
    list: *const *const c_char,
    n: usize,
    name: &str,
    kind: Kind,
) -> Result<Vec<String>, Failure> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(null_arg(name));
    }
    if n > isize::MAX as usize / size_of::<*const c_char>() {
        return Err(invalid_arg(format!("rpcx: count of `{name}` is too large")));
    }
    // SAFETY: not NULL and, by this function's contract, `n` readable pointers.
    let ptrs = unsafe { std::slice::from_raw_parts(list, n) };
    ptrs.iter()
        .map(|&p| {
            // SAFETY: by contract each pointer is NULL or a valid C string during the call.
            let s = unsafe { cstr(p, name)? };
            check_entry(s, name, kind)?;
            Ok(s.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::rpcx_error_free;
    use crate::rpcx_error_message;
    use std::ffi::{CStr, CString};

    fn message(err: *mut rpcx_error) -> String {
        // SAFETY: `err` came from an export and is freed below.
        let text = unsafe { CStr::from_ptr(rpcx_error_message(err.as_ref(), None)) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: owned by us, freed once.
        rpcx_error_free(unsafe { Some(Box::from_raw(err)) });
        text
    }

    #[test]
    fn switches_and_limits_reach_the_core_options() {
        let mut o = rpcx_server_options::default();
        assert!(o.inner.http.gateway && o.inner.http.jsonrpc);
        assert_eq!(
            rpcx_server_options_set_http_gateway(Some(&mut o), false),
            rpcx_status::RPCX_OK
        );
        assert_eq!(
            rpcx_server_options_set_jsonrpc(Some(&mut o), false),
            rpcx_status::RPCX_OK
        );
        assert_eq!(
            rpcx_server_options_set_http_connect(Some(&mut o), false),
            rpcx_status::RPCX_OK
        );
        assert_eq!(
            rpcx_server_options_set_websocket(Some(&mut o), false),
            rpcx_status::RPCX_OK
        );
        assert!(!o.inner.http.any());
        assert_eq!(
            rpcx_server_options_set_http_request_timeout_ms(Some(&mut o), 1500),
            rpcx_status::RPCX_OK
        );
        assert_eq!(o.inner.http.request_timeout, Duration::from_millis(1500));
        assert_eq!(
            rpcx_server_options_set_http_max_header_bytes(Some(&mut o), 20_000),
            rpcx_status::RPCX_OK
        );
        assert_eq!(
            rpcx_server_options_set_http_max_headers(Some(&mut o), 7),
            rpcx_status::RPCX_OK
        );
        assert_eq!(
            (o.inner.http.max_header_bytes, o.inner.http.max_headers),
            (20_000, 7)
        );

        // Zeros are refused and change nothing; NULL options are NULL_ARG.
        for st in [
            rpcx_server_options_set_http_request_timeout_ms(Some(&mut o), 0),
            rpcx_server_options_set_http_max_header_bytes(Some(&mut o), 0),
            rpcx_server_options_set_http_max_headers(Some(&mut o), 0),
        ] {
            assert_eq!(st, rpcx_status::RPCX_ERR_INVALID_ARG);
        }
        assert_eq!(o.inner.http.request_timeout, Duration::from_millis(1500));
        assert_eq!(
            (o.inner.http.max_header_bytes, o.inner.http.max_headers),
            (20_000, 7)
        );
        for st in [
            rpcx_server_options_set_http_gateway(None, true),
            rpcx_server_options_set_http_max_header_bytes(None, 0),
            rpcx_server_options_set_cors_allow_all(None),
            rpcx_server_options_clear_cors(None),
        ] {
            assert_eq!(st, rpcx_status::RPCX_ERR_NULL_ARG);
        }
    }

    #[test]
    fn cors_lists_are_copied_and_checked() {
        let mut o = rpcx_server_options::default();
        assert_eq!(
            rpcx_server_options_set_cors_allow_all(Some(&mut o)),
            rpcx_status::RPCX_OK
        );
        assert_eq!(o.inner.http.cors, Some(CorsOptions::allow_all()));
        assert_eq!(
            rpcx_server_options_clear_cors(Some(&mut o)),
            rpcx_status::RPCX_OK
        );
        assert_eq!(o.inner.http.cors, None);

        let origins = [CString::new("https://*.example.com").unwrap()];
        let methods = [CString::new("PUT").unwrap(), CString::new("POST").unwrap()];
        let headers = [CString::new("*").unwrap()];
        let exposed = [CString::new("X-RPCX-Meta").unwrap()];
        let ptrs = |v: &[CString]| v.iter().map(|c| c.as_ptr()).collect::<Vec<_>>();
        let (po, pm, ph, pe) = (
            ptrs(&origins),
            ptrs(&methods),
            ptrs(&headers),
            ptrs(&exposed),
        );
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            po.as_ptr(),
            1,
            pm.as_ptr(),
            2,
            ph.as_ptr(),
            1,
            pe.as_ptr(),
            1,
            true,
            600,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_OK);
        let cors = o.inner.http.cors.clone().unwrap();
        assert_eq!(cors.allowed_origins, ["https://*.example.com"]);
        assert_eq!(cors.allowed_methods, ["PUT", "POST"]);
        assert_eq!(cors.allowed_headers, ["*"]);
        assert_eq!(cors.exposed_headers, ["X-RPCX-Meta"]);
        assert!(cors.allow_credentials);
        assert_eq!(cors.max_age_secs, 600);

        // Empty lists (NULL, 0) are the rs/cors defaults.
        let null = std::ptr::null();
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            null,
            0,
            null,
            0,
            null,
            0,
            null,
            0,
            false,
            0,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_OK);
        assert_eq!(o.inner.http.cors, Some(CorsOptions::default()));

        // Bad entries: the status, a message naming the entry, and nothing changed.
        let before = o.inner.http.cors.clone();
        let bad_method = [CString::new("GET POST").unwrap()];
        let pb = ptrs(&bad_method);
        let mut err = std::ptr::null_mut();
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            null,
            0,
            pb.as_ptr(),
            1,
            null,
            0,
            null,
            0,
            false,
            0,
            Some(&mut err),
        );
        assert_eq!(st, rpcx_status::RPCX_ERR_INVALID_ARG);
        let text = message(err);
        assert!(
            text.contains("methods") && text.contains("GET POST"),
            "{text}"
        );
        assert_eq!(o.inner.http.cors, before);

        let empty = [CString::new("").unwrap()];
        let pe2 = ptrs(&empty);
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            pe2.as_ptr(),
            1,
            null,
            0,
            null,
            0,
            null,
            0,
            false,
            0,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_ERR_INVALID_ARG);
        let ctl = [CString::new("https://a\tb").unwrap()];
        let pc = ptrs(&ctl);
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            pc.as_ptr(),
            1,
            null,
            0,
            null,
            0,
            null,
            0,
            false,
            0,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_ERR_INVALID_ARG);
        let star = [CString::new("*").unwrap()];
        let ps = ptrs(&star);
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            null,
            0,
            null,
            0,
            null,
            0,
            ps.as_ptr(),
            1,
            false,
            0,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_OK, "* is a token");

        // NULL arrays with a count, NULL entries, NULL options.
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            null,
            1,
            null,
            0,
            null,
            0,
            null,
            0,
            false,
            0,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_ERR_NULL_ARG);
        let holes: [*const c_char; 1] = [std::ptr::null()];
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            null,
            0,
            null,
            0,
            holes.as_ptr(),
            1,
            null,
            0,
            false,
            0,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_ERR_NULL_ARG);
        let st =
            rpcx_server_options_set_cors(None, null, 0, null, 0, null, 0, null, 0, false, 0, None);
        assert_eq!(st, rpcx_status::RPCX_ERR_NULL_ARG);
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let mut o = rpcx_server_options::default();
        let bytes = b"\xff\xfe\0";
        let list = [bytes.as_ptr().cast::<c_char>()];
        let null = std::ptr::null();
        let st = rpcx_server_options_set_cors(
            Some(&mut o),
            list.as_ptr(),
            1,
            null,
            0,
            null,
            0,
            null,
            0,
            false,
            0,
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_ERR_INVALID_ARG);
        assert_eq!(o.inner.http.cors, None);
    }
}
