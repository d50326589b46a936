/*
 * librpcx — the C API of rpcx, an RPC framework wire-compatible with Go's
 * github.com/smallnest/rpcx.
 *
 * Conventions
 * -----------
 * - Names are rpcx_<type>_<verb>. Objects are opaque and created/freed only by rpcx:
 *   rpcx_server, rpcx_client, rpcx_discovery, rpcx_xclient, rpcx_metadata, rpcx_error, the
 *   option objects. A `*_free`
 *   function accepts NULL. Strings are NUL-terminated UTF-8 (otherwise RPCX_ERR_INVALID_ARG).
 * - Every fallible function returns an rpcx_status: RPCX_OK (0) or an error code. Its
 *   out-parameters are written only on success ("no partial success"). Functions taking an
 *   `rpcx_error **err_out` store a detailed error there on failure when err_out is not NULL;
 *   the caller frees it with rpcx_error_free.
 * - NULL for a required pointer gives RPCX_ERR_NULL_ARG, never a crash. A panic inside rpcx
 *   gives RPCX_ERR_PANIC. Dangling pointers and use after free remain undefined behaviour.
 * - `const` on a handle (`const rpcx_client *`) means the function needs no exclusive access
 *   to it — it may run concurrently with other such calls on thread-safe objects — not that
 *   the object does not change (rpcx_client_close takes a const handle). Functions that need
 *   exclusive access take a non-const pointer (the option setters, rpcx_metadata_set, every
 *   `*_free`).
 * - Borrowed input buffers are (const uint8_t *ptr, size_t len), copied before the function
 *   returns (ptr may be NULL when len is 0). Bytes handed to the caller come as an rpcx_buf,
 *   released with rpcx_buf_free.
 * - Structs the caller fills: option objects are opaque with setters. A struct passed by
 *   pointer that may grow in later versions (rpcx_limits) is extensible: it starts with
 *   `size_t struct_size` and is initialised with its `*_init(&s, sizeof s)` function (defaults
 *   and struct_size); rpcx reads exactly struct_size bytes, refuses a struct_size of 0 or
 *   below the first version (RPCX_ERR_INVALID_ARG), fills fields an older header lacks with
 *   defaults, and accepts fields of a newer header only while they are zero. rpcx_buf and
 *   rpcx_server_entry are frozen: they never change.
 * - Versions: RPCX_VERSION_MAJOR/_MINOR/_PATCH and RPCX_VERSION describe this header;
 *   rpcx_version() and rpcx_version_number() the library at run time. The shared library's
 *   SONAME is librpcx.so.<major>; before 1.0 a minor release may change the ABI.
 * - rpcx_status is 32 bits wide whatever the compiler's enum size; new codes may appear.
 *
 * Threads
 * -------
 * rpcx runs one shared runtime with worker threads (rpcx_runtime_set_worker_threads; one per
 * CPU by default), started lazily by the first rpcx_server_start, rpcx_client_connect or
 * XClient, and running until the process exits. Handler, auth and observer callbacks run on
 * these threads. An async call's callback runs on them too, except when the call is completed
 * by rpcx_client_cancel / _close / _free (or the rpcx_xclient_ ones): then it runs on the
 * thread calling those, before they return. An XClient selector callback runs on them or on
 * the thread of a blocking XClient call. Callbacks must not block for long: hand slow work to
 * your own pool and reply via the responder (a handler that never returns is abandoned by
 * rpcx_server_shutdown / _free after a bound, its thread left inside it). Blocking
 * functions (rpcx_client_connect, rpcx_client_call, rpcx_client_send, rpcx_server_start,
 * rpcx_server_shutdown, rpcx_xclient_call, _broadcast, _fork, _send,
 * rpcx_discovery_new_etcd, _consul, rpcx_server_add_etcd_registry, _consul_registry and
 * their _tls variants) called on a runtime thread return RPCX_ERR_BLOCKING_IN_RUNTIME.
 * rpcx_server, rpcx_client, rpcx_discovery and rpcx_xclient are thread-safe (except their
 * *_free); rpcx_metadata and the option objects are not synchronised; rpcx_error is
 * immutable. No rpcx function is async-signal-safe: do not call one from a signal handler.
 *
 * Callbacks and userdata
 * ----------------------
 * A handler, auth or selector callback is registered with `void *userdata` and an optional finalizer:
 * the finalizer runs exactly once, after the last possible call of the callback (for a
 * callback that never returns, never: see rpcx_server_free). A finalizer may call rpcx
 * functions, including on the object it was registered with while that object is alive. An
 * async call's callback runs exactly once per call that was started successfully. Callbacks
 * must return normally: no C++ exception or longjmp may leave them (bindings/cpp/rpcx.hpp
 * catches exceptions in its trampolines).
 *
 * Process lifetime: fork, dlclose, exit
 * -------------------------------------
 * - fork(): the runtime's threads are not copied into a child. A child forked before the
 *   runtime started (only options, metadata, unstarted servers exist) may use rpcx normally.
 *   A child forked after it started must not call any rpcx function — not even *_free, which
 *   may wait for threads that do not exist there — and should only exec or _exit. Sockets
 *   rpcx opens are close-on-exec. There are no pthread_atfork handlers.
 * - dlclose(): librpcx is linked with -z nodelete, so dlclose never unloads it (its runtime
 *   threads run its code until the process exits); load it once and keep it.
 * - Cleanup: there is no global init or cleanup function. Before the process exits, free what
 *   you created (clients and XClients first: their pending callbacks complete; then servers:
 *   their finalizers run), or leave it to the exit: the runtime's threads are never joined.
 *   Do not call rpcx from atexit handlers or static destructors, which may run while rpcx's
 *   threads still call your callbacks.
 */


#ifndef RPCX_H
#define RPCX_H

/* Generated with cbindgen:0.29.4 */

/* Generated by cbindgen from rpcx-ffi/src. Do not edit: run scripts/gen-header.sh. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/** The major version of this header (librpcx's SONAME is librpcx.so.<major>). */
#define RPCX_VERSION_MAJOR 0
/** The minor version of this header. */
#define RPCX_VERSION_MINOR 1
/** The patch version of this header. */
#define RPCX_VERSION_PATCH 0
/** The version of this header as a string, "major.minor.patch"; rpcx_version() is the library's. */
#define RPCX_VERSION "0.1.0"
/** The version of this header as one number, as rpcx_version_number() gives the library's:
 * major * 10000 + minor * 100 + patch. */
#define RPCX_VERSION_NUMBER (RPCX_VERSION_MAJOR * 10000 + RPCX_VERSION_MINOR * 100 + RPCX_VERSION_PATCH)


/**
 * Compress type 0: no compression.
 */
#define RPCX_COMPRESS_NONE 0

/**
 * Compress type 1: gzip (built in).
 */
#define RPCX_COMPRESS_GZIP 1

/**
 * Compress type 2: snappy, the framed format of Go rpcx's `protocol.SnappyCompressor` (a Go
 * peer registers it at 2: `protocol.Compressors[2] = &protocol.SnappyCompressor{}`).
 * Registered from the start when librpcx is built with snappy (the default build); check
 * with `rpcx_compressor_available`.
 */
#define RPCX_COMPRESS_SNAPPY 2

/**
 * What an `rpcx_compress_fn` returns: success; the output is what was written to `out`.
 */
#define RPCX_COMPRESS_OK 0

/**
 * What an `rpcx_compress_fn` returns when the decompressed data would be larger than
 * `max_output_len`: the frame is refused as over the decompressed-size limit.
 */
#define RPCX_COMPRESS_TOO_LARGE 1

/**
 * What an `rpcx_compress_fn` returns when the input is invalid or compressing failed (any
 * value other than `RPCX_COMPRESS_OK` and `RPCX_COMPRESS_TOO_LARGE` means the same); the text
 * given to `rpcx_compress_output_set_error`, if any, is the error message.
 */
#define RPCX_COMPRESS_FAILED 2

/**
 * Serialize type 0: raw bytes, passed through untouched (the C API's default).
 */
#define RPCX_SERIALIZE_RAW 0

/**
 * Serialize type 1: JSON.
 */
#define RPCX_SERIALIZE_JSON 1

/**
 * Serialize type 2: Protocol Buffers.
 */
#define RPCX_SERIALIZE_PROTOBUF 2

/**
 * Serialize type 3: MessagePack (the Go client's default).
 */
#define RPCX_SERIALIZE_MSGPACK 3

/**
 * Size of the buffer an auth callback may write its refusal message into.
 */
#define RPCX_AUTH_MESSAGE_CAP 1024

/**
 * How much longer than the grace period `rpcx_server_shutdown` and `rpcx_server_free` wait
 * for a server to stop (milliseconds) before they give up on a callback that does not
 * return.
 */
#define RPCX_SHUTDOWN_MARGIN_MS 5000

/**
 * The size of a buffer that holds a `traceparent` value: 55 characters and the NUL.
 */
#define RPCX_TRACEPARENT_SIZE 56

/**
 * The size of a buffer that holds a trace id: 32 hex digits and the NUL.
 */
#define RPCX_TRACE_ID_SIZE 33

/**
 * The size of a buffer that holds a span id: 16 hex digits and the NUL.
 */
#define RPCX_SPAN_ID_SIZE 17

/**
 * Select mode 0: a server at random.
 */
#define RPCX_SELECT_RANDOM 0

/**
 * Select mode 1: in turn, over the servers sorted by address (the default).
 */
#define RPCX_SELECT_ROUND_ROBIN 1

/**
 * Select mode 2: smooth weighted round robin on each server's `weight` metadata.
 */
#define RPCX_SELECT_WEIGHTED_ROUND_ROBIN 2

/**
 * Select mode 3: weighted by measured round-trip time (Go's WeightedICMP): ICMP echo on a
 * raw socket (root) or Linux's unprivileged ping socket, else the TCP connect time.
 */
#define RPCX_SELECT_WEIGHTED_ICMP 3

/**
 * Select mode 4: consistent hashing of `/service/method/<payload>` over the servers sorted
 * by address.
 */
#define RPCX_SELECT_CONSISTENT_HASH 4

/**
 * Select mode 5: the server nearest to the location set with
 * `rpcx_xclient_options_set_location`, from its `latitude`/`longitude` metadata.
 */
#define RPCX_SELECT_CLOSEST 5

/**
 * Select mode 6 (not in Go): weighted by the round trip of a heartbeat the XClient sends
 * every 500 ms on its live connection to each server — what a call really waits, proxies
 * and loaded servers included; a server ten times nearer gets ten times the calls.
 */
#define RPCX_SELECT_HEARTBEAT_RTT 6

/**
 * Fail mode 0: after a connection failure, retry on another server (the default).
 */
#define RPCX_FAIL_FAILOVER 0

/**
 * Fail mode 1: return the first error.
 */
#define RPCX_FAIL_FAILFAST 1

/**
 * Fail mode 2: retry on the same server.
 */
#define RPCX_FAIL_FAILTRY 2

/**
 * Fail mode 3: when no reply came within the backup latency, send the call to a second
 * server too and take whichever reply comes first.
 */
#define RPCX_FAIL_FAILBACKUP 3

/**
 * The outcome of a fallible rpcx function. `RPCX_OK` is 0; every other value is an error.
 * Values are stable: new codes are only ever appended.
 *
 * Always 32 bits wide: in C `rpcx_status` is a `uint32_t` (the enum only names the values),
 * in C++ an enum with underlying type `uint32_t` — so neither compiler flags such as
 * `-fshort-enums` nor codes added later change its size. A `switch` over it should have a
 * `default:` for codes this header does not know yet.
 */
enum rpcx_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
    /**
     * Success.
     */
    RPCX_OK = 0,
    /**
     * A required pointer argument was NULL.
     */
    RPCX_ERR_NULL_ARG = 1,
    /**
     * An argument is invalid: a string that is not UTF-8, a zero limit, a serialize type
     * above 15, an index out of range…
     */
    RPCX_ERR_INVALID_ARG = 2,
    /**
     * The remote service answered with an error. The `rpcx_error` carries the server's text
     * unchanged, its reply payload and the response metadata.
     */
    RPCX_ERR_SERVER = 3,
    /**
     * The call's deadline passed before a reply arrived.
     */
    RPCX_ERR_TIMEOUT = 4,
    /**
     * The client or server was closed; the call was not or will not be completed.
     */
    RPCX_ERR_CLOSED = 5,
    /**
     * Connecting failed, or the connection broke while the call was pending.
     */
    RPCX_ERR_CONNECTION = 6,
    /**
     * Arguments or reply could not be (de)serialized.
     */
    RPCX_ERR_CODEC = 7,
    /**
     * A frame could not be encoded or decoded (limits, malformed data).
     */
    RPCX_ERR_PROTOCOL = 8,
    /**
     * An I/O error outside a call (binding a listener…).
     */
    RPCX_ERR_IO = 9,
    /**
     * A blocking function was called on an rpcx runtime thread (inside a handler or an async
     * callback), where it would deadlock. Use the async variant there.
     */
    RPCX_ERR_BLOCKING_IN_RUNTIME = 10,
    /**
     * rpcx panicked internally; the operation did not complete. Please report it.
     */
    RPCX_ERR_PANIC = 11,
    /**
     * An address string is unusable (`tcp@host:port`, `unix@/path`, `http@host:port`,
     * `ws@host:port` or `wss@host:port` expected).
     */
    RPCX_ERR_ADDRESS = 12,
    /**
     * Registration of a service or method was refused.
     */
    RPCX_ERR_REGISTRATION = 13,
    /**
     * A configuration value is invalid.
     */
    RPCX_ERR_CONFIG = 14,
    /**
     * The object is not in a state that allows this: a server already started or stopped,
     * a responder already completed or whose call was abandoned, the runtime already
     * running (`rpcx_runtime_set_worker_threads`).
     */
    RPCX_ERR_INVALID_STATE = 15,
    /**
     * No such entry: a metadata key or index, an async call that already completed, a
     * service that is not registered (`rpcx_server_unregister`).
     */
    RPCX_ERR_NOT_FOUND = 16,
    /**
     * The async call was cancelled with `rpcx_client_cancel`.
     */
    RPCX_ERR_CANCELLED = 17,
    /**
     * An error this version of the C API does not classify further.
     */
    RPCX_ERR_UNKNOWN = 18,
    /**
     * An XClient found no server to call: its discovery lists none (after group
     * filtering), or the custom selector chose none.
     */
    RPCX_ERR_NO_SERVER = 19,
    /**
     * A client interceptor refused the call before it was sent (`rpcx_call_reject`); the
     * message is the interceptor's.
     */
    RPCX_ERR_REFUSED = 20,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum rpcx_status rpcx_status;
#else
typedef uint32_t rpcx_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/**
 * One call as an interceptor callback sees it (see `rpcx_interceptor_callback`): a view
 * valid only during the callback, on the callback's thread. Strings and maps obtained from
 * it are borrowed from it, with the same lifetime.
 */
typedef struct rpcx_call rpcx_call;

/**
 * A connection to one rpcx server. Calls from any number of threads are multiplexed on it.
 *
 * Thread-safe: every function may be called from any thread, concurrently, except
 * `rpcx_client_free`, which must be the last call on the client and must not race with any
 * other.
 */
typedef struct rpcx_client rpcx_client;

/**
 * Options of a client, copied by `rpcx_client_connect`. Not synchronised: configure it from
 * one thread, then use it for any number of clients.
 */
typedef struct rpcx_client_options rpcx_client_options;

/**
 * Where an `rpcx_compress_fn` writes its output: opaque, owned by rpcx, valid only during
 * the callback that received it (do not keep the pointer). Append bytes with
 * `rpcx_compress_output_write` (copied: the bytes passed stay yours).
 */
typedef struct rpcx_compress_output rpcx_compress_output;

/**
 * A handle on one client connection of a server, for pushes: obtained from a request with
 * `rpcx_request_connection`, owned by the caller, released with `rpcx_connection_free`. It
 * stays valid (as an object) after the call returned and after the connection closed —
 * pushes then fail with `RPCX_ERR_CLOSED`. Each handle is a reference on the connection's
 * shared state (not on the socket: a closed connection is not kept open by its handles).
 *
 * Thread-safe: any thread may use a handle, concurrently, except `rpcx_connection_free`,
 * which must be its last use.
 */
typedef struct rpcx_connection rpcx_connection;

/**
 * A source of servers for XClients: a fixed peer, a list (replaceable at run time), a
 * registry (etcd, Consul, Redis) watched in the background, or a DNS name looked up periodically.
 *
 * Thread-safe: every function may be called from any thread, concurrently, except
 * `rpcx_discovery_free`, which must be the last call on this handle. XClients created from a
 * discovery share it: it stays alive (and watched) until the handle and every such XClient
 * are freed, in any order.
 */
typedef struct rpcx_discovery rpcx_discovery;

/**
 * One download as the C callback writes it: chunks handed to the core's `Download`.
 */
typedef struct rpcx_download rpcx_download;

/**
 * An error with its message. For `RPCX_ERR_SERVER` it also carries the server's reply
 * payload and the response metadata (which includes `__rpcx_error__`).
 *
 * Owned by the caller once returned through an `rpcx_error **err_out` parameter; release it
 * with `rpcx_error_free`. Immutable: any thread may read it, and reads may run concurrently.
 */
typedef struct rpcx_error rpcx_error;

/**
 * A map of UTF-8 string keys to UTF-8 string values, kept sorted by key (byte order), one
 * value per key — the metadata of a request or a reply.
 *
 * Not synchronised: functions taking a `const rpcx_metadata *` may run concurrently on the
 * same map, but `rpcx_metadata_set` and `rpcx_metadata_free` need exclusive access. Maps
 * borrowed from a request, a reply or an error are read-only.
 */
typedef struct rpcx_metadata rpcx_metadata;

/**
 * A read-only view of one request, passed to a handler callback and valid only until the
 * callback returns. Strings and bytes obtained from it are borrowed from it, with the same
 * lifetime. Use it only on the callback's thread.
 */
typedef struct rpcx_request rpcx_request;

/**
 * The handle of one pending call, completed exactly once from any thread.
 *
 * Not a pointer to memory: an opaque token, so completing it twice, or after its call was
 * abandoned, is safe and returns `RPCX_ERR_INVALID_STATE`. A call is abandoned — its
 * responder forgotten and its memory freed at once — when the caller's connection closes
 * (the client went away), when the caller's deadline (`__ServerTimeout`) passes, or when the
 * server closes; `rpcx_responder_is_cancelled` tells. A responder never completed keeps its
 * caller waiting until then. Oneway requests get a responder too: complete it as usual,
 * nothing is sent back; they are not abandoned when their connection closes. Tokens are not
 * reused (on 32-bit targets, not before 2³² further calls; a token still pending is never
 * given to another call).
 */
typedef struct rpcx_responder rpcx_responder;

/**
 * An rpcx server: create, register handlers (and an auth callback), start, shut down, free.
 *
 * Thread-safe: every function may be called from any thread, concurrently, except
 * `rpcx_server_free`, which must be the last call on the server and must not race with any
 * other.
 */
typedef struct rpcx_server rpcx_server;

/**
 * Options of a server, copied by `rpcx_server_new`. Not synchronised: configure it from one
 * thread, then use it for any number of servers.
 */
typedef struct rpcx_server_options rpcx_server_options;

/**
 * A bidirectional byte stream: a client's side of `rpcx_xclient_stream` /
 * `rpcx_client_stream`, or a server's side handed to an `rpcx_stream_callback`. Plain TCP
 * after the token: no rpcx framing, the bytes are the application's.
 *
 * Thread-safe except for `rpcx_stream_close`: one thread may read while another writes.
 * `rpcx_stream_close` must be the last call on the stream and must not race with any other.
 */
typedef struct rpcx_stream rpcx_stream;

/**
 * Options of a server's file transfer or stream service: where its side listener binds, the
 * address replies advertise, token and connection limits, and (file transfer only) the
 * largest file and the io timeout. Copied by the functions that take it. Not synchronised:
 * configure it from one thread, then use it for any number of servers.
 */
typedef struct rpcx_transfer_options rpcx_transfer_options;

/**
 * One upload as the C callback reads it: chunks pumped from the core's `Upload`.
 */
typedef struct rpcx_upload rpcx_upload;

/**
 * A client of one service over the servers of a discovery: one cached connection per
 * server, the select mode picking the server of each call and the fail mode deciding what a
 * connection failure leads to.
 *
 * Thread-safe: every function may be called from any thread, concurrently, except
 * `rpcx_xclient_free`, which must be the last call on the XClient and must not race with any
 * other.
 */
typedef struct rpcx_xclient rpcx_xclient;

/**
 * Options of an XClient, copied by `rpcx_xclient_new`. Not synchronised: configure it from
 * one thread, then use it for any number of XClients.
 */
typedef struct rpcx_xclient_options rpcx_xclient_options;

