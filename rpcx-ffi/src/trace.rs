//! W3C trace context (`traceparent` / `tracestate` metadata) for C applications: set it on an
//! outgoing call, read it in a handler, make new ones — so a C program with its own tracer
//! joins the traces of Go's rpcx OpenTelemetry plugins and of rpcx's `otel` feature.

use std::os::raw::c_char;

use rpcx_core::trace_context::{TraceParent, TRACEPARENT, TRACESTATE};

use crate::error::Failure;
use crate::guard::{cstr, invalid_arg, req, req_mut, run};
use crate::handler::{rpcx_request, rpcx_request_metadata};
use crate::metadata::rpcx_metadata;
use crate::status::rpcx_status;

/// The size of a buffer that holds a `traceparent` value: 55 characters and the NUL.
pub const RPCX_TRACEPARENT_SIZE: usize = 56;

/// The size of a buffer that holds a trace id: 32 hex digits and the NUL.
pub const RPCX_TRACE_ID_SIZE: usize = 33;

/// The size of a buffer that holds a span id: 16 hex digits and the NUL.
pub const RPCX_SPAN_ID_SIZE: usize = 17;

/// The longest `tracestate` value accepted (the W3C limit of what must be propagated).
const TRACESTATE_MAX: usize = 512;

fn parse(tp: &str) -> Result<TraceParent, Failure> {
    TraceParent::parse(tp).map_err(|e| invalid_arg(format!("rpcx: {e}: {tp:?}")))
}

fn check_tracestate(ts: &str) -> Result<(), Failure> {
    if ts.len() > TRACESTATE_MAX || ts.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
        return Err(invalid_arg(format!(
            "rpcx: tracestate must be printable ASCII of at most {TRACESTATE_MAX} bytes"
        )));
    }
    Ok(())
}

/// Writes `text` and a NUL into `out` (`size` bytes), or fails without writing.
///
/// # Safety
/// `out` is NULL or valid for writes of `size` bytes.
unsafe fn write_out(out: *mut c_char, size: usize, text: &str, name: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(crate::guard::null_arg(name));
    }
    if size <= text.len() {
        return Err(invalid_arg(format!(
            "rpcx: `{name}` holds {size} bytes, {} are needed",
            text.len() + 1
        )));
    }
    // SAFETY: `out` has room for `text` and the NUL (checked above); the regions are distinct.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), out.cast::<u8>(), text.len());
        *out.add(text.len()) = 0;
    }
    Ok(())
}

/// Creates a new random `traceparent` — a new trace with a random trace id and parent span
/// id, flag `sampled` as asked — for a C application without a tracer that starts a trace.
/// It is written NUL-terminated into `out`, a caller-owned buffer of `out_size` bytes (at
/// least `RPCX_TRACEPARENT_SIZE`).
///
/// Returns `RPCX_ERR_NULL_ARG` when `out` is NULL and `RPCX_ERR_INVALID_ARG` when `out_size`
/// is too small (nothing is written then). Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_traceparent_new(
    sampled: bool,
    out: *mut c_char,
    out_size: usize,
) -> rpcx_status {
    run(None, || {
        let tp = TraceParent::new_random(sampled);
        // SAFETY: the caller passes a buffer of `out_size` bytes.
        unsafe { write_out(out, out_size, &tp.to_string(), "out") }
    })
}

/// A `traceparent` for a call made inside the span `parent` describes: the same trace id and
/// flags with a new random parent span id (the id of the caller's new span), written
/// NUL-terminated into `out` (`out_size` bytes, at least `RPCX_TRACEPARENT_SIZE`).
///
/// Returns `RPCX_ERR_NULL_ARG` when a pointer is NULL and `RPCX_ERR_INVALID_ARG` when
/// `parent` is not a valid `traceparent` (see `rpcx_traceparent_validate`) or `out_size` is
/// too small; nothing is written then. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_traceparent_child(
    parent: *const c_char,
    out: *mut c_char,
    out_size: usize,
) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller passes a NUL-terminated string valid for the duration of the call.
        let parent = parse(unsafe { cstr(parent, "parent")? })?;
        // SAFETY: the caller passes a buffer of `out_size` bytes.
        unsafe { write_out(out, out_size, &parent.child().to_string(), "out") }
    })
}

