// rpcx.hpp — header-only C++17 wrapper of the rpcx C API (rpcx.h).
//
// RAII owners for servers, clients and options; lambdas as handlers; errors as exceptions
// (rpcx::Error carries the status code, the message — for remote errors the server's text,
// unchanged — and the server's reply payload and metadata).
//
//   rpcx::Server server;
//   server.handle("Echo", "Echo", [](const rpcx::Request& req, rpcx::Responder resp) {
//       resp.reply(req.payload());
//   });
//   auto port = server.start("tcp@127.0.0.1:0");
//   auto client = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port));
//   rpcx::Response r = client.call("Echo", "Echo", "hi");
//
//   auto servers = rpcx::Discovery::multiple({{"tcp@10.0.0.1:8972"}, {"tcp@10.0.0.2:8972"}});
//   rpcx::XClient xc("Echo", servers, rpcx::XClientOptions()
//                                          .select_mode(rpcx::SelectMode::RoundRobin)
//                                          .fail_mode(rpcx::FailMode::Failover));
//   rpcx::Response r2 = xc.call("Echo", "hi");
//
// Threads: handlers, auth callbacks and async callbacks run on rpcx runtime threads (see
// rpcx.h); they must not block for long. XClient selectors run there too, or on the thread of
// a blocking XClient call. A Responder may be moved to another thread and completed there.
// Exceptions thrown by a handler become an error reply (what()); exceptions thrown by auth,
// selector or async callbacks are swallowed (refusal / no server / ignored), never cross into
// C.
#ifndef RPCX_HPP
#define RPCX_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <new>
#include <vector>

#include "rpcx.h"

namespace rpcx {

using Bytes = std::vector<std::uint8_t>;
using Metadata = std::map<std::string, std::string>;
using Millis = std::chrono::milliseconds;

/// An rpcx failure: the status code, the message, and for RPCX_ERR_SERVER the server's reply
/// payload and response metadata.
class Error : public std::runtime_error {
public:
    Error(rpcx_status code, const std::string& message, Bytes payload = {}, Metadata metadata = {})
        : std::runtime_error(message), code_(code), payload_(std::move(payload)),
          metadata_(std::move(metadata)) {}

    rpcx_status code() const noexcept { return code_; }
    /// The server's reply payload sent along with its error (empty otherwise).
    const Bytes& payload() const noexcept { return payload_; }
    /// The response metadata of a server error (empty otherwise).
    const Metadata& metadata() const noexcept { return metadata_; }
    bool is_server_error() const noexcept { return code_ == RPCX_ERR_SERVER; }
    /// rpcx_status_str of the code.
    const char* status_text() const noexcept { return rpcx_status_str(code_); }

private:
    rpcx_status code_;
    Bytes payload_;
    Metadata metadata_;
};

namespace detail {

/// The call whose handler runs on this thread, and whether a Responder of it was destroyed by
/// an exception unwinding through the handler: the trampoline then completes the call (see
/// ~Responder and Server::on_call).
struct CurrentCall {
    rpcx_responder* responder = nullptr;
    bool handed_back = false;
};
inline thread_local CurrentCall current_call;

// Owners of the C resources the wrapper holds while it builds C++ values (which may throw,
// std::bad_alloc included): each is freed however the scope is left.
struct MetadataDeleter {
    void operator()(rpcx_metadata* m) const noexcept { rpcx_metadata_free(m); }
};
using MetadataPtr = std::unique_ptr<rpcx_metadata, MetadataDeleter>;

struct ErrorDeleter {
    void operator()(rpcx_error* e) const noexcept { rpcx_error_free(e); }
};
using ErrorPtr = std::unique_ptr<rpcx_error, ErrorDeleter>;

/// An rpcx_buf out-parameter, empty until a call fills it, released on destruction.
struct Buf {
    rpcx_buf b{nullptr, 0, nullptr};
    Buf() = default;
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
    ~Buf() { rpcx_buf_free(&b); }
    rpcx_buf* out() noexcept { return &b; }
};

inline Metadata to_map(const rpcx_metadata* md) {
    Metadata out;
    std::size_t n = rpcx_metadata_len(md);
    for (std::size_t i = 0; i < n; i++) {
        const char* k = nullptr;
        const char* v = nullptr;
        if (rpcx_metadata_at(md, i, &k, &v) == RPCX_OK) {
            out.emplace(k, v);
        }
    }
    return out;
}

/// Builds an error from a status and an optional rpcx_error (not freed here).
inline Error make_error(rpcx_status status, const rpcx_error* err) {
    if (err == nullptr) {
        return Error(status, rpcx_status_str(status));
    }
    std::size_t len = 0;
    const char* msg = rpcx_error_message(err, &len);
    std::size_t plen = 0;
    const std::uint8_t* p = rpcx_error_payload(err, &plen);
    return Error(rpcx_error_code(err), std::string(msg ? msg : "", msg ? len : 0),
                 p ? Bytes(p, p + plen) : Bytes{}, to_map(rpcx_error_metadata(err)));
}

/// Throws for a non-OK status, consuming `err` (may be NULL) in every case.
inline void check(rpcx_status status, rpcx_error* err = nullptr) {
    ErrorPtr owned(err);
    if (status == RPCX_OK) {
        return;
    }
    throw make_error(status, owned.get());
}

inline MetadataPtr from_map(const Metadata& m) {
    if (m.empty()) {
        return MetadataPtr{};
    }
    MetadataPtr md(rpcx_metadata_new());
    if (!md) {
        throw Error(RPCX_ERR_PANIC, "rpcx_metadata_new failed");
    }
    for (const auto& kv : m) {
        check(rpcx_metadata_set(md.get(), kv.first.c_str(), kv.second.c_str()));
    }
    return md;
}

inline const std::uint8_t* bytes_of(std::string_view s) {
    return reinterpret_cast<const std::uint8_t*>(s.data());
}

inline std::uint64_t millis(std::chrono::milliseconds d) {
    return d.count() < 0 ? 0 : std::uint64_t(d.count());
}

/// The C setters of client-side TLS, per options type.
template <class Opts> struct ClientTlsApi;
template <> struct ClientTlsApi<rpcx_client_options> {
    static constexpr auto enable = &rpcx_client_options_set_tls;
    static constexpr auto ca_pem = &rpcx_client_options_set_tls_ca_pem;
    static constexpr auto ca_file = &rpcx_client_options_set_tls_ca_file;
    static constexpr auto server_name = &rpcx_client_options_set_tls_server_name;
    static constexpr auto cert_pem = &rpcx_client_options_set_tls_client_cert_pem;
    static constexpr auto cert_file = &rpcx_client_options_set_tls_client_cert_file;
    static constexpr auto insecure = &rpcx_client_options_set_tls_insecure;
};
template <> struct ClientTlsApi<rpcx_xclient_options> {
    static constexpr auto enable = &rpcx_xclient_options_set_tls;
    static constexpr auto ca_pem = &rpcx_xclient_options_set_tls_ca_pem;
    static constexpr auto ca_file = &rpcx_xclient_options_set_tls_ca_file;
    static constexpr auto server_name = &rpcx_xclient_options_set_tls_server_name;
    static constexpr auto cert_pem = &rpcx_xclient_options_set_tls_client_cert_pem;
    static constexpr auto cert_file = &rpcx_xclient_options_set_tls_client_cert_file;
    static constexpr auto insecure = &rpcx_xclient_options_set_tls_insecure;
};

/// The TLS methods of ClientOptions and XClientOptions (`Self` exposes `tls_target()`).
template <class Self, class Opts> class ClientTlsSetters {
    using Api = ClientTlsApi<Opts>;
    Opts* target() noexcept { return static_cast<Self*>(this)->tls_target(); }
    Self& self() noexcept { return *static_cast<Self*>(this); }

public:
    /// TLS on (system CA bundle unless tls_ca_*() is given) or off (forgets TLS settings).
    Self& tls(bool on = true) {
        check(Api::enable(target(), on));
        return self();
    }
    /// TLS trusting exactly the CAs of this PEM bundle.
    Self& tls_ca_pem(std::string_view pem) {
        rpcx_error* err = nullptr;
        rpcx_status st = Api::ca_pem(target(), bytes_of(pem), pem.size(), &err);
        check(st, err);
        return self();
    }
    /// TLS trusting the CAs of this PEM file (read now).
    Self& tls_ca_file(const std::string& path) {
        rpcx_error* err = nullptr;
        rpcx_status st = Api::ca_file(target(), path.c_str(), &err);
        check(st, err);
        return self();
    }
    /// The name the server certificate must carry (default: the host dialed; "" restores it).
    Self& tls_server_name(const std::string& name) {
        rpcx_error* err = nullptr;
        rpcx_status st = Api::server_name(target(), name.c_str(), &err);
        check(st, err);
        return self();
    }
    /// Mutual TLS: this PEM certificate chain and key are presented to the server.
    Self& tls_client_cert_pem(std::string_view cert_pem, std::string_view key_pem) {
        rpcx_error* err = nullptr;
        rpcx_status st =
            Api::cert_pem(target(), bytes_of(cert_pem), cert_pem.size(), bytes_of(key_pem), key_pem.size(), &err);
        check(st, err);
        return self();
    }
    /// Mutual TLS from PEM files (read now).
    Self& tls_client_cert_file(const std::string& cert_path, const std::string& key_path) {
        rpcx_error* err = nullptr;
        rpcx_status st = Api::cert_file(target(), cert_path.c_str(), key_path.c_str(), &err);
        check(st, err);
        return self();
    }
    /// DANGER, tests only: server certificates are NOT verified (see
    /// rpcx_client_options_set_tls_insecure).
    Self& tls_insecure(bool insecure) {
        check(Api::insecure(target(), insecure));
        return self();
    }
};

}  // namespace detail

/// A reply: payload and response metadata.
struct Response {
    Bytes payload;
    Metadata metadata;
    std::string_view text() const noexcept {
        return std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size());
    }
};

namespace detail {

/// Runs a blocking call `fn(reply_out, reply_meta_out, err_out)` and returns its reply or
/// throws its error; what the call hands over is owned by a guard from the start.
template <class F>
inline Response blocking_call(F&& fn) {
    Buf buf;
    rpcx_metadata* reply_meta = nullptr;
    rpcx_error* err = nullptr;
    rpcx_status status = fn(buf.out(), &reply_meta, &err);
    MetadataPtr owned_meta(reply_meta);
    check(status, err);
    Response r;
    if (buf.b.len > 0) {
        r.payload.assign(buf.b.data, buf.b.data + buf.b.len);
    }
    r.metadata = to_map(reply_meta);
    return r;
}

}  // namespace detail

/// A handle on a client connection of a server, for pushes (rpcx_connection). Copyable (each
/// copy is its own handle) and thread-safe; valid after the call that gave it returned.
class Connection {
public:
    /// Takes ownership of a handle from rpcx_request_connection / rpcx_connection_clone.
    explicit Connection(rpcx_connection* c) : c_(c) {
        if (!c_) throw Error(RPCX_ERR_NULL_ARG, "no connection");
    }
    Connection(const Connection& o) : Connection(rpcx_connection_clone(o.c_.get())) {}
    Connection& operator=(const Connection& o) {
        if (this != &o) c_.reset(Connection(o).c_.release());
        return *this;
    }
    Connection(Connection&&) noexcept = default;
    Connection& operator=(Connection&&) noexcept = default;