/**
 * Bytes owned by rpcx and handed to the caller (a reply payload). Read `data[0..len)`;
 * release with `rpcx_buf_free`, which also resets the struct to all zeroes. `data` may be
 * NULL when `len` is 0. Do not modify the bytes or the fields; do not free a copy of the
 * struct as well as the original. A plain value: any thread may read or free it (once).
 *
 * All zeroes (`rpcx_buf b = {0};`) is an empty buffer that `rpcx_buf_free` accepts:
 * initialise an out-parameter that way, and it can be freed whether or not the call that
 * fills it succeeded (failed calls leave it untouched). The layout is frozen: `rpcx_buf`
 * never grows (it is not an extensible struct, see `rpcx_limits`).
 */
typedef struct rpcx_buf {
    /**
     * The first byte (NULL when `len` is 0).
     */
    const uint8_t *data;
    /**
     * Number of bytes.
     */
    size_t len;
    /**
     * Private to rpcx (what keeps the bytes alive): do not read, change or rely on it,
     * except to zero it when initialising an empty buffer.
     */
    void *owner;
} rpcx_buf;

/**
 * Receives the outcome of an async call, exactly once.
 *
 * On success `status` is `RPCX_OK`, `reply[0..reply_len)` is the reply payload (NULL when
 * empty), `reply_meta` the response metadata and `error` NULL. On failure `reply` is NULL,
 * `reply_len` 0, `reply_meta` NULL and `error` describes it (for `RPCX_ERR_SERVER`: the
 * server's text, reply payload and metadata). Everything is borrowed for the duration of the
 * callback only: copy what you keep (`rpcx_metadata_clone`…); free nothing.
 *
 * Runs on an rpcx runtime worker thread — except when the call is completed by
 * `rpcx_client_cancel` / `rpcx_xclient_cancel` (`RPCX_ERR_CANCELLED`) or by
 * `rpcx_client_close` / `_free` / `rpcx_xclient_close` / `_free` (`RPCX_ERR_CLOSED`): then it
 * runs synchronously on the thread calling those, before they return (so it may run on a
 * thread of yours, holding whatever locks you hold around that call).
 * Callbacks of different calls may run at the same time on different threads. It must not
 * block for long; blocking rpcx functions return `RPCX_ERR_BLOCKING_IN_RUNTIME` there.
 */
typedef void (*rpcx_call_callback)(void *userdata,
                                   uint64_t call_id,
                                   rpcx_status status,
                                   const uint8_t *reply,
                                   size_t reply_len,
                                   const struct rpcx_metadata *reply_meta,
                                   const struct rpcx_error *error);

/**
 * Called before or after a call (see `rpcx_server_add_interceptor`,
 * `rpcx_client_options_add_interceptor`, `rpcx_xclient_options_add_interceptor`) with
 * `call`, a view valid only until the callback returns: read it with the `rpcx_call_*`
 * functions; before the call, refuse it with `rpcx_call_reject`.
 *
 * Server interceptors run on rpcx runtime worker threads, for calls of any connection at
 * once. Client interceptors run where the call runs: on the calling thread for blocking
 * calls, on runtime threads for async ones. Either way callbacks overlap (they must be
 * thread-safe) and must be quick: they must not block, and blocking rpcx functions return
 * `RPCX_ERR_BLOCKING_IN_RUNTIME` inside them.
 */
typedef void (*rpcx_interceptor_callback)(void *userdata, struct rpcx_call *call);

/**
 * Releases the `userdata` registered with a callback. Called exactly once, after the last
 * possible call of that callback, on whichever thread drops the last reference (documented
 * on each function taking one). May be NULL when there is nothing to release.
 */
typedef void (*rpcx_finalizer)(void *userdata);

/**
 * Limits applied to every frame read (and written). An extensible struct (later versions may
 * append fields): initialise it with `rpcx_limits_init(&limits, sizeof limits)`, which sets
 * `struct_size` and the defaults, then change the fields you need. Every limit must be at
 * least 1.
 */
typedef struct rpcx_limits {
    /**
     * `sizeof(rpcx_limits)` in the program, written by `rpcx_limits_init`: rpcx reads this
     * many bytes. A struct with `struct_size` 0 (not initialised) or below the size of the
     * first version is refused with `RPCX_ERR_INVALID_ARG`.
     */
    size_t struct_size;
    /**
     * Largest frame, in bytes after the 16-byte prefix. Default 16 MiB.
     */
    uint32_t max_frame_len;
    /**
     * Largest payload after gzip decompression. Default 16 MiB.
     */
    size_t max_decompressed_len;
    /**
     * Most metadata pairs in one frame. Default 256.
     */
    size_t max_metadata_entries;
    /**
     * Largest encoded metadata section of one frame. Default 256 KiB.
     */
    size_t max_metadata_bytes;
} rpcx_limits;

/**
 * Receives the server pushes of a client or an XClient (set with
 * `rpcx_client_options_set_push_callback` / `rpcx_xclient_options_set_push_callback`).
 *
 * `server` is the server's address (`"tcp@127.0.0.1:8972"`: for a client, the address it
 * connected to; for an XClient, the server's key in its discovery); `service`, `method`
 * (NUL-terminated), `metadata` and `payload[0..payload_len)` (NULL when empty; raw bytes as
 * the server sent them) are the pushed message. Everything is borrowed for the duration of
 * the callback only: copy what you keep.
 *
 * Runs on an rpcx runtime worker thread, one push at a time per client (or XClient), in
 * the order received; pushes of different clients may run concurrently on different
 * threads. It must not block for long: while it runs, that client's later pushes wait in
 * its buffer (1024 pushes; more are dropped). Blocking rpcx functions return
 * `RPCX_ERR_BLOCKING_IN_RUNTIME` there. After `rpcx_client_close` / `rpcx_client_free` (or
 * the XClient's) returns, no push callback of that client is running or will start —
 * except when they are called from inside its push callback.
 */
typedef void (*rpcx_push_callback)(void *userdata,
                                   const char *server,
                                   const char *service,
                                   const char *method,
                                   const struct rpcx_metadata *metadata,
                                   const uint8_t *payload,
                                   size_t payload_len);

/**
 * One server of a discovery: its address and its metadata. Used both ways: filled in by the
 * caller for `rpcx_discovery_new_multiple` / `rpcx_discovery_update` (the strings are
 * copied), and handed to a custom selector (the strings are then borrowed for the duration
 * of the callback). Its layout is frozen — arrays of it cross the API in both directions —
 * so it never grows: richer server descriptions would come as a new type.
 */
typedef struct rpcx_server_entry {
    /**
     * The address clients dial, NUL-terminated UTF-8: `tcp@host:port`, `host:port`,
     * `unix@/path`, `http@host:port`, `ws@host:port` or `wss@host:port`. Never NULL or empty.
     */
    const char *address;
    /**
     * The server's metadata as a URL query string (`weight=10&group=blue`; keys Go's rpcx
     * uses: `weight`, `group`, `state=inactive`, `latitude`, `longitude`), NUL-terminated
     * UTF-8. NULL means `""` in input; never NULL in output.
     */
    const char *metadata;
} rpcx_server_entry;

/**
 * A log level: `RPCX_LOG_OFF` (0) … `RPCX_LOG_TRACE` (5). A plain `int`; values outside
 * 0–5 are refused with `RPCX_ERR_INVALID_ARG`.
 */
typedef int rpcx_log_level;

/**
 * Compresses or decompresses `input[0..input_len)` (`input` is NULL when `input_len` is 0;
 * borrowed for the call only) by appending the result to `out` with
 * `rpcx_compress_output_write`; returns `RPCX_COMPRESS_OK`, `RPCX_COMPRESS_TOO_LARGE` or
 * another value for failure (see `RPCX_COMPRESS_FAILED`).
 *
 * `max_output_len` is the most the output may hold: for decompression the receiver's
 * decompressed-size limit (`rpcx_limits`, default 16 MiB) — a format whose header declares
 * the decompressed length must check it against this before allocating anything that size,
 * and writes past it are refused — and `SIZE_MAX` for compression.
 *
 * Called on rpcx runtime worker threads (connection tasks encoding and decoding frames),
 * possibly on several at once: it must be thread-safe, must not block for long, and must
 * return normally (no C++ exception or `longjmp` may leave it; `bindings/cpp/rpcx.hpp`
 * catches exceptions).
 */
typedef int (*rpcx_compress_fn)(void *user_data,
                                const uint8_t *input,
                                size_t input_len,
                                size_t max_output_len,
                                struct rpcx_compress_output *out);

/**
 * Told about every call a server completes.
 *
 * `service`, `method` and `peer` (`"tcp@127.0.0.1:50123"`) are NUL-terminated and borrowed
 * for the duration of the callback; `duration_us` is the time from reading the request to
 * the handler's reply (microseconds); `error` is NULL for a successful call, otherwise the
 * error text the caller receives (borrowed likewise).
 *
 * Runs on an rpcx runtime worker thread, after the handler replied and before the reply is
 * written, for calls of any connection at once: it must be thread-safe and quick (count,
 * log to a buffer…). It must not call blocking rpcx functions.
 */
typedef void (*rpcx_call_observer)(void *userdata,
                                   const char *service,
                                   const char *method,
                                   const char *peer,
                                   uint64_t duration_us,
                                   const char *error);

/**
 * Receives one upload (`_filetransfer.TransferFile`) after its token was accepted: read the
 * bytes with `rpcx_upload_read` until it reports the end (0 bytes: all `file_size` declared
 * bytes arrived). `upload` is valid only during the callback (rpcx frees it after).
 * `file_name` is the name the client sent, **unsanitized** (NUL-terminated UTF-8; the
 * callback decides what it means), `file_size` the declared size (already checked against
 * the max file size), `meta` the client's metadata (borrowed, read-only) and `peer` the
 * client's side-connection address; all valid only during the callback.
 *
 * Return non-zero when the upload was handled; return 0 to abort it (the connection is
 * reset, the client gets an error, and the event is logged). Runs on a thread of its own per
 * upload (not an rpcx runtime worker: it may block); uploads run concurrently.
 */
typedef int (*rpcx_upload_callback)(void *userdata,
                                    struct rpcx_upload *upload,
                                    const char *file_name,
                                    uint64_t file_size,
                                    const struct rpcx_metadata *meta,
                                    const char *peer);

/**
 * Produces one download (`_filetransfer.DownloadFile`) after its token was accepted: write
 * the file's bytes with `rpcx_download_write`, then return non-zero to end the file (the
 * client receives exactly the bytes written). Return 0 to abort: the connection is reset and
 * the client gets an error rather than a short file. `download` is valid only during the
 * callback. `file_name` is the name the client asked for, **unchecked** (the directory rules
 * do not apply: the callback decides what it means), `meta` and `peer` as for
 * `rpcx_upload_callback`; all valid only during the callback. The max file size bounds the
 * bytes written. Runs on a thread of its own per download (it may block).
 */
typedef int (*rpcx_download_callback)(void *userdata,
                                      struct rpcx_download *download,
                                      const char *file_name,
                                      const struct rpcx_metadata *meta,
                                      const char *peer);

/**
 * Serves one call. `request` is a read-only view, valid only until the callback returns
 * (copy what you need to keep). `responder` must be completed exactly once — with
 * `rpcx_responder_reply` or `rpcx_responder_error`, or released with `rpcx_responder_free`
 * — either before the callback returns or later from any thread.
 *
 * Runs on an rpcx runtime worker thread; calls overlap (several threads at once, for the
 * same or different requests), so it must be thread-safe. It must not block for long:
 * blocking stalls other connections. Hand slow work to your own thread pool and reply
 * through the responder. A callback that does not return is abandoned by
 * `rpcx_server_shutdown` / `rpcx_server_free` after their bounded wait: its thread is left
 * inside it, and the server's finalizers wait for it (see `rpcx_server_free`). Blocking
 * rpcx functions (`rpcx_client_call`…) return `RPCX_ERR_BLOCKING_IN_RUNTIME` here; use
 * `rpcx_client_call_async`.
 */
typedef void (*rpcx_handler_callback)(void *userdata,
                                      const struct rpcx_request *request,
                                      struct rpcx_responder *responder);

/**
 * Called for each stream a client opened (`_streamservice.Stream`), after its token was
 * accepted. `stream` is the connection, **owned by the callback**: it must be closed with
 * `rpcx_stream_close`, during the callback or later from any thread (it may be handed to
 * another thread). `meta` is the metadata the client sent (borrowed, read-only, valid only
 * during the callback: `rpcx_metadata_clone` it to keep it) and `peer` the client's address
 * on the side connection (`host:port`, NUL-terminated, valid only during the callback).
 *
 * Each stream's callback runs on a thread of its own (not an rpcx runtime worker), so it may
 * block on `rpcx_stream_read` and make blocking rpcx calls; callbacks of different streams
 * run concurrently (at most the options' max_concurrent at once). The stream's slot is freed
 * when the callback returns.
 */
typedef void (*rpcx_stream_callback)(void *userdata,
                                     struct rpcx_stream *stream,
                                     const struct rpcx_metadata *meta,
                                     const char *peer);

/**
 * Decides whether a request may proceed, from the token the client sent as `__AUTH`.
 *
 * `service` and `method` name the call, `token` is the token (`""` when none was sent) and
 * `peer` the caller's address; all NUL-terminated and valid only during the callback. Return
 * non-zero to accept. To refuse, return 0 and optionally write a NUL-terminated message of
 * at most `message_cap` bytes (including the NUL) into `message` (zero-filled on entry; left
 * empty, the caller gets "rpcx: authentication failed"). A refused caller receives the
 * message as an error and its connection is closed (as in Go). Heartbeats are not
 * authenticated.
 *
 * Runs on rpcx runtime worker threads, possibly on several at once: it must be thread-safe
 * and must not block for long.
 */
typedef int (*rpcx_auth_callback)(void *userdata,
                                  const char *service,
                                  const char *method,
                                  const char *token,
                                  const char *peer,
                                  char *message,
                                  size_t message_cap);

/**
 * Decides whether a `_streamservice.Stream` call gets a token (Go's `StreamAcceptor`):
 * `meta` is the metadata the client passed to its stream call, `request_meta` the request's
 * metadata (auth token and the like), `peer` the caller's address; all borrowed, valid only
 * during the call. Return non-zero to accept; 0 refuses with Go's error text `server refused
 * the connection` (the client gets `RPCX_ERR_SERVER`). Runs on rpcx runtime worker threads,
 * possibly several at once: thread-safe, quick, no blocking rpcx calls.
 */
typedef int (*rpcx_stream_acceptor)(void *userdata,
                                    const struct rpcx_metadata *meta,
                                    const struct rpcx_metadata *request_meta,
                                    const char *peer);

/**
 * Receives one log event.
 *
 * `level` is `RPCX_LOG_ERROR` … `RPCX_LOG_TRACE`; `target` is where the event comes from
 * (a module path such as `"rpcx::server::conn"`); `message` is the text (starting with
 * `"rpcx: "` for rpcx's own events) followed by the event's fields as ` key=value` (values
 * with blanks or quotes in double quotes), e.g. `"rpcx: malformed frame
 * peer=tcp@127.0.0.1:50123 error=\"wrong magic number: 153\" action=\"closing the
 * connection\""`. Both strings are NUL-terminated UTF-8, borrowed for the duration of the
 * call only: copy what you keep.
 *
 * Called on whichever thread emits the event: an rpcx runtime worker thread for most events
 * (connections, handlers, registries), or the caller's own thread for events a function
 * emits before it returns (`rpcx_client_connect` failing, for one). Calls may happen on
 * several threads at once: the callback must be thread-safe. It must not block for long
 * (the thread it runs on serves connections); it may call rpcx functions, except blocking
 * ones on a runtime thread (as everywhere) and `rpcx_set_log_callback`, which is refused
 * there with `RPCX_ERR_INVALID_STATE`; events that rpcx emits while the callback runs, on
 * the same thread, are dropped rather than delivered recursively. The callback must return
 * normally and must not unwind: no C++ exception, `longjmp` or Rust panic may leave it
 * (unwinding out of an `extern "C"` function aborts the process or is undefined behaviour;
 * `bindings/cpp/rpcx.hpp` catches its handler's exceptions).
 */
typedef void (*rpcx_log_fn)(void *user_data,
                            rpcx_log_level level,
                            const char *target,
                            const char *message);

/**
 * Receives one server's outcome of `rpcx_xclient_inform`.
 *
 * `server` is the server's key (`tcp@host:port`, NUL-terminated). On success
 * `reply[0..reply_len)` is its reply payload (NULL when empty), `reply_meta` its response
 * metadata and `error` NULL; on failure `reply` is NULL, `reply_len` 0, `reply_meta` NULL and
 * `error` says why (`rpcx_error_code`, `rpcx_error_message`; for `RPCX_ERR_SERVER` the
 * server's own text). Everything is borrowed for the duration of the callback only: copy what
 * you keep; free nothing. Runs on the thread that called `rpcx_xclient_inform`, before it
 * returns, once per server in the order of their keys. It must not unwind (C++: no
 * exception may leave it).
 */
typedef void (*rpcx_inform_callback)(void *userdata,
                                     const char *server,
                                     const uint8_t *reply,
                                     size_t reply_len,
                                     const struct rpcx_metadata *reply_meta,
                                     const struct rpcx_error *error);

/**
 * Picks the server for one call of an XClient: return the index (0 ≤ i < `n_servers`) of the
 * chosen entry in `servers`, or a negative (or any out-of-range) value to choose none — the
 * attempt then fails with `RPCX_ERR_NO_SERVER`.
 *
 * `service` and `method` name the call and `args[0..args_len)` is its encoded payload (NULL
 * when empty; what ConsistentHash hashes). `servers[0..n_servers)` is the XClient's current
 * list (after group and state filtering), sorted by address, never empty (with no server the
 * callback is not called). Everything is borrowed for the duration of the callback only.
 *
 * Runs on the thread of a blocking XClient call, or on an rpcx runtime worker thread (async
 * calls, broadcast, fork): calls overlap, so it must be thread-safe, and it must be quick and
 * must not block (it delays the call; blocking rpcx functions return
 * `RPCX_ERR_BLOCKING_IN_RUNTIME` there). It may run several times for one call: fail modes
 * ask again after a failure, and a choice of a server that just failed is asked again once
 * per server to find another. The finalizer registered with it runs exactly once, after its
 * last invocation (see `rpcx_xclient_options_set_selector`).
 */
typedef int64_t (*rpcx_selector_callback)(void *userdata,
                                          const char *service,
                                          const char *method,
                                          const uint8_t *args,
                                          size_t args_len,
                                          const struct rpcx_server_entry *servers,
                                          size_t n_servers);

/**
 * Log nothing.
 */
#define RPCX_LOG_OFF 0

/**
 * Errors: a handler panicked.
 */
#define RPCX_LOG_ERROR 1

/**
 * Warnings: refused connections, malformed frames, limit hits, authentication failures,
 * registry and discovery outages, client connections lost with an error. The default.
 */
#define RPCX_LOG_WARN 2

/**
 * Recoveries: a registry, discovery or XClient server that works again.
 */
#define RPCX_LOG_INFO 3

/**
 * Connection life cycle (accepted, closed with the reason), backpressure, client connect
 * failures. Never one line per successful call.
 */
#define RPCX_LOG_DEBUG 4

/**
 * Everything, including the trace events of rpcx's dependencies.
 */
#define RPCX_LOG_TRACE 5

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Releases the bytes of `buf` and sets its fields to NULL/0, so freeing it again is a
 * no-op. NULL is accepted and ignored. The struct itself is the caller's (usually on the
 * stack); only what it owns is released.
 */
void rpcx_buf_free(struct rpcx_buf *buf);

/**
 * After a failed call: the error text (for a server interceptor, exactly what the caller
 * receives; for a client interceptor, the server's text of a remote error or the
 * description of a local one), borrowed from `call`. NULL after a successful call, before
 * the call, and when `call` is NULL.
 */
const char *rpcx_call_error(const struct rpcx_call *call);

/**
 * 1 for a client's oneway send (no reply comes back), else 0 (also for server
 * interceptors, which see only two-way calls' outcomes as replies, and a NULL `call`).
 */
int rpcx_call_is_oneway(const struct rpcx_call *call);

/**
 * The request metadata (as the caller sent it, or for a client interceptor as it will be
 * sent, without `__AUTH` and `__ServerTimeout`, which the client adds later). Borrowed from
 * `call`: valid during the callback, until `rpcx_call_set_metadata` changes it. NULL only
 * when `call` is NULL.
 */
const struct rpcx_metadata *rpcx_call_metadata(const struct rpcx_call *call);

/**
 * The method of the call (`"Mul"`). Borrowed from `call`. NULL when `call` is NULL.
 */
const char *rpcx_call_method(const struct rpcx_call *call);

/**
 * The other end: for a server interceptor the caller's address (`"tcp@127.0.0.1:50123"`),
 * for a client interceptor the server's (`"tcp@127.0.0.1:8972"`). Borrowed from `call`.
 * NULL when `call` is NULL.
 */
const char *rpcx_call_peer(const struct rpcx_call *call);

/**
 * Refuses the call with `message` (NUL-terminated UTF-8, copied; the last refusal wins).
 * In a server interceptor the handler is skipped and the caller receives `message` as the
 * call's error (`RPCX_ERR_SERVER` for a C client); in a client interceptor nothing is sent
 * and the call fails with `RPCX_ERR_REFUSED` and `message`. Later interceptors' `before`
 * callbacks do not run; `after` callbacks run as usual. Only in a `before` callback
 * (`RPCX_ERR_INVALID_STATE` in an `after` one). `RPCX_ERR_NULL_ARG` /
 * `RPCX_ERR_INVALID_ARG` for NULL or non-UTF-8 arguments.
 */
