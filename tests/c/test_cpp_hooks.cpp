// The C++ wrapper's pushes and interceptors: a handler pushes through Request::connection()
// and keeps the Connection to push later; Client and XClient receive through on_push; a
// server interceptor refuses a call (by reject() and by throwing), adds reply metadata and
// sees the peer; client and XClient interceptors add a trace id and refuse locally; an IP
// filter and a rate limit.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cpp_util.hpp"
#include "rpcx.hpp"

using namespace std::chrono_literals;

struct Inbox {
    std::mutex m;
    std::vector<rpcx::Push> pushes;
    std::size_t size() {
        std::lock_guard<std::mutex> g(m);
        return pushes.size();
    }
    rpcx::Push at(std::size_t i) {
        std::lock_guard<std::mutex> g(m);
        return pushes.at(i);
    }
    rpcx::PushHandler handler() {
        return [this](const rpcx::Push& p) {
            std::lock_guard<std::mutex> g(m);
            pushes.push_back(p);
        };
    }
};

static void test_push() {
    std::mutex kept_m;
    std::optional<rpcx::Connection> kept;
    rpcx::Server server;
    server.handle("Hub", "Join", [&](const rpcx::Request& req, rpcx::Responder resp) {
        auto conn = req.connection();
        EXPECT(conn.is_open());
        EXPECT(conn.peer() == req.peer());
        conn.push("Hub", "Welcome", "welcome", {{"kind", "greeting"}});
        {
            std::lock_guard<std::mutex> g(kept_m);
            kept = conn;  // a copy: its own handle
        }
        resp.reply("joined");
    });
    auto port = server.start("tcp@127.0.0.1:0");
    std::string addr = "tcp@127.0.0.1:" + std::to_string(port);

    Inbox inbox;
    {
        auto client = rpcx::Client::connect(
            addr, rpcx::ClientOptions().connect_timeout(10s).on_push(inbox.handler()));
        EXPECT(client.call("Hub", "Join", "").text() == "joined");
        rpcx::Connection conn = [&] {
            std::lock_guard<std::mutex> g(kept_m);
            return *kept;
        }();
        conn.push("Hub", "News", "later", {}, 5000ms);
        wait_until([&] { return inbox.size() == 2; }, "two pushes");
        EXPECT(inbox.at(0).method == "Welcome" && inbox.at(0).text() == "welcome");
        EXPECT(inbox.at(0).metadata.at("kind") == "greeting");
        EXPECT(inbox.at(0).server == addr);
        EXPECT(inbox.at(1).text() == "later");

        client.close();
        wait_until([&] { return !conn.is_open(); }, "the connection to close");
        auto e = expect_throw([&] { conn.push("Hub", "News", "late"); });
        EXPECT(e.code() == RPCX_ERR_CLOSED);
    }

    Inbox xinbox;
    {
        rpcx::XClient xc("Hub", rpcx::Discovery::peer(addr),
                         rpcx::XClientOptions().on_push(xinbox.handler()));
        EXPECT(xc.call("Join", "").text() == "joined");
        wait_until([&] { return xinbox.size() == 1; }, "an XClient push");
        EXPECT(xinbox.at(0).server == addr && xinbox.at(0).method == "Welcome");
    }
    std::lock_guard<std::mutex> g(kept_m);
    kept.reset();
}