    /// Pushes service.method with `payload` (raw bytes) and `meta` to the client. `wait` 0
    /// (the default, required inside handlers and other callbacks) queues it at once or
    /// throws RPCX_ERR_TIMEOUT when the connection's byte budget is spent; longer waits that
    /// long for room (not on rpcx runtime threads). Throws RPCX_ERR_CLOSED once the
    /// connection has closed (see rpcx_connection_push).
    void push(const std::string& service, const std::string& method, std::string_view payload,
              const Metadata& meta = {}, Millis wait = Millis(0)) const {
        auto md = detail::from_map(meta);
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_connection_push(c_.get(), service.c_str(), method.c_str(),
                                              detail::bytes_of(payload), payload.size(),
                                              md.get(), detail::millis(wait), &err);
        detail::check(st, err);
    }
    bool is_open() const noexcept { return rpcx_connection_is_open(c_.get()) != 0; }
    /// The client's address.
    std::string peer() const {
        const char* p = rpcx_connection_peer(c_.get());
        return p ? p : "";
    }
    const rpcx_connection* get() const noexcept { return c_.get(); }

private:
    struct Del {
        void operator()(rpcx_connection* c) const noexcept { rpcx_connection_free(c); }
    };
    std::unique_ptr<rpcx_connection, Del> c_;
};

/// The W3C trace context of a call: its `traceparent` metadata and, if sent, `tracestate`.
struct TraceContext {
    std::string traceparent;
    std::optional<std::string> tracestate;
};

/// The parts of a `traceparent`: 32-hex trace id, 16-hex parent span id, flags (bit 0 =
/// sampled).
struct TraceParentParts {
    std::string trace_id;
    std::string parent_id;
    std::uint8_t flags = 0;
};

/// A new random `traceparent` (a new trace) for an application without a tracer
/// (rpcx_traceparent_new).
inline std::string new_traceparent(bool sampled = true) {
    char buf[RPCX_TRACEPARENT_SIZE];
    detail::check(rpcx_traceparent_new(sampled, buf, sizeof buf));
    return buf;
}

/// The same trace with a new parent span id, for a call made inside the span `parent` names
/// (rpcx_traceparent_child). Throws Error(RPCX_ERR_INVALID_ARG) for a malformed `parent`.
inline std::string child_traceparent(const std::string& parent) {
    char buf[RPCX_TRACEPARENT_SIZE];
    detail::check(rpcx_traceparent_child(parent.c_str(), buf, sizeof buf));
    return buf;
}

/// True for a valid W3C `traceparent` (rpcx_traceparent_validate).
inline bool is_valid_traceparent(const std::string& traceparent) noexcept {
    return rpcx_traceparent_validate(traceparent.c_str()) == RPCX_OK;
}

/// Splits a `traceparent` (rpcx_traceparent_parse). Throws Error(RPCX_ERR_INVALID_ARG) when
/// it is malformed.
inline TraceParentParts parse_traceparent(const std::string& traceparent) {
    char trace[RPCX_TRACE_ID_SIZE];
    char span[RPCX_SPAN_ID_SIZE];
    TraceParentParts parts;
    detail::check(rpcx_traceparent_parse(traceparent.c_str(), trace, span, &parts.flags));
    parts.trace_id = trace;
    parts.parent_id = span;
    return parts;
}

/// Sets the trace context of an outgoing call in its metadata map (what
/// rpcx_metadata_set_traceparent checks: a valid `traceparent`, a printable `tracestate` of
/// at most 512 bytes). Throws Error(RPCX_ERR_INVALID_ARG) and leaves `md` unchanged when a
/// value is malformed.
inline void set_traceparent(Metadata& md, const std::string& traceparent,
                            const std::optional<std::string>& tracestate = std::nullopt) {
    detail::MetadataPtr tmp(rpcx_metadata_new());
    if (!tmp) {
        throw std::bad_alloc();
    }
    detail::check(rpcx_metadata_set_traceparent(
        tmp.get(), traceparent.c_str(), tracestate ? tracestate->c_str() : nullptr));
    md["traceparent"] = traceparent;
    if (tracestate) {
        md["tracestate"] = *tracestate;
    }
}