rpcx_status rpcx_call_reject(struct rpcx_call *call, const char *message);

/**
 * After a client's call: the metadata the server sent back with its reply or its error
 * (including `__rpcx_error__`), borrowed from `call`. NULL before the call, in server
 * interceptors, for failures that got no answer (timeouts, closed connections…) and when
 * `call` is NULL.
 */
const struct rpcx_metadata *rpcx_call_reply_metadata(const struct rpcx_call *call);

/**
 * The service path of the call (`"Arith"`). Borrowed from `call`. NULL when `call` is NULL.
 */
const char *rpcx_call_service(const struct rpcx_call *call);

/**
 * Sets request metadata `key` to `value` (NUL-terminated UTF-8, copied), replacing any
 * previous value: how a client interceptor attaches a trace id or a token to every call.
 * Only in a client interceptor's `before` callback (`RPCX_ERR_INVALID_STATE` elsewhere).
 * `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for NULL or non-UTF-8 arguments.
 */
rpcx_status rpcx_call_set_metadata(struct rpcx_call *call, const char *key, const char *value);

/**
 * Adds `key: value` (NUL-terminated UTF-8, copied) to the reply's metadata — also to an
 * error reply's. Only in a server interceptor's callbacks, before or after the call
 * (`RPCX_ERR_INVALID_STATE` in a client's). `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG`
 * for NULL or non-UTF-8 arguments.
 */
rpcx_status rpcx_call_set_reply_meta(struct rpcx_call *call, const char *key, const char *value);

/**
 * After the call: `RPCX_OK` when it succeeded, else its status — for a server interceptor
 * `RPCX_ERR_SERVER` (whatever failed, the caller receives an error reply), for a client
 * interceptor the status the caller gets. `RPCX_OK` before the call; `RPCX_ERR_NULL_ARG`
 * when `call` is NULL.
 */
rpcx_status rpcx_call_status(const struct rpcx_call *call);

/**
 * Calls `service.method` and waits for the reply.
 *
 * Arguments: `service`, `method` NUL-terminated UTF-8; `payload[0..payload_len)` the request
 * payload, already encoded as the client's serialize type says (copied; NULL allowed when
 * the length is 0); `meta` request metadata (copied; NULL for none); `timeout_ms` the call
 * timeout (0: the client's default), also sent to the server as `__ServerTimeout`.
 *
 * On `RPCX_OK`: `*reply_out` (may be NULL to discard) receives the reply payload — free it
 * with `rpcx_buf_free` — and `*reply_meta_out` (may be NULL to discard) the response
 * metadata — free it with `rpcx_metadata_free`. On failure neither is written, and
 * `*err_out` (may be NULL) receives an `rpcx_error` to free with `rpcx_error_free`:
 * `RPCX_ERR_SERVER` (the service's error, with its text intact, reply payload and metadata),
 * `RPCX_ERR_TIMEOUT`, `RPCX_ERR_CLOSED`, `RPCX_ERR_CONNECTION`, `RPCX_ERR_PROTOCOL`…, and
 * `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` when `client`, `service` or `method` is NULL
 * or a name is not UTF-8.
 *
 * Blocks the calling thread; on an rpcx runtime thread (in a handler or a callback) it
 * returns `RPCX_ERR_BLOCKING_IN_RUNTIME` at once — use `rpcx_client_call_async` there.
 */
rpcx_status rpcx_client_call(const struct rpcx_client *client,
                             const char *service,
                             const char *method,
                             const uint8_t *payload,
                             size_t payload_len,
                             const struct rpcx_metadata *meta,
                             uint64_t timeout_ms,
                             struct rpcx_buf *reply_out,
                             struct rpcx_metadata **reply_meta_out,
                             struct rpcx_error **err_out);

/**
 * Starts a call of `service.method` without waiting (arguments as for `rpcx_client_call`,
 * all copied before this returns). On `RPCX_OK` the call is under way and `callback` will be
 * called exactly once with its outcome (see `rpcx_call_callback`) — possibly before this
 * function returns, on another thread. `*call_id_out` (may be NULL) receives the call's id
 * (never 0), for `rpcx_client_cancel`.
 *
 * On failure (`RPCX_ERR_NULL_ARG` — `callback` included —, `RPCX_ERR_INVALID_ARG`,
 * `RPCX_ERR_CLOSED` after `rpcx_client_close`) the callback is never called. `userdata` is
 * passed to the callback untouched; rpcx never frees it. Callable from any thread, including
 * rpcx runtime threads (handlers, callbacks).
 */
rpcx_status rpcx_client_call_async(const struct rpcx_client *client,
                                   const char *service,
                                   const char *method,
                                   const uint8_t *payload,
                                   size_t payload_len,
                                   const struct rpcx_metadata *meta,
                                   uint64_t timeout_ms,
                                   rpcx_call_callback callback,
                                   void *userdata,
                                   uint64_t *call_id_out);

/**
 * Cancels the async call `call_id`: its callback runs now, on this thread, before this
 * returns, with `RPCX_ERR_CANCELLED`; a reply arriving later is dropped. Returns
 * `RPCX_ERR_NOT_FOUND` when the call already completed (its callback ran or is running) or
 * the id is unknown, `RPCX_ERR_NULL_ARG` when `client` is NULL. Callable from any thread.
 */
rpcx_status rpcx_client_cancel(const struct rpcx_client *client, uint64_t call_id);

/**
 * Closes the connection: blocking calls in progress fail with `RPCX_ERR_CLOSED`, every
 * pending async call's callback runs with `RPCX_ERR_CLOSED` on this thread before this
 * returns, and later calls fail with `RPCX_ERR_CLOSED`. Also waits for callbacks running on
 * other threads to return (not when called from inside one of this client's callbacks).
 * Idempotent; callable from any thread. `RPCX_ERR_NULL_ARG` when `client` is NULL.
 */
rpcx_status rpcx_client_close(const struct rpcx_client *client);

/**
 * Connects to `address` (`tcp@host:port`, `host:port` or `unix@/path`; or rpcx tunnelled
 * as Go's clients do: `http@host:port` through an HTTP `CONNECT /_rpcx_`, `ws@host:port` in
 * a WebSocket at `/_rpcx_`, `wss@host:port` the same over TLS, which needs the TLS options)
 * with `opts` (copied; NULL for the defaults of `rpcx_client_options_new`). Blocks until
 * connected (tunnel set up) or the connect timeout passes. On success `*client_out` receives the client, owned by the caller: free
 * it with `rpcx_client_free`.
 *
 * Errors: `RPCX_ERR_NULL_ARG` (`address` or `client_out` NULL), `RPCX_ERR_ADDRESS`,
 * `RPCX_ERR_CONNECTION` (refused, unreachable, timed out, or a TLS handshake failed: the
 * message says why, e.g. `TLS handshake: invalid peer certificate: UnknownIssuer`),
 * `RPCX_ERR_CONFIG` (TLS on without a CA and no system CA bundle),
 * `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out` may be NULL; otherwise on failure it receives an
 * `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_client_connect(const char *address,
                                const struct rpcx_client_options *opts,
                                struct rpcx_client **client_out,
                                struct rpcx_error **err_out);

/**
 * `rpcx_xclient_download_file` on one connection, calling `service.DownloadFile` (`service`
 * NUL-terminated UTF-8, usually `"_filetransfer"`). Same arguments, results and errors, with
 * `RPCX_ERR_NULL_ARG` also for a NULL `client` or `service`.
 */
rpcx_status rpcx_client_download_file(const struct rpcx_client *client,
                                      const char *service,
                                      const char *name,
                                      const char *dest_path,
                                      const struct rpcx_metadata *meta,
                                      uint64_t *received_out,
                                      struct rpcx_error **err_out);

/**
 * Closes the client as `rpcx_client_close` does (pending callbacks complete with
 * `RPCX_ERR_CLOSED` before this returns) and frees it. NULL is accepted and ignored. Must be
 * the last call on `client`.
 */
void rpcx_client_free(struct rpcx_client *client);

/**
 * Adds an interceptor to the clients connected with `opts`, after those added before:
 * `before` runs before each call is sent (it may add request metadata with
 * `rpcx_call_set_metadata`, or refuse the call with `rpcx_call_reject`: it then fails with
 * `RPCX_ERR_REFUSED`), `after` once the call ended, seeing its outcome (`rpcx_call_status`,
 * `rpcx_call_error`, `rpcx_call_reply_metadata`); for oneway sends, once the request is
 * queued. Either may be NULL, not both. See `rpcx_interceptor_callback` for threads.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible callback — once `opts`, every options
 * object copied from them (`rpcx_xclient_options_set_client_options`) and every client
 * connected with them are freed; or before this function returns if it fails
 * (`RPCX_ERR_NULL_ARG` for a NULL `opts` or two NULL callbacks). It may run on any thread.
 * Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_add_interceptor(struct rpcx_client_options *opts,
                                                rpcx_interceptor_callback before,
                                                rpcx_interceptor_callback after,
                                                void *userdata,
                                                rpcx_finalizer finalizer);

/**
 * Frees client options. NULL is accepted and ignored.
 */
void rpcx_client_options_free(struct rpcx_client_options *opts);

/**
 * New client options with the defaults: serialize type `RPCX_SERIALIZE_RAW`, no call
 * timeout, 1 s connect timeout, no gzip, no heartbeat, no auth token, default limits.
 * Owned by the caller: free with `rpcx_client_options_free`. Returns NULL only if rpcx failed
 * internally.
 */
struct rpcx_client_options *rpcx_client_options_new(void);

/**
 * Sets the token sent as `__AUTH` with every call (copied); NULL removes it.
 * `RPCX_ERR_INVALID_ARG` if it is not UTF-8.
 * `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_auth_token(struct rpcx_client_options *opts, const char *token);

/**
 * Compresses the payload of requests larger than `threshold` bytes with `compress_type`:
 * 0 (none, the default: no compression), 1 (gzip), 2 (snappy) or another registered type;
 * Go's threshold is 1024. The server answers a large reply with the same compress type. The
 * type must have a compressor when the client connects (`RPCX_ERR_CONFIG` from
 * `rpcx_client_connect` otherwise). Replaces `rpcx_client_options_set_gzip`'s setting.
 *
 * Errors: `RPCX_ERR_NULL_ARG` when `opts` is NULL, `RPCX_ERR_INVALID_ARG` when
 * `compress_type` is above 7. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_compress(struct rpcx_client_options *opts,
                                             uint8_t compress_type,
                                             size_t threshold);

/**
 * Sets the connect timeout in milliseconds (default 1000). `RPCX_ERR_INVALID_ARG` if 0.
 * `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_connect_timeout_ms(struct rpcx_client_options *opts,
                                                       uint64_t ms);

/**
 * Turns gzip compression of request payloads larger than 1 KiB on or off (default off).
 * `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_gzip(struct rpcx_client_options *opts, bool enable);

/**
 * Sends a heartbeat every `interval_ms` milliseconds (0: no heartbeats, the default); a
 * heartbeat unanswered within `timeout_ms` (0: 30 s) closes the connection and fails its
 * pending calls with `RPCX_ERR_CONNECTION`.
 * `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_heartbeat(struct rpcx_client_options *opts,
                                              uint64_t interval_ms,
                                              uint64_t timeout_ms);

/**
 * Sets the limits on frames read from the server (copied; see `rpcx_limits_init`).
 * `RPCX_ERR_INVALID_ARG` if a limit is 0 or `limits->struct_size` is wrong (0: not
 * initialised with `rpcx_limits_init`). `RPCX_ERR_NULL_ARG` when a pointer argument is
 * NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_limits(struct rpcx_client_options *opts,
                                           const struct rpcx_limits *limits);

/**
 * Sets how many bytes of requests may wait for the connection's writer (default 16 MiB):
 * when a server stops reading, calls wait for room (within their timeout) instead of the
 * queue growing. A single request larger than this waits until the queue is empty, then goes
 * alone. For an XClient, set it on the client options given to
 * `rpcx_xclient_options_set_client_options`. `RPCX_ERR_INVALID_ARG` if 0.
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_max_unsent_bytes(struct rpcx_client_options *opts,
                                                     size_t bytes);

/**
 * Makes `callback` receive the server pushes of every client connected with these options
 * (see `rpcx_push_callback` for its arguments and threads), replacing any callback set
 * before. Without one, pushes are dropped.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of `callback` — once these options
 * (or their replacement callback) and every client connected with them are freed; or
 * before this function returns if it fails (`RPCX_ERR_NULL_ARG` for a NULL `opts` or
 * `callback`). It may run on any thread (a runtime thread when a client is freed from one).
 * Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_push_callback(struct rpcx_client_options *opts,
                                                  rpcx_push_callback callback,
                                                  void *userdata,
                                                  rpcx_finalizer finalizer);

/**
 * Sets the serialize type written in every request header (`RPCX_SERIALIZE_*`, 0–15). The
 * C API never encodes payloads: this tells the server how you encoded them.
 * `RPCX_ERR_INVALID_ARG` above 15.
 * `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_serialize_type(struct rpcx_client_options *opts,
                                                   uint8_t serialize_type);

/**
 * Sets the timeout of calls that pass none themselves, in milliseconds; 0 means wait
 * forever (the default). The remaining time is also sent to the server (`__ServerTimeout`).
 * `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_timeout_ms(struct rpcx_client_options *opts, uint64_t ms);

/**
 * Turns TLS on (`enable`, trusting the system's CA bundle unless a CA is set, checking the
 * host dialed unless a server name is set) or off (forgetting every TLS setting). The
 * other `rpcx_client_options_set_tls_*` setters turn it on too. The system bundle
 * (`SSL_CERT_FILE`, else the usual files under /etc/ssl and /etc/pki) is read when the
 * client connects; none found is `RPCX_ERR_CONFIG` then. `RPCX_ERR_NULL_ARG` when `opts`
 * is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_tls(struct rpcx_client_options *opts, bool enable);

/**
 * Like `rpcx_client_options_set_tls_ca_pem`, reading the PEM file `ca_path` (NUL-terminated
 * UTF-8) now; a file that cannot be read is `RPCX_ERR_CONFIG` naming it.
 */
rpcx_status rpcx_client_options_set_tls_ca_file(struct rpcx_client_options *opts,
                                                const char *ca_path,
                                                struct rpcx_error **err_out);

/**
 * Connects with TLS, trusting exactly the CA certificates of this PEM bundle (copied,
 * checked now: `RPCX_ERR_CONFIG` when it holds no usable certificate). A server whose
 * certificate does not chain to them is refused at connect with `RPCX_ERR_CONNECTION` and
 * `TLS handshake: invalid peer certificate: UnknownIssuer`. `RPCX_ERR_NULL_ARG` when `opts`
 * is NULL, or `ca_pem` is NULL with a non-zero length. `err_out` may be NULL; otherwise on
 * failure it receives an `rpcx_error` to free with `rpcx_error_free`. Needs exclusive
 * access to `opts`.
 */
rpcx_status rpcx_client_options_set_tls_ca_pem(struct rpcx_client_options *opts,
                                               const uint8_t *ca_pem,
                                               size_t ca_len,
                                               struct rpcx_error **err_out);

/**
 * Like `rpcx_client_options_set_tls_client_cert_pem`, reading the PEM files `cert_path` and
 * `key_path` now.
 */
rpcx_status rpcx_client_options_set_tls_client_cert_file(struct rpcx_client_options *opts,
                                                         const char *cert_path,
                                                         const char *key_path,
                                                         struct rpcx_error **err_out);

/**
 * Mutual TLS: connects with TLS and presents this certificate chain (PEM, the client's
 * certificate first) and private key (PEM) to servers that ask for one. Both copied and
 * checked now (`RPCX_ERR_CONFIG` when a PEM does not parse or the key is not the
 * certificate's). `err_out`, NULL arguments and access as for
 * `rpcx_client_options_set_tls_ca_pem`.
 */
rpcx_status rpcx_client_options_set_tls_client_cert_pem(struct rpcx_client_options *opts,
                                                        const uint8_t *cert_pem,
                                                        size_t cert_len,
                                                        const uint8_t *key_pem,
                                                        size_t key_len,
                                                        struct rpcx_error **err_out);

/**
 * DANGER — for tests against throwaway certificates only. With `insecure` true, connects
 * with TLS WITHOUT verifying the server's certificate: expired, self-signed or issued for
 * another name, it is accepted, so anyone on the network path can impersonate the server
 * and read every call. Handshake signatures are still checked. False (the default) verifies
 * again. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_client_options_set_tls_insecure(struct rpcx_client_options *opts, bool insecure);

/**
 * Connects with TLS, requiring the server's certificate to be valid for `server_name` (a
 * DNS name or an IP address, copied) instead of the host dialed; `""` restores that default.
 * Needed for Unix sockets. A certificate for another name is refused at connect with
 * `RPCX_ERR_CONNECTION` and `certificate not valid for name ...`. `RPCX_ERR_CONFIG` for a
 * string that is neither a DNS name nor an IP. `RPCX_ERR_NULL_ARG` when an argument is
 * NULL. `err_out` and access as for `rpcx_client_options_set_tls_ca_pem`.
 */
rpcx_status rpcx_client_options_set_tls_server_name(struct rpcx_client_options *opts,
                                                    const char *server_name,
                                                    struct rpcx_error **err_out);

/**
 * The number of async calls started and not yet completed (0 when `client` is NULL).
 */
size_t rpcx_client_pending(const struct rpcx_client *client);

/**
 * Sends a oneway request (no reply is ever sent; arguments as for `rpcx_client_call`) and
 * returns once it is queued on the connection. Blocking: `RPCX_ERR_BLOCKING_IN_RUNTIME` on
 * rpcx runtime threads. `err_out` as for `rpcx_client_call`.
 */
rpcx_status rpcx_client_send(const struct rpcx_client *client,
                             const char *service,
                             const char *method,
                             const uint8_t *payload,
                             size_t payload_len,
                             const struct rpcx_metadata *meta,
                             struct rpcx_error **err_out);

/**
 * `rpcx_xclient_send_file` on one connection, calling `service.TransferFile` (`service`
 * NUL-terminated UTF-8, usually `"_filetransfer"`). Same arguments, results and errors,
 * with `RPCX_ERR_NULL_ARG` also for a NULL `client` or `service`.
 */
rpcx_status rpcx_client_send_file(const struct rpcx_client *client,
                                  const char *service,
                                  const char *path,
                                  uint64_t rate_bytes_per_sec,
                                  const struct rpcx_metadata *meta,
                                  uint64_t *sent_out,
                                  struct rpcx_error **err_out);

/**
 * `rpcx_xclient_stream` on one connection, calling `service.Stream` (`service`
 * NUL-terminated UTF-8, usually `"_streamservice"`). Same results and errors, with
 * `RPCX_ERR_NULL_ARG` also for a NULL `client` or `service`.
 */
rpcx_status rpcx_client_stream(const struct rpcx_client *client,
                               const char *service,
                               const struct rpcx_metadata *meta,
                               struct rpcx_stream **stream_out,
                               struct rpcx_error **err_out);

/**
 * Sets the error message reported when the running compressor callback returns a failure
 * (`message`: NUL-terminated UTF-8, copied; the last call wins). It ends up in the error
 * reply or the caller's `rpcx_error`, after `"compressor N failed: "`.
 *
 * Errors: `RPCX_ERR_NULL_ARG` when `out` or `message` is NULL, `RPCX_ERR_INVALID_ARG` when
 * `message` is not UTF-8. Call it only from the callback that received `out`, on its thread.
 */
rpcx_status rpcx_compress_output_set_error(struct rpcx_compress_output *out, const char *message);

/**
 * Appends a copy of `data[0..len)` to the output of the running compressor callback
 * (`data` may be NULL when `len` is 0; it stays the caller's).
 *
 * Errors: `RPCX_ERR_NULL_ARG` when `out` is NULL (or `data` with `len > 0`);
 * `RPCX_ERR_PROTOCOL` when the output would pass the callback's `max_output_len`: nothing is
 * appended, and the frame is refused as over the decompressed-size limit whatever the
 * callback returns. Call it only from the callback that received `out`, on its thread.
 */
rpcx_status rpcx_compress_output_write(struct rpcx_compress_output *out,
                                       const uint8_t *data,
                                       size_t len);

/**
 * True when frames of `compress_type` can be sent and received now: 0 (none), 1 (gzip), or a
 * type with a registered compressor (2, snappy, in librpcx's default build). False above 7.
 * Never fails; thread-safe.
 */
bool rpcx_compressor_available(uint8_t compress_type);

/**
 * Another handle on the same connection, owned by the caller (free each handle once).
 * NULL when `conn` is NULL. Thread-safe.
 */
struct rpcx_connection *rpcx_connection_clone(const struct rpcx_connection *conn);

/**
 * Releases a handle. NULL is accepted and ignored. Must be the last use of `conn`.
 */
void rpcx_connection_free(struct rpcx_connection *conn);