static void test_interceptors() {
    std::atomic<int> server_after{0};
    std::mutex m;
    std::string seen_peer, seen_trace;
    rpcx::Server server;
    server.intercept(
        [&](rpcx::Call& call) {
            {
                std::lock_guard<std::mutex> g(m);
                seen_peer = call.peer();
                seen_trace = call.meta("trace-id").value_or("");
            }
            if (call.method() == "Forbidden") call.reject("no entry");
            if (call.method() == "Thrown") throw std::runtime_error("thrown out");
        },
        [&](rpcx::Call& call) {
            server_after++;
            call.set_reply_meta("served-by", "cpp");
        });
    auto trace = [](const rpcx::Request& req, rpcx::Responder resp) {
        resp.reply(req.meta("trace-id").value_or(""));
    };
    server.handle("Echo", "Trace", trace);
    server.handle("Echo", "Forbidden", trace);
    server.handle("Echo", "Thrown", trace);
    server.handle("Echo", "Local", trace);
    auto port = server.start("tcp@127.0.0.1:0");
    std::string addr = "tcp@127.0.0.1:" + std::to_string(port);

    std::atomic<int> client_after{0};
    std::string last_error;
    rpcx::ClientOptions opts;
    opts.connect_timeout(10s).intercept(
        [](rpcx::Call& call) {
            call.set_metadata("trace-id", "cpp-trace");
            if (call.method() == "Local") throw std::runtime_error("stays here");
        },
        [&](rpcx::Call& call) {
            std::lock_guard<std::mutex> g(m);
            last_error = call.error().value_or("");
            client_after++;
        });
    auto client = rpcx::Client::connect(addr, opts);
    auto r = client.call("Echo", "Trace", "");
    EXPECT(r.text() == "cpp-trace");
    EXPECT(r.metadata.at("served-by") == "cpp");
    {
        std::lock_guard<std::mutex> g(m);
        EXPECT(seen_trace == "cpp-trace");
        EXPECT(seen_peer.rfind("tcp@127.0.0.1:", 0) == 0 && seen_peer != addr);
    }
    auto e = expect_throw([&] { client.call("Echo", "Forbidden", ""); });
    EXPECT(e.code() == RPCX_ERR_SERVER && std::string(e.what()) == "no entry");
    EXPECT(e.metadata().at("served-by") == "cpp");
    e = expect_throw([&] { client.call("Echo", "Thrown", ""); });
    EXPECT(std::string(e.what()) == "thrown out");
    e = expect_throw([&] { client.call("Echo", "Local", ""); });
    EXPECT(e.code() == RPCX_ERR_REFUSED && std::string(e.what()) == "stays here");
    EXPECT(client_after == 4);
    {
        std::lock_guard<std::mutex> g(m);
        EXPECT(last_error == "stays here");
    }
    EXPECT(server_after == 3);

    rpcx::XClient xc("Echo", rpcx::Discovery::peer(addr),
                     rpcx::XClientOptions().intercept([](rpcx::Call& call) {
                         call.set_metadata("trace-id", "x-trace");
                     }));
    EXPECT(xc.call("Trace", "").text() == "x-trace");
}

static void test_plugins() {
    auto echo = [](const rpcx::Request& req, rpcx::Responder resp) { resp.reply(req.payload()); };
    {
        rpcx::Server server;
        server.handle("Echo", "Echo", echo).ip_filter({}, {"127.0.0.1"});
        auto port = server.start("tcp@127.0.0.1:0");
        auto e = expect_throw([&] {
            auto c = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port),
                                           rpcx::ClientOptions().connect_timeout(10s));
            c.call("Echo", "Echo", "x", {}, 10000ms);
        });
        EXPECT(e.code() == RPCX_ERR_CONNECTION || e.code() == RPCX_ERR_CLOSED);
        auto bad = expect_throw([&] { rpcx::Server().ip_filter({"nonsense"}); });
        EXPECT(bad.code() == RPCX_ERR_INVALID_ARG);
    }
    {
        rpcx::Server server;
        server.handle("Echo", "Echo", echo).rate_limit(std::chrono::hours(1), 1);
        auto port = server.start("tcp@127.0.0.1:0");
        auto c = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port),
                                       rpcx::ClientOptions().connect_timeout(10s));
        EXPECT(c.call("Echo", "Echo", "x").text() == "x");
        auto e = expect_throw([&] { c.call("Echo", "Echo", "x"); });
        EXPECT(e.code() == RPCX_ERR_SERVER && std::string(e.what()) == "request reached rate limit");
    }
}

int main() {
    test_push();
    test_interceptors();
    test_plugins();
    std::printf("test_cpp_hooks: ok\n");
    return 0;
}
