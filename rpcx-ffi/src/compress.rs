//! Compressors: register C callbacks for a compress type (Go's `protocol.Compressors`), and
//! select the compress type a client sends with.

use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use rpcx_core::protocol::{
    is_compress_type_supported, register_compressor, unregister_compressor, CompressType,
    Compressor, CompressorError,
};

use crate::error::Failure;
use crate::guard::{bytes, cstr, invalid_arg, req_mut, run, run_or, Finalizer, UserData};
use crate::status::rpcx_status;
use crate::{rpcx_client_options, rpcx_finalizer};

/// Compress type 0: no compression.
pub const RPCX_COMPRESS_NONE: u8 = 0;
/// Compress type 1: gzip (built in).
pub const RPCX_COMPRESS_GZIP: u8 = 1;
/// Compress type 2: snappy, the framed format of Go rpcx's `protocol.SnappyCompressor` (a Go
/// peer registers it at 2: `protocol.Compressors[2] = &protocol.SnappyCompressor{}`).
/// Registered from the start when librpcx is built with snappy (the default build); check
/// with `rpcx_compressor_available`.
pub const RPCX_COMPRESS_SNAPPY: u8 = 2;

/// What an `rpcx_compress_fn` returns: success; the output is what was written to `out`.
pub const RPCX_COMPRESS_OK: c_int = 0;
/// What an `rpcx_compress_fn` returns when the decompressed data would be larger than
/// `max_output_len`: the frame is refused as over the decompressed-size limit.
pub const RPCX_COMPRESS_TOO_LARGE: c_int = 1;
/// What an `rpcx_compress_fn` returns when the input is invalid or compressing failed (any
/// value other than `RPCX_COMPRESS_OK` and `RPCX_COMPRESS_TOO_LARGE` means the same); the text
/// given to `rpcx_compress_output_set_error`, if any, is the error message.
pub const RPCX_COMPRESS_FAILED: c_int = 2;

/// Where an `rpcx_compress_fn` writes its output: opaque, owned by rpcx, valid only during
/// the callback that received it (do not keep the pointer). Append bytes with
/// `rpcx_compress_output_write` (copied: the bytes passed stay yours).
pub struct rpcx_compress_output {
    buf: Vec<u8>,
    max: usize,
    over: bool,
    error: Option<String>,
}

/// Compresses or decompresses `input[0..input_len)` (`input` is NULL when `input_len` is 0;
/// borrowed for the call only) by appending the result to `out` with
/// `rpcx_compress_output_write`; returns `RPCX_COMPRESS_OK`, `RPCX_COMPRESS_TOO_LARGE` or
/// another value for failure (see `RPCX_COMPRESS_FAILED`).
///
/// `max_output_len` is the most the output may hold: for decompression the receiver's
/// decompressed-size limit (`rpcx_limits`, default 16 MiB) — a format whose header declares
/// the decompressed length must check it against this before allocating anything that size,
/// and writes past it are refused — and `SIZE_MAX` for compression.
///
/// Called on rpcx runtime worker threads (connection tasks encoding and decoding frames),
/// possibly on several at once: it must be thread-safe, must not block for long, and must
/// return normally (no C++ exception or `longjmp` may leave it; `bindings/cpp/rpcx.hpp`
/// catches exceptions).
pub type rpcx_compress_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        input: *const u8,
        input_len: usize,
        max_output_len: usize,
        out: *mut rpcx_compress_output,
    ) -> c_int,
>;

type CompressFn =
    unsafe extern "C" fn(*mut c_void, *const u8, usize, usize, *mut rpcx_compress_output) -> c_int;

struct CCompressor {
    compress: CompressFn,
    decompress: CompressFn,
    user_data: UserData,
    // Runs the finalizer once this compressor is dropped (replaced or unregistered, and no
    // frame is using it any more).
    _finalizer: Finalizer,
}

