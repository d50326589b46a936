//! `rpcx_metadata`: a string map sent with requests and replies.

use std::os::raw::c_char;

use rpcx_core::protocol::Metadata;

use crate::guard::{cstr, req, req_mut, run, run_or};
use crate::status::rpcx_status;

/// A map of UTF-8 string keys to UTF-8 string values, kept sorted by key (byte order), one
/// value per key — the metadata of a request or a reply.
///
/// Not synchronised: functions taking a `const rpcx_metadata *` may run concurrently on the
/// same map, but `rpcx_metadata_set` and `rpcx_metadata_free` need exclusive access. Maps
/// borrowed from a request, a reply or an error are read-only.
#[derive(Debug, Default, Clone)]
pub struct rpcx_metadata {
    /// `(key, value)`, each stored with a trailing NUL so C can borrow it; sorted by key.
    entries: Vec<(String, String)>,
}

fn with_nul(s: &str) -> String {
    let mut z = String::with_capacity(s.len() + 1);
    z.push_str(s);
    z.push('\0');
    z
}

fn without_nul(z: &str) -> &str {
    &z[..z.len() - 1]
}

impl rpcx_metadata {
    /// A copy of core metadata.
    pub(crate) fn from_core(m: &Metadata) -> rpcx_metadata {
        // Metadata iterates in key order: already sorted.
        rpcx_metadata {
            entries: m.iter().map(|(k, v)| (with_nul(k), with_nul(v))).collect(),
        }
    }

    /// A copy as core metadata.
    pub(crate) fn to_core(&self) -> Metadata {
        self.entries
            .iter()
            .map(|(k, v)| (without_nul(k).to_owned(), without_nul(v).to_owned()))
            .collect()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| without_nul(k).cmp(key))
    }

    pub(crate) fn insert(&mut self, key: &str, value: &str) {
        match self.find(key) {
            Ok(i) => self.entries[i].1 = with_nul(value),
            Err(i) => self.entries.insert(i, (with_nul(key), with_nul(value))),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.find(key).ok().map(|i| self.entries[i].1.as_str())
    }
}

/// A new empty metadata map, owned by the caller: free it with `rpcx_metadata_free`.
/// Returns NULL only if rpcx failed internally.
#[no_mangle]
pub extern "C" fn rpcx_metadata_new() -> *mut rpcx_metadata {
    run_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::<rpcx_metadata>::default())
    })
}

/// Sets `key` to `value`, replacing any previous value. Both are NUL-terminated UTF-8
/// strings, copied; they may be empty.
///
/// Returns `RPCX_ERR_NULL_ARG` if any argument is NULL and `RPCX_ERR_INVALID_ARG` if a string
/// is not UTF-8 (the map is then unchanged). Needs exclusive access to `md`.
#[no_mangle]
pub extern "C" fn rpcx_metadata_set(
    md: Option<&mut rpcx_metadata>,
    key: *const c_char,
    value: *const c_char,
) -> rpcx_status {
    run(None, || {
        let md = req_mut(md, "md")?;
        // SAFETY: the caller passes NUL-terminated strings valid for the duration of the call.
        let (key, value) = unsafe { (cstr(key, "key")?, cstr(value, "value")?) };
        md.insert(key, value);
        Ok(())
    })
}

/// Looks `key` up. On success `*value_out` points to the value, NUL-terminated and borrowed
/// from `md`: valid until `md` is modified or freed; do not free it.
///
/// Returns `RPCX_ERR_NOT_FOUND` when the key is absent, `RPCX_ERR_NULL_ARG` when an argument
/// is NULL and `RPCX_ERR_INVALID_ARG` when `key` is not UTF-8; `*value_out` is written only on
/// success.
#[no_mangle]
pub extern "C" fn rpcx_metadata_get(
    md: Option<&rpcx_metadata>,
    key: *const c_char,
    value_out: Option<&mut *const c_char>,
) -> rpcx_status {
    run(None, || {
        let md = req(md, "md")?;
        // SAFETY: the caller passes a NUL-terminated string valid for the duration of the call.
        let key = unsafe { cstr(key, "key")? };
        let out = req_mut(value_out, "value_out")?;
        match md.get(key) {
            Some(v) => {
                *out = v.as_ptr().cast();
                Ok(())
            }
            None => Err(crate::error::Failure::new(
                rpcx_status::RPCX_ERR_NOT_FOUND,
                format!("rpcx: no metadata key {key:?}"),
            )),
        }
    })
}

/// The number of entries (0 when `md` is NULL).
#[no_mangle]
pub extern "C" fn rpcx_metadata_len(md: Option<&rpcx_metadata>) -> usize {
    run_or(0, || md.map_or(0, |m| m.entries.len()))
}

/// The entry at `index` (0 ≤ index < `rpcx_metadata_len(md)`), in key order. `*key_out` and
/// `*value_out` receive NUL-terminated strings borrowed from `md` (valid until it is modified
/// or freed); either out-pointer may be NULL to skip it.
///
/// Returns `RPCX_ERR_NOT_FOUND` when `index` is out of range and `RPCX_ERR_NULL_ARG` when `md`
/// is NULL; the out-parameters are written only on success. A value received from the
/// network that contains a NUL byte appears cut at that byte.
#[no_mangle]
pub extern "C" fn rpcx_metadata_at(
    md: Option<&rpcx_metadata>,
    index: usize,
    key_out: Option<&mut *const c_char>,
    value_out: Option<&mut *const c_char>,
) -> rpcx_status {
    run(None, || {
        let md = req(md, "md")?;
        let (k, v) = md.entries.get(index).ok_or_else(|| {
            crate::error::Failure::new(
                rpcx_status::RPCX_ERR_NOT_FOUND,
                format!("rpcx: metadata index {index} out of range"),
            )
        })?;
        if let Some(o) = key_out {
            *o = k.as_ptr().cast();
        }
        if let Some(o) = value_out {
            *o = v.as_ptr().cast();
        }
        Ok(())
    })
}

/// A copy of `md` (an empty map when `md` is NULL), owned by the caller: free it with
/// `rpcx_metadata_free`. Use it to keep a borrowed map (of a request, a reply, an error)
/// beyond its lifetime. Returns NULL only if rpcx failed internally.
#[no_mangle]
pub extern "C" fn rpcx_metadata_clone(md: Option<&rpcx_metadata>) -> *mut rpcx_metadata {
    run_or(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(md.cloned().unwrap_or_default()))
    })
}

/// Frees a map created by `rpcx_metadata_new` or `rpcx_metadata_clone`, or handed over by a
/// call (`reply_meta_out`). NULL is accepted and ignored. Never free a borrowed map (one
/// returned as `const rpcx_metadata *`).
#[no_mangle]
pub extern "C" fn rpcx_metadata_free(md: Option<Box<rpcx_metadata>>) {
    run_or((), || drop(md))
}
