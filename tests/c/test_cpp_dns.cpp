// DNS discovery through the C++ wrapper, against the responder with_dns.sh starts
// (RPCX_DNS_ADDR answers RPCX_DNS_NAME from the RPCX_DNS_RECORDS file): Discovery::dns lists
// the server behind the name, an XClient calls it, a record change is followed, and a first
// lookup without answer is an exception naming DNS. Skipped (77) without RPCX_DNS_ADDR.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cpp_util.hpp"
#include "rpcx.hpp"

static void set_records(const std::string& path, const std::string& text) {
    {
        std::ofstream f(path + ".tmp");
        f << text;
    }
    EXPECT(std::rename((path + ".tmp").c_str(), path.c_str()) == 0);
}

int main() {
    const char* ns = std::getenv("RPCX_DNS_ADDR");
    const char* name = std::getenv("RPCX_DNS_NAME");
    const char* records = std::getenv("RPCX_DNS_RECORDS");
    if (ns == nullptr || *ns == 0 || name == nullptr || records == nullptr) {
        std::fprintf(stderr, "SKIP: RPCX_DNS_ADDR not set (run through with_dns.sh)\n");
        return 77;
    }
    {
        rpcx::Server server;
        server.handle("T", "Who", [](const rpcx::Request&, rpcx::Responder r) { r.reply("cpp"); });
        std::uint16_t port = server.start("tcp@127.0.0.1:0");
        set_records(records, "127.0.0.1\n");
        auto d = rpcx::Discovery::dns(name, port, std::chrono::milliseconds(200), "tcp", ns);
        EXPECT(d.size() == 1);
        rpcx::XClient xc("T", d, rpcx::XClientOptions());
        EXPECT(xc.call("Who", std::string_view("")).text() == "cpp");
        set_records(records, "127.0.0.1\n127.0.0.9\n");
        wait_until([&] { return d.size() == 2; }, "the second record");
        server.shutdown(std::chrono::milliseconds(1000));
    }
    set_records(records, "servfail\n");
    auto e = expect_throw(
        [&] { rpcx::Discovery::dns(name, 1, std::chrono::milliseconds(200), "tcp", ns); });
    EXPECT(std::string(e.what()).find("dns") != std::string::npos);
    std::printf("test_cpp_dns: ok\n");
    return 0;
}
