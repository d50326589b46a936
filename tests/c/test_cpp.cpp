// The C++17 wrapper (bindings/cpp/rpcx.hpp): RAII objects, lambdas as handlers, exceptions
// carrying code/message/payload/metadata, futures, a responder moved to another thread,
// handler exceptions turned into error replies, auth, cancel and close.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "cpp_util.hpp"
#include "rpcx.hpp"

int main() {
    std::atomic<int> handlers_alive{0};
    struct Tracker {
        std::atomic<int>* n;
        explicit Tracker(std::atomic<int>* p) : n(p) { ++*n; }
        Tracker(const Tracker& o) : n(o.n) { ++*n; }
        ~Tracker() { --*n; }
    };

    std::vector<std::thread> workers;
    {
        EXPECT(expect_throw([] { rpcx::ServerOptions().max_pending_bytes_per_conn(0); }).code() ==
               RPCX_ERR_INVALID_ARG);
        rpcx::Server server(rpcx::ServerOptions()
                                .max_inflight(64)
                                .max_connections(16)
                                .max_pending_bytes_per_conn(1 << 20)
                                .max_pending_bytes(64 << 20));
        Tracker tracker(&handlers_alive);
        server.handle("Echo", "Echo", [tracker](const rpcx::Request& req, rpcx::Responder resp) {
            rpcx::Metadata meta = req.metadata();
            meta["service"] = req.service();
            meta["method"] = req.method();
            resp.reply(req.payload(), meta);
        });
        server.handle("Echo", "Fail", [](const rpcx::Request& req, rpcx::Responder resp) {
            resp.error("failed: " + std::string(req.payload()), "{\"C\":0}");
            EXPECT(!resp.pending());
            EXPECT(!resp.reply("again"));  // double completion: refused, not a crash
        });
        server.handle("Echo", "Throw", [](const rpcx::Request&, rpcx::Responder) {
            throw std::runtime_error("handler threw");
        });
        server.handle("Echo", "Later", [&workers](const rpcx::Request& req, rpcx::Responder resp) {
            std::string data(req.payload());
            workers.emplace_back([data, r = std::move(resp)]() mutable {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                r.reply("later:" + data);
            });
        });
        server.handle("Echo", "Drop", [](const rpcx::Request&, rpcx::Responder) {});
        // Keeps the responder for the test to look at after the caller gave up.
        static std::optional<rpcx::Responder> held;
        server.handle("Echo", "Hold", [](const rpcx::Request& req, rpcx::Responder resp) {
            EXPECT(!req.is_cancelled());
            EXPECT(!resp.is_cancelled());
            held.emplace(std::move(resp));
        });
        server.handle("Echo", "Park", [](const rpcx::Request&, rpcx::Responder resp) {
            static std::vector<rpcx::Responder> parked;
            parked.push_back(std::move(resp));  // released at exit
        });
        server.auth([](const rpcx::AuthRequest& a) -> std::optional<std::string> {
            if (a.token == "t0k") return std::nullopt;
            return "denied for " + std::string(a.service);
        });
        std::atomic<int> observed{0}, observed_errors{0};
        server.enable_metrics().on_call_done(
            [&](const std::string& service, const std::string&, const std::string& peer,
                std::chrono::microseconds, const std::string& error) {
                if (service == "Echo" && peer.rfind("tcp@127.0.0.1:", 0) == 0) observed++;
                if (!error.empty()) observed_errors++;
            });
        std::uint16_t port = server.start("tcp@127.0.0.1:0");
        EXPECT(port != 0);
        std::string addr = "tcp@127.0.0.1:" + std::to_string(port);
        EXPECT(server.address() == addr);

        auto client = rpcx::Client::connect(
            addr, rpcx::ClientOptions()
                      .auth_token("t0k")
                      .serialize_type(RPCX_SERIALIZE_JSON)
                      .timeout(std::chrono::seconds(30))
                      .connect_timeout(std::chrono::seconds(10)));

        rpcx::Response r = client.call("Echo", "Echo", "{\"x\":1}", {{"k", "v"}});
        EXPECT(r.text() == "{\"x\":1}");
        EXPECT(r.metadata.at("k") == "v");
        EXPECT(r.metadata.at("service") == "Echo");

        rpcx::Error e = expect_throw([&] { client.call("Echo", "Fail", "x"); });
        EXPECT(e.code() == RPCX_ERR_SERVER && e.is_server_error());
        EXPECT(std::string(e.what()) == "failed: x");
        EXPECT(std::string(e.payload().begin(), e.payload().end()) == "{\"C\":0}");
        EXPECT(e.metadata().at("__rpcx_error__") == "failed: x");

        e = expect_throw([&] { client.call("Echo", "Throw", ""); });
        EXPECT(std::string(e.what()) == "handler threw");

        e = expect_throw([&] { client.call("Echo", "Drop", ""); });
        EXPECT(std::string(e.what()) == "rpcx: handler released the call without replying");

        EXPECT(client.call("Echo", "Later", "abc").text() == "later:abc");

        e = expect_throw([&] { client.call("Nope", "X", ""); });
        EXPECT(std::string(e.what()) == "rpcx: can't find service Nope");

        // Futures from several threads.
        std::vector<std::thread> callers;
        std::atomic<int> ok{0};
        for (int t = 0; t < 4; t++) {
            callers.emplace_back([&, t] {
                std::vector<std::future<rpcx::Response>> fs;
                for (int i = 0; i < 50; i++) {
                    fs.push_back(client.call_future("Echo", "Echo", std::to_string(t * 1000 + i)));
                }
                for (int i = 0; i < 50; i++) {
                    if (fs[i].get().text() == std::to_string(t * 1000 + i)) ok++;
                }
            });
        }
        for (auto& t : callers) t.join();
        EXPECT(ok == 200);

        // Observer and metrics saw the calls so far: Echo.{Echo, Fail, Throw, Drop, Later} and 200
        // futures of Echo.Echo (the unknown service never reached a handler).
        EXPECT(observed == 205 && observed_errors == 3);
        EXPECT(server.metrics_text().find(
                   "rpcx_server_calls_total{service=\"Echo\",method=\"Echo\"} 201") !=
               std::string::npos);

        // A future of a failing call rethrows.
        auto ff = client.call_future("Echo", "Fail", "f");
        e = expect_throw([&] { ff.get(); });
        EXPECT(std::string(e.what()) == "failed: f");

        // A caller's deadline abandons the responder: is_cancelled() says so, reply() is refused.
        e = expect_throw([&] { client.call("Echo", "Hold", "", {}, rpcx::Millis(100)); });
        EXPECT(e.code() == RPCX_ERR_TIMEOUT);
        EXPECT(held.has_value());
        for (int i = 0; i < 3000 && !held->is_cancelled(); i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT(held->is_cancelled());
        EXPECT(!held->reply("too late"));
        held.reset();

        // Cancel.
        std::atomic<int> cancelled{0};
        auto id = client.call_async("Echo", "Park", "", [&](rpcx::Result res) {
            if (res.status == RPCX_ERR_CANCELLED && res.error) cancelled++;
        });
        EXPECT(client.cancel(id));
        EXPECT(cancelled == 1);
        EXPECT(!client.cancel(id));

        // Auth refusal.
        auto intruder = rpcx::Client::connect(
            addr, rpcx::ClientOptions().auth_token("bad").connect_timeout(std::chrono::seconds(10)));
        e = expect_throw([&] { intruder.call("Echo", "Echo", ""); });
        EXPECT(std::string(e.what()) == "denied for Echo");

        // Close completes pending async calls before returning.
        std::atomic<int> closed{0};
        client.call_async("Echo", "Park", "", [&](rpcx::Result res) {
            if (res.status == RPCX_ERR_CLOSED) closed++;
        });
        client.close();
        EXPECT(closed == 1);
        e = expect_throw([&] { client.call("Echo", "Echo", ""); });
        EXPECT(e.code() == RPCX_ERR_CLOSED);

        // Connect errors are exceptions too.
        e = expect_throw([] { rpcx::Client::connect("tcp@127.0.0.1:1"); });
        EXPECT(e.code() == RPCX_ERR_CONNECTION);
        e = expect_throw([] { rpcx::ClientOptions().serialize_type(99); });
        EXPECT(e.code() == RPCX_ERR_INVALID_ARG);

        server.shutdown(std::chrono::milliseconds(200));
        for (auto& w : workers) w.join();
        EXPECT(handlers_alive >= 1);
    }
    // The server's destructor freed it: the handler lambda (and its Tracker copy) is gone.
    EXPECT(handlers_alive == 0);
    EXPECT(!rpcx::version().empty());
    std::printf("test_cpp: ok\n");
    return 0;
}
