// The C++ wrapper against the real etcd started by with_etcd.sh (RPCX_ETCD_ENDPOINT): an etcd
// registry added to a running server publishes its services with their metadata; a service
// registered while running is published and unregister() deletes it; shutdown deletes the
// rest. Skipped (77) without RPCX_ETCD_ENDPOINT unless RPCX_REQUIRE_ETCD=1.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "cpp_util.hpp"
#include "rpcx.hpp"

// Waits (bounded) until the discovery lists `n` servers.
static void wait_size(const rpcx::Discovery& d, std::size_t n, const char* what) {
    for (int i = 0; i < 6000 && d.size() != n; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (d.size() != n) {
        std::fprintf(stderr, "%s: %zu servers listed, want %zu\n", what, d.size(), n);
        std::exit(1);
    }
}

int main() {
    const char* endpoint = std::getenv("RPCX_ETCD_ENDPOINT");
    if (endpoint == nullptr || *endpoint == 0) {
        const char* req = std::getenv("RPCX_REQUIRE_ETCD");
        std::fprintf(stderr, "RPCX_ETCD_ENDPOINT not set (run through with_etcd.sh)\n");
        return req != nullptr && std::strcmp(req, "1") == 0 ? 1 : 77;
    }
    const std::string base = "/rpcx_cpp_live";
    {
        rpcx::Server server;
        server.service_metadata("Keep", "weight=2");
        server.handle("Keep", "N", [](const rpcx::Request&, rpcx::Responder r) { r.reply("k"); });
        server.start("tcp@127.0.0.1:0");
        // Joining the running server: Keep is published at once, with its metadata.
        server.etcd_registry({endpoint}, base, "", std::chrono::milliseconds(10000));
        rpcx::Discovery keep = rpcx::Discovery::etcd({endpoint}, base, "Keep");
        wait_size(keep, 1, "Keep published");

        rpcx::Discovery live = rpcx::Discovery::etcd({endpoint}, base, "Live");
        EXPECT(live.size() == 0);
        server.service_metadata("Live", "group=blue");
        server.handle("Live", "N", [](const rpcx::Request&, rpcx::Responder r) { r.reply("l"); });
        wait_size(live, 1, "Live published");
        rpcx::XClientOptions o;
        o.group("blue");
        rpcx::XClient xc("Live", live, o);
        EXPECT(xc.call("N", std::string_view("")).text() == "l");
        EXPECT(server.unregister("Live"));
        wait_size(live, 0, "Live deleted");

        server.shutdown(std::chrono::milliseconds(1000));
        wait_size(keep, 0, "Keep deleted by the shutdown");
    }
    // Let the etcd clients' connection tasks end before exit (leak checkers).
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::getenv("RPCX_UNDER_VALGRIND") != nullptr ? 3000 : 300));
    std::printf("test_cpp_live_etcd: ok\n");
    return 0;
}
