//! Rust-side tests of the exports (the C programs in tests/c cover them from C).

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::handler::pending_responders;
use crate::rpcx_status::*;
use crate::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

unsafe extern "C" fn echo(_ud: *mut c_void, req: *const rpcx_request, resp: *mut rpcx_responder) {
    let mut len = 0usize;
    // SAFETY: `req` is the live request view of this callback.
    let req = unsafe { req.as_ref() };
    let data = rpcx_request_payload(req, Some(&mut len));
    let md = rpcx_metadata_new();
    // SAFETY: `md` was just created and is exclusively ours.
    let md_ref = unsafe { md.as_mut() };
    assert_eq!(
        rpcx_metadata_set(md_ref, c"k".as_ptr(), c"v".as_ptr()),
        RPCX_OK
    );
    // SAFETY: `md` is a valid map; converting it back into the Box frees it once.
    let (md_ref, md_box) = unsafe { (md.as_ref(), Box::from_raw(md)) };
    assert_eq!(rpcx_responder_reply(resp, data, len, md_ref), RPCX_OK);
    // A second completion is refused, not a crash.
    assert_eq!(
        rpcx_responder_reply(resp, ptr::null(), 0, None),
        RPCX_ERR_INVALID_STATE
    );
    rpcx_metadata_free(Some(md_box));
}

unsafe extern "C" fn fail(_ud: *mut c_void, _req: *const rpcx_request, resp: *mut rpcx_responder) {
    let payload = b"zero";
    assert_eq!(
        rpcx_responder_error(resp, c"boom: Ünïcode".as_ptr(), payload.as_ptr(), 4),
        RPCX_OK
    );
}

/// Keeps the responder for the test to complete from its own thread.
unsafe extern "C" fn park(ud: *mut c_void, _req: *const rpcx_request, resp: *mut rpcx_responder) {
    // SAFETY: `ud` is the `mpsc::Sender<usize>` the test registered; it outlives the server.
    let tx = unsafe { &*(ud as *const mpsc::Sender<usize>) };
    // Nobody listens once the test has taken its one responder: keep the call pending.
    let _ = tx.send(resp as usize);
}

static FINALIZED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_final(_ud: *mut c_void) {
    FINALIZED.fetch_add(1, Ordering::SeqCst);
}

