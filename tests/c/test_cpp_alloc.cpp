// The C++ wrapper owns every C resource it holds (rpcx_error, rpcx_buf, rpcx_metadata) through
// RAII while it builds C++ values from them: when an allocation throws std::bad_alloc there,
// nothing leaks. Each operation runs again and again with its 1st, 2nd, 3rd… C++ allocation on
// this thread failing, until it completes without reaching the failing one. Leaks show under
// valgrind and LeakSanitizer (the plain run only checks that nothing crashes).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

// Armed when >= 0: the allocation that finds it at 0 throws. Per thread, so rpcx's own
// threads (handlers, callbacks) allocate normally.
static thread_local long fail_countdown = -1;

void* operator new(std::size_t n) {
    if (fail_countdown >= 0 && fail_countdown-- == 0) {
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

// Runs `op` with each of its allocations failing in turn; `op` handles rpcx::Error itself.
template <class F>
static void with_each_allocation_failing(const char* what, F op) {
    for (long n = 0; n < 100000; n++) {
        bool bad_alloc = false;
        fail_countdown = n;
        try {
            op();
        } catch (const std::bad_alloc&) {
            bad_alloc = true;
        }
        long left = fail_countdown;
        fail_countdown = -1;
        if (!bad_alloc) {
            EXPECT(left >= 0);  // completed before reaching the failing allocation
            std::printf("%s: %ld allocation points\n", what, n);
            return;
        }
    }
    std::fprintf(stderr, "%s: never completed\n", what);
    std::exit(1);
}

int main() {
    using std::chrono::seconds;
    rpcx::Server server;
    server.handle("T", "Echo", [](const rpcx::Request& req, rpcx::Responder resp) {
        resp.reply(req.payload(), {{"reply-key", "a value long enough to be allocated"}});
    });
    server.handle("T", "Fail", [](const rpcx::Request&, rpcx::Responder resp) {
        resp.error("a failure message long enough to be allocated on the heap",
                   "a payload long enough to be allocated on the heap");
    });
    server.enable_metrics();
    auto port = server.start("tcp@127.0.0.1:0");
    const std::string addr = "tcp@127.0.0.1:" + std::to_string(port);
    auto client = rpcx::Client::connect(addr, rpcx::ClientOptions().connect_timeout(seconds(10)));
    auto discovery = rpcx::Discovery::peer(addr);
    rpcx::XClient xclient("T", discovery);
    const std::string payload(200, 'p');

    with_each_allocation_failing("Client::call reply", [&] {
        auto r = client.call("T", "Echo", payload, {}, seconds(30));
        EXPECT(r.payload.size() == payload.size());
    });
    with_each_allocation_failing("Client::call server error", [&] {
        try {
            client.call("T", "Fail", payload, {}, seconds(30));
            EXPECT(false);
        } catch (const rpcx::Error& e) {
            EXPECT(e.code() == RPCX_ERR_SERVER && !e.payload().empty());
        }
    });
    with_each_allocation_failing("Client::connect error", [&] {
        try {
            rpcx::Client::connect("tcp@127.0.0.1:1", rpcx::ClientOptions());
            EXPECT(false);
        } catch (const rpcx::Error& e) {
            EXPECT(e.code() == RPCX_ERR_CONNECTION);
        }
    });
    with_each_allocation_failing("Server::start error", [&] {
        try {
            rpcx::Server other;
            other.start("no-such-scheme@nowhere");
            EXPECT(false);
        } catch (const rpcx::Error& e) {
            EXPECT(e.code() == RPCX_ERR_ADDRESS);
        }
    });
    with_each_allocation_failing("Server::metrics_text", [&] {
        EXPECT(server.metrics_text().find("rpcx_server_calls_total") != std::string::npos);
    });
    with_each_allocation_failing("XClient::call reply", [&] {
        auto r = xclient.call("Echo", payload, {}, seconds(30));
        EXPECT(r.payload.size() == payload.size());
    });
    with_each_allocation_failing("XClient::call server error", [&] {
        try {
            xclient.call("Fail", payload, {}, seconds(30));
            EXPECT(false);
        } catch (const rpcx::Error& e) {
            EXPECT(e.code() == RPCX_ERR_SERVER);
        }
    });
    with_each_allocation_failing("XClient construction error", [&] {
        try {
            rpcx::XClient bad("", discovery);
            EXPECT(false);
        } catch (const rpcx::Error& e) {
            EXPECT(e.code() == RPCX_ERR_INVALID_ARG);
        }
    });
    std::printf("test_cpp_alloc: ok\n");
    return 0;
}