/**
 * 1 while the connection is open, 0 once it closed (the client went away, was refused, or
 * the server closed) — and for a NULL `conn`. Thread-safe.
 */
int rpcx_connection_is_open(const struct rpcx_connection *conn);

/**
 * The client's address (`"tcp@127.0.0.1:50123"`), NUL-terminated, borrowed from `conn`
 * (valid until it is freed). NULL when `conn` is NULL. Thread-safe.
 */
const char *rpcx_connection_peer(const struct rpcx_connection *conn);

/**
 * Pushes a message to the client of `conn`: a oneway request `service.method` with
 * `payload[0..payload_len)` (copied; NULL allowed when the length is 0, sent as is with
 * serialize type raw) and metadata `meta` (copied; NULL for none). `service` and `method`
 * are NUL-terminated UTF-8 and must not both be empty (that frame would be a heartbeat).
 * Go clients receive it on their server-message channel, rpcx clients through their push
 * callback (`rpcx_client_options_set_push_callback`).
 *
 * The push is charged to the connection's byte budget (see
 * `rpcx_server_options_set_max_pending_bytes_per_conn`) until written, so a client that
 * does not read cannot make the server hold unbounded memory. `timeout_ms` says how long to
 * wait for room: 0 does not wait — it queues the push at once or fails with
 * `RPCX_ERR_TIMEOUT` (nothing sent) when the budget is spent; any other value blocks the
 * calling thread up to that long, and is refused with `RPCX_ERR_BLOCKING_IN_RUNTIME` on
 * rpcx runtime threads (inside handlers and callbacks: use 0 there). Pushes queued from
 * one thread are written in the order queued.
 *
 * Errors: `RPCX_ERR_CLOSED` once the connection has closed, `RPCX_ERR_TIMEOUT` (no room in
 * time; nothing sent), `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for a NULL `conn`,
 * `service` or `method`, a non-UTF-8 name or two empty names. `err_out` may be NULL;
 * otherwise on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
 * Thread-safe.
 */
rpcx_status rpcx_connection_push(const struct rpcx_connection *conn,
                                 const char *service,
                                 const char *method,
                                 const uint8_t *payload,
                                 size_t payload_len,
                                 const struct rpcx_metadata *meta,
                                 uint64_t timeout_ms,
                                 struct rpcx_error **err_out);

/**
 * Releases this handle on the discovery. XClients created from it keep using it; a registry
 * watch stops once they are freed too. NULL is accepted and ignored. Must be the last call on
 * this handle.
 */
void rpcx_discovery_free(struct rpcx_discovery *discovery);

/**
 * The number of servers the discovery lists right now, before any XClient filtering by
 * group or state (0 when `discovery` is NULL). Thread-safe.
 */
size_t rpcx_discovery_len(const struct rpcx_discovery *discovery);

/**
 * A discovery that lists and watches the servers of `service` registered in Consul's KV
 * store under `base_path` (Go's rpcx-consul layout), from the Consul agent at `address`
 * (`127.0.0.1:8500` or `http://127.0.0.1:8500`; plain HTTP, no ACL token). All strings are
 * copied. Blocking, background watching, ownership and errors as for
 * `rpcx_discovery_new_etcd`.
 */
rpcx_status rpcx_discovery_new_consul(const char *address,
                                      const char *base_path,
                                      const char *service,
                                      struct rpcx_discovery **discovery_out,
                                      struct rpcx_error **err_out);

/**
 * `rpcx_discovery_new_consul` over TLS (HTTPS): `address` is `host:port` or
 * `https://host:port`; the TLS settings of `tls` as for `rpcx_discovery_new_etcd_tls`
 * (the DANGER insecure setting is honoured here). Everything else as for
 * `rpcx_discovery_new_consul`.
 */
rpcx_status rpcx_discovery_new_consul_tls(const char *address,
                                          const char *base_path,
                                          const char *service,
                                          const struct rpcx_client_options *tls,
                                          struct rpcx_discovery **discovery_out,
                                          struct rpcx_error **err_out);

/**
 * A discovery of the servers behind the DNS name `domain` (Go's `NewDNSDiscovery`): each A
 * and AAAA record `ip` is the server `network@ip:port` (IPv6 bracketed: `tcp@[::1]:8972`)
 * with empty metadata. `network` is `tcp` (NULL means `tcp`), `tcp4` (A records only),
 * `tcp6` (AAAA only), `http`, `ws` or `wss`; `port` the servers' port (not 0).
 * `nameservers` is NULL to use the system's resolver configuration (`/etc/resolv.conf`,
 * `/etc/hosts`), or a comma-separated list of nameservers to ask instead (`ip`, `ip:port`,
 * `[ipv6]:port`; port 53 when absent), without hosts file or search domains. Strings are
 * copied.
 *
 * Blocks for the first lookup: a name without address yet is fine (an empty list, filled in
 * by a later refresh), but no answer, SERVFAIL or REFUSED fail. Then a background task on
 * the rpcx runtime looks the name up again every `interval_ms` milliseconds (not 0); XClients
 * switch to a new list when it changes. A failed lookup, or one finding no address, keeps
 * the last list (never emptied by a transient failure) and is retried after 1 s, doubling
 * up to the interval. The task stops when the discovery and its XClients are freed. On
 * success `*discovery_out` receives the discovery, owned by the caller: free it with
 * `rpcx_discovery_free`.
 *
 * Errors: `RPCX_ERR_NULL_ARG` (`domain`, `discovery_out`), `RPCX_ERR_INVALID_ARG` (empty,
 * non-UTF-8 or invalid name, another network, port 0, interval 0, a bad nameserver),
 * `RPCX_ERR_IO` when the first lookup fails, `RPCX_ERR_BLOCKING_IN_RUNTIME` on an
 * rpcx runtime thread. `err_out` may be NULL; otherwise on failure it receives an
 * `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_discovery_new_dns(const char *domain,
                                   const char *network,
                                   uint16_t port,
                                   uint64_t interval_ms,
                                   const char *nameservers,
                                   struct rpcx_discovery **discovery_out,
                                   struct rpcx_error **err_out);

/**
 * A discovery that lists and watches the servers of `service` registered in etcd v3 under
 * `base_path` (Go's rpcx-etcd layout: keys `<base_path>/<service>/<address>`, values the
 * metadata), e.g. by an rpcx server with `rpcx_server_add_etcd_registry`.
 * `endpoints[0..n_endpoints)` are the cluster's client URLs (`http://127.0.0.1:2379` or
 * `127.0.0.1:2379`). All strings are copied.
 *
 * Blocks until etcd answered the first listing (an empty list is fine: servers may register
 * later). Then a background task on the rpcx runtime follows changes, re-creating a broken
 * watch with backoff while XClients keep the last list; it stops when the discovery and its
 * XClients are freed. On success `*discovery_out` receives the discovery, owned by the
 * caller: free it with `rpcx_discovery_free`.
 *
 * Errors: `RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_ARG` (no endpoint, an empty string),
 * `RPCX_ERR_CONNECTION` or `RPCX_ERR_TIMEOUT` when etcd cannot be reached,
 * `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out` may be NULL; otherwise
 * on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_discovery_new_etcd(const char *const *endpoints,
                                    size_t n_endpoints,
                                    const char *base_path,
                                    const char *service,
                                    struct rpcx_discovery **discovery_out,
                                    struct rpcx_error **err_out);

/**
 * `rpcx_discovery_new_etcd` over TLS: the TLS settings of `tls` (set with the
 * `rpcx_client_options_set_tls*` setters; its other settings are ignored; read during the
 * call, not kept) secure the etcd connection: endpoints are `host:port` or
 * `https://host:port`, the CA (default: the system bundle) must have signed etcd's
 * certificate, whose name is checked (default: each endpoint's host), and the client
 * certificate is presented to an etcd started with `--client-cert-auth`. Refusals come back
 * with the TLS reason (`RPCX_ERR_IO`, `etcd: ...: TLS handshake: invalid peer certificate:
 * UnknownIssuer`, `... received fatal alert: BadCertificate`); `rpcx_client_options_set_tls_insecure`
 * is refused (`RPCX_ERR_CONFIG`). `RPCX_ERR_INVALID_ARG` when `tls` has no TLS settings.
 * Everything else (blocking, ownership, errors) as for `rpcx_discovery_new_etcd`.
 */
rpcx_status rpcx_discovery_new_etcd_tls(const char *const *endpoints,
                                        size_t n_endpoints,
                                        const char *base_path,
                                        const char *service,
                                        const struct rpcx_client_options *tls,
                                        struct rpcx_discovery **discovery_out,
                                        struct rpcx_error **err_out);

/**
 * A discovery of the servers `servers[0..n)` (copied; `servers` may be NULL when `n` is 0: an
 * empty list, calls fail with `RPCX_ERR_NO_SERVER` until `rpcx_discovery_update` adds some).
 * The list can be replaced at run time with `rpcx_discovery_update`. On success
 * `*discovery_out` receives it, owned by the caller: free it with `rpcx_discovery_free`.
 * `RPCX_ERR_NULL_ARG` for a NULL `discovery_out`, `servers` (with `n` > 0) or address;
 * `RPCX_ERR_INVALID_ARG` for an empty or non-UTF-8 string.
 */
rpcx_status rpcx_discovery_new_multiple(const struct rpcx_server_entry *servers,
                                        size_t n,
                                        struct rpcx_discovery **discovery_out);

/**
 * A discovery of exactly one server at `address` (NUL-terminated UTF-8, non-empty) with
 * `metadata` (NULL for none); both copied. Go's peer-to-peer discovery. On success
 * `*discovery_out` receives it, owned by the caller: free it with `rpcx_discovery_free`.
 * `RPCX_ERR_NULL_ARG` when `address` or `discovery_out` is NULL, `RPCX_ERR_INVALID_ARG` for
 * an empty or non-UTF-8 string. The address is not checked until a call dials it.
 */
rpcx_status rpcx_discovery_new_peer(const char *address,
                                    const char *metadata,
                                    struct rpcx_discovery **discovery_out);

/**
 * A discovery that lists and watches the servers of `service` registered in Redis under
 * `base_path` in the layout of Go rpcx v1.9.4's `RedisRegisterPlugin` (keys
 * `/<base_path>/<service>/<address>`, libkv `KVPair` JSON values), e.g. by an rpcx server
 * with `rpcx_server_add_redis_registry`. `address` is the Redis server, `host:port` or
 * `redis://[:password@]host:port[/db]` (no TLS). Changes are followed through keyspace
 * notifications (turned on as libkv does), with a fresh listing every 15 s anyway (every
 * second if the server refuses to turn them on). All strings are copied. Blocking,
 * background watching, ownership and errors as for `rpcx_discovery_new_etcd`.
 */
rpcx_status rpcx_discovery_new_redis(const char *address,
                                     const char *base_path,
                                     const char *service,
                                     struct rpcx_discovery **discovery_out,
                                     struct rpcx_error **err_out);

/**
 * A discovery that lists and watches the servers of `service` registered in ZooKeeper under
 * `base_path` in the layout of Go's rpcx-zookeeper plugin (libkv's zookeeper store): the
 * children of the node `/<base_path>/<service>` (one leading `/` of `base_path` dropped, as
 * Go does), each node's data the metadata; e.g. by an rpcx server with
 * `rpcx_server_add_zookeeper_registry`. `servers` is the ensemble, `host:port[,host:port…]`
 * (no TLS, no chroot). Changes are followed through ZooKeeper watches, with a fresh listing
 * every 15 s anyway. All strings are copied. Blocking, background watching, ownership and
 * errors as for `rpcx_discovery_new_etcd`.
 */
rpcx_status rpcx_discovery_new_zookeeper(const char *servers,
                                         const char *base_path,
                                         const char *service,
                                         struct rpcx_discovery **discovery_out,
                                         struct rpcx_error **err_out);

/**
 * Replaces the server list of a discovery made by `rpcx_discovery_new_multiple` with
 * `servers[0..n)` (copied; `n` may be 0). Every XClient using it switches to the new list
 * promptly (connections to removed servers close once their calls end). Thread-safe: may
 * be called from any thread, concurrently with calls, including from rpcx callbacks.
 *
 * `RPCX_ERR_INVALID_STATE` for other kinds of discovery; `RPCX_ERR_NULL_ARG` /
 * `RPCX_ERR_INVALID_ARG` as for `rpcx_discovery_new_multiple` (the list is then unchanged).
 */
rpcx_status rpcx_discovery_update(const struct rpcx_discovery *discovery,
                                  const struct rpcx_server_entry *servers,
                                  size_t n);

/**
 * Writes all of `buf[0..len)` to the download (NULL allowed when `len` is 0), blocking while
 * the client is slow (each write bounded by the io timeout). `RPCX_ERR_IO` once the download
 * failed (the client went away or stalled, or the bytes passed the max file size): stop and
 * return 0 from the callback. `RPCX_ERR_NULL_ARG` when `download` is NULL. Only on the
 * callback's thread, during the callback. `err_out` as for `rpcx_upload_read`.
 */
rpcx_status rpcx_download_write(const struct rpcx_download *download,
                                const uint8_t *buf,
                                size_t len,
                                struct rpcx_error **err_out);

/**
 * The status code of `err` (`RPCX_ERR_NULL_ARG` when `err` is NULL). Thread-safe.
 */
rpcx_status rpcx_error_code(const struct rpcx_error *err);

/**
 * Frees an error returned through an `err_out` parameter. NULL is accepted and ignored.
 * Call it once per error; the error must not be in use by another thread.
 */
void rpcx_error_free(struct rpcx_error *err);

/**
 * The message of `err`, NUL-terminated. For `RPCX_ERR_SERVER` it is the server's error text
 * exactly as sent (`__rpcx_error__`); if that text contains NUL bytes, `*len_out` still gives
 * its full length.
 *
 * `len_out` may be NULL; otherwise it receives the length in bytes (without the final NUL).
 * The string is borrowed from `err`: valid until `rpcx_error_free(err)`; do not free it.
 * Returns NULL (and leaves `*len_out` unchanged) when `err` is NULL.
 */
const char *rpcx_error_message(const struct rpcx_error *err, size_t *len_out);

/**
 * The response metadata of a server error (including `__rpcx_error__`); an empty map for
 * every other kind of error.
 *
 * Borrowed from `err`: valid until `rpcx_error_free(err)`; do not free or modify it.
 * Returns NULL only when `err` is NULL.
 */
const struct rpcx_metadata *rpcx_error_metadata(const struct rpcx_error *err);

/**
 * The reply payload a server sent along with its error (Go services send their reply
 * object with an error). Empty for every other kind of error.
 *
 * `len_out` may be NULL; otherwise it receives the length. The bytes are borrowed from
 * `err`: valid until `rpcx_error_free(err)`. Returns NULL when the payload is empty or `err`
 * is NULL (then `*len_out` is set to 0 if `err` is not NULL).
 */
const uint8_t *rpcx_error_payload(const struct rpcx_error *err, size_t *len_out);

/**
 * The level in force (`RPCX_LOG_OFF` … `RPCX_LOG_TRACE`): the default (`RPCX_LOG_WARN`, or
 * `RPCX_LOG`'s) until `rpcx_set_log_level` or `rpcx_set_log_callback` changes it;
 * `RPCX_LOG_OFF` when librpcx could not install its log subscriber. Never fails;
 * thread-safe.
 */
rpcx_log_level rpcx_get_log_level(void);

/**
 * Initialises `*limits` with the defaults (16 MiB frames and payloads, 256 metadata pairs,
 * 256 KiB of metadata) and sets `limits->struct_size` to `struct_size`, which must be
 * `sizeof(rpcx_limits)` (`sizeof *limits`): the size of the struct your program was compiled
 * with. Fields a newer header has and this librpcx does not know are zeroed (left unset).
 *
 * `RPCX_ERR_NULL_ARG` when `limits` is NULL; `RPCX_ERR_INVALID_ARG` when `struct_size` is
 * smaller than the first version of the struct (or absurdly large); nothing is written then.
 * Thread-safe (writes only `*limits`).
 */
rpcx_status rpcx_limits_init(struct rpcx_limits *limits, size_t struct_size);

/**
 * The entry at `index` (0 ≤ index < `rpcx_metadata_len(md)`), in key order. `*key_out` and
 * `*value_out` receive NUL-terminated strings borrowed from `md` (valid until it is modified
 * or freed); either out-pointer may be NULL to skip it.
 *
 * Returns `RPCX_ERR_NOT_FOUND` when `index` is out of range and `RPCX_ERR_NULL_ARG` when `md`
 * is NULL; the out-parameters are written only on success. A value received from the
 * network that contains a NUL byte appears cut at that byte.
 */
rpcx_status rpcx_metadata_at(const struct rpcx_metadata *md,
                             size_t index,
                             const char **key_out,
                             const char **value_out);

/**
 * A copy of `md` (an empty map when `md` is NULL), owned by the caller: free it with
 * `rpcx_metadata_free`. Use it to keep a borrowed map (of a request, a reply, an error)
 * beyond its lifetime. Returns NULL only if rpcx failed internally.
 */
struct rpcx_metadata *rpcx_metadata_clone(const struct rpcx_metadata *md);

/**
 * Frees a map created by `rpcx_metadata_new` or `rpcx_metadata_clone`, or handed over by a
 * call (`reply_meta_out`). NULL is accepted and ignored. Never free a borrowed map (one
 * returned as `const rpcx_metadata *`).
 */
void rpcx_metadata_free(struct rpcx_metadata *md);

/**
 * Looks `key` up. On success `*value_out` points to the value, NUL-terminated and borrowed
 * from `md`: valid until `md` is modified or freed; do not free it.
 *
 * Returns `RPCX_ERR_NOT_FOUND` when the key is absent, `RPCX_ERR_NULL_ARG` when an argument
 * is NULL and `RPCX_ERR_INVALID_ARG` when `key` is not UTF-8; `*value_out` is written only on
 * success.
 */
rpcx_status rpcx_metadata_get(const struct rpcx_metadata *md,
                              const char *key,
                              const char **value_out);

/**
 * The number of entries (0 when `md` is NULL).
 */
size_t rpcx_metadata_len(const struct rpcx_metadata *md);

/**
 * A new empty metadata map, owned by the caller: free it with `rpcx_metadata_free`.
 * Returns NULL only if rpcx failed internally.
 */
struct rpcx_metadata *rpcx_metadata_new(void);

/**
 * Sets `key` to `value`, replacing any previous value. Both are NUL-terminated UTF-8
 * strings, copied; they may be empty.
 *
 * Returns `RPCX_ERR_NULL_ARG` if any argument is NULL and `RPCX_ERR_INVALID_ARG` if a string
 * is not UTF-8 (the map is then unchanged). Needs exclusive access to `md`.
 */
rpcx_status rpcx_metadata_set(struct rpcx_metadata *md, const char *key, const char *value);

/**
 * Sets the trace context of an outgoing call in its request metadata `md` (the map passed
 * to `rpcx_client_call` and the other call functions): `traceparent` (validated, see
 * `rpcx_traceparent_validate`) and, when `tracestate` is not NULL, `tracestate` (printable
 * ASCII, at most 512 bytes, passed along as is). The receiving rpcx server — Go with the
 * rpcx-plugins OpenTelemetry plugin, or Rust with the `otel` feature — makes its server span
 * a child of the span this `traceparent` names. Both strings are copied.
 *
 * Returns `RPCX_ERR_NULL_ARG` when `md` or `traceparent` is NULL and `RPCX_ERR_INVALID_ARG`
 * when a value is malformed; the map is then unchanged. Needs exclusive access to `md`.
 */
rpcx_status rpcx_metadata_set_traceparent(struct rpcx_metadata *md,
                                          const char *traceparent,
                                          const char *tracestate);

/**
 * Reads the trace context in metadata `md`: `*traceparent_out` points to its `traceparent`
 * and, when `tracestate_out` is not NULL, `*tracestate_out` to its `tracestate` (NULL when
 * there is none). Both are NUL-terminated and borrowed from `md`: valid until `md` is
 * modified or freed; do not free them.
 *
 * Returns `RPCX_ERR_NOT_FOUND` when `md` has no `traceparent`, `RPCX_ERR_INVALID_ARG` when
 * it is malformed (see `rpcx_traceparent_validate`) and `RPCX_ERR_NULL_ARG` when `md` or
 * `traceparent_out` is NULL; the out-parameters are written only on success. May run
 * concurrently with other readers of `md`.
 */
rpcx_status rpcx_metadata_traceparent(const struct rpcx_metadata *md,
                                      const char **traceparent_out,
                                      const char **tracestate_out);

/**
 * Registers a compressor for `compress_type` (2–7) process-wide, for every server, client
 * and XClient of this process (Go's `protocol.Compressors[t] = c`): frames of that type are
 * compressed with `compress` and decompressed with `decompress` (see `rpcx_compress_fn`),
 * both called with `user_data`. Replaces the compressor registered before at that type,
 * snappy at 2 included.
 *
 * `finalizer` (may be NULL) is called with `user_data` exactly once, after the last call of
 * either callback: when this compressor has been replaced or unregistered and no frame is
 * being encoded or decoded with it any more, on whichever thread finishes last (the caller's
 * or an rpcx runtime thread). It is also called, before this returns, when the registration
 * is refused. rpcx never frees `user_data` itself.
 *
 * Errors: `RPCX_ERR_NULL_ARG` when `compress` or `decompress` is NULL;
 * `RPCX_ERR_INVALID_ARG` when `compress_type` is 0, 1 (built in) or above 7. A message is
 * stored in `*err_out` when `err_out` is not NULL (free it with `rpcx_error_free`).
 * Thread-safe; takes effect for the next frame on every connection.
 */