/// Checks a `traceparent` value as W3C trace context reads it:
/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase hex, ids not all zero,
/// flags sampled (01) and random (02) only, nothing more; a later version (`01`–`fe`) is read
/// from its first 55 characters (more may follow after a `-`); version `ff` is refused.
///
/// Returns `RPCX_OK` when it is valid, `RPCX_ERR_INVALID_ARG` when not (or not UTF-8), and
/// `RPCX_ERR_NULL_ARG` when `traceparent` is NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_traceparent_validate(traceparent: *const c_char) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller passes a NUL-terminated string valid for the duration of the call.
        parse(unsafe { cstr(traceparent, "traceparent")? }).map(|_| ())
    })
}

/// Splits a valid `traceparent` into its trace id (32 hex digits, into `trace_id_out`, a
/// buffer of at least `RPCX_TRACE_ID_SIZE` bytes), parent span id (16 hex digits, into
/// `parent_id_out`, at least `RPCX_SPAN_ID_SIZE` bytes) and flags (`*flags_out`; bit 0 is
/// `sampled`). Each out-parameter may be NULL to skip it; the buffers are caller-owned and
/// written NUL-terminated.
///
/// Returns `RPCX_ERR_NULL_ARG` when `traceparent` is NULL and `RPCX_ERR_INVALID_ARG` when it
/// is not valid; nothing is written then. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_traceparent_parse(
    traceparent: *const c_char,
    trace_id_out: *mut c_char,
    parent_id_out: *mut c_char,
    flags_out: Option<&mut u8>,
) -> rpcx_status {
    run(None, || {
        // SAFETY: the caller passes a NUL-terminated string valid for the duration of the call.
        let tp = parse(unsafe { cstr(traceparent, "traceparent")? })?;
        let (trace, span) = (tp.trace_id_hex(), tp.parent_id_hex());
        // SAFETY: the caller passes buffers of the documented sizes (or NULL).
        unsafe {
            if !trace_id_out.is_null() {
                write_out(trace_id_out, RPCX_TRACE_ID_SIZE, &trace, "trace_id_out")?;
            }
            if !parent_id_out.is_null() {
                write_out(parent_id_out, RPCX_SPAN_ID_SIZE, &span, "parent_id_out")?;
            }
        }
        if let Some(f) = flags_out {
            *f = tp.flags;
        }
        Ok(())
    })
}

/// Sets the trace context of an outgoing call in its request metadata `md` (the map passed
/// to `rpcx_client_call` and the other call functions): `traceparent` (validated, see
/// `rpcx_traceparent_validate`) and, when `tracestate` is not NULL, `tracestate` (printable
/// ASCII, at most 512 bytes, passed along as is). The receiving rpcx server — Go with the
/// rpcx-plugins OpenTelemetry plugin, or Rust with the `otel` feature — makes its server span
/// a child of the span this `traceparent` names. Both strings are copied.
///
/// Returns `RPCX_ERR_NULL_ARG` when `md` or `traceparent` is NULL and `RPCX_ERR_INVALID_ARG`
/// when a value is malformed; the map is then unchanged. Needs exclusive access to `md`.
#[no_mangle]
pub extern "C" fn rpcx_metadata_set_traceparent(
    md: Option<&mut rpcx_metadata>,
    traceparent: *const c_char,
    tracestate: *const c_char,
) -> rpcx_status {
    run(None, || {
        let md = req_mut(md, "md")?;
        // SAFETY: the caller passes NUL-terminated strings valid for the duration of the call.
        let tp = parse(unsafe { cstr(traceparent, "traceparent")? })?;
        let ts = if tracestate.is_null() {
            None
        } else {
            // SAFETY: as above.
            let ts = unsafe { cstr(tracestate, "tracestate")? };
            check_tracestate(ts)?;
            Some(ts)
        };
        md.insert(TRACEPARENT, &tp.to_string());
        if let Some(ts) = ts {
            md.insert(TRACESTATE, ts);
        }
        Ok(())
    })
}

