// Lifetimes in the C++ wrapper (bindings/cpp/rpcx.hpp):
//  - a Responder destroyed by an exception that the handler catches itself still completes
//    its call (the caller gets an error reply at once, it does not wait for its deadline);
//  - ~Server returns within a bound while a handler never returns (until released here), and
//    the handler's std::function is destroyed once it does.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include "cpp_util.hpp"
#include "rpcx.hpp"

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

static void consume(rpcx::Responder r) {
    (void)r;
    throw std::runtime_error("thrown with the responder");
}

// Handlers that swallow an exception which destroyed their Responder while unwinding.
static void test_caught_exception() {
    rpcx::Server server;
    server.handle("T", "CatchLocal", [](const rpcx::Request&, rpcx::Responder resp) {
        try {
            rpcx::Responder mine = std::move(resp);
            throw std::runtime_error("caught inside the handler");
        } catch (const std::exception&) {
        }
    });
    server.handle("T", "CatchParam", [](const rpcx::Request&, rpcx::Responder resp) {
        try {
            consume(std::move(resp));
        } catch (const std::exception&) {
        }
    });
    // Still answered with what() when the exception leaves the handler.
    server.handle("T", "Escape", [](const rpcx::Request&, rpcx::Responder resp) {
        rpcx::Responder mine = std::move(resp);
        throw std::runtime_error("escaped");
    });
    server.handle("T", "Echo", [](const rpcx::Request& req, rpcx::Responder resp) {
        resp.reply(req.payload());
    });
    auto port = server.start("tcp@127.0.0.1:0");
    auto client = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port),
                                        rpcx::ClientOptions().connect_timeout(seconds(10)));
    for (const char* method : {"CatchLocal", "CatchParam"}) {
        // A generous deadline: without the fix the call waits for it and times out.
        auto t0 = Clock::now();
        rpcx::Error e = expect_throw([&] { client.call("T", method, "", {}, seconds(20)); });
        EXPECT(e.code() == RPCX_ERR_SERVER);
        EXPECT(std::string(e.what()) == "rpcx: handler released the call without replying");
        EXPECT(Clock::now() - t0 < seconds(15));
    }
    rpcx::Error e = expect_throw([&] { client.call("T", "Escape", "", {}, seconds(20)); });
    EXPECT(e.code() == RPCX_ERR_SERVER && std::string(e.what()) == "escaped");
    EXPECT(client.call("T", "Echo", "ok", {}, seconds(20)).text() == "ok");
}

// ~Server with a handler stuck in its callback: bounded; the handler is destroyed later.
static void test_stuck_handler_destructor() {
    static std::atomic<int> alive{0};
    struct Tracker {
        Tracker() { ++alive; }
        Tracker(const Tracker&) { ++alive; }
        ~Tracker() { --alive; }
    };
    static std::atomic<int> entered{0}, returned{0};
    static std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::atomic<bool> done{false}, watchdog_fired{false};
    Clock::duration took{};
    {
        rpcx::Server server;
        server.handle("T", "Stuck",
                      [gate, t = Tracker()](const rpcx::Request&, rpcx::Responder) {
                          ++entered;
                          gate.wait();
                          ++returned;
                      });
        auto port = server.start("tcp@127.0.0.1:0");
        auto client = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port),
                                            rpcx::ClientOptions().connect_timeout(seconds(10)));
        std::atomic<int> failed{0};
        client.call_async("T", "Stuck", "", [&failed](rpcx::Result r) {
            if (!r.ok()) ++failed;
        });
        wait_until([] { return entered == 1; }, "the handler to block");
        EXPECT(alive >= 1);
        // Lets the handler go if ~Server hangs, so that the test fails instead of hanging.
        std::thread watchdog([&] {
            auto end = Clock::now() + seconds(45);
            while (!done && Clock::now() < end) std::this_thread::sleep_for(milliseconds(10));
            if (!done) {
                watchdog_fired = true;
                release.set_value();
            }
        });
        auto t0 = Clock::now();
        {
            rpcx::Server gone = std::move(server);
        }  // ~Server: rpcx_server_free
        took = Clock::now() - t0;
        done = true;
        watchdog.join();
        EXPECT(!watchdog_fired);
        wait_until([&] { return failed == 1; }, "the stuck call to fail");
    }
    EXPECT(took < seconds(30));
    EXPECT(returned == 0);
    EXPECT(alive >= 1);  // still referenced by the stuck call
    release.set_value();
    wait_until([] { return returned == 1; }, "the handler to return");
    wait_until([] { return alive == 0; }, "the deferred finalizer");
}

int main() {
    test_caught_exception();
    test_stuck_handler_destructor();
    std::printf("test_cpp_lifetime: ok\n");
    return 0;
}
