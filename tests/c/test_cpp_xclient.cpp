// The XClient of the C++17 wrapper: Discovery (multiple, peer, update), XClientOptions with
// select/fail modes and a lambda selector (destroyed exactly once), blocking call,
// broadcast, fork, futures and async calls from several threads, errors as exceptions,
// service metadata and registry setters on Server.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cpp_util.hpp"
#include "rpcx.hpp"

static rpcx::Server named(const std::string& name) {
    rpcx::Server s;
    s.handle("T", "Who", [name](const rpcx::Request&, rpcx::Responder r) { r.reply(name); });
    s.handle("T", "Echo", [](const rpcx::Request& req, rpcx::Responder r) {
        r.reply(req.payload(), req.metadata());
    });
    s.handle("T", "FailOn", [name](const rpcx::Request& req, rpcx::Responder r) {
        if (req.payload() == name) throw std::runtime_error("fails on " + name);
        r.reply(name);
    });
    s.service_metadata("T", "name=" + name);
    return s;
}

int main() {
    rpcx::Server a = named("a");
    rpcx::Server b = named("b");
    auto pa = a.start("tcp@127.0.0.1:0");
    auto pb = b.start("tcp@127.0.0.1:0");
    std::string aa = "tcp@127.0.0.1:" + std::to_string(pa);
    std::string ab = "tcp@127.0.0.1:" + std::to_string(pb);

    // A registry may join a running server (test_cpp_live_etcd.cpp). An unreachable etcd is
    // no error: the registry retries in the background while the server serves on (the
    // calls below reach it); an empty endpoint is an exception.
    a.etcd_registry({"http://127.0.0.1:1"}, "/x");
    auto e = expect_throw([&] { a.etcd_registry({""}, "/x"); });
    EXPECT(e.code() == RPCX_ERR_INVALID_ARG);

    rpcx::ClientOptions co;
    co.connect_timeout(rpcx::Millis(10000));
    auto servers = rpcx::Discovery::multiple({{aa, "group=g"}, {ab, ""}});
    EXPECT(servers.size() == 2);
    {
        rpcx::XClient xc("T", servers,
                         rpcx::XClientOptions()
                             .client(co)
                             .select_mode(rpcx::SelectMode::RoundRobin)
                             .fail_mode(rpcx::FailMode::Failover)
                             .retries(2));
        EXPECT(xc.server_count() == 2);
        int seen_a = 0;
        for (int i = 0; i < 10; i++) seen_a += xc.call("Who", "").text() == "a";
        EXPECT(seen_a == 5);
        auto r = xc.call("Echo", "hi", {{"k", "v"}});
        EXPECT(r.text() == "hi" && r.metadata.at("k") == "v");
        EXPECT(xc.broadcast("Echo", "all").text() == "all");
        e = expect_throw([&] { xc.broadcast("FailOn", "b"); });
        EXPECT(e.is_server_error());
        EXPECT(std::string(e.what()) == "fails on b");
        EXPECT(xc.fork("FailOn", "b").text() == "a");
        EXPECT(xc.call_future("Echo", "fut").get().text() == "fut");

        // Async from several threads.
        std::atomic<int> ok{0}, bad{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; t++) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 25; i++) {
                    std::string p = std::to_string(t) + "-" + std::to_string(i);
                    xc.call_async("Echo", p, [&ok, &bad, p](rpcx::Result res) {
                        (res.ok() && res.response.text() == p ? ok : bad)++;
                    });
                }
            });
        }
        for (auto& t : threads) t.join();
        for (int i = 0; i < 3000 && ok + bad < 100; i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT(ok == 100 && bad == 0);
        std::atomic<int> fork_done{0};
        xc.fork_async("FailOn", "a", [&](rpcx::Result res) {
            EXPECT(res.ok() && res.response.text() == "b");
            fork_done++;
        });
        xc.broadcast_async("FailOn", "a", [&](rpcx::Result res) {
            EXPECT(!res.ok() && res.error->is_server_error());
            fork_done++;
        });
        for (int i = 0; i < 3000 && fork_done < 2; i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT(fork_done == 2);
        xc.send("Echo", "oneway");

        // Inform: each server's own outcome, in the order of their keys.
        auto receipts = xc.inform("FailOn", "a");
        EXPECT(receipts.size() == 2);
        EXPECT(receipts[0].server < receipts[1].server);
        for (const auto& rc : receipts) {
            if (rc.server == aa) {
                EXPECT(!rc.result.ok() && rc.result.error->is_server_error());
                EXPECT(std::string(rc.result.error->what()) == "fails on a");
            } else {
                EXPECT(rc.server == ab && rc.result.ok() && rc.result.response.text() == "b");
            }
        }

        // Update the list; an empty one gives NO_SERVER.
        servers.update({{ab, ""}});
        for (int i = 0; i < 1000 && xc.server_count() != 1; i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        EXPECT(xc.call("Who", "").text() == "b");
        servers.update({});
        for (int i = 0; i < 1000 && xc.server_count() != 0; i++) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        e = expect_throw([&] { xc.call("Who", ""); });
        EXPECT(e.code() == RPCX_ERR_NO_SERVER);
        xc.close();
        e = expect_throw([&] { xc.call("Who", ""); });
        EXPECT(e.code() == RPCX_ERR_CLOSED);
    }

    // A breaker: one failed dial of a dead server opens it; the next call is refused
    // without dialling, its message naming the breaker.
    {
        auto dead = rpcx::Discovery::multiple({{"tcp@127.0.0.1:1", ""}});
        rpcx::XClient xc("T", dead,
                         rpcx::XClientOptions()
                             .fail_mode(rpcx::FailMode::Failfast)
                             .breaker(1, rpcx::Millis(3600 * 1000)));
        e = expect_throw([&] { xc.call("Who", ""); });
        EXPECT(e.code() == RPCX_ERR_CONNECTION &&
               std::string(e.what()).find("breaker") == std::string::npos);
        e = expect_throw([&] { xc.call("Who", ""); });
        EXPECT(e.code() == RPCX_ERR_CONNECTION &&
               std::string(e.what()).find("breaker open") != std::string::npos);
    }

    // The dead-server detector (on by default): Failfast round robin over [dead, a] fails
    // only the first call that meets the dead server; health(false) fails every other call.
    for (bool on : {true, false}) {
        auto pair = rpcx::Discovery::multiple({{"tcp@127.0.0.1:1", ""}, {aa, ""}});
        rpcx::XClient xc("T", pair,
                         rpcx::XClientOptions()
                             .client(co)
                             .select_mode(rpcx::SelectMode::RoundRobin)
                             .fail_mode(rpcx::FailMode::Failfast)
                             .health(on));
        int failed = 0;
        for (int i = 0; i < 20; i++) {
            try {
                EXPECT(xc.call("Who", "").text() == "a");
            } catch (const rpcx::Error&) {
                failed++;
            }
        }
        EXPECT(on ? failed <= 1 : failed == 10);
    }
    EXPECT(expect_throw([] { rpcx::XClientOptions().health(true, rpcx::Millis(0)); }).code() ==
           RPCX_ERR_INVALID_ARG);

    // A lambda selector: picks the server whose metadata says group=g; destroyed exactly once.
    auto alive = std::make_shared<int>(0);
    std::atomic<int> picks{0};
    {
        auto d = rpcx::Discovery::multiple({{aa, "group=g"}, {ab, ""}});
        rpcx::XClientOptions opts;
        opts.client(co).fail_mode(rpcx::FailMode::Failfast);
        opts.selector([alive, &picks](const rpcx::SelectRequest& req) -> std::optional<std::size_t> {
            picks++;
            if (req.args == "none") return std::nullopt;
            if (req.args == "throw") throw std::runtime_error("selector threw");
            for (std::size_t i = 0; i < req.size(); i++) {
                if (req.metadata(i) == "group=g") return i;
            }
            return 99;  // out of range: no server
        });
        EXPECT(alive.use_count() == 2);
        rpcx::XClient xc("T", d, opts);
        for (int i = 0; i < 6; i++) EXPECT(xc.call("Who", "").text() == "a");
        EXPECT(picks >= 6);
        EXPECT(expect_throw([&] { xc.call("Echo", "none"); }).code() == RPCX_ERR_NO_SERVER);
        EXPECT(expect_throw([&] { xc.call("Echo", "throw"); }).code() == RPCX_ERR_NO_SERVER);
        auto peer = rpcx::Discovery::peer(ab);
        rpcx::XClient xp("T", peer, rpcx::XClientOptions().client(co));
        EXPECT(xp.call("Who", "").text() == "b");
        EXPECT(expect_throw([&] { peer.update({}); }).code() == RPCX_ERR_INVALID_STATE);
    }
    EXPECT(alive.use_count() == 1);  // options and XClient gone: the lambda was destroyed

    a.shutdown(rpcx::Millis(100));
    b.shutdown(rpcx::Millis(100));
    std::printf("test_cpp_xclient: ok\n");
    return 0;
}
