// A silent server through the C++ XClient (issue 16's network faults, rpcx.hpp): a plain
// listening socket that accepts connections and never reads or writes, next to a good
// server. With the defaults (RoundRobin + Failover, the dead-server detector on) and a 1 s
// call timeout, at most the one call that met the silent server fails (with a timeout), none
// blocks past its timeout + 1 s (steady_clock; a bound on hanging), every other call is
// answered by the good server, which ran each exactly once, and the silent server leaves the
// rotation: no call reaches it again while the detector's probe dials it afresh (a second
// connection to the silent socket). A watchdog ends the test if one call blocks for 5 s.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cpp_util.hpp"
#include "rpcx.hpp"

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr auto kTimeout = milliseconds(1000);
constexpr auto kMargin = milliseconds(1000);

// A loopback listener that accepts and then ignores every connection (kept open until the
// end: no FIN, no reset, no byte).
class SilentServer {
public:
    SilentServer() {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        EXPECT(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        EXPECT(listen(fd_, 16) == 0);
        socklen_t len = sizeof a;
        EXPECT(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~SilentServer() {
        stop_ = true;
        thread_.join();
        for (int c : conns_) close(c);
        close(fd_);
    }
    unsigned port() const { return port_; }
    int accepted() const { return accepted_.load(); }

private:
    void run() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) == 1) {
                int c = accept(fd_, nullptr, nullptr);
                if (c >= 0) {
                    conns_.push_back(c);  // only this thread touches conns_ until the join
                    accepted_++;
                }
            }
        }
    }
    int fd_ = -1;
    unsigned port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::vector<int> conns_;
    std::thread thread_;
};

}  // namespace

int main() {
    std::mutex mu;
    std::map<std::string, int> ran;  // call id -> times the good server ran it
    rpcx::Server good;
    good.handle("T", "Who", [&](const rpcx::Request& req, rpcx::Responder r) {
        {
            std::lock_guard<std::mutex> g(mu);
            ran[std::string(req.payload())]++;
        }
        r.reply("good");
    });
    auto good_port = good.start("tcp@127.0.0.1:0");
    SilentServer silent;

    auto servers = rpcx::Discovery::multiple(
        {{"tcp@127.0.0.1:" + std::to_string(good_port), ""},
         {"tcp@127.0.0.1:" + std::to_string(silent.port()), ""}});
    rpcx::XClient xc("T", servers,
                     rpcx::XClientOptions()
                         .select_mode(rpcx::SelectMode::RoundRobin)
                         .fail_mode(rpcx::FailMode::Failover)
                         .timeout(kTimeout));

    // The watchdog: a call blocked for 5 timeouts is a hang (reported, then the test ends).
    std::atomic<long long> call_started{0};  // steady_clock ms of the call in progress, 0: none
    std::atomic<bool> done{false};
    auto now_ms = [] {
        return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count();
    };
    std::thread dog([&] {
        while (!done) {
            long long s = call_started;
            if (s != 0 && now_ms() - s > 5 * kTimeout.count()) {
                std::fprintf(stderr, "a call hung: blocked for more than %lld ms\n",
                             static_cast<long long>(5 * kTimeout.count()));
                std::fflush(stderr);
                std::_Exit(1);
            }
            std::this_thread::sleep_for(milliseconds(50));
        }
    });

    constexpr int kCalls = 30;
    int failed = 0, answered = 0, first_failure = -1, answered_after_failure = 0;
    milliseconds slowest{0};
    for (int i = 0; i < kCalls; i++) {
        std::string id = std::to_string(i);
        auto t = Clock::now();
        call_started = now_ms();
        try {
            auto r = xc.call("Who", id);
            EXPECT(r.text() == "good");
            answered++;
            if (first_failure >= 0) answered_after_failure++;
        } catch (const rpcx::Error& e) {
            std::printf("call %d failed: %s: %s\n", i, e.status_text(), e.what());
            EXPECT(e.code() == RPCX_ERR_TIMEOUT);  // the silent server never answers
            failed++;
            if (first_failure < 0) first_failure = i;
        }
        call_started = 0;
        slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(Clock::now() - t));
        std::this_thread::sleep_for(milliseconds(50));
    }
    // The detector's probe dials the silent server afresh (its heartbeat is never answered).
    wait_until([&] { return silent.accepted() >= 2; }, "the detector's probe connection");
    done = true;
    dog.join();

    std::printf("%d calls, %d failed, slowest %lld ms; silent server accepted %d connections\n",
                kCalls, failed, static_cast<long long>(slowest.count()), silent.accepted());
    // Round robin over both: the silent server's first turn comes within the first 2 calls,
    // and had it stayed in rotation every other call would have failed.
    EXPECT(failed == 1 && first_failure <= 1);
    EXPECT(answered == kCalls - 1 && answered_after_failure == kCalls - 1 - first_failure);
    EXPECT(slowest < kTimeout + kMargin);
    {
        std::lock_guard<std::mutex> g(mu);
        EXPECT(ran.size() == static_cast<std::size_t>(answered));
        for (const auto& [id, n] : ran) EXPECT(n == 1);
    }
    good.shutdown(milliseconds(500));
    std::printf("ok\n");
    return 0;
}