rpcx_status rpcx_register_compressor(uint8_t compress_type,
                                     rpcx_compress_fn compress,
                                     rpcx_compress_fn decompress,
                                     void *user_data,
                                     rpcx_finalizer finalizer,
                                     struct rpcx_error **err_out);

/**
 * A new handle on the connection `request` came on, owned by the caller: free it with
 * `rpcx_connection_free` (any thread, any time). Callable during the handler callback
 * (the request is only valid then); the handle itself outlives the call. NULL when
 * `request` is NULL (or rpcx failed internally).
 */
struct rpcx_connection *rpcx_request_connection(const struct rpcx_request *request);

/**
 * 1 once nobody waits for this call's reply any more, else 0: the caller's connection closed
 * (the client went away or was refused), the caller's deadline (`__ServerTimeout`) passed, or
 * the server closed. A handler doing long work should check it and stop early: its responder
 * has been abandoned (completing it returns `RPCX_ERR_INVALID_STATE`). Oneway calls are not
 * tied to their connection: they report 1 only past their deadline or when the server closes.
 * 1 when `request` is NULL. Use only on the callback's thread, during the callback; later,
 * from any thread, use `rpcx_responder_is_cancelled`.
 */
int rpcx_request_is_cancelled(const struct rpcx_request *request);

/**
 * The request metadata (including `__AUTH` and `__ServerTimeout` when sent). Borrowed from
 * `request`: valid until the callback returns; copy it with `rpcx_metadata_clone` to keep it.
 * Returns NULL only when `request` is NULL.
 */
const struct rpcx_metadata *rpcx_request_metadata(const struct rpcx_request *request);

/**
 * The method of the call (`"Mul"`). Borrowed from `request`: valid until the callback
 * returns. NULL when `request` is NULL.
 */
const char *rpcx_request_method(const struct rpcx_request *request);

/**
 * The request payload (already decompressed). `len_out` may be NULL; otherwise it receives
 * the length. Borrowed from `request`: valid until the callback returns. Returns NULL when
 * the payload is empty or `request` is NULL.
 */
const uint8_t *rpcx_request_payload(const struct rpcx_request *request, size_t *len_out);

/**
 * The caller's address (`"tcp@127.0.0.1:50123"`). Borrowed from `request`: valid until the
 * callback returns. NULL when `request` is NULL.
 */
const char *rpcx_request_peer(const struct rpcx_request *request);

/**
 * The serialize type the caller wrote in the request header (`RPCX_SERIALIZE_*`, 0–15);
 * the reply is labelled with the same. 0 when `request` is NULL.
 */
uint8_t rpcx_request_serialize_type(const struct rpcx_request *request);

/**
 * The service path of the call (`"Arith"`). Borrowed from `request`: valid until the
 * callback returns. NULL when `request` is NULL.
 */
const char *rpcx_request_service(const struct rpcx_request *request);

/**
 * Milliseconds left until the caller's deadline (sent as `__ServerTimeout`), 0 once it has
 * passed, or -1 when the caller set none (or `request` is NULL). When the deadline passes
 * the call is abandoned: the caller gets a timeout and the responder becomes invalid.
 */
int64_t rpcx_request_timeout_ms(const struct rpcx_request *request);

/**
 * Reads the trace context of a served call, inside a handler: the `traceparent` (and,
 * when `tracestate_out` is not NULL, the `tracestate`, or NULL when none) its caller sent —
 * the caller's span, the parent of any span the handler starts. Call it from the handler
 * callback (on the runtime thread that runs it). The strings are NUL-terminated and
 * borrowed from `request`: valid until the callback returns; copy them to keep them.
 *
 * Returns `RPCX_ERR_NOT_FOUND` when the caller sent none, `RPCX_ERR_INVALID_ARG` when it
 * sent a malformed one and `RPCX_ERR_NULL_ARG` when `request` or `traceparent_out` is NULL;
 * the out-parameters are written only on success.
 */
rpcx_status rpcx_request_traceparent(const struct rpcx_request *request,
                                     const char **traceparent_out,
                                     const char **tracestate_out);

/**
 * Completes a call with an error: the caller receives `RPCX_ERR_SERVER` with `message`
 * (NUL-terminated UTF-8, copied) as the error text, and `payload[0..payload_len)` (copied;
 * NULL allowed when 0) as the reply payload that goes with it. Callable from any thread.
 *
 * Consumes the responder on `RPCX_OK`; `RPCX_ERR_INVALID_STATE` as for
 * `rpcx_responder_reply`. On `RPCX_ERR_NULL_ARG` or `RPCX_ERR_INVALID_ARG` (message not
 * UTF-8) the responder is left pending.
 */
rpcx_status rpcx_responder_error(struct rpcx_responder *responder,
                                 const char *message,
                                 const uint8_t *payload,
                                 size_t payload_len);

/**
 * Releases a responder without replying: the caller receives `RPCX_ERR_SERVER` with the
 * text "rpcx: handler released the call without replying". NULL, or a responder already
 * completed, released or abandoned, is ignored. Callable from any thread.
 */
void rpcx_responder_free(struct rpcx_responder *responder);

/**
 * 1 once the call of `responder` no longer waits for a reply, else 0: it was abandoned (the
 * caller's connection closed, its deadline passed, the server closed) or the responder was
 * already completed or released. Callable from any thread, at any time, with any responder
 * token the library handed out: it never dereferences it. 1 when `responder` is NULL.
 */
int rpcx_responder_is_cancelled(struct rpcx_responder *responder);

/**
 * Completes a call with a reply: `payload[0..payload_len)` (copied; NULL allowed when
 * `payload_len` is 0) and optional reply metadata `meta` (copied; NULL for none). The
 * caller sees `RPCX_OK` with these. Callable from any thread, before or after the handler
 * callback returned.
 *
 * On `RPCX_OK` the responder is consumed. Returns `RPCX_ERR_INVALID_STATE` if it was already
 * completed or released, or its call was abandoned (the caller's deadline passed, the
 * connection or server closed) — harmless, nothing is sent. On `RPCX_ERR_NULL_ARG` (NULL
 * `responder`, or NULL `payload` with a non-zero length) the responder is left pending: you
 * must still complete it.
 */
rpcx_status rpcx_responder_reply(struct rpcx_responder *responder,
                                 const uint8_t *payload,
                                 size_t payload_len,
                                 const struct rpcx_metadata *meta);

/**
 * Sets the number of worker threads of the rpcx runtime, which runs every connection,
 * handler callback and async completion. Without this call the runtime starts lazily, on the
 * first server start, client connect or XClient, with one worker per CPU.
 *
 * Returns `RPCX_OK` only when the runtime will start with `n` workers: the call is atomic
 * with respect to the runtime's start — if another thread is starting it, this waits for
 * that start and returns `RPCX_ERR_INVALID_STATE`, as it does whenever the runtime is
 * already running. Before the start it may be called again (the last value counts).
 * `RPCX_ERR_INVALID_ARG` when `n` is 0. Thread-safe.
 */
rpcx_status rpcx_runtime_set_worker_threads(size_t n);

/**
 * Calls `observer` after every call `server` completes (see `rpcx_call_observer`), e.g. to
 * feed your own metrics or access log. Several observers may be added; each is called in
 * the order added. Only before `rpcx_server_start`.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of `observer` — when the server is
 * freed, or before this function returns if it fails (`RPCX_ERR_NULL_ARG` for a NULL
 * `server` or `observer`, `RPCX_ERR_INVALID_STATE` once started). The finalizer may run on
 * any thread.
 */
rpcx_status rpcx_server_add_call_observer(const struct rpcx_server *server,
                                          rpcx_call_observer observer,
                                          void *userdata,
                                          rpcx_finalizer finalizer);

/**
 * Registers every service of `server` in Consul's KV store once it runs (Go's
 * rpcx-consul layout under `base_path`), through the Consul agent at `address`
 * (`127.0.0.1:8500`; plain HTTP), with keys bound to a session of about `ttl_ms / 2`
 * milliseconds (0: 30 s; Consul keeps session TTLs within 10 s – 24 h) renewed in the
 * background. `service_address`, shutdown, blocking, errors and ownership as for
 * `rpcx_server_add_etcd_registry`.
 */
rpcx_status rpcx_server_add_consul_registry(const struct rpcx_server *server,
                                            const char *address,
                                            const char *base_path,
                                            const char *service_address,
                                            uint64_t ttl_ms,
                                            struct rpcx_error **err_out);

/**
 * `rpcx_server_add_consul_registry` over TLS (HTTPS), with the TLS settings of `tls` as for
 * `rpcx_discovery_new_consul_tls`. Everything else as for `rpcx_server_add_consul_registry`.
 */
rpcx_status rpcx_server_add_consul_registry_tls(const struct rpcx_server *server,
                                                const char *address,
                                                const char *base_path,
                                                const char *service_address,
                                                uint64_t ttl_ms,
                                                const struct rpcx_client_options *tls,
                                                struct rpcx_error **err_out);

/**
 * Registers every service of `server` in etcd v3 once it runs, under `base_path`, Go's
 * rpcx-etcd layout: `<base_path>/<service>/<address>` = the service's metadata (see
 * `rpcx_server_set_service_metadata`), written under a lease of `ttl_ms` milliseconds (0: 30
 * s; etcd works in whole seconds, at least about 2) that a background task keeps alive.
 * `endpoints[0..n_endpoints)` are the cluster's client URLs (`http://127.0.0.1:2379`);
 * `service_address` is the address clients should dial (`tcp@10.0.0.5:8972`), or NULL /
 * `""` for the address the server is bound to (use a concrete IP then, not `0.0.0.0`). All
 * strings are copied.
 *
 * A graceful `rpcx_server_shutdown` deletes the keys before it returns (waiting at most 5 s
 * for etcd); a server closed or freed without one leaves them to expire with the lease.
 * Services registered (`rpcx_server_register`) or unregistered (`rpcx_server_unregister`)
 * while the server runs are published or deleted in the background. Before or after
 * `rpcx_server_start` — added to a running server, it publishes every service at once;
 * several registries may be added.
 *
 * Blocks while it tries once to connect and grant the lease (bounded by the store's
 * request timeout, 5 s). A registry that cannot be reached — at this call or any time
 * later — is not an error: it is added all the same, the server serves, and a background
 * task retries about every refresh period (a third of the TTL), writing every key once
 * the store answers (an emptied store is repopulated). Its state is
 * `rpcx_registry_up` / `rpcx_registry_failures_total` in `rpcx_server_metrics_text`.
 * Errors: `RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_ARG` (no endpoint, an empty or non-UTF-8
 * string), `RPCX_ERR_INVALID_STATE` (shut down), `RPCX_ERR_IO` (a refusal retrying cannot
 * cure: a certificate or credentials the store refuses, with its reason),
 * `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out` may be NULL; otherwise on failure it receives an `rpcx_error` to free
 * with `rpcx_error_free`.
 */
rpcx_status rpcx_server_add_etcd_registry(const struct rpcx_server *server,
                                          const char *const *endpoints,
                                          size_t n_endpoints,
                                          const char *base_path,
                                          const char *service_address,
                                          uint64_t ttl_ms,
                                          struct rpcx_error **err_out);

/**
 * `rpcx_server_add_etcd_registry` over TLS, with the TLS settings of `tls` as for
 * `rpcx_discovery_new_etcd_tls`. Everything else as for `rpcx_server_add_etcd_registry`.
 */
rpcx_status rpcx_server_add_etcd_registry_tls(const struct rpcx_server *server,
                                              const char *const *endpoints,
                                              size_t n_endpoints,
                                              const char *base_path,
                                              const char *service_address,
                                              uint64_t ttl_ms,
                                              const struct rpcx_client_options *tls,
                                              struct rpcx_error **err_out);

/**
 * Adds an interceptor to `server`: `before` runs before each call's handler (it may refuse
 * the call with `rpcx_call_reject` and add reply metadata), `after` after the handler
 * answered (or the call was refused), seeing the outcome (`rpcx_call_error`) and able to
 * add reply metadata. Either may be NULL, not both. Interceptors and other plugins run in
 * the order added; calls to unknown services or methods reach none. Only before
 * `rpcx_server_start`. See `rpcx_interceptor_callback` for threads.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible callback — when the server is freed, or
 * before this function returns if it fails (`RPCX_ERR_NULL_ARG` for a NULL `server` or two
 * NULL callbacks, `RPCX_ERR_INVALID_STATE` once started). It may run on any thread.
 */
rpcx_status rpcx_server_add_interceptor(const struct rpcx_server *server,
                                        rpcx_interceptor_callback before,
                                        rpcx_interceptor_callback after,
                                        void *userdata,
                                        rpcx_finalizer finalizer);

/**
 * Filters the connections `server` accepts by the client's IP address: a client in one of
 * the `deny_count` networks at `deny` is refused; when `allow_count` is not 0, a client must
 * also lie in one of the networks at `allow`. A refused connection is closed at once,
 * before anything is read. Networks are NUL-terminated CIDR strings (`"10.0.0.0/8"`,
 * `"::1/128"`; a bare address is a /32 or /128), copied; an IPv4-mapped IPv6 client matches
 * IPv4 networks. Unix-socket clients are always accepted. Only before `rpcx_server_start`.
 *
 * Errors: `RPCX_ERR_INVALID_ARG` for a malformed network (the message names it),
 * `RPCX_ERR_NULL_ARG` for a NULL `server`, or a NULL array with a non-zero count,
 * `RPCX_ERR_INVALID_STATE` once started. Thread-safe.
 */
rpcx_status rpcx_server_add_ip_filter(const struct rpcx_server *server,
                                      const char *const *allow,
                                      size_t allow_count,
                                      const char *const *deny,
                                      size_t deny_count);

/**
 * Limits the requests `server` takes, over all connections, with a token bucket of
 * `capacity` tokens refilled one every `fill_interval_us` microseconds (Go's
 * `NewReqRateLimitingPlugin` without blocking): a request arriving with the bucket empty is
 * answered with the error `"request reached rate limit"` (`RPCX_ERR_SERVER` for a C
 * client) and its connection is kept. Heartbeats take tokens too, as in Go. Only before
 * `rpcx_server_start`.
 *
 * Errors: `RPCX_ERR_INVALID_ARG` when `fill_interval_us` or `capacity` is 0,
 * `RPCX_ERR_NULL_ARG` for a NULL `server`, `RPCX_ERR_INVALID_STATE` once started.
 * Thread-safe.
 */
rpcx_status rpcx_server_add_rate_limit(const struct rpcx_server *server,
                                       uint64_t fill_interval_us,
                                       uint32_t capacity);

/**
 * Registers every service of `server` in Redis once it runs, in the layout of Go rpcx
 * v1.9.4's `RedisRegisterPlugin` (libkv's redis store): keys `/<base_path>/<service>/<address>`
 * (a `base_path` with a leading `/` gives `//…`, as in Go), each value the JSON of libkv's
 * `KVPair` with the service's metadata (see `rpcx_server_set_service_metadata`) in base64.
 * `address` is the Redis server, `host:port` or `redis://[:password@]host:port[/db]` (no
 * TLS). Node keys expire after 2 × `update_interval_ms` milliseconds (0: a 30 s interval)
 * and a background task writes them again every interval; when Redis comes back empty
 * every key is written again. Keyspace notifications are turned on (`CONFIG SET
 * notify-keyspace-events KEA`) as libkv does. `service_address`, shutdown, blocking, errors
 * and ownership as for `rpcx_server_add_etcd_registry` (an unreachable Redis is retried
 * every interval; `RPCX_ERR_IO`: refused credentials, with Redis' reason). All strings are copied; `err_out` may be NULL.
 */
rpcx_status rpcx_server_add_redis_registry(const struct rpcx_server *server,
                                           const char *address,
                                           const char *base_path,
                                           const char *service_address,
                                           uint64_t update_interval_ms,
                                           struct rpcx_error **err_out);

/**
 * Registers every service of `server` in ZooKeeper once it runs, in the layout of Go's
 * rpcx-zookeeper plugin (libkv's zookeeper store): persistent nodes `/<base_path>` (data
 * `rpcx_path`) and `/<base_path>/<service>` (data the service name), and an ephemeral node
 * `/<base_path>/<service>/<address>` whose data is the service's metadata (see
 * `rpcx_server_set_service_metadata`); one leading `/` of `base_path` is dropped, as Go
 * does. `servers` is the ensemble, `host:port[,host:port…]` (no TLS, no chroot). The
 * session timeout asked for is 2 × `update_interval_ms` milliseconds (0: a 30 s interval;
 * the server bounds it) and a background task checks the session and the nodes every
 * interval; an expired session is replaced and every node written again. `service_address`,
 * shutdown (which deletes the nodes), blocking, errors and ownership as for
 * `rpcx_server_add_etcd_registry` (an unreachable ZooKeeper is retried every interval;
 * `RPCX_ERR_CONFIG`: a base path that is not a ZooKeeper path, or a zero interval). All strings
 * are copied; `err_out` may be NULL.
 */
rpcx_status rpcx_server_add_zookeeper_registry(const struct rpcx_server *server,
                                               const char *servers,
                                               const char *base_path,
                                               const char *service_address,
                                               uint64_t update_interval_ms,
                                               struct rpcx_error **err_out);

/**
 * The address the server listens on (`"tcp@127.0.0.1:40123"`, `"unix@/tmp/s.sock"`, or
 * `"ws@127.0.0.1:40123"` when started with a `ws@` address),
 * NUL-terminated and borrowed from `server` (valid until it is freed), or NULL before a
 * successful start or when `server` is NULL.
 */
const char *rpcx_server_address(const struct rpcx_server *server);

/**
 * Closes the server at once without waiting: stops accepting, drops every connection and
 * fails pending calls; replies not yet written are lost. Returns immediately; callable from
 * any thread, including handlers and other callbacks on rpcx runtime threads. Idempotent.
 * `RPCX_ERR_NULL_ARG` when `server` is NULL.
 */
rpcx_status rpcx_server_close(const struct rpcx_server *server);

/**
 * Tells the reflection service (`rpcx_server_enable_reflection`, called first) what
 * `service.method` takes and answers. `args_type` and `reply_type` are the type names shown
 * in the method line (`"Args"`, `"[]byte"`, `"string"`); `args_definition` and
 * `reply_definition` are optional text printed before it, such as a Go struct
 * (`"type Args struct {\n\tA int64\n\tB int64\n}"`) or a `//` comment, NULL or `""` for
 * none. All are NUL-terminated UTF-8, copied; `service`, `method` and the type names must not
 * be empty. A later call for the same method replaces the description. Callable before or
 * after `rpcx_server_start` (the next `GetService` call shows it), for a method registered
 * or not yet.
 *
 * `RPCX_ERR_INVALID_STATE` when reflection was not enabled, `RPCX_ERR_NULL_ARG` when a
 * required argument is NULL, `RPCX_ERR_INVALID_ARG` for an empty name or invalid UTF-8.
 * Thread-safe; nothing is called back.
 */
rpcx_status rpcx_server_describe_method(const struct rpcx_server *server,
                                        const char *service,
                                        const char *method,
                                        const char *args_type,
                                        const char *args_definition,
                                        const char *reply_type,
                                        const char *reply_definition);

/**
 * Enables file transfer on `server` with application callbacks instead of directories:
 * `upload` receives uploads (see `rpcx_upload_callback`), `download` produces downloads (see
 * `rpcx_download_callback`); either may be NULL (that direction is off: its calls fail), not
 * both. `opts` as for `rpcx_server_enable_file_transfer`, which this replaces (and which
 * replaces this): one file transfer per server.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of either callback — when replaced,
 * when the server is freed and the last callback returned, or before this function returns
 * if it fails. It may run on any thread: after `rpcx_server_free` it runs once the
 * side listener's tasks have ended, possibly on an rpcx runtime thread shortly after
 * `rpcx_server_free` returned.
 *
 * Only before `rpcx_server_start` (`RPCX_ERR_INVALID_STATE` after); `RPCX_ERR_NULL_ARG` when
 * `server` is NULL, `RPCX_ERR_INVALID_ARG` when both callbacks are NULL. `err_out` may be
 * NULL; otherwise on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_server_enable_file_callbacks(const struct rpcx_server *server,
                                              const struct rpcx_transfer_options *opts,
                                              rpcx_upload_callback upload,
                                              rpcx_download_callback download,
                                              void *userdata,
                                              rpcx_finalizer finalizer,
                                              struct rpcx_error **err_out);

/**
 * Enables file transfer on `server` (Go's `EnableFileTransfer`): `_filetransfer.TransferFile`
 * saves uploads into `upload_dir` and `_filetransfer.DownloadFile` serves the files under
 * `download_dir` (NUL-terminated UTF-8 paths of existing directories, copied; NULL leaves
 * that direction off, whose calls then fail; at least one must be given). `opts` (copied;
 * NULL for the defaults of `rpcx_transfer_options_new`) sets the side listener and limits.
 * The side listener is bound by `rpcx_server_start` (which fails with `RPCX_ERR_IO` when it
 * cannot bind) and closed by `rpcx_server_shutdown`, `rpcx_server_close` and
 * `rpcx_server_free`. Calling this again replaces the previous settings.
 *
 * Rules (those of the core): an upload keeps only the final component of the client's name
 * and refuses empty names, `.`, `..`, names starting with `.` and control characters; it is
 * written under a temporary name and renamed into place only once complete. A download
 * name is relative to `download_dir`: absolute names, `..` and symlinks leading outside are
 * refused, and only regular files are served. Files above the max file size are refused in
 * the call's error reply.
 *
 * Only before `rpcx_server_start` (`RPCX_ERR_INVALID_STATE` after). Errors:
 * `RPCX_ERR_NULL_ARG` (`server` NULL), `RPCX_ERR_INVALID_ARG` (both directories NULL, an
 * empty path, a path that is not a directory, not UTF-8), `RPCX_ERR_IO` (a directory that
 * cannot be read). `err_out` may be NULL; otherwise on failure it receives an `rpcx_error`
 * to free with `rpcx_error_free`. Does not block.
 */