impl CCompressor {
    fn call(&self, f: CompressFn, data: &[u8], max: usize) -> Result<Vec<u8>, CompressorError> {
        let mut out = rpcx_compress_output {
            buf: Vec::new(),
            max,
            over: false,
            error: None,
        };
        let input = if data.is_empty() {
            std::ptr::null()
        } else {
            data.as_ptr()
        };
        let ud = self.user_data.0;
        let out_ptr: *mut rpcx_compress_output = &mut out;
        let rc = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `f` is the C callback registered with `ud`; `input` points to
            // `data.len()` bytes (or is NULL for none) alive during the call; `out_ptr` points
            // to `out`, alive and not otherwise borrowed during the call.
            unsafe { f(ud, input, data.len(), max, out_ptr) }
        }))
        .map_err(|p| CompressorError::Failed(crate::guard::panic_text(&*p)))?;
        if out.over || rc == RPCX_COMPRESS_TOO_LARGE {
            return Err(CompressorError::TooLarge);
        }
        if rc != RPCX_COMPRESS_OK {
            return Err(CompressorError::Failed(out.error.unwrap_or_else(|| {
                format!("compressor callback failed (returned {rc})")
            })));
        }
        Ok(out.buf)
    }
}

impl Compressor for CCompressor {
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressorError> {
        self.call(self.compress, data, usize::MAX)
    }

    fn decompress(&self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CompressorError> {
        self.call(self.decompress, data, max_len)
    }
}

fn to_compress_type(n: u8) -> Result<CompressType, Failure> {
    CompressType::new(n).ok_or_else(|| invalid_arg(format!("rpcx: compress type {n} is not 0-7")))
}

fn registrable(n: u8) -> Result<CompressType, Failure> {
    let ct = to_compress_type(n)?;
    if ct.value() < 2 {
        return Err(invalid_arg(format!(
            "rpcx: compress type {n} is built in (0 none, 1 gzip); register at 2-7"
        )));
    }
    Ok(ct)
}

/// Registers a compressor for `compress_type` (2–7) process-wide, for every server, client
/// and XClient of this process (Go's `protocol.Compressors[t] = c`): frames of that type are
/// compressed with `compress` and decompressed with `decompress` (see `rpcx_compress_fn`),
/// both called with `user_data`. Replaces the compressor registered before at that type,
/// snappy at 2 included.
///
/// `finalizer` (may be NULL) is called with `user_data` exactly once, after the last call of
/// either callback: when this compressor has been replaced or unregistered and no frame is
/// being encoded or decoded with it any more, on whichever thread finishes last (the caller's
/// or an rpcx runtime thread). It is also called, before this returns, when the registration
/// is refused. rpcx never frees `user_data` itself.
///
/// Errors: `RPCX_ERR_NULL_ARG` when `compress` or `decompress` is NULL;
/// `RPCX_ERR_INVALID_ARG` when `compress_type` is 0, 1 (built in) or above 7. A message is
/// stored in `*err_out` when `err_out` is not NULL (free it with `rpcx_error_free`).
/// Thread-safe; takes effect for the next frame on every connection.
#[no_mangle]
pub extern "C" fn rpcx_register_compressor(
    compress_type: u8,
    compress: rpcx_compress_fn,
    decompress: rpcx_compress_fn,
    user_data: *mut c_void,
    finalizer: rpcx_finalizer,
    err_out: Option<&mut *mut crate::rpcx_error>,
) -> rpcx_status {
    let fin = Finalizer::new(user_data, finalizer);
    run(err_out, move || {
        let ct = registrable(compress_type)?;
        let compress = compress.ok_or_else(|| crate::guard::null_arg("compress"))?;
        let decompress = decompress.ok_or_else(|| crate::guard::null_arg("decompress"))?;
        let c = CCompressor {
            compress,
            decompress,
            user_data: UserData(user_data),
            _finalizer: fin,
        };
        register_compressor(ct, Arc::new(c)).map_err(|e| invalid_arg(format!("rpcx: {e}")))?;
        Ok(())
    })
}

/// Removes the compressor registered at `compress_type` (2–7, snappy at 2 included): frames
/// of that type are then refused as an unsupported compressor, and clients set to send it
/// fail to connect with `RPCX_ERR_CONFIG`. A C compressor's finalizer runs once no frame uses
/// it any more (see `rpcx_register_compressor`).
///
/// Errors: `RPCX_ERR_INVALID_ARG` for 0, 1 or above 7; `RPCX_ERR_NOT_FOUND` when nothing is
/// registered there. Thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_unregister_compressor(compress_type: u8) -> rpcx_status {
    run(None, || {
        let ct = registrable(compress_type)?;
        match unregister_compressor(ct) {
            Some(_) => Ok(()),
            None => Err(Failure::new(
                rpcx_status::RPCX_ERR_NOT_FOUND,
                format!("rpcx: no compressor registered at {compress_type}"),
            )),
        }
    })
}