/// Reads the trace context in metadata `md`: `*traceparent_out` points to its `traceparent`
/// and, when `tracestate_out` is not NULL, `*tracestate_out` to its `tracestate` (NULL when
/// there is none). Both are NUL-terminated and borrowed from `md`: valid until `md` is
/// modified or freed; do not free them.
///
/// Returns `RPCX_ERR_NOT_FOUND` when `md` has no `traceparent`, `RPCX_ERR_INVALID_ARG` when
/// it is malformed (see `rpcx_traceparent_validate`) and `RPCX_ERR_NULL_ARG` when `md` or
/// `traceparent_out` is NULL; the out-parameters are written only on success. May run
/// concurrently with other readers of `md`.
#[no_mangle]
pub extern "C" fn rpcx_metadata_traceparent(
    md: Option<&rpcx_metadata>,
    traceparent_out: Option<&mut *const c_char>,
    tracestate_out: Option<&mut *const c_char>,
) -> rpcx_status {
    run(None, || {
        let md = req(md, "md")?;
        let out = req_mut(traceparent_out, "traceparent_out")?;
        let tp = md.get(TRACEPARENT).ok_or_else(|| {
            Failure::new(
                rpcx_status::RPCX_ERR_NOT_FOUND,
                "rpcx: the metadata has no traceparent",
            )
        })?;
        // Stored with a trailing NUL for C.
        parse(tp.strip_suffix('\0').unwrap_or(tp))?;
        *out = tp.as_ptr().cast();
        if let Some(ts_out) = tracestate_out {
            *ts_out = md
                .get(TRACESTATE)
                .map_or(std::ptr::null(), |ts| ts.as_ptr().cast());
        }
        Ok(())
    })
}