rpcx_status rpcx_server_enable_file_transfer(const struct rpcx_server *server,
                                             const struct rpcx_transfer_options *opts,
                                             const char *upload_dir,
                                             const char *download_dir,
                                             struct rpcx_error **err_out);

/**
 * Collects call metrics on `server`: calls, errors and a latency histogram per service and
 * method, read with `rpcx_server_metrics_text`. Only before `rpcx_server_start`
 * (`RPCX_ERR_INVALID_STATE` after); enabling twice is harmless. `RPCX_ERR_NULL_ARG` when
 * `server` is NULL. Thread-safe.
 */
rpcx_status rpcx_server_enable_metrics(const struct rpcx_server *server);

/**
 * Serves Go rpcx's reflection service on `server`: the service `Reflection` with the methods
 * `GetServices` (the text of every service) and `GetService` (one service, named by the
 * argument), as Go's `reflection` package does. Both take a string and answer a string of Go
 * source-like text naming each service, its methods and their argument and reply types
 * (`type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {…}`); an
 * unknown service answers the server error `not found service <name>`. JSON and MsgPack
 * callers send and receive coded strings, as Go's; raw callers (serialize type 0, the C
 * client's default) send the name's UTF-8 bytes and receive the text's bytes.
 *
 * It describes every service registered on this server, before or after this call, before
 * or after `rpcx_server_start`; C handlers are described as raw `[]byte` in and out unless
 * `rpcx_server_describe_method` says otherwise. Only before `rpcx_server_start`
 * (`RPCX_ERR_INVALID_STATE` after); enabling twice is harmless. `RPCX_ERR_NULL_ARG` when
 * `server` is NULL. Thread-safe; nothing is called back.
 */
rpcx_status rpcx_server_enable_reflection(const struct rpcx_server *server);

/**
 * Stops the server if it runs (like `rpcx_server_shutdown` with no grace: pending calls
 * fail) and frees it. NULL is accepted and ignored. Must be the last call on `server`.
 *
 * Outside rpcx runtime threads it returns after the server is down and the finalizers of its
 * handlers, auth callback and call observers have run, on this thread — unless a handler or
 * auth callback has not returned within `RPCX_SHUTDOWN_MARGIN_MS` (plus up to 5 s per
 * registry): then it returns anyway, with that callback's thread left running inside it, and
 * those finalizers are deferred until the callback returns — they then run on that runtime
 * thread, after it returned. If it never returns, they never run (and what they would
 * release stays allocated). From a runtime thread this only closes (see
 * `rpcx_server_close`) and the finalizers run on a runtime thread once the last connection
 * has ended.
 */
void rpcx_server_free(struct rpcx_server *server);

/**
 * Renders `server`'s metrics in the Prometheus text exposition format
 * (`rpcx_server_calls_total`, `rpcx_server_errors_total`,
 * `rpcx_server_call_duration_seconds` histogram, labelled by service and method; then, for
 * every registry added with `rpcx_server_add_*_registry`, `rpcx_registry_up` — 1 while the
 * server's keys are written on a live lease or session, 0 while the registry retries — and
 * `rpcx_registry_failures_total`, labelled `registry` (etcd, consul, redis, zookeeper) and
 * `target` (the address given)), for your HTTP `/metrics` endpoint. On `RPCX_OK` `*text_out` receives the text (not NUL-terminated;
 * `len` bytes of UTF-8), owned by the caller: free it with `rpcx_buf_free`.
 * `RPCX_ERR_INVALID_STATE` when `rpcx_server_enable_metrics` was not called,
 * `RPCX_ERR_NULL_ARG` when an argument is NULL. Callable from any thread, at any time until
 * the server is freed.
 */
rpcx_status rpcx_server_metrics_text(const struct rpcx_server *server,
                                     struct rpcx_buf *text_out);

/**
 * Creates a server with `opts` (copied; NULL for the defaults). On success `*server_out`
 * receives the server, owned by the caller: free it with `rpcx_server_free`. Returns
 * `RPCX_ERR_NULL_ARG` when `server_out` is NULL. Does not start the runtime.
 */
rpcx_status rpcx_server_new(const struct rpcx_server_options *opts,
                            struct rpcx_server **server_out);

/**
 * Turns CORS off (the default): responses of the gateway and JSON-RPC carry no
 * `Access-Control-*` headers and preflight requests are served as ordinary requests, as Go
 * without `SetCORS`. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to
 * `opts`.
 */
rpcx_status rpcx_server_options_clear_cors(struct rpcx_server_options *opts);

/**
 * Frees server options. NULL is accepted and ignored.
 */
void rpcx_server_options_free(struct rpcx_server_options *opts);

/**
 * New server options with the defaults: the limits of `rpcx_limits_init`, 16 384 requests in flight
 * per connection, 10 000 connections, no idle timeout; HTTP on the rpcx port (gateway,
 * JSON-RPC, `CONNECT` and WebSocket tunnels) on, CORS off (see
 * `rpcx_server_options_set_http_gateway` and the setters beside it). Owned by the caller: free with
 * `rpcx_server_options_free`. Returns NULL only if rpcx failed internally.
 */
struct rpcx_server_options *rpcx_server_options_new(void);

/**
 * Sets cross-origin resource sharing for the gateway and JSON-RPC (Go's `SetCORS`, with the
 * semantics of the `rs/cors` package), replacing earlier CORS settings. Each list is an
 * array of `n_*` NUL-terminated UTF-8 strings, copied; an array may be NULL when its count is
 * 0:
 *
 * - `origins`: origins allowed (`"https://app.example.com"`); `"*"` allows every origin and
 *   one `*` inside an entry is a wildcard (`"https://app-*.example.com"`, or a scheme, a
 *   `*` and a domain to allow its subdomains); compared without regard to case. None (0)
 *   allows every origin, as in `rs/cors`.
 * - `methods`: methods a cross-origin request may use (`"PUT"`; compared in capitals, so
 *   `"put"` allows PUT too); none means GET, POST and HEAD.
 * - `headers`: request headers a cross-origin request may carry; `"*"` allows any; none
 *   means Accept, Content-Type and X-Requested-With.
 * - `exposed_headers`: response headers scripts may read (`Access-Control-Expose-Headers`).
 *
 * `allow_credentials` sends `Access-Control-Allow-Credentials: true`; `max_age_secs` is the
 * `Access-Control-Max-Age` of preflight answers (0 sends none).
 *
 * Errors (nothing is changed then; `*err_out`, when `err_out` is not NULL, receives an error
 * naming the bad entry, owned by the caller: free it with `rpcx_error_free`):
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL, or an array is NULL with a non-zero count, or an
 * entry is NULL; `RPCX_ERR_INVALID_ARG` for an entry that is not UTF-8, is empty, holds a
 * space or a control character, or (methods and headers) is not an HTTP token. Needs
 * exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_cors(struct rpcx_server_options *opts,
                                         const char *const *origins,
                                         size_t n_origins,
                                         const char *const *methods,
                                         size_t n_methods,
                                         const char *const *headers,
                                         size_t n_headers,
                                         const char *const *exposed_headers,
                                         size_t n_exposed_headers,
                                         bool allow_credentials,
                                         uint32_t max_age_secs,
                                         struct rpcx_error **err_out);

/**
 * Sets CORS to Go's `AllowAllCORSOptions()`: every origin (`Access-Control-Allow-Origin: *`),
 * the methods HEAD, GET, POST, PUT, PATCH and DELETE, any request header, no credentials.
 * Replaces earlier CORS settings. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive
 * access to `opts`.
 */
rpcx_status rpcx_server_options_set_cors_allow_all(struct rpcx_server_options *opts);

/**
 * Turns the `CONNECT /_rpcx_` tunnel on or off (default on): clients dialling an
 * `http@host:port` address send that request, then speak rpcx on the connection (Go's `http`
 * network). Off, the request is answered `405 Method Not Allowed` and the connection closed.
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_http_connect(struct rpcx_server_options *opts, bool enable);

/**
 * Turns the HTTP gateway on or off (default on): an HTTP request with `X-RPCX-*` headers
 * (`X-RPCX-ServicePath`, `X-RPCX-ServiceMethod`, `X-RPCX-SerializeType`, `X-RPCX-Meta`…) and
 * the payload as its body is served as an rpcx call, the reply's payload as the response
 * body, as Go's gateway does. Off, such requests get `404 page not found` (or, with every
 * HTTP service off, the connection is closed). `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 * Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_http_gateway(struct rpcx_server_options *opts, bool enable);

/**
 * Sets the largest HTTP request head (request line and headers) accepted, in bytes; a larger
 * head is answered `431 Request Header Fields Too Large` and its connection closed. Default
 * 65536; rpcx reads at least 8192 bytes of a request head
 * whatever the setting (1024 of a `CONNECT` head). Request bodies are bounded by the frame
 * limit (`rpcx_limits.max_frame_len`). `RPCX_ERR_INVALID_ARG` if `n` is 0.
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_http_max_header_bytes(struct rpcx_server_options *opts,
                                                          size_t n);

/**
 * Sets the most headers one HTTP request may carry; a request with more is answered `431
 * Request Header Fields Too Large` and its connection closed. Default 100. `RPCX_ERR_INVALID_ARG` if `n` is 0. `RPCX_ERR_NULL_ARG` when
 * `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_http_max_headers(struct rpcx_server_options *opts,
                                                     size_t n);

/**
 * Sets how long, in milliseconds, an HTTP request's head and body may take to arrive, and
 * how long a kept-alive HTTP connection may wait for its next request; past it the connection
 * is closed (a late body is answered `408 Request Timeout` first). Default 30000. `RPCX_ERR_INVALID_ARG` if `ms` is 0. `RPCX_ERR_NULL_ARG` when
 * `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_http_request_timeout_ms(struct rpcx_server_options *opts,
                                                            uint64_t ms);

/**
 * Closes connections that send nothing (not even heartbeats) for `ms` milliseconds; 0
 * turns the idle timeout off (the default).
 * `RPCX_ERR_NULL_ARG` when a pointer argument is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_idle_timeout_ms(struct rpcx_server_options *opts, uint64_t ms);

/**
 * Turns JSON-RPC 2.0 on or off (default on): an HTTP POST with the header
 * `X-JSONRPC-2.0: true` and a body `{"jsonrpc":"2.0","method":"Service.Method",
 * "params":…,"id":…}` (or a batch, an array of them) calls the service with `params` as a
 * JSON payload and answers `{"jsonrpc":"2.0","result":…,"id":…}`, as Go does. Off, such
 * requests go to the gateway (or get 404 when it is off too). `RPCX_ERR_NULL_ARG` when
 * `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_jsonrpc(struct rpcx_server_options *opts, bool enable);

/**
 * Sets the frame limits (copied; see `rpcx_limits` and `rpcx_limits_init`).
 * `RPCX_ERR_INVALID_ARG` if a limit is 0 or `limits->struct_size` is wrong (0: not
 * initialised with `rpcx_limits_init`). `RPCX_ERR_NULL_ARG` when a pointer argument is
 * NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_limits(struct rpcx_server_options *opts,
                                           const struct rpcx_limits *limits);

/**
 * Sets how many connections are served at once; more wait in the accept queue. Default
 * 10000. `RPCX_ERR_INVALID_ARG` if `n` is 0 (or absurdly large).
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_max_connections(struct rpcx_server_options *opts, size_t n);

/**
 * Sets how many requests one connection may have in flight; reading from it pauses while
 * the limit is reached. Default 16384. `RPCX_ERR_INVALID_ARG` if `n` is 0 or over
 * 4294967295. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_max_inflight(struct rpcx_server_options *opts, size_t n);

/**
 * Sets the same byte budget for the whole server, over all its connections. Default 256 MiB.
 * `RPCX_ERR_INVALID_ARG` if `n` is 0. `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs
 * exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_max_pending_bytes(struct rpcx_server_options *opts, size_t n);

/**
 * Sets how many bytes one connection may hold in requests being served plus replies not yet
 * written; while it holds that much the server reads nothing more from it (its client is
 * held back by TCP), so a client that never reads its replies pins a bounded amount of
 * memory. Default 4 MiB. `RPCX_ERR_INVALID_ARG` if `n` is 0.
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_max_pending_bytes_per_conn(struct rpcx_server_options *opts,
                                                               size_t n);

/**
 * Like `rpcx_server_options_set_tls_client_ca_pem`, reading the PEM file `ca_path` now.
 */
rpcx_status rpcx_server_options_set_tls_client_ca_file(struct rpcx_server_options *opts,
                                                       const char *ca_path,
                                                       bool require,
                                                       struct rpcx_error **err_out);

/**
 * Mutual TLS: verifies client certificates against the CA certificates of this PEM bundle
 * (copied, checked now). With `require` a client without a certificate is refused during
 * the handshake (it sees `received fatal alert: CertificateRequired`); without, such
 * clients are served and only certificates that are presented must verify. Call it after
 * `rpcx_server_options_set_tls_pem` / `_files` (`RPCX_ERR_INVALID_STATE` before).
 * `RPCX_ERR_CONFIG` when the PEM holds no usable certificate. `err_out`, NULL arguments and
 * access as for `rpcx_server_options_set_tls_pem`.
 */
rpcx_status rpcx_server_options_set_tls_client_ca_pem(struct rpcx_server_options *opts,
                                                      const uint8_t *ca_pem,
                                                      size_t ca_len,
                                                      bool require,
                                                      struct rpcx_error **err_out);

/**
 * Like `rpcx_server_options_set_tls_pem`, reading the PEM files `cert_path` and `key_path`
 * (NUL-terminated UTF-8 paths, copied) now; a file that cannot be read is `RPCX_ERR_CONFIG`
 * naming it. `err_out`, NULL arguments and access as for `rpcx_server_options_set_tls_pem`.
 */
rpcx_status rpcx_server_options_set_tls_files(struct rpcx_server_options *opts,
                                              const char *cert_path,
                                              const char *key_path,
                                              struct rpcx_error **err_out);

/**
 * Serves TLS with this certificate chain (PEM, the server's certificate first) and its
 * private key (PEM: PKCS#8, PKCS#1 or SEC1). Both are copied and checked now: a PEM that
 * does not parse or a key that is not the certificate's is `RPCX_ERR_CONFIG` with a message
 * saying which. Replaces earlier TLS settings, client CA included (set it again after).
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL, or a pointer is NULL with a non-zero length.
 * `err_out` may be NULL; otherwise on failure it receives an `rpcx_error` to free with
 * `rpcx_error_free`. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_tls_pem(struct rpcx_server_options *opts,
                                            const uint8_t *cert_pem,
                                            size_t cert_len,
                                            const uint8_t *key_pem,
                                            size_t key_len,
                                            struct rpcx_error **err_out);

/**
 * Turns the WebSocket tunnel on or off (default on): clients dialling a `ws@host:port`
 * address (or `wss@` to a TLS server) upgrade `GET /_rpcx_` to a WebSocket and carry rpcx
 * frames in its messages (Go's `ws`/`wss` networks). Off, the upgrade is not accepted (the
 * request goes to the gateway) and such clients fail to connect. `RPCX_ERR_NULL_ARG` when
 * `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_server_options_set_websocket(struct rpcx_server_options *opts, bool enable);

/**
 * Registers `callback` as `service.method` (both non-empty NUL-terminated UTF-8, copied).
 * Registering a name again replaces the previous handler. Before `rpcx_server_start`, or
 * while the server runs (Go's `Register` after `Serve`): then requests read from now on
 * reach it, calls already running keep the handler they started with, and registry plugins
 * (`rpcx_server_add_etcd_registry`) publish the service in the background. See
 * `rpcx_handler_callback` for how and where the callback runs.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of `callback` — when the handler is
 * replaced or its service unregistered (`rpcx_server_unregister`), when the server is freed
 * (after its last call ended), or before this function returns if it fails
 * (`RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_ARG` for an empty or non-UTF-8 name,
 * `RPCX_ERR_INVALID_STATE` once shut down, `RPCX_ERR_REGISTRATION` when a plugin refused
 * it). The finalizer may run on any thread. When a handler is replaced or unregistered it
 * runs outside the server's locks, so it may call `rpcx_server_*` functions on this server:
 * on this thread before this returns when none of its calls is running, else on the rpcx
 * runtime thread that ends the last of them.
 */
rpcx_status rpcx_server_register(const struct rpcx_server *server,
                                 const char *service,
                                 const char *method,
                                 rpcx_handler_callback callback,
                                 void *userdata,
                                 rpcx_finalizer finalizer);

/**
 * Registers a stream service (Go's `StreamService`) on `server`: each
 * `_streamservice.Stream` call gets a token and the side listener's address, and each side
 * connection with a valid token goes to `callback` (see `rpcx_stream_callback`). `opts`
 * (copied; NULL for the defaults) sets the side listener and its limits (the file size and
 * io timeout do not apply). Registering again replaces the previous stream service. The
 * side listener is bound by `rpcx_server_start` and closed by `rpcx_server_shutdown`,
 * `rpcx_server_close` and `rpcx_server_free`; streams already handed to callbacks stay open
 * until closed by them.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of `callback` — when it is replaced,
 * when the server is freed and the last callback returned, or before this function returns
 * if it fails. It may run on any thread: after `rpcx_server_free` it runs once the
 * side listener's tasks have ended, possibly on an rpcx runtime thread shortly after
 * `rpcx_server_free` returned.
 *
 * Only before `rpcx_server_start` (`RPCX_ERR_INVALID_STATE` after); `RPCX_ERR_NULL_ARG` when
 * `server` or `callback` is NULL. Does not block.
 */
rpcx_status rpcx_server_register_stream(const struct rpcx_server *server,
                                        const struct rpcx_transfer_options *opts,
                                        rpcx_stream_callback callback,
                                        void *userdata,
                                        rpcx_finalizer finalizer);

/**
 * Requires every request (except heartbeats) to pass `callback` (see `rpcx_auth_callback`),
 * replacing any previous one. Only before `rpcx_server_start`.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of `callback` — when the callback is
 * replaced, when the server is freed, or before this function returns if it fails
 * (`RPCX_ERR_NULL_ARG`, `RPCX_ERR_INVALID_STATE` once started). The finalizer may run on
 * any thread; when the callback is replaced it runs on this thread before this returns,
 * outside the server's lock, so it may call `rpcx_server_*` functions on this server.
 */
rpcx_status rpcx_server_set_auth(const struct rpcx_server *server,
                                 rpcx_auth_callback callback,
                                 void *userdata,
                                 rpcx_finalizer finalizer);

/**
 * Sets the metadata registry plugins publish for `service` (a URL query string such as
 * `weight=10&group=blue`; XClients read `weight`, `group`, `state`, `latitude`,
 * `longitude`), replacing any set before. `service` and `metadata` are NUL-terminated UTF-8,
 * copied; `service` must not be empty. Before `rpcx_server_start` it is published with the
 * service; on a running server, the registries rewrite the service's key with it (and it
 * goes with methods registered later). `RPCX_ERR_INVALID_STATE` once shut down,
 * `RPCX_ERR_REGISTRATION` when a plugin refused it, `RPCX_ERR_NULL_ARG` when an argument is
 * NULL.
 */
rpcx_status rpcx_server_set_service_metadata(const struct rpcx_server *server,
                                             const char *service,
                                             const char *metadata);

/**
 * Sets the acceptor of the stream service registered on `server` (see
 * `rpcx_stream_acceptor`), replacing any previous one. Only after
 * `rpcx_server_register_stream` (`RPCX_ERR_NOT_FOUND` before it; registering the stream
 * service again drops the acceptor) and before `rpcx_server_start`
 * (`RPCX_ERR_INVALID_STATE` after). `RPCX_ERR_NULL_ARG` when `server` or `acceptor` is NULL.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of `acceptor` — when replaced, when the
 * server is freed (once its side listener's tasks ended, possibly on a runtime thread shortly
 * after `rpcx_server_free` returned), or before this function returns if it fails.
 */