/// True when frames of `compress_type` can be sent and received now: 0 (none), 1 (gzip), or a
/// type with a registered compressor (2, snappy, in librpcx's default build). False above 7.
/// Never fails; thread-safe.
#[no_mangle]
pub extern "C" fn rpcx_compressor_available(compress_type: u8) -> bool {
    run_or(false, || {
        CompressType::new(compress_type).is_some_and(is_compress_type_supported)
    })
}

/// Appends a copy of `data[0..len)` to the output of the running compressor callback
/// (`data` may be NULL when `len` is 0; it stays the caller's).
///
/// Errors: `RPCX_ERR_NULL_ARG` when `out` is NULL (or `data` with `len > 0`);
/// `RPCX_ERR_PROTOCOL` when the output would pass the callback's `max_output_len`: nothing is
/// appended, and the frame is refused as over the decompressed-size limit whatever the
/// callback returns. Call it only from the callback that received `out`, on its thread.
#[no_mangle]
pub extern "C" fn rpcx_compress_output_write(
    out: Option<&mut rpcx_compress_output>,
    data: *const u8,
    len: usize,
) -> rpcx_status {
    run(None, || {
        let out = req_mut(out, "out")?;
        // SAFETY: per this function's contract `data` points to `len` readable bytes.
        let data = unsafe { bytes(data, len, "data") }?;
        if out.over || data.len() > out.max - out.buf.len() {
            out.over = true;
            return Err(Failure::new(
                rpcx_status::RPCX_ERR_PROTOCOL,
                format!(
                    "rpcx: compressor output over the limit of {} bytes",
                    out.max
                ),
            ));
        }
        out.buf.try_reserve(data.len()).map_err(|_| {
            Failure::new(
                rpcx_status::RPCX_ERR_PROTOCOL,
                "rpcx: compressor output: out of memory",
            )
        })?;
        out.buf.extend_from_slice(data);
        Ok(())
    })
}

/// Sets the error message reported when the running compressor callback returns a failure
/// (`message`: NUL-terminated UTF-8, copied; the last call wins). It ends up in the error
/// reply or the caller's `rpcx_error`, after `"compressor N failed: "`.
///
/// Errors: `RPCX_ERR_NULL_ARG` when `out` or `message` is NULL, `RPCX_ERR_INVALID_ARG` when
/// `message` is not UTF-8. Call it only from the callback that received `out`, on its thread.
#[no_mangle]
pub extern "C" fn rpcx_compress_output_set_error(
    out: Option<&mut rpcx_compress_output>,
    message: *const c_char,
) -> rpcx_status {
    run(None, || {
        let out = req_mut(out, "out")?;
        // SAFETY: per this function's contract `message` is NULL or a valid C string.
        let text = unsafe { cstr(message, "message") }?;
        out.error = Some(text.to_owned());
        Ok(())
    })
}