/// Reads the trace context of a served call, inside a handler: the `traceparent` (and,
/// when `tracestate_out` is not NULL, the `tracestate`, or NULL when none) its caller sent —
/// the caller's span, the parent of any span the handler starts. Call it from the handler
/// callback (on the runtime thread that runs it). The strings are NUL-terminated and
/// borrowed from `request`: valid until the callback returns; copy them to keep them.
///
/// Returns `RPCX_ERR_NOT_FOUND` when the caller sent none, `RPCX_ERR_INVALID_ARG` when it
/// sent a malformed one and `RPCX_ERR_NULL_ARG` when `request` or `traceparent_out` is NULL;
/// the out-parameters are written only on success.
#[no_mangle]
pub extern "C" fn rpcx_request_traceparent(
    request: Option<&rpcx_request>,
    traceparent_out: Option<&mut *const c_char>,
    tracestate_out: Option<&mut *const c_char>,
) -> rpcx_status {
    run(None, || {
        let request = req(request, "request")?;
        // SAFETY: the request's metadata lives as long as the request view.
        let md = unsafe { rpcx_request_metadata(Some(request)).as_ref() };
        match rpcx_metadata_traceparent(md, traceparent_out, tracestate_out) {
            rpcx_status::RPCX_OK => Ok(()),
            status => Err(Failure::new(
                status,
                match status {
                    rpcx_status::RPCX_ERR_NOT_FOUND => "rpcx: the caller sent no traceparent",
                    rpcx_status::RPCX_ERR_NULL_ARG => "rpcx: argument `traceparent_out` is NULL",
                    _ => "rpcx: the caller sent a malformed traceparent",
                },
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};
    use std::os::raw::{c_char, c_void};
    use std::ptr;

    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use rpcx_core::otel::ServerTracing;
    use rpcx_core::server::{Context, Server, ServiceError};

    use super::*;
    use crate::rpcx_status::*;
    use crate::*;

    fn new_traceparent() -> String {
        let mut buf = [0 as c_char; RPCX_TRACEPARENT_SIZE];
        assert_eq!(
            rpcx_traceparent_new(true, buf.as_mut_ptr(), buf.len()),
            RPCX_OK
        );
        // SAFETY: written NUL-terminated above.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn connect(addr: &str) -> Box<rpcx_client> {
        let mut client: *mut rpcx_client = ptr::null_mut();
        let a = CString::new(addr).unwrap();
        assert_eq!(
            rpcx_client_connect(a.as_ptr(), None, Some(&mut client), None),
            RPCX_OK
        );
        // SAFETY: handed over by rpcx_client_connect.
        unsafe { Box::from_raw(client) }
    }

    /// Calls `service.method` with `md`; returns the reply payload as text.
    fn call(client: &rpcx_client, service: &CStr, method: &CStr, md: &rpcx_metadata) -> String {
        let mut reply = rpcx_buf {
            data: ptr::null(),
            len: 0,
            owner: ptr::null_mut(),
        };
        let body = b"{}";
        let st = rpcx_client_call(
            Some(client),
            service.as_ptr(),
            method.as_ptr(),
            body.as_ptr(),
            body.len(),
            Some(md),
            10_000,
            Some(&mut reply),
            None,
            None,
        );
        assert_eq!(st, RPCX_OK);
        // SAFETY: `reply` describes `len` bytes owned by the buffer until freed.
        let text = String::from_utf8(
            unsafe { std::slice::from_raw_parts(reply.data, reply.len) }.to_vec(),
        )
        .unwrap();
        rpcx_buf_free(Some(&mut reply));
        text
    }

    #[test]
    fn c_client_traceparent_is_the_parent_of_the_rust_server_span() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let handle = rt.block_on(async {
            let mut server = Server::builder()
                .plugin(ServerTracing::new().with_tracer_provider(&provider))
                .build();
            server
                .register_raw(
                    "Trace",
                    "Seen",
                    |ctx: Context, _b: bytes::Bytes| async move {
                        Ok::<_, ServiceError>(bytes::Bytes::from(
                            ctx.meta(TRACEPARENT).unwrap_or("").to_owned(),
                        ))
                    },
                )
                .unwrap();
            server.serve("tcp@127.0.0.1:0").await.unwrap()
        });
        let client = connect(&handle.local_address().to_string());

        let tp = new_traceparent();
        let ctp = CString::new(tp.clone()).unwrap();
        let md = rpcx_metadata_new();
        // SAFETY: `md` was just created and is exclusively ours until freed below.
        let md_box = unsafe { Box::from_raw(md) };
        let mut md_box = md_box;
        assert_eq!(
            rpcx_metadata_set_traceparent(Some(&mut md_box), ctp.as_ptr(), c"vendor=abc".as_ptr()),
            RPCX_OK
        );
        let seen = call(&client, c"Trace", c"Seen", &md_box);
        assert_eq!(seen, tp);

        let spans = exporter.get_finished_spans().unwrap();
        let span = spans
            .iter()
            .find(|s| s.name == "rpcx.service.Trace.Seen")
            .expect("server span");
        let parsed = TraceParent::parse(&tp).unwrap();
        assert_eq!(span.span_context.trace_id().to_bytes(), parsed.trace_id);
        assert_eq!(span.parent_span_id.to_bytes(), parsed.parent_id);
        assert!(span.parent_span_is_remote);
        assert_eq!(span.span_context.trace_state().header(), "vendor=abc");

        rpcx_metadata_free(Some(md_box));
        rpcx_client_free(Some(client));
        rt.block_on(handle.shutdown(std::time::Duration::from_secs(5)));
    }

    /// Replies with `traceparent|tracestate` as the handler reads them, or the status name.
    unsafe extern "C" fn reflect(
        _ud: *mut c_void,
        req: *const rpcx_request,
        resp: *mut rpcx_responder,
    ) {
        // SAFETY: `req` is the live request view of this callback.
        let req = unsafe { req.as_ref() };
        let (mut tp, mut ts): (*const c_char, *const c_char) = (ptr::null(), ptr::null());
        let st = rpcx_request_traceparent(req, Some(&mut tp), Some(&mut ts));
        let text = if st == RPCX_OK {
            // SAFETY: borrowed from the request until the callback returns.
            let tp = unsafe { CStr::from_ptr(tp) }.to_string_lossy().into_owned();
            let ts = if ts.is_null() {
                "(none)".to_owned()
            } else {
                // SAFETY: as above.
                unsafe { CStr::from_ptr(ts) }.to_string_lossy().into_owned()
            };
            format!("{tp}|{ts}")
        } else {
            format!("{st:?}")
        };
        assert_eq!(
            rpcx_responder_reply(resp, text.as_ptr(), text.len(), None),
            RPCX_OK
        );
    }

    #[test]
    fn c_server_handler_reads_the_traceparent_a_c_client_sent() {
        let mut server: *mut rpcx_server = ptr::null_mut();
        assert_eq!(rpcx_server_new(None, Some(&mut server)), RPCX_OK);
        // SAFETY: handed over by rpcx_server_new; freed at the end.
        let server = unsafe { Box::from_raw(server) };
        assert_eq!(
            rpcx_server_register(
                Some(&server),
                c"Trace".as_ptr(),
                c"Seen".as_ptr(),
                Some(reflect),
                ptr::null_mut(),
                None
            ),
            RPCX_OK
        );
        let mut port = 0u16;
        assert_eq!(
            rpcx_server_start(
                Some(&server),
                c"tcp@127.0.0.1:0".as_ptr(),
                Some(&mut port),
                None
            ),
            RPCX_OK
        );
        let client = connect(&format!("tcp@127.0.0.1:{port}"));

        // A child of a trace the C app is in: same trace, new parent id.
        let parent = CString::new(new_traceparent()).unwrap();
        let mut child = [0 as c_char; RPCX_TRACEPARENT_SIZE];
        assert_eq!(
            rpcx_traceparent_child(parent.as_ptr(), child.as_mut_ptr(), child.len()),
            RPCX_OK
        );
        // SAFETY: written NUL-terminated above.
        let child = unsafe { CStr::from_ptr(child.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(child[..35], parent.to_str().unwrap()[..35]);
        assert_ne!(child, parent.to_str().unwrap());

        let mut md = Box::<rpcx_metadata>::default();
        let cchild = CString::new(child.clone()).unwrap();
        assert_eq!(
            rpcx_metadata_set_traceparent(Some(&mut md), cchild.as_ptr(), ptr::null()),
            RPCX_OK
        );
        assert_eq!(
            call(&client, c"Trace", c"Seen", &md),
            format!("{child}|(none)")
        );

        // None sent, or a malformed one (set as plain metadata): the handler is told so.
        let empty = rpcx_metadata::default();
        assert_eq!(
            call(&client, c"Trace", c"Seen", &empty),
            "RPCX_ERR_NOT_FOUND"
        );
        let mut bad = rpcx_metadata::default();
        bad.insert(TRACEPARENT, "00-xyz");
        assert_eq!(
            call(&client, c"Trace", c"Seen", &bad),
            "RPCX_ERR_INVALID_ARG"
        );

        rpcx_client_free(Some(client));
        rpcx_server_free(Some(server));
    }

    #[test]
    fn bad_arguments_are_refused_without_writing() {
        let good = c"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(rpcx_traceparent_validate(good.as_ptr()), RPCX_OK);
        for bad in [
            c"",
            c"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            c"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            c"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-05",
            c"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            c"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            c"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(
                rpcx_traceparent_validate(bad.as_ptr()),
                RPCX_ERR_INVALID_ARG,
                "{bad:?}"
            );
        }
        let not_utf8 = [0xffu8 as c_char, 0];
        assert_eq!(
            rpcx_traceparent_validate(not_utf8.as_ptr()),
            RPCX_ERR_INVALID_ARG
        );
        assert_eq!(rpcx_traceparent_validate(ptr::null()), RPCX_ERR_NULL_ARG);

        // Too small a buffer: nothing written.
        let mut small = [7 as c_char; RPCX_TRACEPARENT_SIZE - 1];
        assert_eq!(
            rpcx_traceparent_new(true, small.as_mut_ptr(), small.len()),
            RPCX_ERR_INVALID_ARG
        );
        assert!(small.iter().all(|&c| c == 7));
        assert_eq!(
            rpcx_traceparent_new(true, ptr::null_mut(), 64),
            RPCX_ERR_NULL_ARG
        );
        assert_eq!(
            rpcx_traceparent_child(c"junk".as_ptr(), small.as_mut_ptr(), small.len()),
            RPCX_ERR_INVALID_ARG
        );

        // Parse.
        let mut trace = [0 as c_char; RPCX_TRACE_ID_SIZE];
        let mut span = [0 as c_char; RPCX_SPAN_ID_SIZE];
        let mut flags = 0u8;
        assert_eq!(
            rpcx_traceparent_parse(
                good.as_ptr(),
                trace.as_mut_ptr(),
                span.as_mut_ptr(),
                Some(&mut flags)
            ),
            RPCX_OK
        );
        // SAFETY: written NUL-terminated above.
        unsafe {
            assert_eq!(
                CStr::from_ptr(trace.as_ptr()),
                c"4bf92f3577b34da6a3ce929d0e0e4736"
            );
            assert_eq!(CStr::from_ptr(span.as_ptr()), c"00f067aa0ba902b7");
        }
        assert_eq!(flags, 1);
        assert_eq!(
            rpcx_traceparent_parse(c"junk".as_ptr(), ptr::null_mut(), ptr::null_mut(), None),
            RPCX_ERR_INVALID_ARG
        );

        // Setting a malformed value leaves the map unchanged.
        let mut md = rpcx_metadata::default();
        assert_eq!(
            rpcx_metadata_set_traceparent(Some(&mut md), c"junk".as_ptr(), ptr::null()),
            RPCX_ERR_INVALID_ARG
        );
        assert_eq!(
            rpcx_metadata_set_traceparent(Some(&mut md), good.as_ptr(), c"bad\x01state".as_ptr()),
            RPCX_ERR_INVALID_ARG
        );
        assert_eq!(rpcx_metadata_len(Some(&md)), 0);
        assert_eq!(
            rpcx_metadata_set_traceparent(None, good.as_ptr(), ptr::null()),
            RPCX_ERR_NULL_ARG
        );
        assert_eq!(
            rpcx_metadata_set_traceparent(Some(&mut md), ptr::null(), ptr::null()),
            RPCX_ERR_NULL_ARG
        );

        // Reading.
        let mut tp: *const c_char = ptr::null();
        assert_eq!(
            rpcx_metadata_traceparent(Some(&md), Some(&mut tp), None),
            RPCX_ERR_NOT_FOUND
        );
        assert!(tp.is_null());
        assert_eq!(
            rpcx_metadata_set_traceparent(Some(&mut md), good.as_ptr(), c"a=1".as_ptr()),
            RPCX_OK
        );
        let mut ts: *const c_char = ptr::null();
        assert_eq!(
            rpcx_metadata_traceparent(Some(&md), Some(&mut tp), Some(&mut ts)),
            RPCX_OK
        );
        // SAFETY: borrowed from the live map.
        unsafe {
            assert_eq!(CStr::from_ptr(tp), good);
            assert_eq!(CStr::from_ptr(ts), c"a=1");
        }
        assert_eq!(
            rpcx_metadata_traceparent(Some(&md), None, None),
            RPCX_ERR_NULL_ARG
        );
        assert_eq!(
            rpcx_metadata_traceparent(None, Some(&mut tp), None),
            RPCX_ERR_NULL_ARG
        );
        assert_eq!(
            rpcx_request_traceparent(None, Some(&mut tp), None),
            RPCX_ERR_NULL_ARG
        );
    }
}
