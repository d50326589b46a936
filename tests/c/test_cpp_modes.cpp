// What the other C++ tests set but never watch happen: every select mode and fail mode of
// XClientOptions (a dead server in the list, servers told apart by name), the group filter,
// gzip (the server sees the compressed frame's payload intact), heartbeats (answered ones keep
// an idle connection; a frozen server is dropped), client limits refusing a large reply, the
// unsent-bytes budget holding back sends to a server that never reads, a
// oneway send reaching its handler, and a graceful shutdown that lets a call in flight finish.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cpp_util.hpp"
#include "rpcx.hpp"

using namespace std::chrono_literals;

static std::atomic<int> notes{0};
static std::atomic<int> slow_started{0};

static rpcx::Server named(const std::string& name) {
    rpcx::Server s;
    s.handle("T", "Who", [name](const rpcx::Request&, rpcx::Responder r) { r.reply(name); });
    s.handle("T", "Echo", [](const rpcx::Request& req, rpcx::Responder r) {
        r.reply(req.payload(), req.metadata());
    });
    s.handle("T", "Note", [](const rpcx::Request&, rpcx::Responder r) {
        notes++;
        r.reply("");
    });
    s.handle("T", "Slow", [name](const rpcx::Request&, rpcx::Responder r) {
        slow_started++;
        std::this_thread::sleep_for(300ms);
        r.reply(name);
    });
    return s;
}