rpcx_status rpcx_server_set_stream_acceptor(const struct rpcx_server *server,
                                            rpcx_stream_acceptor acceptor,
                                            void *userdata,
                                            rpcx_finalizer finalizer);

/**
 * Graceful shutdown: stops accepting connections and reading requests, lets calls in
 * flight finish and send their replies for up to `grace_ms` milliseconds, then fails the
 * calls still pending (their callers get "rpcx: server is shutting down", their responders
 * become invalid) and closes every connection. Returns when the server is down. Idempotent;
 * callable from any thread except rpcx runtime threads (`RPCX_ERR_BLOCKING_IN_RUNTIME`:
 * use `rpcx_server_close` there), concurrently with other calls. A server shut down before
 * it started can no longer start. Handlers' finalizers run at `rpcx_server_free`.
 * `RPCX_ERR_NULL_ARG` when `server` is NULL.
 *
 * The wait is bounded: at most `grace_ms` + `RPCX_SHUTDOWN_MARGIN_MS` (plus up to 5 s per
 * etcd/Consul registry to delete its keys). A handler or auth callback that has not returned
 * by then cannot be stopped: this returns `RPCX_ERR_TIMEOUT` with the server closed (no
 * connection is served any more) and that callback still running — its thread, an rpcx
 * runtime worker, stays inside it (the runtime has one worker fewer meanwhile). When it
 * returns, its reply goes nowhere. See `rpcx_server_free` for the finalizers.
 */
rpcx_status rpcx_server_shutdown(const struct rpcx_server *server, uint64_t grace_ms);

/**
 * Binds `address` (`tcp@host:port` — port 0 picks a free one —, `host:port`, or
 * `unix@/path`; `http@`, `ws@` or `wss@host:port` bind TCP the same way, and are the form
 * `rpcx_server_address` reports and registries publish) and starts serving on the rpcx
 * runtime. Every TCP port serves rpcx, and HTTP unless the options turn it off
 * (`rpcx_server_options_set_http_gateway` and the setters beside it). On success `*port_out` (may be NULL)
 * receives the bound TCP port (0 for Unix sockets). Blocks until the listener is bound; from
 * an rpcx runtime thread it returns `RPCX_ERR_BLOCKING_IN_RUNTIME`.
 *
 * Errors: `RPCX_ERR_ADDRESS` (bad address), `RPCX_ERR_IO` (bind failed), and
 * `RPCX_ERR_INVALID_STATE` when already started or shut down. A failed start may be retried.
 * `RPCX_ERR_NULL_ARG` when `server` or `address` is NULL. `err_out` may be NULL; otherwise on
 * failure it receives an `rpcx_error` to free with `rpcx_error_free` (and is left untouched
 * on success).
 */
rpcx_status rpcx_server_start(const struct rpcx_server *server,
                              const char *address,
                              uint16_t *port_out,
                              struct rpcx_error **err_out);

/**
 * Unregisters `service` (NUL-terminated UTF-8): removes every method of it and its
 * metadata, and has the registries delete its key. On a running server, calls of it
 * already running finish and answer; requests read from now on get Go's `rpcx: can't find
 * service <name>`. Each removed handler's finalizer runs once its calls have ended (see
 * `rpcx_server_register`). Before start it only forgets the registrations. Callable from any
 * thread, handlers included; does not block.
 *
 * `RPCX_ERR_NOT_FOUND` when neither a method nor metadata of `service` is registered, `RPCX_ERR_INVALID_STATE`
 * once shut down (shutdown already unregistered everything), `RPCX_ERR_NULL_ARG` when an
 * argument is NULL, `RPCX_ERR_INVALID_ARG` for a non-UTF-8 name.
 */
rpcx_status rpcx_server_unregister(const struct rpcx_server *server,
                                   const char *service);

/**
 * `rpcx_server_unregister` for every service; `*count_out` (may be NULL) receives how many
 * there were. The server keeps running and accepts new registrations. (Unlike Go's
 * `UnregisterAll`, which only tells the registries, the services also stop answering.)
 * `RPCX_ERR_INVALID_STATE` once shut down, `RPCX_ERR_NULL_ARG` when `server` is NULL.
 */
rpcx_status rpcx_server_unregister_all(const struct rpcx_server *server, size_t *count_out);

/**
 * Sends rpcx's log events at `min_level` and above to `cb` (see `rpcx_log_fn`), with
 * `user_data` passed through unchanged; `RPCX_LOG_OFF` turns logging off. A NULL `cb` goes
 * back to the default destination — one line per event on stderr,
 * `<UTC time> <LEVEL> <target>: <message>` — at `min_level`.
 *
 * Without any call, librpcx logs warnings and errors to stderr (as Go's rpcx logs to stderr
 * by default); the environment variable `RPCX_LOG` (`off`, `error`, `warn`, `info`, `debug`
 * or `trace`), read once when librpcx first logs, sets that default level instead.
 *
 * When this returns `RPCX_OK`, the previous callback is no longer running on any thread and
 * will not be called again: its `user_data` may be freed. (This waits for calls of the
 * previous callback in progress on other threads to return.) rpcx never frees `user_data`.
 *
 * Errors: `RPCX_ERR_INVALID_ARG` when `min_level` is not 0–5; `RPCX_ERR_INVALID_STATE` when
 * called from inside a log callback (it would wait for itself) or when librpcx could not
 * install its log subscriber (see the crate documentation). Thread-safe.
 */
rpcx_status rpcx_set_log_callback(rpcx_log_fn cb, void *user_data, rpcx_log_level min_level);

/**
 * Sets the level below which events are dropped (for the callback or the stderr default
 * alike): `RPCX_LOG_OFF` … `RPCX_LOG_TRACE`. Cheap, takes effect at once on every thread,
 * and may be called from inside a log callback. `RPCX_ERR_INVALID_ARG` when `level` is not
 * 0–5, `RPCX_ERR_INVALID_STATE` when librpcx could not install its log subscriber.
 * Thread-safe.
 */
rpcx_status rpcx_set_log_level(rpcx_log_level level);

/**
 * A short static description of a status code, e.g. `"call timed out"` for
 * `RPCX_ERR_TIMEOUT`.
 *
 * Takes an `int` so any value is accepted: an unrecognised one gives
 * `"unrecognised status code"`. Never returns NULL. The string is static: do not free it.
 * Thread-safe.
 */
const char *rpcx_status_str(int status);

/**
 * Closes the connection (both ways) and frees the stream. NULL is accepted and ignored.
 * Must be the last call on `stream`. Any thread; does not block.
 */
void rpcx_stream_close(struct rpcx_stream *stream);

/**
 * Closes the writing side (TCP half-close): the peer reads the end of the stream once it
 * has read everything written before; this side can still read. `RPCX_ERR_NULL_ARG` when
 * `stream` is NULL, `RPCX_ERR_IO` when the connection is already gone. Any thread.
 */
rpcx_status rpcx_stream_close_write(const struct rpcx_stream *stream);

/**
 * Reads up to `cap` bytes into `buf`, blocking until at least one byte arrived, the peer
 * closed its writing side (then `*n_out` is 0: the end of the stream), the read timeout
 * passed (`RPCX_ERR_TIMEOUT`), or the connection failed (`RPCX_ERR_IO`, e.g. a reset).
 * `*n_out` receives the bytes read, only on success. `RPCX_ERR_NULL_ARG` when `stream`,
 * `n_out`, or `buf` with `cap > 0`, is NULL. Any thread; it blocks, so not on an rpcx runtime
 * worker (there is no such check: a blocked worker delays other work). `err_out` may be
 * NULL; otherwise on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_stream_read(const struct rpcx_stream *stream,
                             uint8_t *buf,
                             size_t cap,
                             size_t *n_out,
                             struct rpcx_error **err_out);

/**
 * Sets the longest a single `rpcx_stream_read` or `rpcx_stream_write` waits (milliseconds;
 * 0: no limit, the default), after which it returns `RPCX_ERR_TIMEOUT` and the stream stays
 * usable. `RPCX_ERR_NULL_ARG` when `stream` is NULL. Any thread.
 */
rpcx_status rpcx_stream_set_timeout_ms(const struct rpcx_stream *stream, uint64_t ms);

/**
 * Writes all of `buf[0..len)` (NULL allowed when `len` is 0), blocking until it is handed
 * to the network, the write timeout passed (`RPCX_ERR_TIMEOUT`; part of it may have been
 * sent) or the connection failed (`RPCX_ERR_IO`). `RPCX_ERR_NULL_ARG` when `stream` is NULL.
 * Any thread; blocks. `err_out` as for `rpcx_stream_read`.
 */
rpcx_status rpcx_stream_write(const struct rpcx_stream *stream,
                              const uint8_t *buf,
                              size_t len,
                              struct rpcx_error **err_out);

/**
 * A `traceparent` for a call made inside the span `parent` describes: the same trace id and
 * flags with a new random parent span id (the id of the caller's new span), written
 * NUL-terminated into `out` (`out_size` bytes, at least `RPCX_TRACEPARENT_SIZE`).
 *
 * Returns `RPCX_ERR_NULL_ARG` when a pointer is NULL and `RPCX_ERR_INVALID_ARG` when
 * `parent` is not a valid `traceparent` (see `rpcx_traceparent_validate`) or `out_size` is
 * too small; nothing is written then. Thread-safe.
 */
rpcx_status rpcx_traceparent_child(const char *parent, char *out, size_t out_size);

/**
 * Creates a new random `traceparent` — a new trace with a random trace id and parent span
 * id, flag `sampled` as asked — for a C application without a tracer that starts a trace.
 * It is written NUL-terminated into `out`, a caller-owned buffer of `out_size` bytes (at
 * least `RPCX_TRACEPARENT_SIZE`).
 *
 * Returns `RPCX_ERR_NULL_ARG` when `out` is NULL and `RPCX_ERR_INVALID_ARG` when `out_size`
 * is too small (nothing is written then). Thread-safe.
 */
rpcx_status rpcx_traceparent_new(bool sampled, char *out, size_t out_size);

/**
 * Splits a valid `traceparent` into its trace id (32 hex digits, into `trace_id_out`, a
 * buffer of at least `RPCX_TRACE_ID_SIZE` bytes), parent span id (16 hex digits, into
 * `parent_id_out`, at least `RPCX_SPAN_ID_SIZE` bytes) and flags (`*flags_out`; bit 0 is
 * `sampled`). Each out-parameter may be NULL to skip it; the buffers are caller-owned and
 * written NUL-terminated.
 *
 * Returns `RPCX_ERR_NULL_ARG` when `traceparent` is NULL and `RPCX_ERR_INVALID_ARG` when it
 * is not valid; nothing is written then. Thread-safe.
 */
rpcx_status rpcx_traceparent_parse(const char *traceparent,
                                   char *trace_id_out,
                                   char *parent_id_out,
                                   uint8_t *flags_out);

/**
 * Checks a `traceparent` value as W3C trace context reads it:
 * `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase hex, ids not all zero,
 * flags sampled (01) and random (02) only, nothing more; a later version (`01`–`fe`) is read
 * from its first 55 characters (more may follow after a `-`); version `ff` is refused.
 *
 * Returns `RPCX_OK` when it is valid, `RPCX_ERR_INVALID_ARG` when not (or not UTF-8), and
 * `RPCX_ERR_NULL_ARG` when `traceparent` is NULL. Thread-safe.
 */
rpcx_status rpcx_traceparent_validate(const char *traceparent);

/**
 * Frees transfer options. NULL is accepted and ignored.
 */
void rpcx_transfer_options_free(struct rpcx_transfer_options *opts);

/**
 * New transfer options with the defaults: side listener on `127.0.0.1:0` (a free port), no
 * advertised address, tokens valid 60 s, at most 1024 tokens waiting and 64 side connections
 * at once, 10 s for a connection to send its token, files up to 1 GiB, 30 s io timeout.
 * Owned by the caller: free with `rpcx_transfer_options_free`. NULL only if rpcx failed
 * internally.
 */
struct rpcx_transfer_options *rpcx_transfer_options_new(void);

/**
 * Sets the address replies give clients instead of the bound one (Go's `AdvertiseAddr`,
 * `host:port`, copied): set it when the side listener binds a wildcard address or sits
 * behind NAT. NULL or `""` clears it. `RPCX_ERR_NULL_ARG` when `opts` is NULL,
 * `RPCX_ERR_INVALID_ARG` when not UTF-8. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_transfer_options_set_advertise_addr(struct rpcx_transfer_options *opts,
                                                     const char *addr);

/**
 * Sets the time a new side connection has to send its token (milliseconds, above 0;
 * `RPCX_ERR_INVALID_ARG` for 0). `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 */
rpcx_status rpcx_transfer_options_set_handshake_timeout_ms(struct rpcx_transfer_options *opts,
                                                           uint64_t ms);

/**
 * Sets the longest wait for one read or write of a file transfer once the token was
 * accepted (milliseconds, above 0, else `RPCX_ERR_INVALID_ARG`): a stalled transfer is
 * aborted after it. Ignored by stream services. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 */
rpcx_status rpcx_transfer_options_set_io_timeout_ms(struct rpcx_transfer_options *opts,
                                                    uint64_t ms);

/**
 * Sets the address the side listener binds (`host:port`, NUL-terminated UTF-8, copied; port
 * 0 picks a free one). `RPCX_ERR_NULL_ARG` when an argument is NULL, `RPCX_ERR_INVALID_ARG`
 * when `listen` is empty or not UTF-8. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_transfer_options_set_listen(struct rpcx_transfer_options *opts,
                                             const char *listen);

/**
 * Sets the most side connections at once, handshakes included (one more is closed at
 * once); above 0, else `RPCX_ERR_INVALID_ARG`. For a stream service this also bounds the
 * stream callbacks running at once. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 */
rpcx_status rpcx_transfer_options_set_max_concurrent(struct rpcx_transfer_options *opts, size_t n);

/**
 * Sets the largest file accepted for upload or served for download, in bytes (above 0,
 * else `RPCX_ERR_INVALID_ARG`); a larger one is refused in the call's error reply.
 * Ignored by stream services. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 */
rpcx_status rpcx_transfer_options_set_max_file_size(struct rpcx_transfer_options *opts,
                                                    uint64_t bytes);

/**
 * Sets the most tokens waiting at once (issuing one more drops the oldest, as Go's LRU
 * does); above 0, else `RPCX_ERR_INVALID_ARG`. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 */
rpcx_status rpcx_transfer_options_set_max_tokens(struct rpcx_transfer_options *opts, size_t n);

/**
 * Sets how long a token stays valid after the call that issued it (milliseconds, above 0;
 * `RPCX_ERR_INVALID_ARG` for 0). `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 */
rpcx_status rpcx_transfer_options_set_token_ttl_ms(struct rpcx_transfer_options *opts, uint64_t ms);

/**
 * Removes the compressor registered at `compress_type` (2–7, snappy at 2 included): frames
 * of that type are then refused as an unsupported compressor, and clients set to send it
 * fail to connect with `RPCX_ERR_CONFIG`. A C compressor's finalizer runs once no frame uses
 * it any more (see `rpcx_register_compressor`).
 *
 * Errors: `RPCX_ERR_INVALID_ARG` for 0, 1 or above 7; `RPCX_ERR_NOT_FOUND` when nothing is
 * registered there. Thread-safe.
 */
rpcx_status rpcx_unregister_compressor(uint8_t compress_type);

/**
 * Reads the next bytes of an upload into `buf` (up to `cap`), blocking until some arrived.
 * `*n_out` receives how many; 0 means the end: every declared byte was read. Errors:
 * `RPCX_ERR_IO` (the client stalled past the io timeout, sent more or fewer bytes than
 * declared, or reset; the upload is lost: return 0 from the callback),
 * `RPCX_ERR_NULL_ARG` (`upload`, `n_out`, or `buf` with `cap > 0`, NULL). Only on the
 * callback's thread, during the callback. `err_out` may be NULL; otherwise on failure it
 * receives an `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_upload_read(struct rpcx_upload *upload,
                             uint8_t *buf,
                             size_t cap,
                             size_t *n_out,
                             struct rpcx_error **err_out);

/**
 * The version of librpcx (`"0.1.0"`): a static NUL-terminated string, never NULL; do not
 * free it. The header's `RPCX_VERSION` is the version a program was compiled against; this is
 * the version of the library it runs with. Thread-safe.
 */
const char *rpcx_version(void);

/**
 * The version of librpcx as one number: major × 10000 + minor × 100 + patch (`100` for
 * 0.1.0). Compare it with the header's `RPCX_VERSION_NUMBER` (the same formula over
 * `RPCX_VERSION_MAJOR`, `_MINOR` and `_PATCH`, the version a program was compiled against):
 * before 1.0 a program runs only with the minor version it was built for (the SONAME
 * `librpcx.so.0` does not tell 0.x releases apart), from 1.0 on with any later minor of its
 * major version. Never fails; thread-safe.
 */
uint32_t rpcx_version_number(void);

/**
 * Calls `method` on every server the XClient currently uses, at once, and succeeds only if
 * all succeed: then the reply is the first one received. Fails as soon as one server fails,
 * with that error; `RPCX_ERR_NO_SERVER` when there is no server. No fail mode applies.
 * Without a timeout (argument or default) it gives up after one minute. Arguments, results,
 * ownership, errors and blocking as for `rpcx_xclient_call` (the selector is not used).
 */
rpcx_status rpcx_xclient_broadcast(const struct rpcx_xclient *xclient,
                                   const char *method,
                                   const uint8_t *payload,
                                   size_t payload_len,
                                   const struct rpcx_metadata *meta,
                                   uint64_t timeout_ms,
                                   struct rpcx_buf *reply_out,
                                   struct rpcx_metadata **reply_meta_out,
                                   struct rpcx_error **err_out);

/**
 * `rpcx_xclient_broadcast` without waiting: arguments as for `rpcx_xclient_broadcast`,
 * completion, ownership and errors as for `rpcx_xclient_call_async`.
 */
rpcx_status rpcx_xclient_broadcast_async(const struct rpcx_xclient *xclient,
                                         const char *method,
                                         const uint8_t *payload,
                                         size_t payload_len,
                                         const struct rpcx_metadata *meta,
                                         uint64_t timeout_ms,
                                         rpcx_call_callback callback,
                                         void *userdata,
                                         uint64_t *call_id_out);

/**
 * Calls `method` of the XClient's service on a server chosen by the select mode, applying
 * the fail mode, and waits for the reply.
 *
 * Arguments: `method` NUL-terminated UTF-8; `payload[0..payload_len)` the request payload,
 * already encoded as the serialize type says (copied; NULL allowed when the length is 0);
 * `meta` request metadata (copied; NULL for none); `timeout_ms` the timeout of the whole
 * call, retries included (0: the XClient's default), also sent to the server as
 * `__ServerTimeout`.
 *
 * On `RPCX_OK`: `*reply_out` (may be NULL to discard) receives the reply payload — free it
 * with `rpcx_buf_free` — and `*reply_meta_out` (may be NULL to discard) the response
 * metadata — free it with `rpcx_metadata_free`. On failure neither is written, and
 * `*err_out` (may be NULL) receives an `rpcx_error` to free with `rpcx_error_free`:
 * `RPCX_ERR_SERVER` (the service's error, text intact), `RPCX_ERR_NO_SERVER`,
 * `RPCX_ERR_CONNECTION` (every attempt failed to connect), `RPCX_ERR_TIMEOUT`,
 * `RPCX_ERR_CLOSED` (the XClient was closed, also while this call waited),
 * `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for a NULL `xclient` or `method` or a
 * non-UTF-8 name.
 *
 * Blocks the calling thread (the selector callback, if any, runs on it); on an rpcx runtime
 * thread it returns `RPCX_ERR_BLOCKING_IN_RUNTIME` at once — use `rpcx_xclient_call_async`
 * there.
 */
rpcx_status rpcx_xclient_call(const struct rpcx_xclient *xclient,
                              const char *method,
                              const uint8_t *payload,
                              size_t payload_len,
                              const struct rpcx_metadata *meta,
                              uint64_t timeout_ms,
                              struct rpcx_buf *reply_out,
                              struct rpcx_metadata **reply_meta_out,
                              struct rpcx_error **err_out);

/**
 * Starts `rpcx_xclient_call` without waiting (arguments as there, all copied before this
 * returns). On `RPCX_OK` the call is under way and `callback` will be called exactly once
 * with its outcome (see `rpcx_call_callback`; it runs on an rpcx runtime worker thread, or
 * on the thread of `rpcx_xclient_cancel` / `rpcx_xclient_close` / `rpcx_xclient_free` when
 * those complete it) — possibly before this function returns. `*call_id_out` (may be NULL)
 * receives the call's id (never 0), for `rpcx_xclient_cancel`.
 *
 * On failure (`RPCX_ERR_NULL_ARG` — `callback` included —, `RPCX_ERR_INVALID_ARG`,
 * `RPCX_ERR_CLOSED` after `rpcx_xclient_close`) the callback is never called. `userdata` is
 * passed to the callback untouched; rpcx never frees it. Callable from any thread, including
 * rpcx runtime threads (handlers, callbacks).
 */
