// The C++ wrapper on a running server: handle() after start(), unregister() and
// unregister_all() (calls in flight finish, new ones get Go's "can't find service", the
// removed lambdas are destroyed), service_metadata() while running, refusals once shut down.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cpp_util.hpp"
#include "rpcx.hpp"

static std::atomic<int> alive{0};

struct Tracker {
    Tracker() { ++alive; }
    Tracker(const Tracker&) { ++alive; }
    ~Tracker() { --alive; }
};

static std::string missing_text(rpcx::Client& c, const std::string& service) {
    try {
        c.call(service, "N", std::string_view(""));
    } catch (const rpcx::Error& e) {
        EXPECT(e.is_server_error());
        return e.what();
    }
    std::fprintf(stderr, "%s answered\n", service.c_str());
    std::exit(1);
}

int main() {
    {
        rpcx::Server server;
        server.handle("Keep", "N", [](const rpcx::Request&, rpcx::Responder r) { r.reply("keep"); });
        std::uint16_t port = server.start("tcp@127.0.0.1:0");
        rpcx::Client c = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port),
                                               rpcx::ClientOptions().connect_timeout(
                                                   std::chrono::milliseconds(10000)));
        EXPECT(missing_text(c, "Live") == "rpcx: can't find service Live");

        // Registered while running.
        Tracker t;
        server.handle("Live", "N",
                      [t](const rpcx::Request&, rpcx::Responder r) { r.reply("live"); });
        EXPECT(alive == 2);
        EXPECT(c.call("Live", "N", std::string_view("")).text() == "live");
        server.service_metadata("Live", "weight=2");

        // A call parked in another thread while its service is unregistered.
        std::atomic<bool> entered{false}, release{false};
        server.handle("Live", "Slow", [&](const rpcx::Request&, rpcx::Responder r) {
            entered = true;
            std::thread([&release, r = std::move(r)]() mutable {
                while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                r.reply("slow");
            }).detach();
        });
        std::string slow;
        std::thread caller([&] { slow = std::string(c.call("Live", "Slow", std::string_view("")).text()); });
        for (int i = 0; i < 30000 && !entered; i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        EXPECT(entered);
        EXPECT(server.unregister("Live"));
        EXPECT(!server.unregister("Live"));
        EXPECT(alive == 1);  // the lambda holding the tracker was destroyed
        EXPECT(missing_text(c, "Live") == "rpcx: can't find service Live");
        release = true;
        caller.join();
        EXPECT(slow == "slow");

        EXPECT(server.unregister_all() == 1);
        EXPECT(missing_text(c, "Keep") == "rpcx: can't find service Keep");
        server.handle("Keep", "N", [](const rpcx::Request&, rpcx::Responder r) { r.reply("again"); });
        EXPECT(c.call("Keep", "N", std::string_view("")).text() == "again");

        server.shutdown(std::chrono::milliseconds(1000));
        bool threw = false;
        try {
            server.unregister_all();
        } catch (const rpcx::Error& e) {
            threw = e.code() == RPCX_ERR_INVALID_STATE;
        }
        EXPECT(threw);
    }
    std::printf("test_cpp_live: ok\n");
    return 0;
}
