// The C++ log handler: rpcx::set_log_handler receives a refused connection (bytes that are
// neither rpcx nor HTTP) and a client connect failure with level, target and message; the
// level setter filters; a handler cannot replace itself from inside — also not while another
// thread is replacing it (that thread waits for the handler, which must not wait for that
// thread in turn: a watchdog reports DEADLOCK); an empty handler restores the default.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cpp_util.hpp"
#include "rpcx.hpp"

struct Seen {
    rpcx::LogLevel level;
    std::string target, message;
};

static std::mutex seen_m;
static std::vector<Seen> seen;
static bool inner_refused = false;

static bool find(const std::string& a, const std::string& b, Seen* out = nullptr) {
    std::lock_guard<std::mutex> g(seen_m);
    for (const auto& s : seen) {
        if (s.message.find(a) != std::string::npos && s.message.find(b) != std::string::npos) {
            if (out) *out = s;
            return true;
        }
    }
    return false;
}

int main() {
    rpcx::set_log_handler(
        [](rpcx::LogLevel level, std::string_view target, std::string_view message) {
            {
                std::lock_guard<std::mutex> g(seen_m);
                seen.push_back({level, std::string(target), std::string(message)});
            }
            try {
                rpcx::set_log_handler(nullptr);
            } catch (const rpcx::Error& e) {
                inner_refused = e.code() == RPCX_ERR_INVALID_STATE;
            }
            throw std::runtime_error("swallowed");  // never crosses into C
        },
        rpcx::LogLevel::Debug);
    EXPECT(rpcx::log_level() == rpcx::LogLevel::Debug);

    rpcx::Server server;
    server.handle("Echo", "Echo",
                  [](const rpcx::Request& req, rpcx::Responder resp) { resp.reply(req.payload()); });
    auto port = server.start("tcp@127.0.0.1:0");

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    EXPECT(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    std::string peer = "peer=tcp@127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    EXPECT(write(fd, "\x01garbage", 8) == 8);
    wait_until([&] { return find("rpcx: connection refused", peer); }, "the refusal");
    close(fd);
    Seen e;
    EXPECT(find("rpcx: connection refused", peer, &e));
    EXPECT(e.level == rpcx::LogLevel::Warn);
    EXPECT(e.target.rfind("rpcx::", 0) == 0);
    EXPECT(e.message.find("reason=\"neither rpcx nor HTTP\"") != std::string::npos);
    EXPECT(inner_refused);

    // A connect failure: debug, emitted on this thread before connect() throws.
    int l = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in b{};
    b.sin_family = AF_INET;
    b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(bind(l, reinterpret_cast<sockaddr*>(&b), sizeof b) == 0);
    len = sizeof b;
    EXPECT(getsockname(l, reinterpret_cast<sockaddr*>(&b), &len) == 0);
    close(l);  // nothing listens there now
    std::string dead = "127.0.0.1:" + std::to_string(ntohs(b.sin_port));
    expect_throw([&] { rpcx::Client::connect("tcp@" + dead); });
    EXPECT(find("rpcx: connecting to a server failed", dead, &e));
    EXPECT(e.level == rpcx::LogLevel::Debug);

    // At error level the next failure is not delivered.
    rpcx::set_log_level(rpcx::LogLevel::Error);
    std::size_t before;
    {
        std::lock_guard<std::mutex> g(seen_m);
        before = seen.size();
    }
    expect_throw([&] { rpcx::Client::connect("tcp@" + dead); });
    {
        std::lock_guard<std::mutex> g(seen_m);
        EXPECT(seen.size() == before);
    }

    // Thread B runs handler h1 (its connect failure's event) while this thread replaces h1:
    // set_log_handler here holds the C++ binding's mutex and waits for h1 to return; h1 calls
    // set_log_handler, which must throw INVALID_STATE rather than wait for that mutex.
    static std::atomic<bool> h1_claimed{false}, h1_done{false};
    static std::atomic<int> h1_code{-1};  // the status h1's inner call threw; -2: no throw
    static std::atomic<int> h2_events{0};
    static std::thread::id main_id;
    main_id = std::this_thread::get_id();
    rpcx::set_log_handler(
        [](rpcx::LogLevel, std::string_view, std::string_view) {
            if (std::this_thread::get_id() == main_id || h1_claimed.exchange(true)) {
                return;
            }
            // Wait (bounded) until the main thread is inside set_log_handler: it holds the
            // binding's mutex from then until this handler returns.
            auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
            while (std::chrono::steady_clock::now() < end && rpcx::detail::log_mutex().try_lock()) {
                rpcx::detail::log_mutex().unlock();
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            try {
                rpcx::set_log_handler(nullptr);
                h1_code = -2;
            } catch (const rpcx::Error& e) {
                h1_code = e.code();
            }
            h1_done = true;
        },
        rpcx::LogLevel::Debug);
    std::thread thread_b([&] { expect_throw([&] { rpcx::Client::connect("tcp@" + dead); }); });
    wait_until([] { return h1_claimed.load(); }, "h1 running on thread B");
    std::mutex wd_m;
    std::condition_variable wd_cv;
    bool replaced = false;
    std::thread watchdog([&] {
        std::unique_lock<std::mutex> g(wd_m);
        // Generous (valgrind, a loaded machine): without the deadlock this takes milliseconds.
        if (!wd_cv.wait_for(g, std::chrono::seconds(10), [&] { return replaced; })) {
            std::fprintf(stderr, "DEADLOCK: set_log_handler did not return within 10 s while "
                                 "the handler it replaces called set_log_handler (h1 done: %d)\n",
                         h1_done.load() ? 1 : 0);
            std::fflush(stderr);
            std::_Exit(1);
        }
    });
    rpcx::set_log_handler([](rpcx::LogLevel, std::string_view, std::string_view) { ++h2_events; },
                          rpcx::LogLevel::Debug);
    {
        std::lock_guard<std::mutex> g(wd_m);
        replaced = true;
    }
    wd_cv.notify_all();
    watchdog.join();
    thread_b.join();
    EXPECT(h1_done);  // set_log_handler returned only after h1 did
    EXPECT(h1_code == RPCX_ERR_INVALID_STATE);
    expect_throw([&] { rpcx::Client::connect("tcp@" + dead); });
    EXPECT(h2_events > 0);  // on this thread, before connect threw

    rpcx::set_log_handler(nullptr, rpcx::LogLevel::Warn);
    EXPECT(rpcx::log_level() == rpcx::LogLevel::Warn);
    server.shutdown();
    std::printf("test_cpp_log: ok\n");
    return 0;
}