rpcx_status rpcx_xclient_call_async(const struct rpcx_xclient *xclient,
                                    const char *method,
                                    const uint8_t *payload,
                                    size_t payload_len,
                                    const struct rpcx_metadata *meta,
                                    uint64_t timeout_ms,
                                    rpcx_call_callback callback,
                                    void *userdata,
                                    uint64_t *call_id_out);

/**
 * Cancels the async call `call_id`: its callback runs now, on this thread, before this
 * returns, with `RPCX_ERR_CANCELLED`; a reply arriving later is dropped. Returns
 * `RPCX_ERR_NOT_FOUND` when the call already completed (its callback ran or is running) or
 * the id is unknown, `RPCX_ERR_NULL_ARG` when `xclient` is NULL. Callable from any thread.
 */
rpcx_status rpcx_xclient_cancel(const struct rpcx_xclient *xclient, uint64_t call_id);

/**
 * Closes the XClient: its server connections close and it stops following its discovery;
 * blocking calls in progress fail with `RPCX_ERR_CLOSED`, every pending async call's
 * callback runs with `RPCX_ERR_CLOSED` on this thread before this returns, and later calls
 * fail with `RPCX_ERR_CLOSED`. Also waits for callbacks running on other threads to return
 * (not when called from inside one of this XClient's callbacks). Idempotent; callable from
 * any thread. `RPCX_ERR_NULL_ARG` when `xclient` is NULL.
 */
rpcx_status rpcx_xclient_close(const struct rpcx_xclient *xclient);

/**
 * Downloads `name` (NUL-terminated UTF-8, relative to the server's download directory)
 * through the XClient (Go's `DownloadFile`; the XClient's service is `"_filetransfer"`) into
 * the local file `dest_path` (NUL-terminated UTF-8). The bytes go to `dest_path.rpcx-part`,
 * renamed to `dest_path` (replacing it) only once the whole file arrived; on failure the
 * partial file is removed and `dest_path` is untouched. `meta` (copied; NULL for none) is
 * sent in the arguments. On success `*received_out` (may be NULL) receives the file's size.
 *
 * Errors: `RPCX_ERR_SERVER` (refused: missing file, traversal, too large), `RPCX_ERR_IO`
 * (the local file, or the side connection reset), `RPCX_ERR_TIMEOUT` (stalled),
 * `RPCX_ERR_CLOSED`, `RPCX_ERR_NULL_ARG` / `RPCX_ERR_INVALID_ARG` for NULL or non-UTF-8
 * arguments, others as for `rpcx_xclient_call`. Blocks (not on an rpcx runtime thread:
 * `RPCX_ERR_BLOCKING_IN_RUNTIME`). `err_out` as for `rpcx_xclient_send_file`.
 */
rpcx_status rpcx_xclient_download_file(const struct rpcx_xclient *xclient,
                                       const char *name,
                                       const char *dest_path,
                                       const struct rpcx_metadata *meta,
                                       uint64_t *received_out,
                                       struct rpcx_error **err_out);

/**
 * Calls `method` on every server the XClient currently uses, at once, and returns the first
 * successful reply; fails only when every server failed (with the last error), or with
 * `RPCX_ERR_NO_SERVER` when there is no server. No fail mode applies. Without a timeout
 * (argument or default) it gives up after one minute. Arguments, results, ownership, errors
 * and blocking as for `rpcx_xclient_call` (the selector is not used).
 */
rpcx_status rpcx_xclient_fork(const struct rpcx_xclient *xclient,
                              const char *method,
                              const uint8_t *payload,
                              size_t payload_len,
                              const struct rpcx_metadata *meta,
                              uint64_t timeout_ms,
                              struct rpcx_buf *reply_out,
                              struct rpcx_metadata **reply_meta_out,
                              struct rpcx_error **err_out);

/**
 * `rpcx_xclient_fork` without waiting: arguments as for `rpcx_xclient_fork`, completion,
 * ownership and errors as for `rpcx_xclient_call_async`.
 */
rpcx_status rpcx_xclient_fork_async(const struct rpcx_xclient *xclient,
                                    const char *method,
                                    const uint8_t *payload,
                                    size_t payload_len,
                                    const struct rpcx_metadata *meta,
                                    uint64_t timeout_ms,
                                    rpcx_call_callback callback,
                                    void *userdata,
                                    uint64_t *call_id_out);

/**
 * Closes the XClient as `rpcx_xclient_close` does (pending callbacks complete with
 * `RPCX_ERR_CLOSED` before this returns) and frees it. Outside rpcx runtime threads it also
 * waits until the XClient's background tasks are gone, so that a custom selector's finalizer
 * has run when this returns if nothing else (options, other XClients) holds the selector.
 * That wait is capped at 10 seconds: a task still alive then (one whose selector callback
 * does not return) is left behind, and the selector's finalizer runs later, on the rpcx
 * runtime thread that drops the last task (never, if the callback never returns). From a
 * runtime thread it does not wait. NULL is accepted and ignored. Must be the last call on
 * `xclient`.
 */
void rpcx_xclient_free(struct rpcx_xclient *xclient);

/**
 * Calls `method` on every server the XClient currently uses, at once, waits for all of them
 * and reports each server's outcome to `callback` (Go's `Inform`): a failed server does not
 * fail the others. No fail mode applies. Arguments `method`, `payload`, `payload_len`,
 * `meta` and `timeout_ms` as for `rpcx_xclient_call` (without a timeout, argument or
 * default, it gives up after one minute; a server that has not answered by then reports
 * `RPCX_ERR_TIMEOUT`).
 *
 * `callback` (required) is called once per server, on this thread, before this function
 * returns (see `rpcx_inform_callback`); `userdata` is passed to it untouched and never freed.
 * `*count_out` (may be NULL) receives the number of servers called.
 *
 * Returns `RPCX_OK` once every server was reported (whatever their outcomes), or without
 * calling `callback`: `RPCX_ERR_NO_SERVER` when there is no server, `RPCX_ERR_NULL_ARG`
 * (`xclient`, `method` or `callback`), `RPCX_ERR_INVALID_ARG`, `RPCX_ERR_CLOSED` after
 * `rpcx_xclient_close`, `RPCX_ERR_BLOCKING_IN_RUNTIME` on an rpcx runtime thread. `err_out`
 * may be NULL; otherwise on failure it receives an `rpcx_error` to free with
 * `rpcx_error_free`. Blocks the calling thread.
 */
rpcx_status rpcx_xclient_inform(const struct rpcx_xclient *xclient,
                                const char *method,
                                const uint8_t *payload,
                                size_t payload_len,
                                const struct rpcx_metadata *meta,
                                uint64_t timeout_ms,
                                rpcx_inform_callback callback,
                                void *userdata,
                                size_t *count_out,
                                struct rpcx_error **err_out);

/**
 * Creates an XClient of `service` (NUL-terminated UTF-8, non-empty, copied) over
 * `discovery` (borrowed: the XClient shares it, so the discovery handle may be freed at any
 * time afterwards) with `opts` (copied; NULL for the defaults of
 * `rpcx_xclient_options_new`). Connections are made lazily, by the first call to each
 * server. On success `*xclient_out` receives the XClient, owned by the caller: free it with
 * `rpcx_xclient_free`.
 *
 * Does not block; callable from any thread, including rpcx runtime threads. Errors:
 * `RPCX_ERR_NULL_ARG` (`service`, `discovery` or `xclient_out` NULL), `RPCX_ERR_INVALID_ARG`
 * (empty or non-UTF-8 service), `RPCX_ERR_CONFIG` (TLS on without a CA and no system CA
 * bundle). `err_out` may be NULL; otherwise on failure it receives an
 * `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_xclient_new(const char *service,
                             const struct rpcx_discovery *discovery,
                             const struct rpcx_xclient_options *opts,
                             struct rpcx_xclient **xclient_out,
                             struct rpcx_error **err_out);

/**
 * `rpcx_client_options_add_interceptor` for XClients: the interceptor runs around every
 * attempt of every call of each XClient created with `opts` (a call retried on another
 * server passes through it again, with `rpcx_call_peer` naming that server), after the
 * interceptors of the connection options. Broadcast and fork run it once per server.
 * Ownership of `userdata` and the finalizer as there (XClients hold it until freed).
 */
rpcx_status rpcx_xclient_options_add_interceptor(struct rpcx_xclient_options *opts,
                                                 rpcx_interceptor_callback before,
                                                 rpcx_interceptor_callback after,
                                                 void *userdata,
                                                 rpcx_finalizer finalizer);

/**
 * Frees XClient options (a custom selector's finalizer runs if no XClient uses it). NULL is
 * accepted and ignored.
 */
void rpcx_xclient_options_free(struct rpcx_xclient_options *opts);

/**
 * New XClient options with the defaults: `RPCX_SELECT_ROUND_ROBIN`, `RPCX_FAIL_FAILOVER`
 * with 3 retries, 10 ms backup latency, no group, and for each server connection the
 * defaults of `rpcx_client_options_new` (serialize type `RPCX_SERIALIZE_RAW`, no call
 * timeout, 1 s connect timeout). Owned by the caller: free with `rpcx_xclient_options_free`.
 * Returns NULL only if rpcx failed internally.
 */
struct rpcx_xclient_options *rpcx_xclient_options_new(void);

/**
 * Sets how long Failbackup waits for the first server before asking a second one, in
 * milliseconds (default 10). `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access
 * to `opts`.
 */
rpcx_status rpcx_xclient_options_set_backup_latency_ms(struct rpcx_xclient_options *opts,
                                                       uint64_t ms);

/**
 * Turns on a circuit breaker per server: after `failures` consecutive failed attempts (0
 * counts as 1) on a server, the XClient stops choosing it for `open_ms` milliseconds, then
 * lets one probe call through, which closes the breaker on success and opens it again on
 * failure. A call whose only server is open fails with `RPCX_ERR_CONNECTION` naming the
 * breaker. `open_ms` 0 turns the breaker off (the default). `RPCX_ERR_NULL_ARG` when `opts`
 * is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_breaker(struct rpcx_xclient_options *opts,
                                             uint32_t failures,
                                             uint64_t open_ms);

/**
 * Copies the connection settings of `client_opts` — serialize type, call timeout, connect
 * timeout, gzip, heartbeats, auth token, limits, TLS, interceptors — used for every server
 * connection, replacing those set before (interceptors added with
 * `rpcx_xclient_options_add_interceptor` are kept, and run after those of `client_opts`).
 * The push callback of `client_opts` is not used: set one with
 * `rpcx_xclient_options_set_push_callback`. `RPCX_ERR_NULL_ARG` when an argument is NULL. Needs exclusive
 * access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_client_options(struct rpcx_xclient_options *opts,
                                                    const struct rpcx_client_options *client_opts);

/**
 * Sets the fail mode (`RPCX_FAIL_*`). Only connection failures are retried (refused or
 * broken connections, no server); errors returned by the service and timeouts never are.
 * `RPCX_ERR_INVALID_ARG` for an unknown mode. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 * Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_fail_mode(struct rpcx_xclient_options *opts, int mode);

/**
 * Uses only servers whose metadata lists `group` (`group=<name>`), copied; NULL or `""`
 * removes the filter. `RPCX_ERR_INVALID_ARG` if it is not UTF-8. `RPCX_ERR_NULL_ARG` when
 * `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_group(struct rpcx_xclient_options *opts, const char *group);

/**
 * Sets the dead-server detector (on by default, with a 1000 ms probe timeout and a 2000 ms
 * longest pause): a server whose call got no answer (a timeout, a connection refused, reset
 * or lost) is taken out of rotation at once — calls go to the other servers — while a
 * background probe on a runtime thread dials it afresh and sends a heartbeat that must be
 * answered within `probe_timeout_ms`, pausing 200 ms doubling to `max_backoff_ms` (with
 * jitter) between probes; the first answered probe brings it back. `enabled` 0 turns it
 * off (Go's behaviour: every call may pick a dead server again). `RPCX_ERR_NULL_ARG` when
 * `opts` is NULL; `RPCX_ERR_INVALID_ARG` when enabled with `probe_timeout_ms` 0 or
 * `max_backoff_ms` under 200 (nothing changes then). Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_health(struct rpcx_xclient_options *opts,
                                            bool enabled,
                                            uint64_t probe_timeout_ms,
                                            uint64_t max_backoff_ms);

/**
 * Sets the client's location for `RPCX_SELECT_CLOSEST`, in degrees (latitude −90…90,
 * longitude −180…180; default 0, 0). `RPCX_ERR_INVALID_ARG` out of range or not finite.
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_location(struct rpcx_xclient_options *opts,
                                              double latitude,
                                              double longitude);

/**
 * `rpcx_client_options_set_push_callback` for XClients: `callback` receives the pushes of
 * every server connection of each XClient created with these options (`server` tells
 * which), one at a time per XClient. Ownership of `userdata` and the finalizer as there
 * (the XClients made with these options hold the callback until they are freed).
 */
rpcx_status rpcx_xclient_options_set_push_callback(struct rpcx_xclient_options *opts,
                                                   rpcx_push_callback callback,
                                                   void *userdata,
                                                   rpcx_finalizer finalizer);

/**
 * Sets how many times Failover and Failtry retry after the first attempt (default 3; 0: no
 * retry; more than 1000 makes `rpcx_xclient_new` fail with `RPCX_ERR_CONFIG`).
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_retries(struct rpcx_xclient_options *opts, size_t retries);

/**
 * Sets the select mode (`RPCX_SELECT_*`) and removes any custom selector set before.
 * `RPCX_ERR_INVALID_ARG` for an unknown mode. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 * Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_select_mode(struct rpcx_xclient_options *opts, int mode);

/**
 * Makes `callback` choose the server of every call (see `rpcx_selector_callback` for its
 * arguments and the threads it runs on), replacing the select mode and any selector set
 * before. Each XClient created from these options calls it with its own server list.
 *
 * Ownership of `userdata` passes to rpcx in every case: `finalizer` (may be NULL) is called
 * with it exactly once, after the last possible call of `callback` — once these options
 * (or their replacement selector) and every XClient created from them are freed and the
 * XClients' last calls have ended; or before this function returns if it fails
 * (`RPCX_ERR_NULL_ARG` for a NULL `opts` or `callback`). It may run on any thread (a
 * runtime thread when an XClient is freed from a callback). Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_selector(struct rpcx_xclient_options *opts,
                                              rpcx_selector_callback callback,
                                              void *userdata,
                                              rpcx_finalizer finalizer);

/**
 * Sets the serialize type written in every request (`RPCX_SERIALIZE_*`, 0–15; default
 * `RPCX_SERIALIZE_RAW`). The C API never encodes payloads: this tells the servers how you
 * encoded them. `RPCX_ERR_INVALID_ARG` above 15. `RPCX_ERR_NULL_ARG` when `opts` is NULL.
 * Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_serialize_type(struct rpcx_xclient_options *opts,
                                                    uint8_t serialize_type);

/**
 * Sets the timeout of calls that pass none themselves, in milliseconds, covering every
 * retry of a call; 0 means wait forever (the default; broadcast and fork stop after one
 * minute). The remaining time is also sent to the server (`__ServerTimeout`).
 * `RPCX_ERR_NULL_ARG` when `opts` is NULL. Needs exclusive access to `opts`.
 */
rpcx_status rpcx_xclient_options_set_timeout_ms(struct rpcx_xclient_options *opts, uint64_t ms);

/**
 * `rpcx_client_options_set_tls` for every server connection of an XClient.
 * (`rpcx_xclient_options_set_client_options` copies the client options' TLS settings too.)
 */
rpcx_status rpcx_xclient_options_set_tls(struct rpcx_xclient_options *opts, bool enable);

/**
 * `rpcx_client_options_set_tls_ca_file` for every server connection of an XClient.
 */
rpcx_status rpcx_xclient_options_set_tls_ca_file(struct rpcx_xclient_options *opts,
                                                 const char *ca_path,
                                                 struct rpcx_error **err_out);

/**
 * `rpcx_client_options_set_tls_ca_pem` for every server connection of an XClient.
 */
rpcx_status rpcx_xclient_options_set_tls_ca_pem(struct rpcx_xclient_options *opts,
                                                const uint8_t *ca_pem,
                                                size_t ca_len,
                                                struct rpcx_error **err_out);

/**
 * `rpcx_client_options_set_tls_client_cert_file` for every server connection of an XClient.
 */
rpcx_status rpcx_xclient_options_set_tls_client_cert_file(struct rpcx_xclient_options *opts,
                                                          const char *cert_path,
                                                          const char *key_path,
                                                          struct rpcx_error **err_out);

/**
 * `rpcx_client_options_set_tls_client_cert_pem` for every server connection of an XClient.
 */
rpcx_status rpcx_xclient_options_set_tls_client_cert_pem(struct rpcx_xclient_options *opts,
                                                         const uint8_t *cert_pem,
                                                         size_t cert_len,
                                                         const uint8_t *key_pem,
                                                         size_t key_len,
                                                         struct rpcx_error **err_out);

/**
 * DANGER — `rpcx_client_options_set_tls_insecure` for every server connection of an
 * XClient: server certificates are NOT verified. For tests only.
 */
rpcx_status rpcx_xclient_options_set_tls_insecure(struct rpcx_xclient_options *opts, bool insecure);

/**
 * `rpcx_client_options_set_tls_server_name` for every server connection of an XClient:
 * usually left unset, so that each server's certificate is checked against its own host.
 */
rpcx_status rpcx_xclient_options_set_tls_server_name(struct rpcx_xclient_options *opts,
                                                     const char *server_name,
                                                     struct rpcx_error **err_out);

/**
 * The number of async calls started and not yet completed (0 when `xclient` is NULL).
 */
size_t rpcx_xclient_pending(const struct rpcx_xclient *xclient);

/**
 * Sends a oneway request (no reply is ever sent) of `method` to one server chosen by the
 * select mode, and returns once it is queued on that server's connection (connecting first
 * if needed). No fail mode applies. Arguments as for `rpcx_xclient_call` (without timeout);
 * `err_out` likewise. Blocking: `RPCX_ERR_BLOCKING_IN_RUNTIME` on rpcx runtime threads.
 */
rpcx_status rpcx_xclient_send(const struct rpcx_xclient *xclient,
                              const char *method,
                              const uint8_t *payload,
                              size_t payload_len,
                              const struct rpcx_metadata *meta,
                              struct rpcx_error **err_out);

/**
 * Uploads the local file at `path` (NUL-terminated UTF-8) through the XClient (Go's
 * `SendFile`): calls `TransferFile` of the XClient's service (create it with service
 * `"_filetransfer"`) with the file's base name, size and `meta` (copied; NULL for none),
 * then sends the bytes to the server's side listener, at most `rate_bytes_per_sec` per
 * second (0: no limit). On success `*sent_out` (may be NULL) receives the bytes sent, once
 * the server closed the side connection.
 *
 * Errors: `RPCX_ERR_SERVER` (the server refused: traversal, too large, uploads off — its text
 * intact), `RPCX_ERR_IO` (the local file, or the side connection reset: the server refused
 * the bytes), `RPCX_ERR_TIMEOUT`, `RPCX_ERR_CONNECTION`, `RPCX_ERR_NO_SERVER`,
 * `RPCX_ERR_CLOSED` (the XClient was closed, also while this waited), `RPCX_ERR_NULL_ARG` /
 * `RPCX_ERR_INVALID_ARG` for a NULL `xclient` or `path` or non-UTF-8 text. Blocks; on an rpcx
 * runtime thread it returns `RPCX_ERR_BLOCKING_IN_RUNTIME`. `err_out` may be NULL; otherwise
 * on failure it receives an `rpcx_error` to free with `rpcx_error_free`.
 */
rpcx_status rpcx_xclient_send_file(const struct rpcx_xclient *xclient,
                                   const char *path,
                                   uint64_t rate_bytes_per_sec,
                                   const struct rpcx_metadata *meta,
                                   uint64_t *sent_out,
                                   struct rpcx_error **err_out);

/**
 * The number of servers the XClient currently uses: its discovery's list after group and
 * state filtering (0 when `xclient` is NULL). Follows discovery updates. Thread-safe.
 */
size_t rpcx_xclient_server_count(const struct rpcx_xclient *xclient);

/**
 * Opens a stream through the XClient (Go's `Stream`; the XClient's service is
 * `"_streamservice"`): calls `Stream` with `meta` (copied; NULL for none), connects to the
 * side listener and sends the token. On success `*stream_out` receives the stream, owned by
 * the caller: close it with `rpcx_stream_close`. Errors as for `rpcx_xclient_call`
 * (`RPCX_ERR_SERVER` when the server refused the stream), `RPCX_ERR_IO` when the side
 * connection failed, `RPCX_ERR_NULL_ARG` when `xclient` or `stream_out` is NULL. Blocks
 * (not on an rpcx runtime thread). `err_out` as for `rpcx_xclient_send_file`.
 */
rpcx_status rpcx_xclient_stream(const struct rpcx_xclient *xclient,
                                const struct rpcx_metadata *meta,
                                struct rpcx_stream **stream_out,
                                struct rpcx_error **err_out);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* RPCX_H */