// A port that accepts connections and never answers (a frozen server): the listening
// socket's backlog completes the TCP handshake; nobody reads.
struct Frozen {
    int fd = -1;
    std::string address;
    Frozen() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        EXPECT(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        EXPECT(::listen(fd, 16) == 0);
        socklen_t len = sizeof a;
        EXPECT(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        address = "tcp@127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    }
    ~Frozen() { ::close(fd); }
};

static const char* DEAD = "tcp@127.0.0.1:1";

// Generous timeouts (valgrind, sanitizers, parallel CI).
static rpcx::ClientOptions base() {
    rpcx::ClientOptions o;
    o.connect_timeout(rpcx::Millis(10000)).timeout(rpcx::Millis(30000));
    return o;
}

static std::multiset<std::string> picks(const rpcx::XClient& xc, int n,
                                        std::string_view args = "") {
    std::multiset<std::string> out;
    for (int i = 0; i < n; i++) out.insert(std::string(xc.call("Who", args).text()));
    return out;
}

int main() {
    rpcx::Server a = named("a"), b = named("b");
    std::string aa = "tcp@127.0.0.1:" + std::to_string(a.start("tcp@127.0.0.1:0"));
    std::string ab = "tcp@127.0.0.1:" + std::to_string(b.start("tcp@127.0.0.1:0"));
    rpcx::ClientOptions co = base();

    // Select modes.
    auto two = rpcx::Discovery::multiple({{aa, "weight=1&latitude=48.85&longitude=2.35&group=blue"},
                                          {ab, "weight=3&latitude=35.68&longitude=139.69"}});
    auto with = [&](rpcx::SelectMode m) {
        rpcx::XClientOptions o;
        o.client(co).select_mode(m);
        return o;
    };
    {
        rpcx::XClient xc("T", two, with(rpcx::SelectMode::Random));
        auto p = picks(xc, 60);
        EXPECT(p.count("a") > 0 && p.count("b") > 0);
    }
    {
        rpcx::XClient xc("T", two, with(rpcx::SelectMode::WeightedRoundRobin));
        auto p = picks(xc, 40);
        EXPECT(p.count("b") == 30 && p.count("a") == 10);
    }
    {
        rpcx::XClient xc("T", two, with(rpcx::SelectMode::ConsistentHash));
        auto p = picks(xc, 10, "same key");
        EXPECT(p.count("a") == 10 || p.count("b") == 10);
    }
    {
        rpcx::XClient xc("T", two, with(rpcx::SelectMode::Closest).location(51.5, -0.12));
        EXPECT(picks(xc, 5).count("a") == 5);  // London is closest to Paris
    }
    {
        rpcx::XClient xc("T", two, with(rpcx::SelectMode::RoundRobin).group("blue"));
        EXPECT(picks(xc, 5).count("a") == 5);
    }
    {
        // HeartbeatRtt: two loopback servers alike in round trip both get calls.
        rpcx::XClient xc("T", two, with(rpcx::SelectMode::HeartbeatRtt));
        auto p = picks(xc, 60);
        EXPECT(p.count("a") > 0 && p.count("b") > 0);
    }
    {
        // WeightedICMP: once measured, the unreachable server is never chosen (Failfast
        // would fail any call that picked it): 30 answers in a row within 1000 calls.
        auto with_dead = rpcx::Discovery::multiple({{aa, ""}, {DEAD, ""}});
        rpcx::XClient xc("T", with_dead,
                         with(rpcx::SelectMode::WeightedICMP).fail_mode(rpcx::FailMode::Failfast));
        int in_a_row = 0;
        for (int i = 0; i < 1000 && in_a_row < 30; i++) {
            try {
                EXPECT(xc.call("Who", "").text() == "a");
                in_a_row++;
            } catch (const rpcx::Error& e) {
                EXPECT(e.code() == RPCX_ERR_CONNECTION);
                in_a_row = 0;
                std::this_thread::sleep_for(10ms);
            }
        }
        EXPECT(in_a_row == 30);
    }

    // Fail modes around a dead server that weighted round robin picks first.
    auto dead_first = rpcx::Discovery::multiple({{DEAD, "weight=5"}, {aa, "weight=1"}});
    auto fail = [&](rpcx::FailMode m) {
        rpcx::XClientOptions o;
        o.client(co).select_mode(rpcx::SelectMode::WeightedRoundRobin).fail_mode(m).retries(2);
        return o;
    };
    {
        rpcx::XClient xc("T", dead_first, fail(rpcx::FailMode::Failover));
        EXPECT(xc.call("Who", "").text() == "a");
    }
    for (auto m : {rpcx::FailMode::Failfast, rpcx::FailMode::Failtry}) {
        rpcx::XClient xc("T", dead_first, fail(m));
        EXPECT(expect_throw([&] { xc.call("Who", ""); }).code() == RPCX_ERR_CONNECTION);
    }
    {
        // Failbackup: the first pick (the heavier, frozen server) never answers; the backup
        // request sent to the other server after 20 ms does.
        Frozen frozen;
        auto slow = rpcx::Discovery::multiple({{frozen.address, "weight=5"}, {aa, "weight=1"}});
        rpcx::XClientOptions o;
        o.client(co)
            .select_mode(rpcx::SelectMode::WeightedRoundRobin)
            .fail_mode(rpcx::FailMode::Failbackup)
            .backup_latency(rpcx::Millis(20));
        rpcx::XClient xc("T", slow, o);
        EXPECT(xc.call("Who", "").text() == "a");
    }

    // gzip: a compressible 64 KiB payload comes back intact.
    {
        auto c = rpcx::Client::connect(aa, base().gzip(true));
        std::string big(64 << 10, 'z');
        EXPECT(c.call("T", "Echo", big).text() == big);
    }

    // Heartbeats: answered ones keep an idle connection; a frozen server is dropped and the
    // call waiting on it fails (it has no timeout of its own).
    {
        auto c = rpcx::Client::connect(
            aa, rpcx::ClientOptions().heartbeat(rpcx::Millis(50), rpcx::Millis(2000)));
        EXPECT(c.call("T", "Who", "").text() == "a");
        std::this_thread::sleep_for(500ms);
        EXPECT(c.call("T", "Who", "").text() == "a");
        Frozen frozen;
        auto f = rpcx::Client::connect(
            frozen.address, rpcx::ClientOptions().heartbeat(rpcx::Millis(50), rpcx::Millis(300)));
        auto e = expect_throw([&] { f.call("T", "Who", ""); });
        EXPECT(e.code() == RPCX_ERR_CONNECTION);
    }

    // Limits: a reply frame over the client's frame limit is refused before it is read (the
    // connection cannot skip what it will not read, so it is dropped).
    {
        rpcx::Limits small;
        small.max_frame_len = 1024;
        auto c = rpcx::Client::connect(aa, base().limits(small));
        EXPECT(c.call("T", "Echo", "short").text() == "short");
        auto e = expect_throw([&] { c.call("T", "Echo", std::string(4096, 'x')); });
        EXPECT(e.code() == RPCX_ERR_CONNECTION &&
               std::string(e.what()).find("limit is 1024") != std::string::npos);
    }

    // A server that never reads holds at most max_unsent_bytes of requests in the client:
    // 1 MiB sends wait for room and time out long before the 4096-message queue fills.
    {
        Frozen frozen;
        auto c = rpcx::Client::connect(
            frozen.address, base().max_unsent_bytes(1 << 20).timeout(rpcx::Millis(300)));
        std::string mib(1 << 20, 'm');
        int queued = 0;
        auto e = expect_throw([&] {
            for (int i = 0; i < 200; i++, queued++) c.send("T", "Note", mib);
        });
        EXPECT(e.code() == RPCX_ERR_TIMEOUT && queued < 64);
    }

    // Oneway: the handler runs, nothing answers.
    {
        auto c = rpcx::Client::connect(aa, co);
        int before = notes;
        c.send("T", "Note", "");
        rpcx::XClient xc("T", rpcx::Discovery::peer(aa), rpcx::XClientOptions().client(co));
        xc.send("Note", "");
        wait_until([&] { return notes == before + 2; }, "the oneway handlers");
    }

    // Graceful shutdown: a call in flight finishes, later connections are refused.
    {
        auto c = rpcx::Client::connect(ab, co);
        int before = slow_started;
        auto fut = c.call_future("T", "Slow", "");
        wait_until([&] { return slow_started == before + 1; }, "the slow call to start");
        b.shutdown(rpcx::Millis(5000));
        EXPECT(fut.get().text() == "b");
        EXPECT(expect_throw([&] { rpcx::Client::connect(ab, co); }).code() == RPCX_ERR_CONNECTION);
    }

    a.shutdown(rpcx::Millis(1000));
    std::printf("test_cpp_modes: ok\n");
    return 0;
}