/// A view of the request being served; valid only inside the handler call.
class Request {
public:
    explicit Request(const rpcx_request* r) noexcept : r_(r) {}
    std::string_view payload() const noexcept {
        std::size_t len = 0;
        const std::uint8_t* p = rpcx_request_payload(r_, &len);
        return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
    }
    Bytes payload_bytes() const {
        auto v = payload();
        return Bytes(v.begin(), v.end());
    }
    Metadata metadata() const { return detail::to_map(rpcx_request_metadata(r_)); }
    std::optional<std::string> meta(const char* key) const {
        const char* v = nullptr;
        if (rpcx_metadata_get(rpcx_request_metadata(r_), key, &v) == RPCX_OK) {
            return std::string(v);
        }
        return std::nullopt;
    }
    std::uint8_t serialize_type() const noexcept { return rpcx_request_serialize_type(r_); }
    std::string service() const { return rpcx_request_service(r_); }
    std::string method() const { return rpcx_request_method(r_); }
    std::string peer() const { return rpcx_request_peer(r_); }
    /// Time left until the caller's deadline, if it set one.
    std::optional<Millis> timeout() const noexcept {
        std::int64_t t = rpcx_request_timeout_ms(r_);
        return t < 0 ? std::nullopt : std::optional<Millis>(Millis(t));
    }
    /// True once nobody waits for the reply: the caller left, its deadline passed or the
    /// server closed (rpcx_request_is_cancelled). During the handler call only.
    bool is_cancelled() const noexcept { return rpcx_request_is_cancelled(r_) != 0; }
    /// The caller's connection, to push to now or later (rpcx_request_connection).
    Connection connection() const { return Connection(rpcx_request_connection(r_)); }
    /// The trace context the caller sent (rpcx_request_traceparent): its span is the parent
    /// of any span the handler starts. nullopt when it sent none; throws
    /// Error(RPCX_ERR_INVALID_ARG) when its `traceparent` is malformed.
    std::optional<TraceContext> traceparent() const {
        const char* tp = nullptr;
        const char* ts = nullptr;
        rpcx_status st = rpcx_request_traceparent(r_, &tp, &ts);
        if (st == RPCX_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(st);
        TraceContext tc{tp, std::nullopt};
        if (ts != nullptr) {
            tc.tracestate = std::string(ts);
        }
        return tc;
    }
    const rpcx_request* get() const noexcept { return r_; }

private:
    const rpcx_request* r_;
};

/// Owns one pending call's responder: complete it once with reply() or error(), from any
/// thread. Move-only; destroying it uncompleted releases the call (the caller gets an error).
/// Destroyed by an exception unwinding through the handler, it leaves the call to the
/// handler's trampoline: the caller gets the exception's what() if it leaves the handler, or
/// the "released" error once the handler returns if the handler caught it.
class Responder {
public:
    explicit Responder(rpcx_responder* r) noexcept : r_(r), unwinding_(std::uncaught_exceptions()) {}
    Responder(Responder&& o) noexcept
        : r_(std::exchange(o.r_, nullptr)), unwinding_(std::uncaught_exceptions()) {}
    Responder& operator=(Responder&& o) noexcept {
        if (this != &o) {
            release();
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;
    ~Responder() {
        // Destroyed by an exception unwinding through the handler of this call: hand the
        // call back to the trampoline, which answers with the exception's what() if it leaves
        // the handler, or releases the call once the handler returns (it caught it).
        if (r_ != nullptr && r_ == detail::current_call.responder &&
            std::uncaught_exceptions() > unwinding_) {
            detail::current_call.handed_back = true;
            return;
        }
        release();
    }

    /// Replies; false if the call was already completed or abandoned (deadline, shutdown).
    bool reply(std::string_view payload, const Metadata& meta = {}) {
        return reply(detail::bytes_of(payload), payload.size(), meta);
    }
    bool reply(const Bytes& payload, const Metadata& meta = {}) {
        return reply(payload.data(), payload.size(), meta);
    }
    bool reply(const std::uint8_t* data, std::size_t len, const Metadata& meta = {}) {
        if (r_ == nullptr) return false;
        auto md = detail::from_map(meta);
        return finish(rpcx_responder_reply(r_, data, len, md.get()));
    }
    /// Fails the call: the caller gets RPCX_ERR_SERVER with `message` and `payload`.
    bool error(const std::string& message, std::string_view payload = {}) {
        return finish(
            rpcx_responder_error(r_, message.c_str(), detail::bytes_of(payload), payload.size()));
    }
    /// True until completed or released.
    bool pending() const noexcept { return r_ != nullptr; }
    /// True once the call was abandoned (the caller left, its deadline passed, the server
    /// closed) or this responder completed: replying is then pointless. Any thread.
    bool is_cancelled() const noexcept {
        return r_ == nullptr || rpcx_responder_is_cancelled(r_) != 0;
    }
    /// Releases without replying (the caller gets an error).
    void release() noexcept {
        if (r_ != nullptr) {
            rpcx_responder_free(std::exchange(r_, nullptr));
        }
    }

private:
    bool finish(rpcx_status s) {
        if (r_ == nullptr) {
            return false;  // already completed or released
        }
        if (s == RPCX_OK || s == RPCX_ERR_INVALID_STATE) {
            r_ = nullptr;
            return s == RPCX_OK;
        }
        detail::check(s);  // argument errors: the responder stays pending
        return false;
    }
    rpcx_responder* r_;
    int unwinding_;
};

/// A handler: gets the request view and the responder (reply now, or move it elsewhere).
using Handler = std::function<void(const Request&, Responder)>;

/// An auth check: return std::nullopt to accept, or the refusal message.
struct AuthRequest {
    std::string_view service, method, token, peer;
};
using AuthCheck = std::function<std::optional<std::string>(const AuthRequest&)>;
/// Told about each completed call: service, method, peer, duration, error text ("" = ok).
using CallObserver = std::function<void(const std::string&, const std::string&,
                                        const std::string&, std::chrono::microseconds,
                                        const std::string&)>;

/// One call as an interceptor sees it (rpcx_call): valid only during the interceptor call.
class Call {
public:
    explicit Call(rpcx_call* c) noexcept : c_(c) {}
    std::string service() const { return rpcx_call_service(c_); }
    std::string method() const { return rpcx_call_method(c_); }
    /// The caller (server interceptors) or the server (client interceptors).
    std::string peer() const { return rpcx_call_peer(c_); }
    bool is_oneway() const noexcept { return rpcx_call_is_oneway(c_) != 0; }
    /// Request metadata.
    Metadata metadata() const { return detail::to_map(rpcx_call_metadata(c_)); }
    std::optional<std::string> meta(const char* key) const {
        const char* v = nullptr;
        if (rpcx_metadata_get(rpcx_call_metadata(c_), key, &v) == RPCX_OK) return std::string(v);
        return std::nullopt;
    }
    /// Adds request metadata (client interceptors, before the call).
    void set_metadata(const std::string& key, const std::string& value) {
        detail::check(rpcx_call_set_metadata(c_, key.c_str(), value.c_str()));
    }
    /// Adds reply metadata (server interceptors).
    void set_reply_meta(const std::string& key, const std::string& value) {
        detail::check(rpcx_call_set_reply_meta(c_, key.c_str(), value.c_str()));
    }
    /// Refuses the call (before it runs). Throwing from a `before` interceptor does the same
    /// with the exception's what().
    void reject(const std::string& message) {
        detail::check(rpcx_call_reject(c_, message.c_str()));
    }
    /// After the call: RPCX_OK or its failure's status.
    rpcx_status status() const noexcept { return rpcx_call_status(c_); }
    /// After a failed call: the error text.
    std::optional<std::string> error() const {
        const char* e = rpcx_call_error(c_);
        return e ? std::optional<std::string>(e) : std::nullopt;
    }
    /// After a client's call: the metadata the server sent back (reply or error).
    Metadata reply_metadata() const { return detail::to_map(rpcx_call_reply_metadata(c_)); }
    rpcx_call* get() const noexcept { return c_; }

private:
    rpcx_call* c_;
};

/// An interceptor hook; see Server::intercept, ClientOptions::intercept.
using Interceptor = std::function<void(Call&)>;

namespace detail {

/// A before/after pair handed to rpcx as one userdata.
struct InterceptorPair {
    Interceptor before, after;
};

inline void on_before(void* ud, rpcx_call* c) noexcept {
    Call call(c);
    try {
        static_cast<InterceptorPair*>(ud)->before(call);
    } catch (const std::exception& e) {
        if (rpcx_call_reject(c, e.what()) == RPCX_ERR_INVALID_ARG) {
            rpcx_call_reject(c, "C++ exception (its what() is not UTF-8)");
        }
    } catch (...) {
        rpcx_call_reject(c, "unknown C++ exception");
    }
}

inline void on_after(void* ud, rpcx_call* c) noexcept {
    Call call(c);
    try {
        static_cast<InterceptorPair*>(ud)->after(call);
    } catch (...) {
    }
}

inline void drop_pair(void* p) noexcept { delete static_cast<InterceptorPair*>(p); }

/// Calls `add(before_cb, after_cb, userdata, finalizer)`, passing NULL for an empty hook.
template <class Add>
inline void add_interceptor(Add&& add, Interceptor before, Interceptor after) {
    bool b = bool(before), a = bool(after);
    auto* boxed = new InterceptorPair{std::move(before), std::move(after)};
    // The finalizer deletes `boxed` in every case, including failure.
    check(add(b ? &on_before : nullptr, a ? &on_after : nullptr, boxed, &drop_pair));
}

}  // namespace detail

/// A server push as a client receives it.
struct Push {
    std::string server, service, method;
    Metadata metadata;
    Bytes payload;
    std::string_view text() const noexcept {
        return std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size());
    }
};
/// Receives pushes: on an rpcx runtime thread, one at a time per client, in order; quick.
using PushHandler = std::function<void(const Push&)>;

namespace detail {

inline void on_push(void* ud, const char* server, const char* service, const char* method,
                    const rpcx_metadata* md, const std::uint8_t* payload,
                    std::size_t len) noexcept {
    try {
        Push p{server, service, method, to_map(md), payload ? Bytes(payload, payload + len) : Bytes{}};
        (*static_cast<PushHandler*>(ud))(p);
    } catch (...) {
    }
}

inline void drop_push(void* p) noexcept { delete static_cast<PushHandler*>(p); }

}  // namespace detail

/// Sets the rpcx runtime's worker threads (before anything starts it).
inline void set_worker_threads(std::size_t n) { detail::check(rpcx_runtime_set_worker_threads(n)); }
/// librpcx's version.
inline std::string_view version() { return rpcx_version(); }

/// Log levels (rpcx.h's RPCX_LOG_*), most severe first.
enum class LogLevel : int {
    Off = RPCX_LOG_OFF,
    Error = RPCX_LOG_ERROR,
    Warn = RPCX_LOG_WARN,
    Info = RPCX_LOG_INFO,
    Debug = RPCX_LOG_DEBUG,
    Trace = RPCX_LOG_TRACE,
};

/// Receives one of rpcx's log events: its level, target ("rpcx::server::conn") and message
/// (the text, then the fields as key=value). The views are valid during the call only. Runs
/// on the thread emitting the event (an rpcx runtime thread, or the caller's own for events a
/// function emits before returning), possibly on several at once: thread-safe and quick.
/// Exceptions it throws are swallowed (the event is dropped).
using LogHandler =
    std::function<void(LogLevel level, std::string_view target, std::string_view message)>;

namespace detail {

/// True on a thread while it runs a LogHandler (set by on_log): set_log_handler checks it
/// before taking log_mutex, which a thread replacing the handler may hold while it waits for
/// this very handler to return.
inline bool& in_log_handler() noexcept {
    thread_local bool inside = false;
    return inside;
}

inline void on_log(void* ud, rpcx_log_level level, const char* target,
                   const char* message) noexcept {
    bool& inside = in_log_handler();
    const bool outer = inside;
    inside = true;
    try {
        (*static_cast<LogHandler*>(ud))(static_cast<LogLevel>(level), target, message);
    } catch (...) {
    }
    inside = outer;
}

/// Serialises set_log_handler; never destroyed (rpcx threads may log until the process ends).
inline std::mutex& log_mutex() {
    static std::mutex* m = new std::mutex;
    return *m;
}

/// The handler installed last; deliberately never destroyed at exit.
inline LogHandler*& log_handler() {
    static LogHandler* h = nullptr;
    return h;
}

}  // namespace detail

/// Sends rpcx's log events at min_level and above to handler (rpcx_set_log_callback); an
/// empty handler restores the default, one line per event on stderr, at min_level. When it
/// returns, the previous handler is no longer running and has been destroyed. Throws
/// rpcx::Error (RPCX_ERR_INVALID_STATE) when called from inside a log handler.
inline void set_log_handler(LogHandler handler, LogLevel min_level = LogLevel::Warn) {
    // Refused before taking the mutex: another thread may hold it while it waits (in
    // rpcx_set_log_callback) for the handler running on this thread to return.
    if (detail::in_log_handler()) {
        throw Error(RPCX_ERR_INVALID_STATE,
                    "rpcx: set_log_handler called from inside a log handler (it would wait for "
                    "itself)");
    }
    std::lock_guard<std::mutex> guard(detail::log_mutex());
    std::unique_ptr<LogHandler> next;
    if (handler) {
        next = std::make_unique<LogHandler>(std::move(handler));
    }
    detail::check(rpcx_set_log_callback(next ? detail::on_log : nullptr, next.get(),
                                        static_cast<rpcx_log_level>(min_level)));
    delete detail::log_handler();
    detail::log_handler() = next.release();
}

/// Sets the level below which events are dropped (rpcx_set_log_level); callable anywhere,
/// including inside a log handler.
inline void set_log_level(LogLevel level) {
    detail::check(rpcx_set_log_level(static_cast<rpcx_log_level>(level)));
}

/// Compress types (rpcx.h's RPCX_COMPRESS_*): 0 none, 1 gzip, 2 snappy (built into librpcx by
/// default; a Go peer registers protocol.SnappyCompressor at 2); 3-7 free for
/// register_compressor.
namespace compress_type {
inline constexpr std::uint8_t none = RPCX_COMPRESS_NONE;
inline constexpr std::uint8_t gzip = RPCX_COMPRESS_GZIP;
inline constexpr std::uint8_t snappy = RPCX_COMPRESS_SNAPPY;
}  // namespace compress_type

/// A payload compressor for register_compressor. Both functions run on rpcx runtime threads,
/// possibly on several at once: thread-safe and quick. compress gets the payload;
/// decompress gets the compressed payload and the most bytes its result may hold (the
/// receiver's decompressed-size limit): check it before building the output — a result
/// larger than max_len is refused as over the limit. An exception thrown by either fails the
/// frame with its what() as the error text (an error reply on a server, rpcx::Error on a
/// client); it never crosses into C.
struct Compressor {
    std::function<Bytes(const std::uint8_t* data, std::size_t len)> compress;
    std::function<Bytes(const std::uint8_t* data, std::size_t len, std::size_t max_len)> decompress;
};

namespace detail {

inline int compressor_result(rpcx_compress_output* out, const Bytes& result) noexcept {
    if (rpcx_compress_output_write(out, result.data(), result.size()) != RPCX_OK) {
        return RPCX_COMPRESS_TOO_LARGE;
    }
    return RPCX_COMPRESS_OK;
}

inline int compressor_failed(rpcx_compress_output* out, const char* what) noexcept {
    if (rpcx_compress_output_set_error(out, what) != RPCX_OK) {
        rpcx_compress_output_set_error(out, "C++ exception (its what() is not UTF-8)");
    }
    return RPCX_COMPRESS_FAILED;
}

inline int on_compress(void* ud, const std::uint8_t* in, std::size_t len, std::size_t,
                       rpcx_compress_output* out) noexcept {
    try {
        return compressor_result(out, static_cast<Compressor*>(ud)->compress(in, len));
    } catch (const std::exception& e) {
        return compressor_failed(out, e.what());
    } catch (...) {
        return compressor_failed(out, "unknown C++ exception");
    }
}

inline int on_decompress(void* ud, const std::uint8_t* in, std::size_t len, std::size_t max,
                         rpcx_compress_output* out) noexcept {
    try {
        return compressor_result(out, static_cast<Compressor*>(ud)->decompress(in, len, max));
    } catch (const std::exception& e) {
        return compressor_failed(out, e.what());
    } catch (...) {
        return compressor_failed(out, "unknown C++ exception");
    }
}

inline void drop_compressor(void* p) noexcept { delete static_cast<Compressor*>(p); }

}  // namespace detail

/// Registers c for compress type (2-7) process-wide, for every server and client
/// (rpcx_register_compressor), replacing the compressor registered there before (snappy at 2
/// included); c is destroyed once no frame uses it any more. Throws rpcx::Error:
/// RPCX_ERR_INVALID_ARG for 0, 1 or above 7, RPCX_ERR_NULL_ARG when a function is empty.
inline void register_compressor(std::uint8_t type, Compressor c) {
    bool complete = c.compress && c.decompress;
    auto* boxed = new Compressor(std::move(c));
    rpcx_error* err = nullptr;
    // The finalizer deletes `boxed` in every case, including failure.
    rpcx_status st = rpcx_register_compressor(type, complete ? &detail::on_compress : nullptr,
                                              complete ? &detail::on_decompress : nullptr,
                                              boxed, &detail::drop_compressor, &err);
    detail::check(st, err);
}

/// Removes the compressor of type (2-7; rpcx_unregister_compressor). Throws rpcx::Error:
/// RPCX_ERR_NOT_FOUND when none is registered, RPCX_ERR_INVALID_ARG for 0, 1 or above 7.
inline void unregister_compressor(std::uint8_t type) {
    detail::check(rpcx_unregister_compressor(type));
}

/// True when frames of this compress type can be sent and received now.
inline bool compressor_available(std::uint8_t type) noexcept {
    return rpcx_compressor_available(type);
}

/// The level in force (rpcx_get_log_level).
inline LogLevel log_level() { return static_cast<LogLevel>(rpcx_get_log_level()); }

/// Frame limits: rpcx_limits initialised with rpcx_limits_init (the defaults and its
/// struct_size); change the fields you need.
struct Limits : rpcx_limits {
    Limits() : rpcx_limits{} { detail::check(rpcx_limits_init(this, sizeof(rpcx_limits))); }
};

/// Cross-origin resource sharing for the HTTP gateway and JSON-RPC (ServerOptions::cors; Go's
/// CORSOptions with the semantics of rs/cors, see rpcx_server_options_set_cors). An empty list
/// means the rs/cors default: every origin; GET, POST and HEAD; Accept, Content-Type and
/// X-Requested-With.
struct Cors {
    /// Origins allowed ("https://app.example.com"); "*" allows all, one "*" inside an entry is
    /// a wildcard ("https://*.example.com").
    std::vector<std::string> allowed_origins;
    /// Methods a cross-origin request may use ("PUT"; compared exactly).
    std::vector<std::string> allowed_methods;
    /// Request headers a cross-origin request may carry; "*" allows any.
    std::vector<std::string> allowed_headers;
    /// Response headers scripts may read (Access-Control-Expose-Headers).
    std::vector<std::string> exposed_headers;
    /// Send Access-Control-Allow-Credentials: true.
    bool allow_credentials = false;
    /// Access-Control-Max-Age of preflight answers, in seconds (0: none).
    std::uint32_t max_age_secs = 0;
};

class ServerOptions {
public:
    ServerOptions() : o_(rpcx_server_options_new()) {
        if (!o_) throw Error(RPCX_ERR_PANIC, "rpcx_server_options_new failed");
    }
    ServerOptions& limits(const Limits& l) {
        detail::check(rpcx_server_options_set_limits(o_.get(), &l));
        return *this;
    }
    ServerOptions& max_inflight(std::size_t n) {
        detail::check(rpcx_server_options_set_max_inflight(o_.get(), n));
        return *this;
    }
    ServerOptions& max_connections(std::size_t n) {
        detail::check(rpcx_server_options_set_max_connections(o_.get(), n));
        return *this;
    }
    /// Bytes one connection may hold in requests being served and unwritten replies.
    ServerOptions& max_pending_bytes_per_conn(std::size_t n) {
        detail::check(rpcx_server_options_set_max_pending_bytes_per_conn(o_.get(), n));
        return *this;
    }
    /// The same byte budget over the whole server.
    ServerOptions& max_pending_bytes(std::size_t n) {
        detail::check(rpcx_server_options_set_max_pending_bytes(o_.get(), n));
        return *this;
    }
    ServerOptions& idle_timeout(Millis d) {
        detail::check(rpcx_server_options_set_idle_timeout_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    /// HTTP on the rpcx port: every TCP port also serves the HTTP gateway, JSON-RPC 2.0 and
    /// rpcx tunnelled in CONNECT (clients' http@ addresses) or a WebSocket (ws@, wss@), each
    /// on by default (see rpcx_server_options_set_http_gateway and the setters beside it).
    ServerOptions& http_gateway(bool on) {
        detail::check(rpcx_server_options_set_http_gateway(o_.get(), on));
        return *this;
    }
    /// JSON-RPC 2.0 (HTTP POSTs with `X-JSONRPC-2.0: true`) on or off.
    ServerOptions& jsonrpc(bool on) {
        detail::check(rpcx_server_options_set_jsonrpc(o_.get(), on));
        return *this;
    }
    /// The `CONNECT /_rpcx_` tunnel (clients' http@ addresses) on or off.
    ServerOptions& http_connect(bool on) {
        detail::check(rpcx_server_options_set_http_connect(o_.get(), on));
        return *this;
    }
    /// The WebSocket tunnel at /_rpcx_ (clients' ws@ and wss@ addresses) on or off.
    ServerOptions& websocket(bool on) {
        detail::check(rpcx_server_options_set_websocket(o_.get(), on));
        return *this;
    }
    /// Time an HTTP request's head and body may take to arrive (default 30 s; at least 1 ms).
    ServerOptions& http_request_timeout(Millis d) {
        detail::check(rpcx_server_options_set_http_request_timeout_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    /// Largest HTTP request head, in bytes (default 64 KiB; at least 8 KiB is read).
    ServerOptions& http_max_header_bytes(std::size_t n) {
        detail::check(rpcx_server_options_set_http_max_header_bytes(o_.get(), n));
        return *this;
    }
    /// Most headers in one HTTP request (default 100).
    ServerOptions& http_max_headers(std::size_t n) {
        detail::check(rpcx_server_options_set_http_max_headers(o_.get(), n));
        return *this;
    }
    /// CORS for the gateway and JSON-RPC; throws rpcx::Error (RPCX_ERR_INVALID_ARG, naming
    /// the entry) for an empty entry, one with spaces or control characters, or a method or
    /// header that is not an HTTP token.
    ServerOptions& cors(const Cors& c) {
        auto ptrs = [](const std::vector<std::string>& v) {
            std::vector<const char*> out;
            out.reserve(v.size());
            for (const auto& s : v) out.push_back(s.c_str());
            return out;
        };
        auto o = ptrs(c.allowed_origins), m = ptrs(c.allowed_methods), h = ptrs(c.allowed_headers),
             e = ptrs(c.exposed_headers);
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_options_set_cors(o_.get(), o.data(), o.size(), m.data(), m.size(),
                                                      h.data(), h.size(), e.data(), e.size(),
                                                      c.allow_credentials, c.max_age_secs, &err);
        detail::check(st, err);
        return *this;
    }
    /// CORS as Go's AllowAllCORSOptions(): every origin, the usual methods, any header.
    ServerOptions& cors_allow_all() {
        detail::check(rpcx_server_options_set_cors_allow_all(o_.get()));
        return *this;
    }
    /// No CORS headers (the default).
    ServerOptions& no_cors() {
        detail::check(rpcx_server_options_clear_cors(o_.get()));
        return *this;
    }
    /// Serves TLS with a PEM certificate chain and private key (checked now).
    ServerOptions& tls_pem(std::string_view cert_pem, std::string_view key_pem) {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_options_set_tls_pem(
            o_.get(), detail::bytes_of(cert_pem), cert_pem.size(), detail::bytes_of(key_pem), key_pem.size(), &err);
        detail::check(st, err);
        return *this;
    }
    /// Serves TLS with the PEM files (read now).
    ServerOptions& tls_files(const std::string& cert_path, const std::string& key_path) {
        rpcx_error* err = nullptr;
        rpcx_status st =
            rpcx_server_options_set_tls_files(o_.get(), cert_path.c_str(), key_path.c_str(), &err);
        detail::check(st, err);
        return *this;
    }
    /// Mutual TLS: client certificates must chain to this PEM CA bundle (required unless
    /// `require` is false). After tls_pem()/tls_files().
    ServerOptions& tls_client_ca_pem(std::string_view ca_pem, bool require = true) {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_options_set_tls_client_ca_pem(
            o_.get(), detail::bytes_of(ca_pem), ca_pem.size(), require, &err);
        detail::check(st, err);
        return *this;
    }
    /// Mutual TLS from a PEM CA file (read now).
    ServerOptions& tls_client_ca_file(const std::string& ca_path, bool require = true) {
        rpcx_error* err = nullptr;
        rpcx_status st =
            rpcx_server_options_set_tls_client_ca_file(o_.get(), ca_path.c_str(), require, &err);
        detail::check(st, err);
        return *this;
    }
    const rpcx_server_options* get() const noexcept { return o_.get(); }

private:
    struct Del {
        void operator()(rpcx_server_options* o) const noexcept { rpcx_server_options_free(o); }
    };
    std::unique_ptr<rpcx_server_options, Del> o_;
};

/// An rpcx server. Move-only; the destructor stops it (pending calls fail) and frees it,
/// waiting at most RPCX_SHUTDOWN_MARGIN_MS for handlers still running (see rpcx_server_free:
/// a handler that has not returned by then is left running, and is destroyed when it does).
/// A bidirectional byte stream (rpcx_stream): the client side of XClient::stream() /
/// Client::stream(), or the server side handed to a Server::on_stream() handler. Move-only;
/// the destructor closes it. One thread may read while another writes; close() and the
/// destructor must not race with them. Reads and writes block: not on runtime threads.
class Stream {
public:
    Stream() = default;
    /// Takes ownership of a stream from the C API.
    explicit Stream(rpcx_stream* s) noexcept : s_(s) {}
    Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Stream& operator=(Stream&& o) noexcept {
        if (this != &o) {
            rpcx_stream_close(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream() { rpcx_stream_close(s_); }

    explicit operator bool() const noexcept { return s_ != nullptr; }
    /// Reads up to `cap` bytes into `buf`; 0 at the end of the stream. Throws rpcx::Error
    /// (RPCX_ERR_TIMEOUT after the timeout, RPCX_ERR_IO on a reset).
    std::size_t read(void* buf, std::size_t cap) const {
        std::size_t n = 0;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_stream_read(s_, static_cast<std::uint8_t*>(buf), cap, &n, &err);
        detail::check(st, err);
        return n;
    }
    /// Reads what arrives next (at most `max` bytes); empty at the end of the stream.
    Bytes read_some(std::size_t max = 65536) const {
        Bytes b(max);
        b.resize(read(b.data(), b.size()));
        return b;
    }
    /// Reads exactly `n` bytes; throws rpcx::Error (RPCX_ERR_IO) if the stream ends first.
    Bytes read_exact(std::size_t n) const {
        Bytes b(n);
        std::size_t got = 0;
        while (got < n) {
            std::size_t k = read(b.data() + got, n - got);
            if (k == 0) {
                throw Error(RPCX_ERR_IO, "rpcx: stream ended before the expected bytes");
            }
            got += k;
        }
        return b;
    }
    /// Writes all of `data`.
    void write(std::string_view data) const { write(detail::bytes_of(data), data.size()); }
    void write(const Bytes& data) const { write(data.data(), data.size()); }
    void write(const std::uint8_t* data, std::size_t len) const {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_stream_write(s_, data, len, &err);
        detail::check(st, err);
    }
    /// Half-close: the peer reads the end of the stream; this side can still read.
    void close_write() const { detail::check(rpcx_stream_close_write(s_)); }
    /// The longest one read or write waits (0: no limit).
    void set_timeout(Millis t) const {
        detail::check(rpcx_stream_set_timeout_ms(s_, detail::millis(t)));
    }
    /// Closes the connection now (the destructor does it otherwise).
    void close() noexcept { rpcx_stream_close(std::exchange(s_, nullptr)); }
    rpcx_stream* get() const noexcept { return s_; }
    /// Gives up ownership (the caller must rpcx_stream_close it).
    rpcx_stream* release() noexcept { return std::exchange(s_, nullptr); }

private:
    rpcx_stream* s_ = nullptr;
};

/// Side listener and limits of Server::enable_file_transfer() and Server::on_stream() (see
/// rpcx_transfer_options_new for the defaults).
class TransferOptions {
public:
    TransferOptions() : o_(rpcx_transfer_options_new()) {
        if (!o_) throw Error(RPCX_ERR_PANIC, "rpcx_transfer_options_new failed");
    }
    /// host:port the side listener binds (port 0: a free one).
    TransferOptions& listen(const std::string& addr) {
        detail::check(rpcx_transfer_options_set_listen(o_.get(), addr.c_str()));
        return *this;
    }
    /// host:port replies give instead of the bound address ("" clears).
    TransferOptions& advertise_addr(const std::string& addr) {
        detail::check(rpcx_transfer_options_set_advertise_addr(o_.get(), addr.c_str()));
        return *this;
    }
    TransferOptions& token_ttl(Millis d) {
        detail::check(rpcx_transfer_options_set_token_ttl_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    TransferOptions& handshake_timeout(Millis d) {
        detail::check(rpcx_transfer_options_set_handshake_timeout_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    TransferOptions& max_tokens(std::size_t n) {
        detail::check(rpcx_transfer_options_set_max_tokens(o_.get(), n));
        return *this;
    }
    TransferOptions& max_concurrent(std::size_t n) {
        detail::check(rpcx_transfer_options_set_max_concurrent(o_.get(), n));
        return *this;
    }
    TransferOptions& max_file_size(std::uint64_t bytes) {
        detail::check(rpcx_transfer_options_set_max_file_size(o_.get(), bytes));
        return *this;
    }
    TransferOptions& io_timeout(Millis d) {
        detail::check(rpcx_transfer_options_set_io_timeout_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    const rpcx_transfer_options* get() const noexcept { return o_.get(); }

private:
    struct Del {
        void operator()(rpcx_transfer_options* o) const noexcept { rpcx_transfer_options_free(o); }
    };
    std::unique_ptr<rpcx_transfer_options, Del> o_;
};

/// A stream handler: the stream (owned by the handler; closed when the Stream is destroyed),
/// the metadata the client sent and the client's side-connection address. Runs on a thread of
/// its own per stream (it may block); an exception it throws closes the stream.
using StreamHandler = std::function<void(Stream, const Metadata&, const std::string&)>;
/// Decides whether a stream call gets a token: (the client's stream metadata, the request
/// metadata, the caller's address) -> accept.
using StreamAcceptor =
    std::function<bool(const Metadata&, const Metadata&, const std::string&)>;

/// One upload handed to a Server::file_callbacks() upload handler: valid only during the
/// handler, on its thread.
class Upload {
public:
    explicit Upload(rpcx_upload* u) noexcept : u_(u) {}
    /// Reads the next bytes (at most `cap`); 0 once every declared byte was read. Throws
    /// rpcx::Error (RPCX_ERR_IO) when the client stalled, sent too much or too little.
    std::size_t read(void* buf, std::size_t cap) const {
        std::size_t n = 0;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_upload_read(u_, static_cast<std::uint8_t*>(buf), cap, &n, &err);
        detail::check(st, err);
        return n;
    }
    /// The next bytes (at most `max`); empty at the end.
    Bytes read_some(std::size_t max = 65536) const {
        Bytes b(max);
        b.resize(read(b.data(), b.size()));
        return b;
    }

private:
    rpcx_upload* u_;
};

/// One download a Server::file_callbacks() download handler produces: valid only during the
/// handler, on its thread.
class Download {
public:
    explicit Download(rpcx_download* d) noexcept : d_(d) {}
    /// Sends bytes; throws rpcx::Error (RPCX_ERR_IO) once the download failed (client gone or
    /// stalled, max file size passed).
    void write(std::string_view data) const { write(detail::bytes_of(data), data.size()); }
    void write(const Bytes& data) const { write(data.data(), data.size()); }
    void write(const std::uint8_t* data, std::size_t len) const {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_download_write(d_, data, len, &err);
        detail::check(st, err);
    }

private:
    rpcx_download* d_;
};

/// Receives an upload: (upload, client's file name — unsanitized —, declared size, metadata,
/// peer). Return true when handled; false or an exception aborts it (the client gets an
/// error). Runs on a thread of its own per upload.
using UploadHandler = std::function<bool(Upload&, const std::string&, std::uint64_t,
                                         const Metadata&, const std::string&)>;
/// Produces a download: (download, requested name — unchecked —, metadata, peer). Return true
/// to end the file; false or an exception aborts it (the client gets an error, not a short
/// file). Runs on a thread of its own per download.
using DownloadHandler =
    std::function<bool(Download&, const std::string&, const Metadata&, const std::string&)>;

class Server {
public:
    explicit Server(const ServerOptions& opts = ServerOptions()) {
        rpcx_server* s = nullptr;
        detail::check(rpcx_server_new(opts.get(), &s));
        s_.reset(s);
    }

    /// Registers `handler` as service.method, before start() or while the server runs (then
    /// requests read from now on reach it; see rpcx_server_register).
    Server& handle(const std::string& service, const std::string& method, Handler handler) {
        auto* boxed = new Handler(std::move(handler));
        // The finalizer deletes `boxed` in every case, including failure.
        detail::check(rpcx_server_register(s_.get(), service.c_str(), method.c_str(), &on_call,
                                           boxed, &drop<Handler>));
        return *this;
    }

    /// Requires every request to pass `check` (before start()).
    Server& auth(AuthCheck check) {
        auto* boxed = new AuthCheck(std::move(check));
        detail::check(rpcx_server_set_auth(s_.get(), &on_auth, boxed, &drop<AuthCheck>));
        return *this;
    }

    /// Publishes this server's services in etcd once it runs (before or after start(); see
    /// rpcx_server_add_etcd_registry). An empty service_address means the bound address.
    Server& etcd_registry(const std::vector<std::string>& endpoints, const std::string& base_path,
                          const std::string& service_address = "", Millis ttl = Millis(0)) {
        std::vector<const char*> eps;
        for (const auto& e : endpoints) eps.push_back(e.c_str());
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_add_etcd_registry(
            s_.get(), eps.data(), eps.size(), base_path.c_str(), service_address.c_str(),
            detail::millis(ttl), &err);
        detail::check(st, err);
        return *this;
    }
    /// Publishes this server's services in Consul once it runs (before or after start()).
    Server& consul_registry(const std::string& address, const std::string& base_path,
                            const std::string& service_address = "", Millis ttl = Millis(0)) {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_add_consul_registry(
            s_.get(), address.c_str(), base_path.c_str(), service_address.c_str(),
            detail::millis(ttl), &err);
        detail::check(st, err);
        return *this;
    }
    /// Publishes this server's services in ZooKeeper once it runs (before or after start()),
    /// in the layout of Go's rpcx-zookeeper plugin: ephemeral nodes of a session that asks
    /// for a timeout of twice `update_interval` (0: 30 s); an expired session is replaced and
    /// the nodes written again (see rpcx_server_add_zookeeper_registry).
    Server& zookeeper_registry(const std::string& servers, const std::string& base_path,
                               const std::string& service_address = "",
                               Millis update_interval = Millis(0)) {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_add_zookeeper_registry(
            s_.get(), servers.c_str(), base_path.c_str(), service_address.c_str(),
            detail::millis(update_interval), &err);
        detail::check(st, err);
        return *this;
    }
    /// Publishes this server's services in Redis once it runs (before or after start()), in
    /// the layout of Go's RedisRegisterPlugin; node keys are rewritten every `update_interval`
    /// (0: 30 s) and expire after twice that (see rpcx_server_add_redis_registry).
    Server& redis_registry(const std::string& address, const std::string& base_path,
                           const std::string& service_address = "",
                           Millis update_interval = Millis(0)) {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_add_redis_registry(
            s_.get(), address.c_str(), base_path.c_str(), service_address.c_str(),
            detail::millis(update_interval), &err);
        detail::check(st, err);
        return *this;
    }
    /// The metadata registries publish for `service` (`weight=10&group=blue`); on a running
    /// server the registries rewrite the service's key with it.
    Server& service_metadata(const std::string& service, const std::string& metadata) {
        detail::check(rpcx_server_set_service_metadata(s_.get(), service.c_str(), metadata.c_str()));
        return *this;
    }

    /// Unregisters `service` (see rpcx_server_unregister): calls in flight finish, new ones get
    /// "rpcx: can't find service", registries delete its key. False when it was not
    /// registered; throws rpcx::Error once the server is shut down.
    bool unregister(const std::string& service) {
        rpcx_status st = rpcx_server_unregister(s_.get(), service.c_str());
        if (st == RPCX_ERR_NOT_FOUND) return false;
        detail::check(st);
        return true;
    }
    /// Unregisters every service (the server keeps running); returns how many there were.
    std::size_t unregister_all() {
        std::size_t n = 0;
        detail::check(rpcx_server_unregister_all(s_.get(), &n));
        return n;
    }

    /// Collects calls, errors and latency per service and method (before start()).
    Server& enable_metrics() {
        detail::check(rpcx_server_enable_metrics(s_.get()));
        return *this;
    }
    /// Serves Go's reflection service (`Reflection.GetServices`, `Reflection.GetService`)
    /// describing every service of this server (before start()).
    Server& enable_reflection() {
        detail::check(rpcx_server_enable_reflection(s_.get()));
        return *this;
    }
    /// Tells the reflection service what `service.method` takes and answers: type names for
    /// the method line (`"Args"`) and optional definitions printed before it (a Go struct or
    /// a `//` comment; empty for none). After enable_reflection(), before or after start().
    Server& describe_method(const std::string& service, const std::string& method,
                            const std::string& args_type, const std::string& reply_type,
                            const std::string& args_definition = std::string(),
                            const std::string& reply_definition = std::string()) {
        detail::check(rpcx_server_describe_method(
            s_.get(), service.c_str(), method.c_str(), args_type.c_str(),
            args_definition.c_str(), reply_type.c_str(), reply_definition.c_str()));
        return *this;
    }
    /// The metrics in the Prometheus text format (after enable_metrics()).
    std::string metrics_text() const {
        detail::Buf b;
        detail::check(rpcx_server_metrics_text(s_.get(), b.out()));
        return std::string(reinterpret_cast<const char*>(b.b.data), b.b.len);
    }
    /// Calls `observer(service, method, peer, duration, error)` after every call (before
    /// start()); `error` is empty for a success. Runs on runtime threads: thread-safe, quick;
    /// exceptions it throws are swallowed.
    Server& on_call_done(CallObserver observer) {
        auto* boxed = new CallObserver(std::move(observer));
        detail::check(
            rpcx_server_add_call_observer(s_.get(), &on_observe, boxed, &drop<CallObserver>));
        return *this;
    }

    /// Adds an interceptor (before start()): `before` runs before each handler — reject()
    /// (or throw) to refuse the call —, `after` once it answered; both may set_reply_meta().
    /// Either may be empty. Runs on runtime threads: thread-safe, quick.
    Server& intercept(Interceptor before, Interceptor after = {}) {
        detail::add_interceptor(
            [&](auto b, auto a, void* ud, rpcx_finalizer fin) {
                return rpcx_server_add_interceptor(s_.get(), b, a, ud, fin);
            },
            std::move(before), std::move(after));
        return *this;
    }
    /// Refuses connections from `deny` networks, and with a non-empty `allow` from any outside
    /// them (CIDR strings; before start()).
    Server& ip_filter(const std::vector<std::string>& allow, const std::vector<std::string>& deny = {}) {
        std::vector<const char*> a, d;
        for (const auto& s : allow) a.push_back(s.c_str());
        for (const auto& s : deny) d.push_back(s.c_str());
        detail::check(rpcx_server_add_ip_filter(s_.get(), a.data(), a.size(), d.data(), d.size()));
        return *this;
    }
    /// A server-wide token bucket: `capacity` requests, one more every `fill_interval`
    /// (before start()).
    Server& rate_limit(std::chrono::microseconds fill_interval, std::uint32_t capacity) {
        auto us = fill_interval.count() < 0 ? 0 : std::uint64_t(fill_interval.count());
        detail::check(rpcx_server_add_rate_limit(s_.get(), us, capacity));
        return *this;
    }

    /// Enables file transfer (_filetransfer): uploads saved in `upload_dir`, downloads served
    /// from `download_dir` ("" leaves a direction off; before start(); see
    /// rpcx_server_enable_file_transfer for the rules).
    Server& enable_file_transfer(const std::string& upload_dir, const std::string& download_dir,
                                 const TransferOptions& opts = TransferOptions()) {
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_enable_file_transfer(
            s_.get(), opts.get(), upload_dir.empty() ? nullptr : upload_dir.c_str(),
            download_dir.empty() ? nullptr : download_dir.c_str(), &err);
        detail::check(st, err);
        return *this;
    }
    /// File transfer with handlers instead of directories (either may be empty, not both;
    /// before start(); replaces enable_file_transfer(); see rpcx_server_enable_file_callbacks).
    Server& file_callbacks(UploadHandler upload, DownloadHandler download,
                           const TransferOptions& opts = TransferOptions()) {
        auto* boxed = new FileHandlers{std::move(upload), std::move(download)};
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_server_enable_file_callbacks(
            s_.get(), opts.get(), boxed->upload ? &on_upload_cb : nullptr,
            boxed->download ? &on_download_cb : nullptr, boxed, &drop<FileHandlers>, &err);
        detail::check(st, err);
        return *this;
    }
    /// Serves streams (_streamservice) with `handler` (before start()).
    Server& on_stream(StreamHandler handler, const TransferOptions& opts = TransferOptions()) {
        auto* boxed = new StreamHandler(std::move(handler));
        detail::check(rpcx_server_register_stream(s_.get(), opts.get(), &on_stream_cb, boxed,
                                                  &drop<StreamHandler>));
        return *this;
    }

    /// Decides which stream calls get a token (after on_stream(), before start()):
    /// `accept(meta, request_meta, peer)`; false or an exception refuses with Go's text
    /// "server refused the connection". Runs on runtime threads: thread-safe, quick.
    Server& stream_acceptor(StreamAcceptor accept) {
        auto* boxed = new StreamAcceptor(std::move(accept));
        detail::check(rpcx_server_set_stream_acceptor(s_.get(), &on_accept_cb, boxed,
                                                      &drop<StreamAcceptor>));
        return *this;
    }

    /// Binds and serves; returns the TCP port (0 for Unix sockets). `address` is
    /// tcp@host:port (port 0: a free one), unix@/path, or http@/ws@/wss@host:port, which bind
    /// TCP too and are what address() reports.
    std::uint16_t start(const std::string& address) {
        std::uint16_t port = 0;
        rpcx_error* err = nullptr;
        rpcx_status status = rpcx_server_start(s_.get(), address.c_str(), &port, &err);
        detail::check(status, err);
        return port;
    }
    std::string address() const {
        const char* a = rpcx_server_address(s_.get());
        return a ? a : "";
    }
    /// Graceful shutdown (from any non-runtime thread). Bounded: throws rpcx::Error with
    /// RPCX_ERR_TIMEOUT when a handler had not returned RPCX_SHUTDOWN_MARGIN_MS after the
    /// grace period (see rpcx_server_shutdown); the server is closed anyway.
    void shutdown(Millis grace = Millis(0)) {
        detail::check(rpcx_server_shutdown(s_.get(), detail::millis(grace)));
    }
    /// Immediate close (from any thread, handlers included).
    void close() { detail::check(rpcx_server_close(s_.get())); }
    rpcx_server* get() const noexcept { return s_.get(); }

private:
    static int on_accept_cb(void* ud, const rpcx_metadata* meta, const rpcx_metadata* request,
                            const char* peer) noexcept {
        try {
            return (*static_cast<StreamAcceptor*>(ud))(detail::to_map(meta), detail::to_map(request),
                                                       peer)
                       ? 1
                       : 0;
        } catch (...) {
            return 0;
        }
    }
    struct FileHandlers {
        UploadHandler upload;
        DownloadHandler download;
    };
    static int on_upload_cb(void* ud, rpcx_upload* u, const char* name, std::uint64_t size,
                            const rpcx_metadata* meta, const char* peer) noexcept {
        try {
            Upload up(u);
            return static_cast<FileHandlers*>(ud)->upload(up, name, size, detail::to_map(meta),
                                                          peer)
                       ? 1
                       : 0;
        } catch (...) {
            return 0;
        }
    }
    static int on_download_cb(void* ud, rpcx_download* d, const char* name,
                              const rpcx_metadata* meta, const char* peer) noexcept {
        try {
            Download dl(d);
            return static_cast<FileHandlers*>(ud)->download(dl, name, detail::to_map(meta), peer)
                       ? 1
                       : 0;
        } catch (...) {
            return 0;
        }
    }
    static void on_stream_cb(void* ud, rpcx_stream* s, const rpcx_metadata* meta,
                             const char* peer) noexcept {
        Stream stream(s);
        try {
            (*static_cast<StreamHandler*>(ud))(std::move(stream), detail::to_map(meta), peer);
        } catch (...) {
        }
    }
    static void on_observe(void* ud, const char* service, const char* method, const char* peer,
                           std::uint64_t micros, const char* error) noexcept {
        try {
            (*static_cast<CallObserver*>(ud))(service, method, peer,
                                              std::chrono::microseconds(micros),
                                              error ? error : "");
        } catch (...) {
        }
    }
    template <class T>
    static void drop(void* p) noexcept {
        delete static_cast<T*>(p);
    }
    static void on_call(void* ud, const rpcx_request* req, rpcx_responder* resp) noexcept {
        // Completing a token twice is harmless (RPCX_ERR_INVALID_STATE), so after an exception
        // the trampoline answers with what() unless someone already completed the call.
        detail::CurrentCall outer = std::exchange(detail::current_call, {resp, false});
        try {
            (*static_cast<Handler*>(ud))(Request(req), Responder(resp));
        } catch (const std::exception& e) {
            fail_call(resp, e.what());
        } catch (...) {
            fail_call(resp, "unknown C++ exception");
        }
        // The handler caught the exception that destroyed its Responder: nobody else can
        // complete the call any more.
        if (detail::current_call.handed_back) {
            rpcx_responder_free(resp);
        }
        detail::current_call = outer;
    }
    /// Answers the call with an exception's text (a fixed one if it is not UTF-8).
    static void fail_call(rpcx_responder* resp, const char* what) noexcept {
        if (rpcx_responder_error(resp, what, nullptr, 0) == RPCX_ERR_INVALID_ARG) {
            rpcx_responder_error(resp, "C++ exception (its what() is not UTF-8)", nullptr, 0);
        }
        detail::current_call.handed_back = false;
    }
    static int on_auth(void* ud, const char* service, const char* method, const char* token,
                       const char* peer, char* message, std::size_t cap) noexcept {
        try {
            auto refusal = (*static_cast<AuthCheck*>(ud))(AuthRequest{service, method, token, peer});
            if (!refusal) {
                return 1;
            }
            std::size_t n = refusal->size() < cap - 1 ? refusal->size() : cap - 1;
            refusal->copy(message, n);
            message[n] = 0;
        } catch (...) {
        }
        return 0;
    }
    struct Del {
        void operator()(rpcx_server* s) const noexcept { rpcx_server_free(s); }
    };
    std::unique_ptr<rpcx_server, Del> s_;
};

class ClientOptions : public detail::ClientTlsSetters<ClientOptions, rpcx_client_options> {
public:
    ClientOptions() : o_(rpcx_client_options_new()) {
        if (!o_) throw Error(RPCX_ERR_PANIC, "rpcx_client_options_new failed");
    }
    ClientOptions& serialize_type(std::uint8_t st) {
        detail::check(rpcx_client_options_set_serialize_type(o_.get(), st));
        return *this;
    }
    ClientOptions& timeout(Millis d) {
        detail::check(rpcx_client_options_set_timeout_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    ClientOptions& connect_timeout(Millis d) {
        detail::check(rpcx_client_options_set_connect_timeout_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    /// Bytes of requests that may wait for the writer (default 16 MiB; see
    /// rpcx_client_options_set_max_unsent_bytes).
    ClientOptions& max_unsent_bytes(std::size_t n) {
        detail::check(rpcx_client_options_set_max_unsent_bytes(o_.get(), n));
        return *this;
    }
    ClientOptions& gzip(bool on) {
        detail::check(rpcx_client_options_set_gzip(o_.get(), on));
        return *this;
    }
    /// Compresses requests larger than threshold bytes with type (compress_type::gzip,
    /// ::snappy or a registered type; ::none turns it off); the server answers large replies
    /// the same way. The type must have a compressor when the client connects
    /// (rpcx_client_options_set_compress).
    ClientOptions& compress(std::uint8_t type, std::size_t threshold = 1024) {
        detail::check(rpcx_client_options_set_compress(o_.get(), type, threshold));
        return *this;
    }
    ClientOptions& heartbeat(Millis interval, Millis timeout = Millis(0)) {
        detail::check(rpcx_client_options_set_heartbeat(o_.get(), detail::millis(interval), detail::millis(timeout)));
        return *this;
    }
    ClientOptions& auth_token(const std::string& token) {
        detail::check(rpcx_client_options_set_auth_token(o_.get(), token.c_str()));
        return *this;
    }
    ClientOptions& limits(const Limits& l) {
        detail::check(rpcx_client_options_set_limits(o_.get(), &l));
        return *this;
    }
    /// Adds an interceptor: `before` may set_metadata() or reject() (throwing rejects too;
    /// the call then fails with RPCX_ERR_REFUSED), `after` sees status(), error(),
    /// reply_metadata(). Runs on the calling thread (blocking calls) or runtime threads.
    ClientOptions& intercept(Interceptor before, Interceptor after = {}) {
        detail::add_interceptor(
            [&](auto b, auto a, void* ud, rpcx_finalizer fin) {
                return rpcx_client_options_add_interceptor(o_.get(), b, a, ud, fin);
            },
            std::move(before), std::move(after));
        return *this;
    }
    /// Receives the server's pushes (see rpcx_push_callback).
    ClientOptions& on_push(PushHandler handler) {
        auto* boxed = new PushHandler(std::move(handler));
        detail::check(rpcx_client_options_set_push_callback(o_.get(), &detail::on_push, boxed,
                                                            &detail::drop_push));
        return *this;
    }
    const rpcx_client_options* get() const noexcept { return o_.get(); }

private:
    friend class detail::ClientTlsSetters<ClientOptions, rpcx_client_options>;
    rpcx_client_options* tls_target() noexcept { return o_.get(); }
    struct Del {
        void operator()(rpcx_client_options* o) const noexcept { rpcx_client_options_free(o); }
    };
    std::unique_ptr<rpcx_client_options, Del> o_;
};

/// The outcome of an async call: ok() and response, or error.
struct Result {
    rpcx_status status = RPCX_OK;
    Response response;
    std::optional<Error> error;
    bool ok() const noexcept { return status == RPCX_OK; }
};
using Callback = std::function<void(Result)>;

namespace detail {

/// The rpcx_call_callback of a heap-allocated Callback (deleted here, exactly once).
inline void callback_trampoline(void* ud, std::uint64_t, rpcx_status status,
                                const std::uint8_t* reply, std::size_t reply_len,
                                const rpcx_metadata* reply_meta, const rpcx_error* error) noexcept {
    std::unique_ptr<Callback> cb(static_cast<Callback*>(ud));
    try {
        Result r;
        r.status = status;
        if (status == RPCX_OK) {
            if (reply_len > 0) r.response.payload.assign(reply, reply + reply_len);
            r.response.metadata = to_map(reply_meta);
        } else {
            r.error = make_error(status, error);
        }
        (*cb)(std::move(r));
    } catch (...) {
    }
}

}  // namespace detail

/// A connection to one server. Move-only; thread-safe; the destructor closes it (pending
/// async callbacks run with RPCX_ERR_CLOSED before it returns) and frees it.
class Client {
public:
    /// Connects to `address`: tcp@host:port, host:port, unix@/path, or rpcx tunnelled as Go's
    /// clients do: http@host:port (HTTP CONNECT), ws@host:port (WebSocket), wss@host:port
    /// (WebSocket over TLS; needs the TLS options).
    static Client connect(const std::string& address, const ClientOptions& opts = ClientOptions()) {
        rpcx_client* c = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status status = rpcx_client_connect(address.c_str(), opts.get(), &c, &err);
        detail::check(status, err);
        return Client(c);
    }

    /// Blocking call; throws rpcx::Error on failure.
    Response call(const std::string& service, const std::string& method, std::string_view payload,
                  const Metadata& meta = {}, Millis timeout = Millis(0)) const {
        auto md = detail::from_map(meta);
        return detail::blocking_call([&](rpcx_buf* reply, rpcx_metadata** reply_meta,
                                         rpcx_error** err) {
            return rpcx_client_call(c_.get(), service.c_str(), method.c_str(),
                                    detail::bytes_of(payload), payload.size(), md.get(),
                                    detail::millis(timeout), reply, reply_meta, err);
        });
    }
    Response call(const std::string& service, const std::string& method, const Bytes& payload,
                  const Metadata& meta = {}, Millis timeout = Millis(0)) const {
        return call(service, method,
                    std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()),
                    meta, timeout);
    }

    /// Async call: `done` runs exactly once (on a runtime thread, or on the thread calling
    /// cancel/close). Returns the call id for cancel().
    std::uint64_t call_async(const std::string& service, const std::string& method,
                             std::string_view payload, Callback done, const Metadata& meta = {},
                             Millis timeout = Millis(0)) const {
        auto md = detail::from_map(meta);
        auto boxed = std::make_unique<Callback>(std::move(done));
        std::uint64_t id = 0;
        rpcx_status s = rpcx_client_call_async(
            c_.get(), service.c_str(), method.c_str(), detail::bytes_of(payload), payload.size(),
            md.get(), detail::millis(timeout), &detail::callback_trampoline, boxed.get(), &id);
        detail::check(s);  // on failure the callback never runs: `boxed` deletes it
        boxed.release();   // on success the trampoline deletes it, exactly once
        return id;
    }

    /// Async call as a future; the future throws rpcx::Error on failure.
    std::future<Response> call_future(const std::string& service, const std::string& method,
                                      std::string_view payload, const Metadata& meta = {},
                                      Millis timeout = Millis(0)) const {
        auto promise = std::make_shared<std::promise<Response>>();
        auto fut = promise->get_future();
        call_async(
            service, method, payload,
            [promise](Result r) {
                if (r.ok()) {
                    promise->set_value(std::move(r.response));
                } else {
                    promise->set_exception(std::make_exception_ptr(std::move(*r.error)));
                }
            },
            meta, timeout);
        return fut;
    }

    /// Oneway send.
    void send(const std::string& service, const std::string& method, std::string_view payload,
              const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        rpcx_error* err = nullptr;
        rpcx_status status =
            rpcx_client_send(c_.get(), service.c_str(), method.c_str(), detail::bytes_of(payload),
                             payload.size(), md.get(), &err);
        detail::check(status, err);
    }

    /// Cancels an async call; false if it already completed.
    bool cancel(std::uint64_t id) const {
        rpcx_status s = rpcx_client_cancel(c_.get(), id);
        if (s == RPCX_ERR_NOT_FOUND) return false;
        detail::check(s);
        return true;
    }
    /// Uploads the local file at `path` through `service`.TransferFile (usually
    /// "_filetransfer"), at most `rate` bytes per second (0: no limit); returns the bytes sent.
    std::uint64_t send_file(const std::string& service, const std::string& path,
                            std::uint64_t rate = 0, const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        std::uint64_t n = 0;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_client_send_file(c_.get(), service.c_str(), path.c_str(), rate,
                                               md.get(), &n, &err);
        detail::check(st, err);
        return n;
    }
    /// Downloads `name` through `service`.DownloadFile into `dest_path` (replaced only once
    /// complete); returns the file's size.
    std::uint64_t download_file(const std::string& service, const std::string& name,
                                const std::string& dest_path, const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        std::uint64_t n = 0;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_client_download_file(c_.get(), service.c_str(), name.c_str(),
                                                   dest_path.c_str(), md.get(), &n, &err);
        detail::check(st, err);
        return n;
    }
    /// Opens a stream through `service`.Stream (usually "_streamservice").
    Stream stream(const std::string& service, const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        rpcx_stream* s = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_client_stream(c_.get(), service.c_str(), md.get(), &s, &err);
        detail::check(st, err);
        return Stream(s);
    }
    std::size_t pending() const noexcept { return rpcx_client_pending(c_.get()); }
    void close() const { detail::check(rpcx_client_close(c_.get())); }
    rpcx_client* get() const noexcept { return c_.get(); }

private:
    explicit Client(rpcx_client* c) : c_(c) {}
    struct Del {
        void operator()(rpcx_client* c) const noexcept { rpcx_client_free(c); }
    };
    std::unique_ptr<rpcx_client, Del> c_;
};


/// One server of a discovery: its address and metadata (`weight=10&group=blue`).
struct ServerEntry {
    std::string address;
    std::string metadata;
};

/// Where XClients find their servers. Cheap to move; thread-safe. XClients share it: it may
/// be destroyed while they still use it.
class Discovery {
public:
    /// Exactly one server.
    static Discovery peer(const std::string& address, const std::string& metadata = "") {
        rpcx_discovery* d = nullptr;
        detail::check(rpcx_discovery_new_peer(address.c_str(), metadata.c_str(), &d));
        return Discovery(d);
    }
    /// A list, replaceable at run time with update().
    static Discovery multiple(const std::vector<ServerEntry>& servers) {
        auto e = entries(servers);
        rpcx_discovery* d = nullptr;
        detail::check(rpcx_discovery_new_multiple(e.data(), e.size(), &d));
        return Discovery(d);
    }
    /// The servers of `service` registered in etcd under `base_path` (blocking connect).
    static Discovery etcd(const std::vector<std::string>& endpoints, const std::string& base_path,
                          const std::string& service) {
        std::vector<const char*> eps;
        for (const auto& e : endpoints) eps.push_back(e.c_str());
        rpcx_discovery* d = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_discovery_new_etcd(eps.data(), eps.size(), base_path.c_str(),
                                                 service.c_str(), &d, &err);
        detail::check(st, err);
        return Discovery(d);
    }
    /// The servers of `service` registered in Consul under `base_path` (blocking connect).
    static Discovery consul(const std::string& address, const std::string& base_path,
                            const std::string& service) {
        rpcx_discovery* d = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_discovery_new_consul(address.c_str(), base_path.c_str(),
                                                   service.c_str(), &d, &err);
        detail::check(st, err);
        return Discovery(d);
    }
    /// The servers of `service` registered in ZooKeeper under `base_path` in the layout of
    /// Go's rpcx-zookeeper plugin (blocking connect; see rpcx_discovery_new_zookeeper).
    static Discovery zookeeper(const std::string& servers, const std::string& base_path,
                               const std::string& service) {
        rpcx_discovery* d = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_discovery_new_zookeeper(servers.c_str(), base_path.c_str(),
                                                      service.c_str(), &d, &err);
        detail::check(st, err);
        return Discovery(d);
    }
    /// The servers of `service` registered in Redis under `base_path` in the layout of Go's
    /// RedisRegisterPlugin (blocking connect; see rpcx_discovery_new_redis).
    static Discovery redis(const std::string& address, const std::string& base_path,
                           const std::string& service) {
        rpcx_discovery* d = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_discovery_new_redis(address.c_str(), base_path.c_str(),
                                                  service.c_str(), &d, &err);
        detail::check(st, err);
        return Discovery(d);
    }
    /// The servers behind the DNS name `domain` (Go's NewDNSDiscovery): each A/AAAA record
    /// `ip` is `network@ip:port` (IPv6 bracketed), looked up again every `interval`; a failed
    /// lookup keeps the last list. `nameservers` empty: the system's resolver; otherwise
    /// comma-separated `ip[:port]` to ask instead. Blocks for the first lookup.
    static Discovery dns(const std::string& domain, std::uint16_t port,
                         std::chrono::milliseconds interval = std::chrono::seconds(30),
                         const std::string& network = "tcp", const std::string& nameservers = "") {
        rpcx_discovery* d = nullptr;
        rpcx_error* err = nullptr;
        auto ms = interval.count() < 0 ? 0 : static_cast<std::uint64_t>(interval.count());
        rpcx_status st = rpcx_discovery_new_dns(
            domain.c_str(), network.c_str(), port, ms,
            nameservers.empty() ? nullptr : nameservers.c_str(), &d, &err);
        detail::check(st, err);
        return Discovery(d);
    }
    /// Replaces the list (multiple() discoveries only), from any thread.
    void update(const std::vector<ServerEntry>& servers) const {
        auto e = entries(servers);
        detail::check(rpcx_discovery_update(d_.get(), e.data(), e.size()));
    }
    /// Servers listed now.
    std::size_t size() const noexcept { return rpcx_discovery_len(d_.get()); }
    const rpcx_discovery* get() const noexcept { return d_.get(); }

private:
    explicit Discovery(rpcx_discovery* d) : d_(d) {}
    static std::vector<rpcx_server_entry> entries(const std::vector<ServerEntry>& servers) {
        std::vector<rpcx_server_entry> e;
        e.reserve(servers.size());
        for (const auto& s : servers) e.push_back(rpcx_server_entry{s.address.c_str(), s.metadata.c_str()});
        return e;
    }
    struct Del {
        void operator()(rpcx_discovery* d) const noexcept { rpcx_discovery_free(d); }
    };
    std::unique_ptr<rpcx_discovery, Del> d_;
};

enum class SelectMode : int {
    Random = RPCX_SELECT_RANDOM,
    RoundRobin = RPCX_SELECT_ROUND_ROBIN,
    WeightedRoundRobin = RPCX_SELECT_WEIGHTED_ROUND_ROBIN,
    WeightedICMP = RPCX_SELECT_WEIGHTED_ICMP,
    ConsistentHash = RPCX_SELECT_CONSISTENT_HASH,
    Closest = RPCX_SELECT_CLOSEST,
    HeartbeatRtt = RPCX_SELECT_HEARTBEAT_RTT,
};

enum class FailMode : int {
    Failover = RPCX_FAIL_FAILOVER,
    Failfast = RPCX_FAIL_FAILFAST,
    Failtry = RPCX_FAIL_FAILTRY,
    Failbackup = RPCX_FAIL_FAILBACKUP,
};

/// What a selector sees of a call: valid only during the selector call.
struct SelectRequest {
    std::string_view service, method, args;
    const rpcx_server_entry* servers;
    std::size_t count;
    std::size_t size() const noexcept { return count; }
    std::string_view address(std::size_t i) const noexcept { return servers[i].address; }
    std::string_view metadata(std::size_t i) const noexcept { return servers[i].metadata; }
};
/// A custom selector: the index of the chosen server, or std::nullopt for none. Runs on rpcx
/// runtime threads or the caller's thread, concurrently: thread-safe and quick.
using Selector = std::function<std::optional<std::size_t>(const SelectRequest&)>;

class XClientOptions : public detail::ClientTlsSetters<XClientOptions, rpcx_xclient_options> {
public:
    XClientOptions() : o_(rpcx_xclient_options_new()) {
        if (!o_) throw Error(RPCX_ERR_PANIC, "rpcx_xclient_options_new failed");
    }
    XClientOptions& select_mode(SelectMode m) {
        detail::check(rpcx_xclient_options_set_select_mode(o_.get(), static_cast<int>(m)));
        return *this;
    }
    /// The client's location for SelectMode::Closest.
    XClientOptions& location(double latitude, double longitude) {
        detail::check(rpcx_xclient_options_set_location(o_.get(), latitude, longitude));
        return *this;
    }
    XClientOptions& selector(Selector fn) {
        auto* boxed = new Selector(std::move(fn));
        // The finalizer deletes `boxed` in every case, including failure.
        detail::check(
            rpcx_xclient_options_set_selector(o_.get(), &on_select, boxed, &drop_selector));
        return *this;
    }
    XClientOptions& fail_mode(FailMode m) {
        detail::check(rpcx_xclient_options_set_fail_mode(o_.get(), static_cast<int>(m)));
        return *this;
    }
    XClientOptions& retries(std::size_t n) {
        detail::check(rpcx_xclient_options_set_retries(o_.get(), n));
        return *this;
    }
    /// A circuit breaker per server: after `failures` consecutive failed attempts the server
    /// is not chosen for `open` (then one probe call decides); Millis(0) turns it off.
    XClientOptions& breaker(std::uint32_t failures, Millis open) {
        detail::check(rpcx_xclient_options_set_breaker(o_.get(), failures, detail::millis(open)));
        return *this;
    }
    /// The dead-server detector (on by default: probe timeout 1 s, longest pause 2 s): a
    /// server whose call got no answer leaves the rotation until a probe's heartbeat is
    /// answered (see rpcx_xclient_options_set_health); health(false) turns it off.
    XClientOptions& health(bool enabled, Millis probe_timeout = Millis(1000),
                           Millis max_backoff = Millis(2000)) {
        detail::check(rpcx_xclient_options_set_health(o_.get(), enabled,
                                                      detail::millis(probe_timeout),
                                                      detail::millis(max_backoff)));
        return *this;
    }
    XClientOptions& backup_latency(Millis d) {
        detail::check(rpcx_xclient_options_set_backup_latency_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    /// Only servers whose metadata lists this group ("" for all).
    XClientOptions& group(const std::string& g) {
        detail::check(rpcx_xclient_options_set_group(o_.get(), g.c_str()));
        return *this;
    }
    /// Connection settings (serialize type, timeouts, gzip, heartbeat, auth, limits, TLS).
    XClientOptions& client(const ClientOptions& c) {
        detail::check(rpcx_xclient_options_set_client_options(o_.get(), c.get()));
        return *this;
    }
    XClientOptions& serialize_type(std::uint8_t st) {
        detail::check(rpcx_xclient_options_set_serialize_type(o_.get(), st));
        return *this;
    }
    XClientOptions& timeout(Millis d) {
        detail::check(rpcx_xclient_options_set_timeout_ms(o_.get(), detail::millis(d)));
        return *this;
    }
    /// Adds an interceptor around every attempt (see ClientOptions::intercept).
    XClientOptions& intercept(Interceptor before, Interceptor after = {}) {
        detail::add_interceptor(
            [&](auto b, auto a, void* ud, rpcx_finalizer fin) {
                return rpcx_xclient_options_add_interceptor(o_.get(), b, a, ud, fin);
            },
            std::move(before), std::move(after));
        return *this;
    }
    /// Receives the pushes of every server connection (Push::server tells which).
    XClientOptions& on_push(PushHandler handler) {
        auto* boxed = new PushHandler(std::move(handler));
        detail::check(rpcx_xclient_options_set_push_callback(o_.get(), &detail::on_push, boxed,
                                                             &detail::drop_push));
        return *this;
    }
    const rpcx_xclient_options* get() const noexcept { return o_.get(); }

private:
    friend class detail::ClientTlsSetters<XClientOptions, rpcx_xclient_options>;
    rpcx_xclient_options* tls_target() noexcept { return o_.get(); }
    static std::int64_t on_select(void* ud, const char* service, const char* method,
                                  const std::uint8_t* args, std::size_t args_len,
                                  const rpcx_server_entry* servers, std::size_t n) noexcept {
        try {
            SelectRequest req{service, method,
                              args ? std::string_view(reinterpret_cast<const char*>(args), args_len)
                                   : std::string_view(),
                              servers, n};
            auto pick = (*static_cast<Selector*>(ud))(req);
            return pick && *pick < n ? static_cast<std::int64_t>(*pick) : -1;
        } catch (...) {
            return -1;
        }
    }
    static void drop_selector(void* p) noexcept { delete static_cast<Selector*>(p); }
    struct Del {
        void operator()(rpcx_xclient_options* o) const noexcept { rpcx_xclient_options_free(o); }
    };
    std::unique_ptr<rpcx_xclient_options, Del> o_;
};

/// A client of one service over the servers of a Discovery. Move-only; thread-safe; the
/// destructor closes it (pending async callbacks run with RPCX_ERR_CLOSED before it returns)
/// and frees it.
class XClient {
public:
    XClient(const std::string& service, const Discovery& discovery,
            const XClientOptions& opts = XClientOptions()) {
        rpcx_xclient* x = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_xclient_new(service.c_str(), discovery.get(), opts.get(), &x, &err);
        detail::check(st, err);
        x_.reset(x);
    }

    /// Blocking call with the fail mode; throws rpcx::Error.
    Response call(const std::string& method, std::string_view payload, const Metadata& meta = {},
                  Millis timeout = Millis(0)) const {
        return blocking(&rpcx_xclient_call, method, payload, meta, timeout);
    }
    /// Calls every server; succeeds only if all do (first reply).
    Response broadcast(const std::string& method, std::string_view payload,
                       const Metadata& meta = {}, Millis timeout = Millis(0)) const {
        return blocking(&rpcx_xclient_broadcast, method, payload, meta, timeout);
    }
    /// Calls every server; the first success wins.
    Response fork(const std::string& method, std::string_view payload, const Metadata& meta = {},
                  Millis timeout = Millis(0)) const {
        return blocking(&rpcx_xclient_fork, method, payload, meta, timeout);
    }

    /// One server's outcome of inform().
    struct Receipt {
        std::string server;
        Result result;
    };
    /// Calls every server and returns each one's outcome, in the order of their keys (Go's
    /// Inform); throws rpcx::Error only when the call could not be made (no server, closed).
    std::vector<Receipt> inform(const std::string& method, std::string_view payload,
                                const Metadata& meta = {}, Millis timeout = Millis(0)) const {
        auto md = detail::from_map(meta);
        std::vector<Receipt> out;
        struct Sink {
            std::vector<Receipt>* out;
            bool failed = false;
        } sink{&out};
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_xclient_inform(
            x_.get(), method.c_str(), detail::bytes_of(payload), payload.size(), md.get(),
            detail::millis(timeout),
            [](void* ud, const char* server, const std::uint8_t* reply, std::size_t reply_len,
               const rpcx_metadata* reply_meta, const rpcx_error* error) noexcept {
                auto* s = static_cast<Sink*>(ud);
                try {
                    Receipt rc;
                    rc.server = server;
                    if (error == nullptr) {
                        if (reply_len > 0) rc.result.response.payload.assign(reply, reply + reply_len);
                        rc.result.response.metadata = detail::to_map(reply_meta);
                    } else {
                        rc.result.status = rpcx_error_code(error);
                        rc.result.error = detail::make_error(rc.result.status, error);
                    }
                    s->out->push_back(std::move(rc));
                } catch (...) {
                    s->failed = true;  // out of memory: reported after the call
                }
            },
            &sink, nullptr, &err);
        detail::check(st, err);
        if (sink.failed) throw std::bad_alloc();
        return out;
    }

    /// Async call: `done` runs exactly once (on a runtime thread, or on the thread calling
    /// cancel/close). Returns the call id for cancel().
    std::uint64_t call_async(const std::string& method, std::string_view payload, Callback done,
                             const Metadata& meta = {}, Millis timeout = Millis(0)) const {
        return start(&rpcx_xclient_call_async, method, payload, std::move(done), meta, timeout);
    }
    std::uint64_t broadcast_async(const std::string& method, std::string_view payload,
                                  Callback done, const Metadata& meta = {},
                                  Millis timeout = Millis(0)) const {
        return start(&rpcx_xclient_broadcast_async, method, payload, std::move(done), meta,
                     timeout);
    }
    std::uint64_t fork_async(const std::string& method, std::string_view payload, Callback done,
                             const Metadata& meta = {}, Millis timeout = Millis(0)) const {
        return start(&rpcx_xclient_fork_async, method, payload, std::move(done), meta, timeout);
    }
    /// Async call as a future; the future throws rpcx::Error on failure.
    std::future<Response> call_future(const std::string& method, std::string_view payload,
                                      const Metadata& meta = {}, Millis timeout = Millis(0)) const {
        auto promise = std::make_shared<std::promise<Response>>();
        auto fut = promise->get_future();
        call_async(
            method, payload,
            [promise](Result r) {
                if (r.ok()) {
                    promise->set_value(std::move(r.response));
                } else {
                    promise->set_exception(std::make_exception_ptr(std::move(*r.error)));
                }
            },
            meta, timeout);
        return fut;
    }
    /// Oneway send to one selected server.
    void send(const std::string& method, std::string_view payload, const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_xclient_send(x_.get(), method.c_str(), detail::bytes_of(payload),
                                           payload.size(), md.get(), &err);
        detail::check(st, err);
    }
    /// Cancels an async call; false if it already completed.
    bool cancel(std::uint64_t id) const {
        rpcx_status s = rpcx_xclient_cancel(x_.get(), id);
        if (s == RPCX_ERR_NOT_FOUND) return false;
        detail::check(s);
        return true;
    }
    /// Uploads the local file at `path` (XClient of service "_filetransfer"), at most `rate`
    /// bytes per second (0: no limit); returns the bytes sent.
    std::uint64_t send_file(const std::string& path, std::uint64_t rate = 0,
                            const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        std::uint64_t n = 0;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_xclient_send_file(x_.get(), path.c_str(), rate, md.get(), &n, &err);
        detail::check(st, err);
        return n;
    }
    /// Downloads `name` into `dest_path` (replaced only once complete); returns its size.
    std::uint64_t download_file(const std::string& name, const std::string& dest_path,
                                const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        std::uint64_t n = 0;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_xclient_download_file(x_.get(), name.c_str(), dest_path.c_str(),
                                                    md.get(), &n, &err);
        detail::check(st, err);
        return n;
    }
    /// Opens a stream (XClient of service "_streamservice").
    Stream stream(const Metadata& meta = {}) const {
        auto md = detail::from_map(meta);
        rpcx_stream* s = nullptr;
        rpcx_error* err = nullptr;
        rpcx_status st = rpcx_xclient_stream(x_.get(), md.get(), &s, &err);
        detail::check(st, err);
        return Stream(s);
    }
    std::size_t pending() const noexcept { return rpcx_xclient_pending(x_.get()); }
    /// Servers in use now (after group filtering).
    std::size_t server_count() const noexcept { return rpcx_xclient_server_count(x_.get()); }
    void close() const { detail::check(rpcx_xclient_close(x_.get())); }
    rpcx_xclient* get() const noexcept { return x_.get(); }

private:
    using BlockingFn = rpcx_status (*)(const rpcx_xclient*, const char*, const std::uint8_t*,
                                       std::size_t, const rpcx_metadata*, std::uint64_t, rpcx_buf*,
                                       rpcx_metadata**, rpcx_error**);
    using AsyncFn = rpcx_status (*)(const rpcx_xclient*, const char*, const std::uint8_t*,
                                    std::size_t, const rpcx_metadata*, std::uint64_t,
                                    rpcx_call_callback, void*, std::uint64_t*);

    Response blocking(BlockingFn fn, const std::string& method, std::string_view payload,
                      const Metadata& meta, Millis timeout) const {
        auto md = detail::from_map(meta);
        return detail::blocking_call([&](rpcx_buf* reply, rpcx_metadata** reply_meta,
                                         rpcx_error** err) {
            return fn(x_.get(), method.c_str(), detail::bytes_of(payload), payload.size(),
                      md.get(), detail::millis(timeout), reply, reply_meta, err);
        });
    }
    std::uint64_t start(AsyncFn fn, const std::string& method, std::string_view payload,
                        Callback done, const Metadata& meta, Millis timeout) const {
        auto md = detail::from_map(meta);
        auto boxed = std::make_unique<Callback>(std::move(done));
        std::uint64_t id = 0;
        rpcx_status s = fn(x_.get(), method.c_str(), detail::bytes_of(payload), payload.size(),
                           md.get(), detail::millis(timeout), &detail::callback_trampoline,
                           boxed.get(), &id);
        detail::check(s);  // on failure the callback never runs: `boxed` deletes it
        boxed.release();   // on success the trampoline deletes it, exactly once
        return id;
    }
    struct Del {
        void operator()(rpcx_xclient* x) const noexcept { rpcx_xclient_free(x); }
    };
    std::unique_ptr<rpcx_xclient, Del> x_;
};

}  // namespace rpcx

#endif  // RPCX_HPP