/// A counter of its own, so tests running in parallel do not see each other's finalizers.
unsafe extern "C" fn count_into(ud: *mut c_void) {
    // SAFETY: `ud` is the `AtomicUsize` the test registered; it outlives the call.
    unsafe { &*(ud as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
}

fn start_server(parked: *mut c_void) -> (*mut rpcx_server, String) {
    let mut server: *mut rpcx_server = ptr::null_mut();
    assert_eq!(rpcx_server_new(None, Some(&mut server)), RPCX_OK);
    // SAFETY: `server` was just created.
    let s = unsafe { server.as_ref() };
    let fin: rpcx_finalizer = Some(count_final);
    assert_eq!(
        rpcx_server_register(
            s,
            c"T".as_ptr(),
            c"Echo".as_ptr(),
            Some(echo),
            ptr::null_mut(),
            fin
        ),
        RPCX_OK
    );
    assert_eq!(
        rpcx_server_register(
            s,
            c"T".as_ptr(),
            c"Fail".as_ptr(),
            Some(fail),
            ptr::null_mut(),
            fin
        ),
        RPCX_OK
    );
    assert_eq!(
        rpcx_server_register(s, c"T".as_ptr(), c"Park".as_ptr(), Some(park), parked, fin),
        RPCX_OK
    );
    let mut port = 0u16;
    assert_eq!(
        rpcx_server_start(s, c"tcp@127.0.0.1:0".as_ptr(), Some(&mut port), None),
        RPCX_OK
    );
    assert_ne!(port, 0);
    // SAFETY: the address is a NUL-terminated string owned by the running server.
    let addr = unsafe { CStr::from_ptr(rpcx_server_address(s)) };
    assert!(addr.to_str().unwrap().ends_with(&format!(":{port}")));
    (server, format!("tcp@127.0.0.1:{port}"))
}

fn connect(addr: &str) -> *mut rpcx_client {
    let mut client: *mut rpcx_client = ptr::null_mut();
    let a = c(addr);
    assert_eq!(
        rpcx_client_connect(a.as_ptr(), None, Some(&mut client), None),
        RPCX_OK
    );
    client
}

#[test]
fn server_and_client_through_the_exports() {
    let (tx, rx) = mpsc::channel::<usize>();
    let parked = &tx as *const mpsc::Sender<usize> as *mut c_void;
    let (server, addr) = start_server(parked);
    let client = connect(&addr);
    // SAFETY: both objects are live until freed at the end of the test.
    let (s, cl) = unsafe { (server.as_ref(), client.as_ref()) };

    // Echo with metadata back.
    let mut reply = rpcx_buf {
        data: ptr::null(),
        len: 0,
        owner: ptr::null_mut(),
    };
    let mut meta: *mut rpcx_metadata = ptr::null_mut();
    let st = rpcx_client_call(
        cl,
        c"T".as_ptr(),
        c"Echo".as_ptr(),
        b"hello".as_ptr(),
        5,
        None,
        0,
        Some(&mut reply),
        Some(&mut meta),
        None,
    );
    assert_eq!(st, RPCX_OK);
    // SAFETY: `reply` describes `len` bytes owned by the buffer until freed.
    assert_eq!(
        unsafe { std::slice::from_raw_parts(reply.data, reply.len) },
        b"hello"
    );
    rpcx_buf_free(Some(&mut reply));
    rpcx_buf_free(Some(&mut reply));
    assert!(reply.owner.is_null());
    let mut v: *const c_char = ptr::null();
    // SAFETY: `meta` was handed over by the call.
    let meta_box = unsafe { Box::from_raw(meta) };
    assert_eq!(
        rpcx_metadata_get(Some(&meta_box), c"k".as_ptr(), Some(&mut v)),
        RPCX_OK
    );
    // SAFETY: `v` borrows from the live map.
    assert_eq!(unsafe { CStr::from_ptr(v) }, c"v");
    rpcx_metadata_free(Some(meta_box));

    // A service error keeps its text and payload.
    let mut err: *mut rpcx_error = ptr::null_mut();
    let st = rpcx_client_call(
        cl,
        c"T".as_ptr(),
        c"Fail".as_ptr(),
        ptr::null(),
        0,
        None,
        0,
        None,
        None,
        Some(&mut err),
    );
    assert_eq!(st, RPCX_ERR_SERVER);
    // SAFETY: `err` was handed over by the failed call.
    let e = unsafe { err.as_ref() };
    assert_eq!(rpcx_error_code(e), RPCX_ERR_SERVER);
    let mut len = 0;
    // SAFETY: the message is NUL-terminated and borrowed from `e`.
    let msg = unsafe { CStr::from_ptr(rpcx_error_message(e, Some(&mut len))) };
    assert_eq!(msg.to_str().unwrap(), "boom: Ünïcode");
    assert_eq!(len, msg.to_bytes().len());
    let p = rpcx_error_payload(e, Some(&mut len));
    // SAFETY: `len` bytes at `p`, borrowed from `e`.
    assert_eq!(unsafe { std::slice::from_raw_parts(p, len) }, b"zero");
    // SAFETY: `err` came from Box::into_raw.
    rpcx_error_free(Some(unsafe { Box::from_raw(err) }));

    // A parked call answered from another thread; a late second answer is refused.
    let t = std::thread::spawn(move || {
        let id = rx.recv().unwrap();
        let r = id as *mut rpcx_responder;
        assert_eq!(rpcx_responder_reply(r, b"late".as_ptr(), 4, None), RPCX_OK);
        assert_eq!(
            rpcx_responder_reply(r, ptr::null(), 0, None),
            RPCX_ERR_INVALID_STATE
        );
        rpcx_responder_free(r);
    });
    let st = rpcx_client_call(
        cl,
        c"T".as_ptr(),
        c"Park".as_ptr(),
        ptr::null(),
        0,
        None,
        5000,
        Some(&mut reply),
        None,
        None,
    );
    assert_eq!(st, RPCX_OK);
    assert_eq!(reply.len, 4);
    rpcx_buf_free(Some(&mut reply));
    t.join().unwrap();

    // Async calls: one answered, one closed by the client's close.
    static DONE: AtomicUsize = AtomicUsize::new(0);
    static CLOSED: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn on_done(
        _ud: *mut c_void,
        _id: u64,
        status: rpcx_status,
        _reply: *const u8,
        _len: usize,
        _meta: *const rpcx_metadata,
        _err: *const rpcx_error,
    ) {
        match status {
            RPCX_OK => DONE.fetch_add(1, Ordering::SeqCst),
            RPCX_ERR_CLOSED => CLOSED.fetch_add(1, Ordering::SeqCst),
            other => panic!("unexpected {other:?}"),
        };
    }
    let mut id = 0u64;
    let st = rpcx_client_call_async(
        cl,
        c"T".as_ptr(),
        c"Echo".as_ptr(),
        b"x".as_ptr(),
        1,
        None,
        0,
        Some(on_done),
        ptr::null_mut(),
        Some(&mut id),
    );
    assert_eq!(st, RPCX_OK);
    assert_ne!(id, 0);
    while DONE.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(rpcx_client_cancel(cl, id), RPCX_ERR_NOT_FOUND);
    let st = rpcx_client_call_async(
        cl,
        c"T".as_ptr(),
        c"Park".as_ptr(),
        ptr::null(),
        0,
        None,
        0,
        Some(on_done),
        ptr::null_mut(),
        None,
    );
    assert_eq!(st, RPCX_OK);
    // Nobody takes this responder: wait until the handler holds it.
    while pending_responders() == 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(rpcx_client_close(cl), RPCX_OK);
    assert_eq!(CLOSED.load(Ordering::SeqCst), 1);
    assert_eq!(rpcx_client_pending(cl), 0);

    // SAFETY: both pointers came from Box::into_raw and are freed once.
    unsafe {
        rpcx_client_free(Some(Box::from_raw(client)));
        let before = FINALIZED.load(Ordering::SeqCst);
        assert_eq!(rpcx_server_shutdown(s, 100), RPCX_OK);
        rpcx_server_free(Some(Box::from_raw(server)));
        assert_eq!(FINALIZED.load(Ordering::SeqCst), before + 3);
    }
    drop(tx);
}

#[test]
fn null_and_invalid_arguments() {
    assert_eq!(
        rpcx_metadata_set(None, c"a".as_ptr(), c"b".as_ptr()),
        RPCX_ERR_NULL_ARG
    );
    let mut md = rpcx_metadata::default();
    assert_eq!(
        rpcx_metadata_set(Some(&mut md), ptr::null(), c"b".as_ptr()),
        RPCX_ERR_NULL_ARG
    );
    let bad = [0xffu8, 0xfe, 0];
    assert_eq!(
        rpcx_metadata_set(Some(&mut md), bad.as_ptr().cast(), c"b".as_ptr()),
        RPCX_ERR_INVALID_ARG
    );
    assert_eq!(rpcx_metadata_len(Some(&md)), 0);
    let mut err: *mut rpcx_error = ptr::null_mut();
    let st = rpcx_client_connect(ptr::null(), None, None, Some(&mut err));
    assert_eq!(st, RPCX_ERR_NULL_ARG);
    // SAFETY: `err` was handed over by the failed call.
    let e = unsafe { Box::from_raw(err) };
    assert_eq!(rpcx_error_code(Some(&e)), RPCX_ERR_NULL_ARG);
    rpcx_error_free(Some(e));
    assert_eq!(rpcx_runtime_set_worker_threads(0), RPCX_ERR_INVALID_ARG);
    // SAFETY: status strings are static and NUL-terminated.
    unsafe {
        assert_eq!(CStr::from_ptr(rpcx_status_str(4)), c"call timed out");
        assert_eq!(
            CStr::from_ptr(rpcx_status_str(-1)),
            c"unrecognised status code"
        );
        assert_eq!(
            CStr::from_ptr(rpcx_version()).to_str().unwrap(),
            env!("CARGO_PKG_VERSION")
        );
    }
    // Registration failures still run the finalizer, once.
    let finalized = AtomicUsize::new(0);
    assert_eq!(
        rpcx_server_register(
            None,
            c"S".as_ptr(),
            c"M".as_ptr(),
            Some(echo),
            &finalized as *const AtomicUsize as *mut c_void,
            Some(count_into)
        ),
        RPCX_ERR_NULL_ARG
    );
    assert_eq!(finalized.load(Ordering::SeqCst), 1);
}

unsafe extern "C" fn pick_last(
    ud: *mut c_void,
    _service: *const c_char,
    _method: *const c_char,
    _args: *const u8,
    _args_len: usize,
    _servers: *const rpcx_server_entry,
    n: usize,
) -> i64 {
    // SAFETY: `ud` is the test's `AtomicUsize`, alive until its finalizer ran.
    unsafe { &*(ud as *const AtomicUsize) }.fetch_add(100, Ordering::SeqCst);
    n as i64 - 1
}

#[test]
fn xclient_through_the_exports() {
    let mut server: *mut rpcx_server = ptr::null_mut();
    assert_eq!(rpcx_server_new(None, Some(&mut server)), RPCX_OK);
    // SAFETY: `server` is live until freed below.
    let s = unsafe { server.as_ref() };
    let reg = rpcx_server_register(
        s,
        c"T".as_ptr(),
        c"Echo".as_ptr(),
        Some(echo),
        ptr::null_mut(),
        None,
    );
    assert_eq!(reg, RPCX_OK);
    let mut port = 0u16;
    let st = rpcx_server_start(s, c"tcp@127.0.0.1:0".as_ptr(), Some(&mut port), None);
    assert_eq!(st, RPCX_OK);
    let live = c(&format!("tcp@127.0.0.1:{port}"));
    let entries = [
        rpcx_server_entry {
            address: live.as_ptr(),
            metadata: ptr::null(),
        },
        rpcx_server_entry {
            address: c"tcp@127.0.0.1:1".as_ptr(),
            metadata: c"weight=1".as_ptr(),
        },
    ];
    let mut d: *mut rpcx_discovery = ptr::null_mut();
    assert_eq!(
        rpcx_discovery_new_multiple(entries.as_ptr(), 2, Some(&mut d)),
        RPCX_OK
    );
    // SAFETY: `d` is live until freed below.
    let dr = unsafe { d.as_ref() };
    assert_eq!(rpcx_discovery_len(dr), 2);

    // A selector that picks the last server of the sorted list.
    let counter = AtomicUsize::new(0);
    let ud = &counter as *const AtomicUsize as *mut c_void;
    let opts = rpcx_xclient_options_new();
    // SAFETY: `opts` is live and exclusively ours until freed.
    let o = unsafe { opts.as_mut() };
    assert_eq!(
        rpcx_xclient_options_set_selector(o, Some(pick_last), ud, Some(count_into)),
        RPCX_OK
    );
    // SAFETY: as above.
    let o = unsafe { opts.as_mut() };
    assert_eq!(
        rpcx_xclient_options_set_fail_mode(o, 9),
        RPCX_ERR_INVALID_ARG
    );
    let mut xc: *mut rpcx_xclient = ptr::null_mut();
    // SAFETY: as above.
    let o = unsafe { opts.as_ref() };
    assert_eq!(
        rpcx_xclient_new(c"T".as_ptr(), dr, o, Some(&mut xc), None),
        RPCX_OK
    );
    // SAFETY: `opts` came from rpcx_xclient_options_new and is freed once.
    rpcx_xclient_options_free(Some(unsafe { Box::from_raw(opts) }));
    // SAFETY: `d` likewise.
    rpcx_discovery_free(Some(unsafe { Box::from_raw(d) }));
    // SAFETY: `xc` is live until freed below.
    let x = unsafe { xc.as_ref() };
    assert_eq!(rpcx_xclient_server_count(x), 2);

    // "tcp@127.0.0.1:1" < "tcp@127.0.0.1:<port>" when the port's first digit is > 1 or the
    // port has more digits; ephemeral ports always do. The selector picks the live one.
    let mut reply = rpcx_buf {
        data: ptr::null(),
        len: 0,
        owner: ptr::null_mut(),
    };
    let st = rpcx_xclient_call(
        x,
        c"Echo".as_ptr(),
        b"xc".as_ptr(),
        2,
        None,
        0,
        Some(&mut reply),
        None,
        None,
    );
    assert_eq!(st, RPCX_OK);
    // SAFETY: `reply` describes `len` bytes until freed.
    assert_eq!(
        unsafe { std::slice::from_raw_parts(reply.data, reply.len) },
        b"xc"
    );
    rpcx_buf_free(Some(&mut reply));
    assert!(counter.load(Ordering::SeqCst) >= 100);

    // NULL arguments give statuses.
    assert_eq!(rpcx_xclient_close(None), RPCX_ERR_NULL_ARG);
    assert_eq!(
        rpcx_xclient_send(x, ptr::null(), ptr::null(), 0, None, None),
        RPCX_ERR_NULL_ARG
    );
    assert_eq!(
        rpcx_discovery_update(None, ptr::null(), 0),
        RPCX_ERR_NULL_ARG
    );
    assert_eq!(rpcx_xclient_close(x), RPCX_OK);
    let st = rpcx_xclient_call(
        x,
        c"Echo".as_ptr(),
        ptr::null(),
        0,
        None,
        0,
        None,
        None,
        None,
    );
    assert_eq!(st, RPCX_ERR_CLOSED);
    // The finalizer runs exactly once, when the last holder (the XClient) goes.
    assert_eq!(counter.load(Ordering::SeqCst) % 100, 0);
    // SAFETY: `xc` came from rpcx_xclient_new and is freed once.
    rpcx_xclient_free(Some(unsafe { Box::from_raw(xc) }));
    assert_eq!(counter.load(Ordering::SeqCst) % 100, 1);
    // SAFETY: `server` came from rpcx_server_new and is freed once.
    rpcx_server_free(Some(unsafe { Box::from_raw(server) }));
    // SAFETY: a static NUL-terminated string.
    assert_eq!(
        unsafe { CStr::from_ptr(rpcx_status_str(19)) },
        c"no server available"
    );
}

#[test]
fn token_insert_never_overwrites_a_live_slot() {
    use crate::handler::TokenMap;
    // Tokens of 32 bits, as on a 32-bit target: ids 2^32 + k map to token k.
    let map = TokenMap::<&str>::new(32);
    let one = map.insert("first");
    assert_eq!(one, 1);
    let two = map.insert("second");
    assert_eq!(two, 2);
    // The 64-bit ids wrap around the token space: 2^32 maps to 0 (NULL, skipped), 2^32 + 1
    // and + 2 to the live tokens 1 and 2 (skipped), 2^32 + 3 is free.
    map.set_next_id(1 << 32);
    let third = map.insert("third");
    assert_eq!(third, 3);
    assert_eq!(map.take(one), Some("first"));
    assert_eq!(map.take(two), Some("second"));
    assert_eq!(map.take(third), Some("third"));
    // Token 1 is free again: the next wrap reuses it.
    map.set_next_id((2 << 32) + 1);
    assert_eq!(map.insert("fourth"), 1);
    assert_eq!(map.len(), 1);

    // Full-width tokens are the 64-bit ids themselves (on 64-bit targets).
    let wide = TokenMap::<u8>::new(usize::BITS);
    wide.set_next_id(u64::from(u32::MAX) + 5);
    let t = wide.insert(7);
    assert_eq!(t as u64, (u64::from(u32::MAX) + 5) & (usize::MAX as u64));
    assert_eq!(wide.take(t), Some(7));
    assert_eq!(wide.take(t), None);
}

#[test]
fn extensible_limits() {
    // Defaults, and struct_size written.
    let mut l = std::mem::MaybeUninit::<rpcx_limits>::zeroed();
    let size = size_of::<rpcx_limits>();
    assert_eq!(rpcx_limits_init(l.as_mut_ptr(), size), RPCX_OK);
    // SAFETY: fully initialised by rpcx_limits_init.
    let l = unsafe { l.assume_init() };
    assert_eq!(l.struct_size, size);
    assert_eq!(l.max_frame_len, 16 << 20);
    assert_eq!(l.max_metadata_entries, 256);
    assert_eq!(rpcx_limits_init(ptr::null_mut(), size), RPCX_ERR_NULL_ARG);

    let mut opts = rpcx_server_options::default();
    assert_eq!(rpcx_server_options_set_limits(Some(&mut opts), &l), RPCX_OK);
    // struct_size 0 (not initialised), too small, absurd: refused.
    for bad in [0, size - 1, 1 << 20] {
        let b = rpcx_limits {
            struct_size: bad,
            ..l
        };
        assert_eq!(
            rpcx_server_options_set_limits(Some(&mut opts), &b),
            RPCX_ERR_INVALID_ARG,
            "struct_size {bad}"
        );
    }
    // A newer header's struct: unknown trailing bytes zeroed by init, accepted while zero.
    #[repr(C)]
    struct Newer {
        known: rpcx_limits,
        future: u64,
    }
    let mut n = Newer {
        known: l,
        future: u64::MAX,
    };
    assert_eq!(rpcx_limits_init(&mut n.known, size_of::<Newer>()), RPCX_OK);
    assert_eq!((n.known.struct_size, n.future), (size_of::<Newer>(), 0));
    n.known.max_frame_len = 1024;
    assert_eq!(
        rpcx_server_options_set_limits(Some(&mut opts), &n.known),
        RPCX_OK
    );
    assert_eq!(opts.inner.limits.max_frame_len, 1024);
    n.future = 1;
    assert_eq!(
        rpcx_server_options_set_limits(Some(&mut opts), &n.known),
        RPCX_ERR_INVALID_ARG
    );
}

#[test]
fn version_number_matches_the_crate_version() {
    let v: Vec<u32> = env!("CARGO_PKG_VERSION")
        .split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(rpcx_version_number(), v[0] * 10000 + v[1] * 100 + v[2]);
}

static REENTERED: AtomicUsize = AtomicUsize::new(0);

/// A finalizer that calls back into the server it was registered with (`ud`).
unsafe extern "C" fn reentering_finalizer(ud: *mut c_void) {
    // SAFETY: `ud` is the test's live server.
    let server = unsafe { (ud as *const rpcx_server).as_ref() };
    let st = rpcx_server_set_service_metadata(server, c"S".as_ptr(), c"w=1".as_ptr());
    assert_eq!(st, RPCX_OK);
    REENTERED.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn accept(
    _ud: *mut c_void,
    _service: *const c_char,
    _method: *const c_char,
    _token: *const c_char,
    _peer: *const c_char,
    _message: *mut c_char,
    _cap: usize,
) -> std::os::raw::c_int {
    1
}

#[test]
fn replaced_auth_finalizer_may_reenter_the_server() {
    let mut server: *mut rpcx_server = ptr::null_mut();
    assert_eq!(rpcx_server_new(None, Some(&mut server)), RPCX_OK);
    let (done_tx, done_rx) = mpsc::channel();
    let addr = server as usize;
    std::thread::spawn(move || {
        let ud = addr as *mut c_void;
        // SAFETY: the server outlives this thread's use of it (the test waits for `done`).
        let s = unsafe { (addr as *const rpcx_server).as_ref() };
        let fin: rpcx_finalizer = Some(reentering_finalizer);
        assert_eq!(rpcx_server_set_auth(s, Some(accept), ud, fin), RPCX_OK);
        // Replacing runs the first finalizer, which calls back into the server.
        assert_eq!(rpcx_server_set_auth(s, Some(accept), ud, None), RPCX_OK);
        let _ = done_tx.send(());
    });
    // A deadlock fails the test instead of hanging it.
    done_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the finalizer calling back into the server deadlocked");
    assert_eq!(REENTERED.load(Ordering::SeqCst), 1);
    // SAFETY: `server` came from rpcx_server_new and is freed once.
    rpcx_server_free(Some(unsafe { Box::from_raw(server) }));
}

/// Every runtime start goes through `crate::runtime` (the gate that makes
/// `rpcx_runtime_set_worker_threads` atomic with respect to the start): no other module calls
/// the core's runtime accessors or the blocking facades that start it.
#[test]
fn only_the_gate_starts_the_runtime() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "runtime.rs" || name == "tests.rs" || !name.ends_with(".rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for banned in ["rpcx_core::runtime::", "rpcx_core::blocking::"] {
            assert!(
                !text.contains(banned),
                "{name} uses {banned}: go through crate::runtime"
            );
        }
        checked += 1;
    }
    assert!(checked > 10);
}