/// Compresses the payload of requests larger than `threshold` bytes with `compress_type`:
/// 0 (none, the default: no compression), 1 (gzip), 2 (snappy) or another registered type;
/// Go's threshold is 1024. The server answers a large reply with the same compress type. The
/// type must have a compressor when the client connects (`RPCX_ERR_CONFIG` from
/// `rpcx_client_connect` otherwise). Replaces `rpcx_client_options_set_gzip`'s setting.
///
/// Errors: `RPCX_ERR_NULL_ARG` when `opts` is NULL, `RPCX_ERR_INVALID_ARG` when
/// `compress_type` is above 7. Needs exclusive access to `opts`.
#[no_mangle]
pub extern "C" fn rpcx_client_options_set_compress(
    opts: Option<&mut rpcx_client_options>,
    compress_type: u8,
    threshold: usize,
) -> rpcx_status {
    run(None, || {
        let opts = req_mut(opts, "opts")?;
        let ct = to_compress_type(compress_type)?;
        opts.inner.compress_type = ct;
        opts.inner.compress_threshold = threshold;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn xor(
        _ud: *mut c_void,
        input: *const u8,
        len: usize,
        _max: usize,
        out: *mut rpcx_compress_output,
    ) -> c_int {
        let data: Vec<u8> = if len == 0 {
            Vec::new()
        } else {
            // SAFETY: rpcx passes `len` readable bytes.
            unsafe { std::slice::from_raw_parts(input, len) }
                .iter()
                .map(|b| b ^ 0x33)
                .collect()
        };
        // SAFETY: `out` is the live output of this call.
        match rpcx_compress_output_write(unsafe { out.as_mut() }, data.as_ptr(), data.len()) {
            rpcx_status::RPCX_OK => RPCX_COMPRESS_OK,
            _ => RPCX_COMPRESS_FAILED,
        }
    }

    unsafe extern "C" fn fail(
        _ud: *mut c_void,
        _input: *const u8,
        _len: usize,
        _max: usize,
        out: *mut rpcx_compress_output,
    ) -> c_int {
        // SAFETY: `out` is the live output of this call.
        let out = unsafe { out.as_mut() };
        rpcx_compress_output_set_error(out, c"broken input".as_ptr());
        7
    }

    static FINALIZED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    unsafe extern "C" fn count_finalize(_ud: *mut c_void) {
        FINALIZED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    #[test]
    fn callbacks_limits_errors_and_finalizer() {
        use rpcx_core::protocol::{decompress_limited, ProtocolError};
        let ct = CompressType::new(6).unwrap();
        let st = rpcx_register_compressor(
            6,
            Some(xor),
            Some(xor),
            std::ptr::null_mut(),
            Some(count_finalize),
            None,
        );
        assert_eq!(st, rpcx_status::RPCX_OK);
        assert!(rpcx_compressor_available(6));
        let z = rpcx_core::protocol::registered_compressor(ct)
            .unwrap()
            .compress(b"abc")
            .unwrap();
        assert_eq!(z, vec![b'a' ^ 0x33, b'b' ^ 0x33, b'c' ^ 0x33]);
        assert_eq!(decompress_limited(ct, &z, 3).unwrap(), b"abc");
        // A write past max_output_len: over the limit, whatever the callback returns.
        assert!(matches!(
            decompress_limited(ct, &z, 2),
            Err(ProtocolError::DecompressedTooLarge { max: 2 })
        ));
        // Replacing it finalizes the first registration's user data once.
        assert_eq!(
            rpcx_register_compressor(6, Some(fail), Some(fail), std::ptr::null_mut(), None, None),
            rpcx_status::RPCX_OK
        );
        assert_eq!(FINALIZED.load(std::sync::atomic::Ordering::SeqCst), 1);
        let e = decompress_limited(ct, b"x", 10).unwrap_err();
        assert_eq!(e.to_string(), "compressor 6 failed: broken input");
        assert_eq!(rpcx_unregister_compressor(6), rpcx_status::RPCX_OK);
        assert_eq!(
            rpcx_unregister_compressor(6),
            rpcx_status::RPCX_ERR_NOT_FOUND
        );
        assert!(!rpcx_compressor_available(6));
        // Refusals: built-in and out-of-range types, NULL callbacks; the finalizer still runs.
        for (t, c) in [
            (0u8, Some(xor as CompressFn)),
            (1, Some(xor)),
            (8, Some(xor)),
            (5, None),
        ] {
            let before = FINALIZED.load(std::sync::atomic::Ordering::SeqCst);
            let st = rpcx_register_compressor(
                t,
                c,
                Some(xor),
                std::ptr::null_mut(),
                Some(count_finalize),
                None,
            );
            let want = if c.is_none() {
                rpcx_status::RPCX_ERR_NULL_ARG
            } else {
                rpcx_status::RPCX_ERR_INVALID_ARG
            };
            assert_eq!(st, want, "type {t}");
            assert_eq!(
                FINALIZED.load(std::sync::atomic::Ordering::SeqCst),
                before + 1
            );
        }
        assert_eq!(
            rpcx_unregister_compressor(1),
            rpcx_status::RPCX_ERR_INVALID_ARG
        );
        assert!(rpcx_compressor_available(0) && rpcx_compressor_available(1));
        assert_eq!(
            rpcx_compressor_available(RPCX_COMPRESS_SNAPPY),
            cfg!(feature = "snappy")
        );
        assert!(!rpcx_compressor_available(8));
        assert_eq!(
            rpcx_compress_output_write(None, std::ptr::null(), 0),
            rpcx_status::RPCX_ERR_NULL_ARG
        );
        assert_eq!(
            rpcx_client_options_set_compress(None, 2, 0),
            rpcx_status::RPCX_ERR_NULL_ARG
        );
    }
}
